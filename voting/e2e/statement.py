"""A trustee's signed statement of a meeting's poll key (docs/e2e-ballots.md §3d).

Once the trustees' keys are complete, each officer-trustee's device signs, with the
officer's own cosigning key (made and kept on that device), the text below. A voter's
device checks the poll key it encrypts under against these statements and the officers'
enrolled keys, so a server handing voters a key of its own is refused before a single
ballot is made, not found out afterwards. The text starts with a header no
tlog-cosignature/v1 message can start with ("cosignature/v1"), so a statement signature
can never be taken for a cosignature of a checkpoint, or the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping

from meeting.errors import InvalidInput

STATEMENT_HEADER = "meetingd e2e key statement v1"


def statement_text(meeting_id: str, public_key: bytes, shares: Mapping[str, bytes]) -> str:
    """The exact text a trustee signs: header, meeting, poll key, then every trustee's
    public share (n-of-n) or verification key (threshold) by trustee id, one per line."""
    if not shares:
        raise InvalidInput("a key statement names the trustees' shares", field="shares")
    lines = [STATEMENT_HEADER, f"meeting {meeting_id}", f"public_key {public_key.hex()}"]
    lines += [f"share {t} {shares[t].hex()}" for t in sorted(shares)]
    return "\n".join(lines) + "\n"
