# ruff: noqa: RUF001, RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""Encrypted ballots: canonical form, tracker, proofs, and the Benaloh audit.

A ballot for a poll of ``n`` options holds, per option ``j``, a ciphertext
``(α_j, β_j)`` of ``m_j ∈ {0, 1}`` with a 0/1 proof, and one proof that
``Σ m_j ∈ [min_marks, max_marks]`` over the sum of the ciphertexts. Every challenge's
transcript starts with :meth:`PollContext.transcript` (version, meeting, poll, poll
key, option count, limits) and then holds *all* the ballot's ciphertexts (strong
Fiat–Shamir), so a proof made for one poll, key or ballot fails anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meeting.errors import InvalidInput
from voting.e2e.elgamal import Ciphertext, encrypt, exact_keys, total
from voting.e2e.group import (
    ORDER,
    base_mul,
    decode_scalar,
    point_hex,
    random_scalar,
    scalar_hex,
)
from voting.e2e.keys import parse_response
from voting.e2e.proofs import (
    Response,
    ScalarSource,
    prove_membership,
    verify_membership,
)
from voting.e2e.transcript import VERSION, Transcript

MAX_OPTIONS = 500
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
BALLOT_FIELDS = {"version", "meeting_id", "poll_id", "ciphertexts", "proofs", "sum_proof"}


