"""Client→server commands of encrypted secret ballots (docs/protocol.md, "Secret ballots").

Payloads are typed here; the ballot, key and decryption objects themselves are parsed
(every point and scalar, with precise codes) by ``voting.e2e`` in the handlers
(``meetingd/e2e_polls.py``), so a malformed ballot is refused before it can join a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meeting.errors import InvalidInput
from meeting.roles import Role
from voting.receipt import check_ballot_id

from .command import Access, command
from .fields import boolean, member_id, optional_positive_int, positive_int, read_object


def _json_object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"'{name}' must be an object", field=name)
    return value


@dataclass(frozen=True)
class GetE2E:
    poll_id: int | None
    board: bool
    live_from: int | None
    """A trustee following an open poll's board: where its next chunk starts."""

    @classmethod
    def parse(cls, payload: object) -> GetE2E:
        p = read_object(payload, {"poll_id", "board", "live_from"}, set())
        live_from = p.get("live_from")
        if live_from is not None and (
            not isinstance(live_from, int) or isinstance(live_from, bool) or not 0 <= live_from < 2**31
        ):
            raise InvalidInput("live_from must be a non-negative integer", field="live_from")
        if live_from is not None and p.get("poll_id") is None:
            raise InvalidInput("live_from needs poll_id", field="live_from")
        return cls(optional_positive_int(p.get("poll_id"), "poll_id"), boolean(p, "board"), live_from)


@dataclass(frozen=True)
class PostTrusteeKey:
    key: dict[str, Any]

    @classmethod
    def parse(cls, payload: object) -> PostTrusteeKey:
        return cls(_json_object(read_object(payload, {"key"}, {"key"})["key"], "key"))


@dataclass(frozen=True)
class CastEncryptedBallot:
    poll_id: int
    ballot_id: str
    ballot: dict[str, Any]
    replaces: str | None

    @classmethod
    def parse(cls, payload: object) -> CastEncryptedBallot:
        p = read_object(
            payload, {"poll_id", "ballot_id", "ballot", "replaces"}, {"poll_id", "ballot_id", "ballot"}
        )
        replaces = p.get("replaces")
        return cls(
            positive_int(p["poll_id"], "poll_id"),
            check_ballot_id(p["ballot_id"]),
            _json_object(p["ballot"], "ballot"),
            None if replaces is None else check_ballot_id(replaces, field="replaces"),
        )


@dataclass(frozen=True)
class PostPartialDecryption:
    poll_id: int
    decryption: dict[str, Any]

    @classmethod
    def parse(cls, payload: object) -> PostPartialDecryption:
        p = read_object(payload, {"poll_id", "decryption"}, {"poll_id", "decryption"})
        return cls(positive_int(p["poll_id"], "poll_id"), _json_object(p["decryption"], "decryption"))


@dataclass(frozen=True)
class PostKeyStatement:
    public_key: str
    signature: str

    @classmethod
    def parse(cls, payload: object) -> PostKeyStatement:
        p = read_object(payload, {"public_key", "signature"}, {"public_key", "signature"})
        key, sig = p["public_key"], p["signature"]
        if not isinstance(key, str) or len(key) != 64:
            raise InvalidInput("public_key must be 64 hex digits", field="public_key")
        if not isinstance(sig, str) or not 80 <= len(sig) <= 100:
            raise InvalidInput("signature must be a base64 Ed25519 signature", field="signature")
        return cls(key, sig)


@dataclass(frozen=True)
class NameDeputyTrustee:
    member_id: str | None

    @classmethod
    def parse(cls, payload: object) -> NameDeputyTrustee:
        p = read_object(payload, {"member_id"}, {"member_id"})
        value = p["member_id"]
        return cls(None if value is None else member_id(value))


@dataclass(frozen=True)
class PostDkgStep:
    """One step of the trustees' key generation: ``key``, ``dealing``, ``confirmation``
    (``verification_key``) or ``complaint``; the object is parsed by ``voting.e2e.dkg``."""

    round: int
    step: str
    data: dict[str, Any]

    STEPS = ("key", "dealing", "confirmation", "complaint")

    @classmethod
    def parse(cls, payload: object) -> PostDkgStep:
        p = read_object(payload, {"round", "step", "data"}, {"round", "step", "data"})
        step = p["step"]
        if step not in cls.STEPS:
            raise InvalidInput(f"'step' must be one of {', '.join(cls.STEPS)}", field="step")
        return cls(positive_int(p["round"], "round"), step, _json_object(p["data"], "data"))


TRUSTEES = Access.roles(Role.CHAIR, Role.SECRETARY)

GET_E2E = command("get_e2e", GetE2E, Access.anyone(), "read the secret-ballot keys and board")
POST_TRUSTEE_KEY = command(
    "post_trustee_key", PostTrusteeKey, TRUSTEES, "post a trustee key share", also="their own share, once"
)
CAST_ENCRYPTED_BALLOT = command(
    "cast_encrypted_ballot",
    CastEncryptedBallot,
    Access.anyone(),
    "cast an encrypted ballot",
    also="voting members present, active membership; every proof checked first",
)
POST_PARTIAL_DECRYPTION = command(
    "post_partial_decryption",
    PostPartialDecryption,
    Access.anyone(),
    "post a partial decryption",
    also="the poll's trustees (chair, secretary, deputy), for themselves, once, after close",
)
POST_KEY_STATEMENT = command(
    "post_key_statement",
    PostKeyStatement,
    Access.roles(Role.CHAIR, Role.SECRETARY),
    "vouch for the poll key",
    also="a trustee, signed on their device with their enrolled cosigning key, once per key",
)
NAME_DEPUTY_TRUSTEE = command(
    "name_deputy_trustee",
    NameDeputyTrustee,
    Access.roles(Role.CHAIR),
    "name (or clear) the deputy trustee and start the trustees' key generation",
    also="a voting member; null goes back to chair and secretary both needed",
)
POST_DKG_STEP = command(
    "post_dkg_step",
    PostDkgStep,
    Access.anyone(),
    "post a step of the trustees' key generation",
    also="the trustees of the current round (chair, secretary, deputy), for themselves",
)
