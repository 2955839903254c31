# ruff: noqa: RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""Sigma protocols made non-interactive with strong Fiat–Shamir.

Every proof is a list of ``(c, s)`` pairs; the verifier recomputes the prover's
commitments from them and checks that the challenge over the caller's transcript
(which already holds the whole statement) and those commitments is what the proof
says. Three proofs:

* :func:`prove_membership` — a ciphertext ``(α, β)`` under ``Y`` encrypts some
  ``v`` of a small public set ``V`` (disjunctive Chaum–Pedersen, Cramer–Damgård–
  Schoenmakers): for each ``v``, ``A_v = s_v·B − c_v·α`` and
  ``B_v = s_v·Y − c_v·(β − v·B)``; the challenges ``c_v`` add up to
  ``H(transcript ‖ A_v₀ ‖ B_v₀ ‖ A_v₁ ‖ B_v₁ ‖ …)``. Used with ``V = {0, 1}`` per option
  and ``V = [min, max]`` for the number of marks.
* :func:`prove_dlog` — Schnorr proof of knowledge of ``x`` with ``X = x·B``:
  ``A = s·B − c·X``, ``c = H(transcript ‖ A)``.
* :func:`prove_eqlog` — Chaum–Pedersen: ``log_B X = log_P D``:
  ``a = s·B − c·X``, ``b = s·P − c·D``, ``c = H(transcript ‖ a ‖ b)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from voting.e2e.group import ORDER, base_mul, mul, random_scalar, sub
from voting.e2e.transcript import Transcript

ScalarSource = Callable[[], int]


@dataclass(frozen=True)
class Response:
    """One ``(c, s)`` pair."""

    c: int
    s: int


def _commit_pair(s: int, c: int, alpha: bytes, beta_minus_v: bytes, y: bytes) -> tuple[bytes, bytes]:
    a = sub(base_mul(s), mul(c, alpha))
    b = sub(mul(s, y), mul(c, beta_minus_v))
    return a, b


def prove_membership(
    transcript: Transcript,
    values: Sequence[int],
    m: int,
    r: int,
    alpha: bytes,
    beta: bytes,
    y: bytes,
    rand: ScalarSource = random_scalar,
) -> tuple[Response, ...]:
    """Prove that ``(α, β) = (r·B, m·B + r·Y)`` with ``m`` in ``values``."""
    if m not in values:
        raise ValueError("the plaintext is not in the proven set")
    t = transcript.copy()
    fake: dict[int, Response] = {}
    w = 0
    for v in values:
        if v == m:
            w = rand()
            t.point(base_mul(w)).point(mul(w, y))
        else:
            resp = Response(rand(), rand())
            fake[v] = resp
            a, b = _commit_pair(resp.s, resp.c, alpha, _minus_small(beta, v), y)
            t.point(a).point(b)
    c = t.challenge()
    c_real = (c - sum(f.c for f in fake.values())) % ORDER
    real = Response(c_real, (w + c_real * r) % ORDER)
    return tuple(real if v == m else fake[v] for v in values)


def verify_membership(
    transcript: Transcript,
    values: Sequence[int],
    alpha: bytes,
    beta: bytes,
    y: bytes,
    proof: Sequence[Response],
) -> bool:
    if len(proof) != len(values):
        return False
    t = transcript.copy()
    for v, resp in zip(values, proof, strict=True):
        a, b = _commit_pair(resp.s, resp.c, alpha, _minus_small(beta, v), y)
        t.point(a).point(b)
    return sum(r.c for r in proof) % ORDER == t.challenge()


@lru_cache(maxsize=256)
def _small_multiple(v: int) -> bytes:
    return base_mul(v)


def _minus_small(beta: bytes, v: int) -> bytes:
    """β − v·B for a small public v: β itself for 0, v·B cached (each ristretto operation
    decodes and re-encodes its points, ~15 µs; a ballot check made 8 of them for nothing)."""
    return beta if v == 0 else sub(beta, _small_multiple(v))


def prove_dlog(transcript: Transcript, x: int, rand: ScalarSource = random_scalar) -> Response:
    w = rand()
    c = transcript.copy().point(base_mul(w)).challenge()
    return Response(c, (w + c * x) % ORDER)


def verify_dlog(transcript: Transcript, big_x: bytes, proof: Response) -> bool:
    a = sub(base_mul(proof.s), mul(proof.c, big_x))
    return transcript.copy().point(a).challenge() == proof.c


def prove_eqlog(transcript: Transcript, x: int, p: bytes, rand: ScalarSource = random_scalar) -> Response:
    w = rand()
    c = transcript.copy().point(base_mul(w)).point(mul(w, p)).challenge()
    return Response(c, (w + c * x) % ORDER)


def verify_eqlog(transcript: Transcript, big_x: bytes, p: bytes, d: bytes, proof: Response) -> bool:
    a = sub(base_mul(proof.s), mul(proof.c, big_x))
    b = sub(mul(proof.s, p), mul(proof.c, d))
    return transcript.copy().point(a).point(b).challenge() == proof.c