@dataclass(frozen=True)
class PollContext:
    """The public statement every ballot proof is bound to."""

    meeting_id: str
    poll_id: str
    public_key: bytes
    n_options: int
    min_marks: int
    max_marks: int

    def __post_init__(self) -> None:
        for name in ("meeting_id", "poll_id"):
            if not ID_PATTERN.fullmatch(getattr(self, name)):
                raise InvalidInput(f"{name} must match {ID_PATTERN.pattern}", field=name)
        if not 1 <= self.n_options <= MAX_OPTIONS:
            raise InvalidInput("bad option count", field="n_options")
        if not 0 <= self.min_marks <= self.max_marks <= self.n_options:
            raise InvalidInput("bad mark limits", field="max_marks")

    def transcript(self, label: str) -> Transcript:
        return (
            Transcript(label)
            .text(self.meeting_id)
            .text(self.poll_id)
            .point(self.public_key)
            .number(self.n_options)
            .number(self.min_marks)
            .number(self.max_marks)
        )

    @property
    def mark_range(self) -> tuple[int, ...]:
        return tuple(range(self.min_marks, self.max_marks + 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "meeting_id": self.meeting_id,
            "poll_id": self.poll_id,
            "public_key": point_hex(self.public_key),
            "n_options": self.n_options,
            "min_marks": self.min_marks,
            "max_marks": self.max_marks,
        }


@dataclass(frozen=True)
class EncryptedBallot:
    meeting_id: str
    poll_id: str
    ciphertexts: tuple[Ciphertext, ...]
    proofs: tuple[tuple[Response, ...], ...]
    sum_proof: tuple[Response, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "meeting_id": self.meeting_id,
            "poll_id": self.poll_id,
            "ciphertexts": [c.to_dict() for c in self.ciphertexts],
            "proofs": [[_resp(r) for r in proof] for proof in self.proofs],
            "sum_proof": [_resp(r) for r in self.sum_proof],
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "ballot") -> EncryptedBallot:
        """Parse; every point must be canonical and not the identity, every scalar < ℓ."""
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{field} must be an object", field=field)
        exact_keys(data, BALLOT_FIELDS, field)
        if data["version"] != VERSION or isinstance(data["version"], bool):
            raise InvalidInput(
                f"{field}.version must be {VERSION}", code="unsupported_version", field=f"{field}.version"
            )
        ids = []
        for name in ("meeting_id", "poll_id"):
            value = data[name]
            if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
                raise InvalidInput(f"{field}.{name} must be an id", field=f"{field}.{name}")
            ids.append(value)
        cts, proofs, sums = data["ciphertexts"], data["proofs"], data["sum_proof"]
        if not isinstance(cts, list) or not 1 <= len(cts) <= MAX_OPTIONS:
            raise InvalidInput(
                f"{field}.ciphertexts must be a list of 1 to {MAX_OPTIONS}", field=f"{field}.ciphertexts"
            )
        if not isinstance(proofs, list) or len(proofs) != len(cts):
            raise InvalidInput(
                f"{field}.proofs needs one proof per ciphertext",
                code="wrong_option_count",
                field=f"{field}.proofs",
            )
        if not isinstance(sums, list) or not 1 <= len(sums) <= MAX_OPTIONS + 1:
            raise InvalidInput(f"{field}.sum_proof must be a non-empty list", field=f"{field}.sum_proof")
        parsed_proofs = []
        for j, proof in enumerate(proofs):
            if not isinstance(proof, list) or len(proof) != 2:
                raise InvalidInput(f"{field}.proofs[{j}] must be two responses", field=f"{field}.proofs[{j}]")
            parsed_proofs.append(
                tuple(parse_response(r, f"{field}.proofs[{j}][{k}]") for k, r in enumerate(proof))
            )
        return cls(
            ids[0],
            ids[1],
            tuple(Ciphertext.from_dict(c, f"{field}.ciphertexts[{j}]") for j, c in enumerate(cts)),
            tuple(parsed_proofs),
            tuple(parse_response(r, f"{field}.sum_proof[{k}]") for k, r in enumerate(sums)),
        )

    def tracker(self) -> str:
        """SHA-256 of the ballot's canonical bytes, 64 hex digits."""
        t = Transcript("tracker").text(self.meeting_id).text(self.poll_id)
        t.number(len(self.ciphertexts))
        for c in self.ciphertexts:
            t.point(c.alpha).point(c.beta)
        for proof in self.proofs:
            t.number(len(proof))
            for r in proof:
                t.scalar(r.c).scalar(r.s)
        t.number(len(self.sum_proof))
        for r in self.sum_proof:
            t.scalar(r.c).scalar(r.s)
        return t.sha256().hex()


def _resp(r: Response) -> dict[str, str]:
    return {"c": scalar_hex(r.c), "s": scalar_hex(r.s)}


def _with_ciphertexts(t: Transcript, cts: Sequence[Ciphertext]) -> Transcript:
    for c in cts:
        t.point(c.alpha).point(c.beta)
    return t


def option_transcript(ctx: PollContext, cts: Sequence[Ciphertext], j: int) -> Transcript:
    return _with_ciphertexts(ctx.transcript("option").number(j), cts)


def sum_transcript(ctx: PollContext, cts: Sequence[Ciphertext]) -> Transcript:
    return _with_ciphertexts(ctx.transcript("sum"), cts)


def check_marks(ctx: PollContext, marks: Sequence[int]) -> None:
    if len(marks) != ctx.n_options or any(m not in (0, 1) for m in marks):
        raise InvalidInput("marks must be one 0 or 1 per option", field="marks")
    if not ctx.min_marks <= sum(marks) <= ctx.max_marks:
        raise InvalidInput("the number of marks is outside the poll's limits", field="marks")


def encrypt_ballot(
    ctx: PollContext, marks: Sequence[int], rand: ScalarSource = random_scalar
) -> tuple[EncryptedBallot, tuple[int, ...]]:
    """Encrypt and prove; returns the ballot and its randomness (for a Benaloh audit)."""
    check_marks(ctx, marks)
    rs = tuple(rand() for _ in marks)
    y = ctx.public_key
    cts = tuple(encrypt(y, m, r) for m, r in zip(marks, rs, strict=True))
    proofs = tuple(
        prove_membership(option_transcript(ctx, cts, j), (0, 1), m, r, c.alpha, c.beta, y, rand)
        for j, (m, r, c) in enumerate(zip(marks, rs, cts, strict=True))
    )
    s = total(cts)
    sum_proof = prove_membership(
        sum_transcript(ctx, cts),
        ctx.mark_range,
        sum(marks),
        sum(rs) % ORDER,
        s.alpha,
        s.beta,
        y,
        rand,
    )
    return EncryptedBallot(ctx.meeting_id, ctx.poll_id, cts, proofs, sum_proof), rs


def verify_ballot(ctx: PollContext, ballot: EncryptedBallot) -> None:
    """Raise ``InvalidInput`` with a precise code unless every proof verifies."""
    if (ballot.meeting_id, ballot.poll_id) != (ctx.meeting_id, ctx.poll_id):
        raise InvalidInput(
            "this ballot was made for another poll", code="ballot_for_another_poll", field="ballot.poll_id"
        )
    if len(ballot.ciphertexts) != ctx.n_options:
        raise InvalidInput(
            f"the poll has {ctx.n_options} options, the ballot {len(ballot.ciphertexts)}",
            code="wrong_option_count",
            field="ballot.ciphertexts",
        )
    y = ctx.public_key
    cts = ballot.ciphertexts
    for j, (c, proof) in enumerate(zip(cts, ballot.proofs, strict=True)):
        if not verify_membership(option_transcript(ctx, cts, j), (0, 1), c.alpha, c.beta, y, proof):
            raise InvalidInput(
                f"the 0/1 proof of option {j} does not verify",
                code="invalid_proof",
                field=f"ballot.proofs[{j}]",
            )
    s = total(cts)
    if len(ballot.sum_proof) != len(ctx.mark_range) or not verify_membership(
        sum_transcript(ctx, cts), ctx.mark_range, s.alpha, s.beta, y, ballot.sum_proof
    ):
        raise InvalidInput(
            "the proof of the number of marks does not verify", code="invalid_proof", field="ballot.sum_proof"
        )


def audit_ballot(ctx: PollContext, ballot: EncryptedBallot, randomness: Sequence[object]) -> tuple[int, ...]:
    """Benaloh check: with the revealed randomness, recover the marks the ballot
    encrypts (or raise ``audit_failed``). The audited ballot must never be cast."""
    if len(randomness) != len(ballot.ciphertexts):
        raise InvalidInput("one randomness per option", code="audit_failed", field="randomness")
    marks = []
    y = ctx.public_key
    for j, (c, r_text) in enumerate(zip(ballot.ciphertexts, randomness, strict=True)):
        r = decode_scalar(r_text, f"randomness[{j}]")
        if base_mul(r) != c.alpha:
            raise InvalidInput(f"option {j}: α ≠ r·B", code="audit_failed", field=f"randomness[{j}]")
        for m in (0, 1):
            if encrypt(y, m, r).beta == c.beta:
                marks.append(m)
                break
        else:
            raise InvalidInput(
                f"option {j} encrypts neither 0 nor 1", code="audit_failed", field=f"ballot.ciphertexts[{j}]"
            )
    return tuple(marks)
