# ruff: noqa: RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""Threshold trustees: a Pedersen/Feldman distributed key generation (t-of-n).

With a deputy the trustees are the chair, the secretary and the deputy, and any
``t = 2`` of the ``n = 3`` decrypt (docs/e2e-ballots.md §3b). One *round* of key
generation, for a fixed list of trustees (index ``j = 1 … n`` in list order):

1. **key** — trustee ``i`` posts an encryption key ``E_i = e_i·B`` with a Schnorr proof
   of knowledge; the shares dealt to it are encrypted to ``E_i``.
2. **dealing** — once every key is in, trustee ``i`` draws ``f_i(z) = a_i0 + a_i1·z + …``
   of degree ``t − 1``, posts Feldman commitments ``C_ik = a_ik·B``, a proof of knowledge
   of ``a_i0`` (no rogue key) and, for every trustee ``j`` (itself included), the share
   ``f_i(j)`` encrypted to ``E_j``: ``R = ρ·B``, ``e = f_i(j) + H(… ‖ R ‖ ρ·E_j)``.
3. **confirm / complaint** — once every dealing is in, trustee ``j`` decrypts its shares
   ``s_ij = e − H(… ‖ R ‖ e_j·R)`` and checks ``s_ij·B = Σ_k j^k·C_ik``. If all hold it
   confirms with its verification key ``VK_j = Σ_i Σ_k j^k·C_ik``; if one fails it files
   a complaint against the dealer, revealing ``K = e_j·R`` with a Chaum–Pedersen proof
   that ``log_B E_j = log_R K``, so that anyone can decrypt that one share and see it
   fail. An upheld complaint ends the round naming the dealer; the chair starts another.

When every trustee has confirmed, the poll key is ``Y = Σ_i C_i0`` and trustee ``j``'s
secret share is ``x_j = Σ_i s_ij`` (so ``x_j·B = VK_j``). A partial decryption is
``D_j = x_j·A`` with the same Chaum–Pedersen proof as n-of-n (against ``VK_j``), and any
``t`` of them combine with Lagrange coefficients: ``x·A = Σ_j λ_j·D_j``.

Pure: the server (``meetingd/e2e_trustees.py``) and ``meetingd verify``
(``voting/e2e/record.py``) replay the same :class:`DkgRound`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from meeting.errors import Conflict, InvalidInput, InvalidState, NotAuthorised
from voting.e2e.elgamal import exact_keys
from voting.e2e.group import (
    IDENTITY,
    ORDER,
    add,
    base_mul,
    decode_point,
    decode_scalar,
    mul,
    point_hex,
    random_scalar,
    scalar_hex,
    total,
)
from voting.e2e.keys import check_id, parse_response
from voting.e2e.proofs import Response, ScalarSource, prove_dlog, prove_eqlog, verify_dlog, verify_eqlog
from voting.e2e.transcript import Transcript

THRESHOLD = 2
MAX_TRUSTEES = 16


def _resp(r: Response) -> dict[str, str]:
    return {"c": scalar_hex(r.c), "s": scalar_hex(r.s)}


