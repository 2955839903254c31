# ruff: noqa: RUF002, RUF003 (mathematical notation: α, β, ℓ, −)
"""Trustees' key shares and the joint poll key (n-of-n).

Each trustee's device draws ``x_i``, publishes ``Y_i = x_i·B`` with a Schnorr proof of
knowledge of ``x_i`` bound to the meeting and the trustee, and keeps ``x_i``. The
meeting's election key is ``Y = Σ Y_i``; decrypting needs every trustee. The proof of
knowledge stops a rogue-key attack (a last trustee choosing ``Y_n = Y' − Σ Y_j`` for a
``Y'`` it controls alone), because that trustee cannot know ``log_B Y_n``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meeting.errors import Conflict, InvalidInput
from voting.e2e.elgamal import exact_keys
from voting.e2e.group import (
    base_mul,
    decode_point,
    decode_scalar,
    point_hex,
    random_scalar,
    scalar_hex,
    total,
)
from voting.e2e.proofs import Response, ScalarSource, prove_dlog, verify_dlog
from voting.e2e.transcript import Transcript

MAX_ID = 128


def check_id(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or len(value.encode("utf-8")) > MAX_ID:
        raise InvalidInput(f"{field} must be a non-empty string of at most {MAX_ID} bytes", field=field)
    return value


def key_transcript(meeting_id: str, trustee_id: str, share: bytes) -> Transcript:
    return Transcript("key").text(meeting_id).text(trustee_id).point(share)


@dataclass(frozen=True)
class TrusteeKey:
    """A trustee's public share with its proof of knowledge."""

    trustee_id: str
    share: bytes
    proof: Response

    def to_dict(self) -> dict[str, Any]:
        return {
            "trustee_id": self.trustee_id,
            "public_share": point_hex(self.share),
            "proof": {"c": scalar_hex(self.proof.c), "s": scalar_hex(self.proof.s)},
        }

    @classmethod
    def from_dict(cls, data: object, field: str = "key") -> TrusteeKey:
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{field} must be an object", field=field)
        exact_keys(data, {"trustee_id", "public_share", "proof"}, field)
        return cls(
            check_id(data["trustee_id"], f"{field}.trustee_id"),
            decode_point(data["public_share"], f"{field}.public_share"),
            parse_response(data["proof"], f"{field}.proof"),
        )


def parse_response(data: object, field: str) -> Response:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{field} must be an object", field=field)
    exact_keys(data, {"c", "s"}, field)
    return Response(decode_scalar(data["c"], f"{field}.c"), decode_scalar(data["s"], f"{field}.s"))


def make_trustee_key(
    meeting_id: str, trustee_id: str, rand: ScalarSource = random_scalar
) -> tuple[int, TrusteeKey]:
    """What a trustee's device does (the browser does the same in ``web/js/e2e-keys.js``)."""
    x = rand()
    share = base_mul(x)
    proof = prove_dlog(key_transcript(meeting_id, trustee_id, share), x, rand)
    return x, TrusteeKey(trustee_id, share, proof)


def verify_trustee_key(meeting_id: str, key: TrusteeKey) -> None:
    if not verify_dlog(key_transcript(meeting_id, key.trustee_id, key.share), key.share, key.proof):
        raise InvalidInput(
            "the key share's proof of knowledge does not verify", code="invalid_key_proof", field="proof"
        )


def joint_key(keys: Sequence[TrusteeKey]) -> bytes:
    """``Y = Σ Y_i``; refuses an empty set and a share used twice."""
    if not keys:
        raise InvalidInput("no trustee keys", code="no_trustee_keys", field="keys")
    shares = [k.share for k in keys]
    if len(set(shares)) != len(shares):
        raise Conflict("the same public share was posted twice", code="duplicate_share")
    return total(shares)
