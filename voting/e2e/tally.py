# ruff: noqa: RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""The encrypted tally: homomorphic sums, trustees' partial decryptions with
Chaum–Pedersen proofs, their combination and the small discrete log.

For option ``j`` with summed ciphertext ``(A_j, B_j)``, trustee ``i`` publishes
``D_ij = x_i·A_j`` and a proof that ``log_B Y_i = log_{A_j} D_ij``. Then
``B_j − Σ_i D_ij = t_j·B``, and ``t_j`` (at most the number of ballots) is found by
walking ``0·B, 1·B, 2·B, …``. With threshold trustees (``voting.e2e.dkg``) ``Y_i`` is
trustee ``i``'s verification key and any ``t`` factors combine with Lagrange weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meeting.errors import InvalidInput
from voting.e2e.ballot import EncryptedBallot, PollContext
from voting.e2e.dkg import combine_factors
from voting.e2e.elgamal import ZERO, Ciphertext, exact_keys
from voting.e2e.group import (
    GENERATOR,
    IDENTITY,
    add,
    decode_point,
    mul,
    point_hex,
    random_scalar,
    scalar_hex,
    sub,
    total,
)
from voting.e2e.keys import check_id, parse_response
from voting.e2e.proofs import Response, ScalarSource, prove_eqlog, verify_eqlog
from voting.e2e.transcript import Transcript


def homomorphic_sums(ctx: PollContext, ballots: Sequence[EncryptedBallot]) -> tuple[Ciphertext, ...]:
    sums = [ZERO] * ctx.n_options
    for b in ballots:
        sums = [s + c for s, c in zip(sums, b.ciphertexts, strict=True)]
    return tuple(sums)


def sums_to_list(sums: Sequence[Ciphertext]) -> list[dict[str, str]]:
    return [c.to_dict() for c in sums]


def decryption_transcript(
    ctx: PollContext, trustee_id: str, share: bytes, j: int, summed: Ciphertext, d: bytes
) -> Transcript:
    return (
        ctx.transcript("decryption")
        .text(trustee_id)
        .point(share)
        .number(j)
        .point(summed.alpha)
        .point(summed.beta)
        .point(d)
    )


@dataclass(frozen=True)
class PartialDecryption:
    trustee_id: str
    factors: tuple[bytes, ...]
    """``D_ij`` per option."""
    proofs: tuple[Response, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "trustee_id": self.trustee_id,
            "factors": [point_hex(d) for d in self.factors],
            "proofs": [{"c": scalar_hex(r.c), "s": scalar_hex(r.s)} for r in self.proofs],
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "decryption") -> PartialDecryption:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{field} must be an object", field=field)
        exact_keys(data, {"trustee_id", "factors", "proofs"}, field)
        factors, proofs = data["factors"], data["proofs"]
        if not isinstance(factors, list) or not isinstance(proofs, list) or len(factors) != len(proofs):
            raise InvalidInput(
                f"{field} needs one factor and one proof per option",
                code="wrong_option_count",
                field=f"{field}.factors",
            )
        return cls(
            check_id(data["trustee_id"], f"{field}.trustee_id"),
            tuple(decode_point(d, f"{field}.factors[{j}]") for j, d in enumerate(factors)),
            tuple(parse_response(r, f"{field}.proofs[{j}]") for j, r in enumerate(proofs)),
        )


def partial_decrypt(
    ctx: PollContext,
    trustee_id: str,
    x: int,
    sums: Sequence[Ciphertext],
    rand: ScalarSource = random_scalar,
) -> PartialDecryption:
    """What a trustee's device does once it has checked the board (see ``web/js/e2e-tally.js``)."""
    share = mul(x, GENERATOR)
    factors = tuple(mul(x, s.alpha) for s in sums)
    proofs = tuple(
        prove_eqlog(decryption_transcript(ctx, trustee_id, share, j, s, d), x, s.alpha, rand)
        for j, (s, d) in enumerate(zip(sums, factors, strict=True))
    )
    return PartialDecryption(trustee_id, factors, proofs)


def verify_partial(
    ctx: PollContext, share: bytes, sums: Sequence[Ciphertext], part: PartialDecryption
) -> None:
    if len(part.factors) != len(sums):
        raise InvalidInput("one factor per option", code="wrong_option_count", field="decryption.factors")
    for j, (s, d, proof) in enumerate(zip(sums, part.factors, part.proofs, strict=True)):
        t = decryption_transcript(ctx, part.trustee_id, share, j, s, d)
        if not verify_eqlog(t, share, s.alpha, d, proof):
            raise InvalidInput(
                f"the decryption proof of option {j} does not verify",
                code="invalid_decryption_proof",
                field=f"decryption.proofs[{j}]",
            )


def discrete_log(point: bytes, limit: int) -> int:
    """The ``t`` in ``[0, limit]`` with ``t·B = point``; ``InvalidInput`` if none."""
    acc = IDENTITY
    for t in range(limit + 1):
        if acc == point:
            return t
        acc = add(acc, GENERATOR)
    raise InvalidInput("the decrypted sum is out of range", code="tally_out_of_range", field="decryption")


def combine(
    sums: Sequence[Ciphertext],
    parts: Sequence[PartialDecryption],
    limit: int,
    indices: Mapping[str, int] | None = None,
) -> tuple[int, ...]:
    """The per-option counts from the trustees' (already verified) factors: every
    trustee's, added (n-of-n), or, given the trustees' ``indices`` (t-of-n), at least
    ``t`` of them weighted by their Lagrange coefficients."""
    counts = []
    for j, s in enumerate(sums):
        if indices is None:
            d = total(p.factors[j] for p in parts)
        else:
            d = combine_factors({indices[p.trustee_id]: p.factors[j] for p in parts})
        counts.append(discrete_log(sub(s.beta, d), limit))
    return tuple(counts)