def _object(data: object, keys: set[str], field: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{field} must be an object", field=field)
    exact_keys(data, keys, field)
    return data


def _round(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**31:
        raise InvalidInput(f"{field} must be a positive integer", field=field)
    return value


# -- transcripts ------------------------------------------------------------------------------


def _base(label: str, meeting_id: str, round_: int) -> Transcript:
    return Transcript(label).text(meeting_id).number(round_)


def enc_key_transcript(meeting_id: str, round_: int, trustee_id: str, key: bytes) -> Transcript:
    return _base("dkg-key", meeting_id, round_).text(trustee_id).point(key)


def dealing_transcript(meeting_id: str, round_: int, dealer: str, commitments: Sequence[bytes]) -> Transcript:
    t = _base("dkg-dealing", meeting_id, round_).text(dealer).number(len(commitments))
    for c in commitments:
        t.point(c)
    return t


def share_pad(meeting_id: str, round_: int, dealer: str, to: str, r: bytes, k: bytes) -> int:
    """The one-time pad of a share: ``H(… ‖ text(dealer) ‖ text(to) ‖ pt(R) ‖ pt(K))``."""
    return _base("dkg-share", meeting_id, round_).text(dealer).text(to).point(r).point(k).challenge()


def complaint_transcript(
    meeting_id: str, round_: int, by: str, against: str, enc_key: bytes, r: bytes, k: bytes
) -> Transcript:
    return _base("dkg-complaint", meeting_id, round_).text(by).text(against).point(enc_key).point(r).point(k)


# -- the posted objects -------------------------------------------------------------------------


@dataclass(frozen=True)
class EncKey:
    """Step 1: a trustee's encryption key for this round, with its proof of knowledge."""

    trustee_id: str
    key: bytes
    proof: Response

    def to_dict(self) -> dict[str, Any]:
        return {"trustee_id": self.trustee_id, "enc_key": point_hex(self.key), "proof": _resp(self.proof)}

    @classmethod
    def from_dict(cls, data: object, field: str = "key") -> EncKey:
        d = _object(data, {"trustee_id", "enc_key", "proof"}, field)
        return cls(
            check_id(d["trustee_id"], f"{field}.trustee_id"),
            decode_point(d["enc_key"], f"{field}.enc_key"),
            parse_response(d["proof"], f"{field}.proof"),
        )


@dataclass(frozen=True)
class EncryptedShare:
    to: str
    r: bytes
    e: int

    def to_dict(self) -> dict[str, str]:
        return {"to": self.to, "r": point_hex(self.r), "e": scalar_hex(self.e)}


@dataclass(frozen=True)
class Dealing:
    """Step 2: a trustee's Feldman commitments, proof and encrypted shares."""

    dealer: str
    commitments: tuple[bytes, ...]
    proof: Response
    shares: tuple[EncryptedShare, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dealer": self.dealer,
            "commitments": [point_hex(c) for c in self.commitments],
            "proof": _resp(self.proof),
            "shares": [s.to_dict() for s in self.shares],
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "dealing") -> Dealing:
        d = _object(data, {"dealer", "commitments", "proof", "shares"}, field)
        cs, shares = d["commitments"], d["shares"]
        if not isinstance(cs, list) or not 1 <= len(cs) <= MAX_TRUSTEES:
            raise InvalidInput(f"{field}.commitments must be a list", field=f"{field}.commitments")
        if not isinstance(shares, list) or not 1 <= len(shares) <= MAX_TRUSTEES:
            raise InvalidInput(f"{field}.shares must be a list", field=f"{field}.shares")
        parsed = []
        for j, s in enumerate(shares):
            so = _object(s, {"to", "r", "e"}, f"{field}.shares[{j}]")
            parsed.append(
                EncryptedShare(
                    check_id(so["to"], f"{field}.shares[{j}].to"),
                    decode_point(so["r"], f"{field}.shares[{j}].r"),
                    decode_scalar(so["e"], f"{field}.shares[{j}].e"),
                )
            )
        return cls(
            check_id(d["dealer"], f"{field}.dealer"),
            tuple(decode_point(c, f"{field}.commitments[{k}]") for k, c in enumerate(cs)),
            parse_response(d["proof"], f"{field}.proof"),
            tuple(parsed),
        )


@dataclass(frozen=True)
class Complaint:
    """Step 3 when a share fails: the revealed ``K = e_j·R`` and a proof it is right."""

    by: str
    against: str
    key: bytes
    proof: Response

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "against": self.against,
            "key": point_hex(self.key),
            "proof": _resp(self.proof),
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "complaint") -> Complaint:
        d = _object(data, {"by", "against", "key", "proof"}, field)
        return cls(
            check_id(d["by"], f"{field}.by"),
            check_id(d["against"], f"{field}.against"),
            decode_point(d["key"], f"{field}.key"),
            parse_response(d["proof"], f"{field}.proof"),
        )


# -- what a trustee's device does (web/js/e2e-dkg.js does the same) -------------------------------


def make_enc_key(
    meeting_id: str, round_: int, trustee_id: str, rand: ScalarSource = random_scalar
) -> tuple[int, EncKey]:
    e = rand()
    key = base_mul(e)
    return e, EncKey(
        trustee_id, key, prove_dlog(enc_key_transcript(meeting_id, round_, trustee_id, key), e, rand)
    )


def evaluate(coefficients: Sequence[int], j: int) -> int:
    acc = 0
    for a in reversed(coefficients):
        acc = (acc * j + a) % ORDER
    return acc


def encrypt_share(
    meeting_id: str, round_: int, dealer: str, to: str, enc_key: bytes, value: int, rand: ScalarSource
) -> EncryptedShare:
    rho = rand()
    r = base_mul(rho)
    pad = share_pad(meeting_id, round_, dealer, to, r, mul(rho, enc_key))
    return EncryptedShare(to, r, (value + pad) % ORDER)


def make_dealing(
    meeting_id: str,
    round_: int,
    dealer: str,
    threshold: int,
    enc_keys: Sequence[EncKey],
    rand: ScalarSource = random_scalar,
) -> Dealing:
    """Deal to every trustee of ``enc_keys`` (in trustee order; index = position + 1)."""
    coefficients = [rand() for _ in range(threshold)]
    commitments = tuple(base_mul(a) for a in coefficients)
    proof = prove_dlog(dealing_transcript(meeting_id, round_, dealer, commitments), coefficients[0], rand)
    shares = tuple(
        encrypt_share(meeting_id, round_, dealer, k.trustee_id, k.key, evaluate(coefficients, j), rand)
        for j, k in enumerate(enc_keys, start=1)
    )
    return Dealing(dealer, commitments, proof, shares)


def expected_share_point(commitments: Sequence[bytes], j: int) -> bytes:
    """``Σ_k j^k·C_k``: what ``f(j)·B`` must be."""
    return total(mul(pow(j, k, ORDER), c) for k, c in enumerate(commitments))


def open_share(meeting_id: str, round_: int, dealer: str, share: EncryptedShare, k: bytes) -> int:
    return (share.e - share_pad(meeting_id, round_, dealer, share.to, share.r, k)) % ORDER


def make_complaint(
    meeting_id: str,
    round_: int,
    by: str,
    e: int,
    dealing: Dealing,
    rand: ScalarSource = random_scalar,
) -> Complaint:
    share = next(s for s in dealing.shares if s.to == by)
    k = mul(e, share.r)
    t = complaint_transcript(meeting_id, round_, by, dealing.dealer, base_mul(e), share.r, k)
    return Complaint(by, dealing.dealer, k, prove_eqlog(t, e, share.r, rand))


def lagrange_at_zero(indices: Sequence[int], j: int) -> int:
    """``λ_j = Π_{m ≠ j} m / (m − j)`` over the answering trustees' indices, mod ℓ."""
    num, den = 1, 1
    for m in indices:
        if m != j:
            num = num * m % ORDER
            den = den * (m - j) % ORDER
    return num * pow(den, -1, ORDER) % ORDER


# -- one round, as the server and the verifier replay it --------------------------------------------


class Phase(StrEnum):
    KEYS = "keys"
    DEALINGS = "dealings"
    CONFIRMATIONS = "confirmations"
    COMPLETE = "complete"
    FAILED = "failed"


@dataclass
class DkgRound:
    """The state of one round of key generation (pure; every step checked)."""

    meeting_id: str
    round: int
    trustees: tuple[str, ...]
    threshold: int = THRESHOLD
    keys: dict[str, EncKey] = field(default_factory=dict)
    dealings: dict[str, Dealing] = field(default_factory=dict)
    confirmed: dict[str, bytes] = field(default_factory=dict)
    failed_by: str | None = None
    """The dealer whose share was shown bad (the round then ends)."""

    def __post_init__(self) -> None:
        if len(set(self.trustees)) != len(self.trustees) or not 2 <= len(self.trustees) <= MAX_TRUSTEES:
            raise InvalidInput("the trustees must be 2 or more distinct members", field="trustees")
        if not 1 <= self.threshold <= len(self.trustees):
            raise InvalidInput(
                "the threshold must be between 1 and the number of trustees", field="threshold"
            )

    def copy(self) -> DkgRound:
        """An independent copy (the server tries a step on it before it commits)."""
        return dataclasses.replace(
            self, keys=dict(self.keys), dealings=dict(self.dealings), confirmed=dict(self.confirmed)
        )

    @classmethod
    def from_view(cls, meeting_id: str, view: Mapping[str, Any]) -> DkgRound:
        """Rebuild a round from the server's public view (``get_e2e``'s ``dkg``),
        re-checking every key and dealing in it: what a trustee's device does before it
        deals or confirms, trusting nothing the server says."""
        r = cls(meeting_id, int(view["round"]), tuple(view["trustees"]), int(view["threshold"]))
        for k in view["keys"]:
            key = EncKey.from_dict(k)
            r.add_key(key.trustee_id, key)
        for d in view["dealings"]:
            dealing = Dealing.from_dict(d)
            r.add_dealing(dealing.dealer, dealing)
        return r

    def index(self, trustee_id: str) -> int:
        return self.trustees.index(trustee_id) + 1

    @property
    def phase(self) -> Phase:
        if self.failed_by is not None:
            return Phase.FAILED
        if len(self.keys) < len(self.trustees):
            return Phase.KEYS
        if len(self.dealings) < len(self.trustees):
            return Phase.DEALINGS
        if len(self.confirmed) < len(self.trustees):
            return Phase.CONFIRMATIONS
        return Phase.COMPLETE

    def _require(self, caller: str, phase: Phase) -> None:
        if caller not in self.trustees:
            raise NotAuthorised(f"{caller} is not a trustee of this key generation", code="not_a_trustee")
        if self.phase is Phase.FAILED:
            raise InvalidState(
                f"this key generation failed (a bad share from {self.failed_by}); the chair starts another",
                code="key_generation_failed",
                trustee=self.failed_by,
            )
        if self.phase is not phase:
            raise InvalidState(
                f"key generation is at its {self.phase.value} step, not {phase.value}",
                code="key_generation_step",
                phase=self.phase.value,
            )

    def add_key(self, caller: str, key: EncKey) -> None:
        if key.trustee_id != caller:
            raise NotAuthorised("a trustee posts only their own key", code="not_a_trustee")
        if caller in self.keys:
            raise Conflict(f"{caller}'s key for this round is posted already", code="trustee_key_exists")
        self._require(caller, Phase.KEYS)
        if not verify_dlog(
            enc_key_transcript(self.meeting_id, self.round, caller, key.key), key.key, key.proof
        ):
            raise InvalidInput(
                f"{caller}'s key proof does not verify",
                code="invalid_key_proof",
                field="key.proof",
                trustee=caller,
            )
        if any(k.key == key.key for k in self.keys.values()):
            raise Conflict("the same key was posted twice", code="duplicate_share", trustee=caller)
        self.keys[caller] = key

    def ordered_keys(self) -> tuple[EncKey, ...]:
        return tuple(self.keys[t] for t in self.trustees)

    def add_dealing(self, caller: str, dealing: Dealing) -> None:
        if dealing.dealer != caller:
            raise NotAuthorised("a trustee posts only their own dealing", code="not_a_trustee")
        if caller in self.dealings:
            raise Conflict(f"{caller}'s dealing is posted already", code="dealing_exists")
        self._require(caller, Phase.DEALINGS)
        if len(dealing.commitments) != self.threshold:
            raise InvalidInput(
                f"{caller}'s dealing needs {self.threshold} commitments",
                code="wrong_commitment_count",
                field="dealing.commitments",
                trustee=caller,
            )
        if tuple(s.to for s in dealing.shares) != self.trustees:
            raise InvalidInput(
                f"{caller}'s dealing needs one share per trustee, in trustee order",
                code="wrong_share_count",
                field="dealing.shares",
                trustee=caller,
            )
        t = dealing_transcript(self.meeting_id, self.round, caller, dealing.commitments)
        if not verify_dlog(t, dealing.commitments[0], dealing.proof):
            raise InvalidInput(
                f"{caller}'s dealing proof does not verify",
                code="invalid_dealing_proof",
                field="dealing.proof",
                trustee=caller,
            )
        self.dealings[caller] = dealing

    def verification_key(self, trustee_id: str) -> bytes:
        """``VK_j = Σ_i Σ_k j^k·C_ik`` (needs every dealing)."""
        j = self.index(trustee_id)
        return total(expected_share_point(self.dealings[d].commitments, j) for d in self.trustees)

    def add_confirmation(self, caller: str, verification_key: bytes) -> None:
        if caller in self.confirmed:
            raise Conflict(f"{caller} confirmed already", code="confirmation_exists")
        self._require(caller, Phase.CONFIRMATIONS)
        if verification_key != self.verification_key(caller):
            raise InvalidInput(
                f"{caller}'s verification key is not the one the commitments give",
                code="invalid_verification_key",
                field="verification_key",
                trustee=caller,
            )
        self.confirmed[caller] = verification_key

    def add_complaint(self, caller: str, complaint: Complaint) -> None:
        """Uphold a complaint (the round fails naming the dealer) or refuse it."""
        if complaint.by != caller:
            raise NotAuthorised("a trustee complains only for themselves", code="not_a_trustee")
        self._require(caller, Phase.CONFIRMATIONS)
        if caller in self.confirmed:
            raise Conflict(f"{caller} confirmed already", code="confirmation_exists")
        dealing = self.dealings.get(complaint.against)
        if dealing is None:
            raise InvalidInput(f"{complaint.against} is not a dealer", field="complaint.against")
        share = next(s for s in dealing.shares if s.to == caller)
        t = complaint_transcript(
            self.meeting_id,
            self.round,
            caller,
            complaint.against,
            self.keys[caller].key,
            share.r,
            complaint.key,
        )
        if not verify_eqlog(t, self.keys[caller].key, share.r, complaint.key, complaint.proof):
            raise InvalidInput(
                f"{caller}'s complaint proof does not verify",
                code="invalid_complaint_proof",
                field="complaint.proof",
                trustee=caller,
            )
        value = open_share(self.meeting_id, self.round, complaint.against, share, complaint.key)
        if base_mul(value) == expected_share_point(dealing.commitments, self.index(caller)):
            raise InvalidInput(
                f"the share {complaint.against} dealt to {caller} is correct",
                code="complaint_unfounded",
                field="complaint",
                trustee=caller,
            )
        self.failed_by = complaint.against

    def check_received(self, trustee_id: str, e: int) -> tuple[int, list[str]]:
        """What the trustee's device does at step 3: its secret share and the dealers
        whose share to it fails (web/js/e2e-dkg.js does the same)."""
        j = self.index(trustee_id)
        x, bad = 0, []
        for d in self.trustees:
            dealing = self.dealings[d]
            share = next(s for s in dealing.shares if s.to == trustee_id)
            value = open_share(self.meeting_id, self.round, d, share, mul(e, share.r))
            if base_mul(value) != expected_share_point(dealing.commitments, j):
                bad.append(d)
            x = (x + value) % ORDER
        return x, bad

    def public_key(self) -> bytes:
        key = total(self.dealings[d].commitments[0] for d in self.trustees)
        if key == IDENTITY:
            raise InvalidState("the joint key is the identity", code="identity_point")
        return key

    def complete(self) -> dict[str, Any]:
        """The ``e2e_dkg_complete`` fields."""
        if self.phase is not Phase.COMPLETE:
            raise InvalidState("key generation is not complete", code="e2e_key_incomplete")
        return {
            "round": self.round,
            "threshold": self.threshold,
            "public_key": point_hex(self.public_key()),
            "trustees": [
                {"trustee_id": t, "index": self.index(t), "verification_key": point_hex(self.confirmed[t])}
                for t in self.trustees
            ],
        }


def apply_step(r: DkgRound, caller: str, step: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check and apply one posted step (``key``, ``dealing``, ``confirmation``,
    ``complaint``) to the round; returns the fields of its minutes entry."""
    if step == "key":
        key = EncKey.from_dict(data, "data")
        r.add_key(caller, key)
        return {"key": key.to_dict()}
    if step == "dealing":
        dealing = Dealing.from_dict(data, "data")
        r.add_dealing(caller, dealing)
        return {"dealing": dealing.to_dict()}
    if step == "confirmation":
        if set(data) != {"verification_key"}:
            raise InvalidInput("a confirmation holds only verification_key", field="data")
        vk = decode_point(data["verification_key"], "data.verification_key")
        r.add_confirmation(caller, vk)
        return {"trustee_id": caller, "verification_key": vk.hex()}
    complaint = Complaint.from_dict(data, "data")
    r.add_complaint(caller, complaint)
    return {"complaint": complaint.to_dict()}


def combine_factors(factors: Mapping[int, bytes]) -> bytes:
    """``Σ_j λ_j·D_j`` over the answering trustees (index → factor)."""
    indices = sorted(factors)
    acc = IDENTITY
    for j in indices:
        acc = add(acc, mul(lagrange_at_zero(indices, j), factors[j]))
    return acc
