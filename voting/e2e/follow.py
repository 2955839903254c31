"""A trustee's device checking one poll's board before it decrypts (docs/e2e-ballots.md §5a).

While the poll is open the device follows the live board (chunks of ballots, see
:meth:`voting.e2e.board.EncryptedBox.live_board`) and verifies each ballot's proofs once,
when it comes. At close it takes the closed board and the published sums: every entry
must be a ballot it verified (the same bytes, compared as parsed wire objects) or one it
verifies now, every tracker must be its ballot's hash, and the sums must be the sums of
the entries not superseded. Only then are the sums handed back to be decrypted. The
result is the same as checking the whole closed board at close; only the time moves.
The web client's ``BoardFollower`` (``web/js/e2e-client.js``) does the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meeting.errors import InvalidInput
from voting.e2e.ballot import EncryptedBallot, PollContext, verify_ballot
from voting.e2e.elgamal import Ciphertext
from voting.e2e.tally import homomorphic_sums, sums_to_list


class BoardFollower:
    """One poll's board as one trustee's device has checked it."""

    def __init__(self, ctx: PollContext) -> None:
        self.ctx = ctx
        self.live_from = 0
        """Where the next live chunk starts (what the server returned last)."""
        self._checked: dict[str, tuple[Mapping[str, Any], EncryptedBallot]] = {}
        """tracker → (the wire ballot as it came, the parsed ballot whose proofs verified)."""

    @property
    def checked(self) -> int:
        return len(self._checked)

    def _check(self, entry: object, field: str) -> tuple[str, EncryptedBallot]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("tracker"), str):
            raise InvalidInput(f"{field} must be a board entry", field=field)
        tracker, wire = entry["tracker"], entry.get("ballot")
        seen = self._checked.get(tracker)
        if seen is not None and seen[0] == wire:
            return tracker, seen[1]
        ballot = EncryptedBallot.from_dict(wire, f"{field}.ballot")
        verify_ballot(self.ctx, ballot)
        if ballot.tracker() != tracker:
            raise InvalidInput("a tracker is not its ballot's hash", code="tracker_mismatch", field=field)
        assert isinstance(wire, Mapping)
        self._checked[tracker] = (wire, ballot)
        return tracker, ballot

    def take_live(self, entries: Sequence[object], next_from: int) -> int:
        """Verify a live chunk's ballots (raises on the first that does not check); returns
        how many were new."""
        before = len(self._checked)
        for i, entry in enumerate(entries):
            self._check(entry, f"live_board.entries[{i}]")
        self.live_from = next_from
        return len(self._checked) - before

    def closed_sums(self, board: Sequence[object], sums: object) -> tuple[Ciphertext, ...]:
        """Check the closed board and the published sums; the sums to decrypt, or raises
        (``tracker_mismatch``, ``invalid_proof``, ``sums_mismatch`` …): nothing is decrypted."""
        counted: list[EncryptedBallot] = []
        seen: set[str] = set()
        for i, entry in enumerate(board):
            tracker, ballot = self._check(entry, f"board[{i}]")
            assert isinstance(entry, Mapping)
            superseded = entry.get("superseded")
            if not isinstance(superseded, bool):
                raise InvalidInput(f"board[{i}].superseded must be true or false", field=f"board[{i}]")
            if tracker in seen:
                raise InvalidInput(
                    "a ballot is on the board twice", code="duplicate_ballot", field=f"board[{i}]"
                )
            seen.add(tracker)
            if not superseded:
                counted.append(ballot)
        mine = homomorphic_sums(self.ctx, counted)
        if sums_to_list(mine) != sums:
            raise InvalidInput("the published sums are not the board's", code="sums_mismatch", field="sums")
        return mine
