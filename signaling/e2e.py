"""Socket.IO events of encrypted secret ballots (docs/protocol.md, "Secret ballots").

Payloads are parsed into plain values here; the ballot, key and decryption objects
themselves are parsed (every point and scalar, with precise codes) by ``voting.e2e``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meeting.errors import InvalidInput

from .messages import _int, _object

MAX_ENCRYPTED_BALLOT = 512 * 1024
"""A 500-candidate ballot is ~400 KB of JSON."""


def _get_e2e(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id", "board"}, set())
    board = p.get("board", False)
    if not isinstance(board, bool):
        raise InvalidInput("'board' must be true or false", field="board")
    return {"poll_id": None if p.get("poll_id") is None else _int(p["poll_id"], "poll_id"), "board": board}


def _post_trustee_key(payload: object) -> dict[str, Any]:
    return {"key": _object(payload, {"key"}, {"key"})["key"]}


def _cast_encrypted_ballot(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id", "ballot_id", "ballot", "replaces"}, {"poll_id", "ballot_id", "ballot"})
    if not isinstance(p["ballot"], dict):
        raise InvalidInput("'ballot' must be an object", field="ballot")
    # ballot_id / replaces are checked by the encrypted box (precise codes)
    return {
        "poll_id": _int(p["poll_id"], "poll_id"),
        "ballot_id": p["ballot_id"],
        "ballot": p["ballot"],
        "replaces": p.get("replaces"),
    }


def _post_partial_decryption(payload: object) -> dict[str, Any]:
    p = _object(payload, {"poll_id", "decryption"}, {"poll_id", "decryption"})
    return {"poll_id": _int(p["poll_id"], "poll_id"), "decryption": p["decryption"]}


E2E_EVENTS: dict[str, Callable[[object], dict[str, Any]]] = {
    "get_e2e": _get_e2e,
    "post_trustee_key": _post_trustee_key,
    "cast_encrypted_ballot": _cast_encrypted_ballot,
    "post_partial_decryption": _post_partial_decryption,
}
