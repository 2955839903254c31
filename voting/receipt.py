"""Ballot keys and receipt codes.

* The **ballot key** identifies one ballot for idempotency:
  ``SHA-256("meetingd/ballot-key/v1" ‖ poll_id ‖ voter_id ‖ ballot_id)``, with
  NUL separators. It is stored with the ballot, never with the voter; without the
  client's random ballot id (which the server does not keep) it cannot be tied back
  to a voter. Client ballot ids must therefore be random (``crypto.randomUUID()``).
* A **secret receipt** is 80 random bits from :mod:`secrets` (never derived from
  the voter), shown as ``XXXX-XXXX-XXXX-XXXX`` in RFC 4648 base32.
* An **open receipt** is a digest of the ballot key: deterministic, so a retry
  yields the same code; the voter of an open poll is public anyway.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable

from meeting.errors import InvalidInput

RECEIPT_BYTES = 10
BALLOT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_VOTER_ID = 128

TokenSource = Callable[[int], bytes]
"""``secrets.token_bytes`` or a test double with the same signature."""


def check_ballot_id(ballot_id: object, field: str = "ballot_id") -> str:
    """A ballot id as sent (``field`` names it in the error: ``ballot_id`` or ``replaces``)."""
    if not isinstance(ballot_id, str) or not BALLOT_ID_PATTERN.fullmatch(ballot_id):
        raise InvalidInput(
            f"{field} must be 16-64 characters of A-Z a-z 0-9 _ - (a random UUID)",
            field=field,
        )
    return ballot_id


def check_voter_id(voter_id: object) -> str:
    if not isinstance(voter_id, str) or not voter_id or len(voter_id) > MAX_VOTER_ID:
        raise InvalidInput("voter_id must be a non-empty string", field="voter_id")
    return voter_id


def ballot_key(poll_id: str, voter_id: str, ballot_id: str) -> str:
    material = "\0".join(("meetingd/ballot-key/v1", poll_id, voter_id, ballot_id))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _format(raw: bytes) -> str:
    text = base64.b32encode(raw).decode("ascii")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def secret_receipt(token: TokenSource = secrets.token_bytes) -> str:
    raw = token(RECEIPT_BYTES)
    if len(raw) != RECEIPT_BYTES:
        raise InvalidInput("token source returned the wrong number of bytes", code="bad_token")
    return _format(raw)


def open_receipt(key: str) -> str:
    digest = hashlib.sha256(("meetingd/open-receipt/v1\0" + key).encode("ascii")).digest()
    return _format(digest[:RECEIPT_BYTES])
