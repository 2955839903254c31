"""The encrypted ballot box of one secret poll, and its tally by the trustees.

Pure state, no I/O, like :class:`voting.ballot_box.BallotBox` and with the same casting
rules (idempotent retries by client ballot id, one member one ballot, a change only
when the poll allows it and the voter names the ballot it replaces, eligibility
re-checked by the caller), but the box never sees a choice: it holds ciphertexts whose
proofs were checked by :func:`verify_cast` *before* the cast reaches it
(:class:`VerifiedBallot` can only be made there).

While the poll is open the trustees' devices may follow the ballots in chunks of
:data:`LIVE_CHUNK` (each sorted by tracker, released only once full, no supersession
marks), so that at close they have little left to check (docs/e2e-ballots.md §5a).
At close the board (every ballot, superseded ones marked, sorted by tracker) and the
homomorphic sums of the counted ballots are fixed; then each trustee's partial
decryption is checked against its public share and those sums; with all of them the
per-option counts follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meeting.errors import Conflict, InvalidInput, InvalidState, NotAuthorised
from voting.ballot_box import VoterMarked
from voting.e2e.ballot import EncryptedBallot, PollContext, verify_ballot
from voting.e2e.elgamal import Ciphertext
from voting.e2e.tally import PartialDecryption, combine, homomorphic_sums, verify_partial
from voting.poll import Poll, PollState
from voting.receipt import ballot_key, check_ballot_id, check_voter_id
from voting.timestamps import require_utc

LIVE_CHUNK = 32
"""Ballots per chunk of the live board: a chunk is released only when full, sorted by
tracker, so no released ballot can be told from the 31 others cast about the same time."""


@dataclass(frozen=True)
class VerifiedBallot:
    """A ballot whose every proof verified for this poll (made only by :func:`verify_cast`)."""

    ballot: EncryptedBallot
    tracker: str
    _token: object = field(repr=False, compare=False)


_TOKEN = object()


def verify_cast(ctx: PollContext, payload: object) -> VerifiedBallot:
    """Parse and verify a wire ballot; raises ``InvalidInput`` with a precise code."""
    ballot = EncryptedBallot.from_dict(payload)
    verify_ballot(ctx, ballot)
    return VerifiedBallot(ballot, ballot.tracker(), _TOKEN)


@dataclass(frozen=True)
class EncryptedBallotStored:
    """A ballot's ciphertexts. Deliberately no voter and no time."""

    poll_id: str
    ballot_key: str
    tracker: str
    ballot: EncryptedBallot = field(repr=False)
    replaces_key: str | None = None


@dataclass(frozen=True)
class EncryptedCast:
    poll_id: str
    tracker: str
    duplicate: bool
    replaced: bool
    events: tuple[VoterMarked | EncryptedBallotStored, ...] = field(repr=False)

    def ack(self) -> dict[str, Any]:
        return {
            "ok": True,
            "poll_id": self.poll_id,
            "tracker": self.tracker,
            "duplicate": self.duplicate,
            "replaced": self.replaced,
        }


@dataclass(frozen=True)
class BoardEntry:
    tracker: str
    ballot: EncryptedBallot
    superseded: bool

    def to_dict(self) -> dict[str, Any]:
        return {"tracker": self.tracker, "ballot": self.ballot.to_dict(), "superseded": self.superseded}


@dataclass(frozen=True)
class _Stored:
    key: str
    tracker: str
    ballot: EncryptedBallot


class EncryptedBox:
    """All encrypted ballots of one secret poll, then its tally."""

    def __init__(
        self,
        poll: Poll,
        ctx: PollContext,
        trustees: Mapping[str, bytes],
        threshold: int | None = None,
        indices: Mapping[str, int] | None = None,
    ) -> None:
        if not trustees:
            raise InvalidInput("a secret poll needs trustees", code="no_trustee_keys", field="trustees")
        if (threshold is None) != (indices is None) or (
            indices is not None and set(indices) != set(trustees)
        ):
            raise InvalidInput("a threshold needs every trustee's index", field="trustees")
        self.poll = poll
        self.ctx = ctx
        self.trustees = dict(trustees)
        """trustee id → public share ``Y_i`` (n-of-n) or verification key ``VK_i`` (t-of-n)."""
        self.threshold = threshold
        """``None``: every trustee decrypts; else any ``threshold`` of them."""
        self.indices = dict(indices) if indices is not None else None
        self._voters: set[str] = set()
        self._current: dict[str, _Stored] = {}
        """ballot key → counted ballot."""
        self._superseded: dict[str, _Stored] = {}
        self._arrived: list[_Stored] = []
        """every ballot stored, in the order it came (memory only: never written in this order)."""
        self._trackers: set[str] = set()
        self._alphas: set[bytes] = set()
        self._decryptions: dict[str, PartialDecryption] = {}
        self._sums: tuple[Ciphertext, ...] | None = None

    def __repr__(self) -> str:
        return f"EncryptedBox({self.poll.poll_id!r}, voted={len(self._voters)})"

    @property
    def voted_count(self) -> int:
        return len(self._voters)

    def has_voted(self, voter_id: str) -> bool:
        return voter_id in self._voters

    def voters(self) -> tuple[str, ...]:
        """Who voted, in voter-id order (published at close)."""
        return tuple(sorted(self._voters))

    # -- casting ---------------------------------------------------------------------------

    def cast(
        self,
        voter_id: str,
        ballot_id: str,
        verified: VerifiedBallot,
        now: datetime,
        eligible: bool,
        replaces: str | None = None,
    ) -> EncryptedCast:
        """Cast (or retry) a verified ballot. Codes as :meth:`BallotBox.cast`, plus
        ``duplicate_ballot`` for a ballot (or a ciphertext of one) already in the box."""
        now = require_utc(now)
        if verified._token is not _TOKEN:
            raise InvalidState("the ballot was not verified", code="ballot_not_verified")
        check_voter_id(voter_id)
        check_ballot_id(ballot_id)
        poll_id = self.poll.poll_id
        key = ballot_key(poll_id, voter_id, ballot_id)
        existing = self._current.get(key)
        if existing is not None:
            if existing.tracker != verified.tracker:
                raise Conflict("this ballot id was used with another ballot", code="ballot_id_reused")
            return EncryptedCast(poll_id, existing.tracker, True, False, ())
        if key in self._superseded:
            raise Conflict("this ballot was replaced by a later one", code="ballot_superseded")
        self.poll.check_accepting(now)
        if not isinstance(eligible, bool) or not eligible:
            raise NotAuthorised("not eligible to vote in this poll", code="not_eligible")
        replaces_key = self._replaced_key(voter_id, replaces)
        alphas = {c.alpha for c in verified.ballot.ciphertexts}
        if verified.tracker in self._trackers or alphas & self._alphas:
            raise Conflict("this ballot (or a ciphertext of it) was cast already", code="duplicate_ballot")
        stored = _Stored(key, verified.tracker, verified.ballot)
        if replaces_key is not None:
            self._superseded[replaces_key] = self._current.pop(replaces_key)
        self._current[key] = stored
        self._arrived.append(stored)
        self._trackers.add(stored.tracker)
        self._alphas |= alphas
        new_voter = voter_id not in self._voters
        self._voters.add(voter_id)
        event = EncryptedBallotStored(poll_id, key, stored.tracker, stored.ballot, replaces_key)
        events: tuple[VoterMarked | EncryptedBallotStored, ...] = (
            (VoterMarked(poll_id, voter_id), event) if new_voter else (event,)
        )
        return EncryptedCast(poll_id, stored.tracker, False, replaces_key is not None, events)

    def _replaced_key(self, voter_id: str, replaces: str | None) -> str | None:
        if voter_id not in self._voters:
            if replaces is not None:
                raise Conflict("there is no ballot to replace", code="replaced_ballot_unknown")
            return None
        if not self.poll.config.allow_change:
            raise Conflict("already voted in this poll", code="already_voted")
        if replaces is None:
            raise Conflict(
                "already voted; to change a secret ballot, name the ballot it replaces",
                code="already_voted",
            )
        old = ballot_key(self.poll.poll_id, voter_id, check_ballot_id(replaces))
        if old not in self._current:
            raise Conflict("the replaced ballot is unknown", code="replaced_ballot_unknown")
        return old

    # -- the board and the tally ---------------------------------------------------------------

    def _require_closed(self) -> None:
        if self.poll.state is not PollState.CLOSED:
            raise InvalidState("the board is published when the poll closes", code="poll_not_closed")

    def board(self) -> tuple[BoardEntry, ...]:
        """Every ballot, superseded ones marked, sorted by tracker (the order says nothing)."""
        self._require_closed()
        entries = [BoardEntry(s.tracker, s.ballot, False) for s in self._current.values()]
        entries += [BoardEntry(s.tracker, s.ballot, True) for s in self._superseded.values()]
        return tuple(sorted(entries, key=lambda e: e.tracker))

    def live_board(self, start: int) -> tuple[list[dict[str, Any]], int]:
        """The full chunks of :data:`LIVE_CHUNK` ballots from ``start`` (a multiple of the
        chunk, as returned before) while the poll is open: (``{tracker, ballot}`` entries,
        each chunk sorted by tracker; the next start). Nothing about supersession, voters
        or time; the closed board stays the reference."""
        if self.poll.state is not PollState.OPEN:
            raise InvalidState("the live board is followed while the poll is open", code="poll_not_open")
        if start < 0 or start % LIVE_CHUNK:
            raise InvalidInput(
                f"live_from must be a multiple of {LIVE_CHUNK} returned by the server", field="live_from"
            )
        end = max(start, len(self._arrived) - len(self._arrived) % LIVE_CHUNK)
        out: list[dict[str, Any]] = []
        for at in range(start, end, LIVE_CHUNK):
            chunk = sorted(self._arrived[at : at + LIVE_CHUNK], key=lambda s: s.tracker)
            out += [{"tracker": s.tracker, "ballot": s.ballot.to_dict()} for s in chunk]
        return out, end

    @property
    def counted(self) -> int:
        return len(self._current)

    def sums(self) -> tuple[Ciphertext, ...]:
        """The homomorphic sum per option of the counted ballots (fixed at close)."""
        self._require_closed()
        if self._sums is None:
            counted = sorted(self._current.values(), key=lambda s: s.tracker)
            self._sums = homomorphic_sums(self.ctx, [s.ballot for s in counted])
        return self._sums

    def add_decryption(self, caller_id: str, part: PartialDecryption) -> PartialDecryption:
        """Check and keep a trustee's partial decryption of :meth:`sums`."""
        self._require_closed()
        if caller_id not in self.trustees or part.trustee_id != caller_id:
            raise NotAuthorised(
                "only this poll's trustees decrypt, each for themselves", code="not_a_trustee"
            )
        if caller_id in self._decryptions:
            raise Conflict("this trustee's partial decryption is in already", code="decryption_exists")
        verify_partial(self.ctx, self.trustees[caller_id], self.sums(), part)
        self._decryptions[caller_id] = part
        return part

    @property
    def decrypted_by(self) -> tuple[str, ...]:
        return tuple(sorted(self._decryptions))

    @property
    def needed(self) -> int:
        """How many partial decryptions the result needs."""
        return len(self.trustees) if self.threshold is None else self.threshold

    @property
    def waiting_for(self) -> tuple[str, ...]:
        """The trustees who have not decrypted, while the result still needs one of them."""
        if len(self._decryptions) >= self.needed:
            return ()
        return tuple(sorted(set(self.trustees) - set(self._decryptions)))

    def counts(self) -> tuple[int, ...] | None:
        """Per-option electronic counts once enough trustees have decrypted, else ``None``."""
        if self.waiting_for:
            return None
        parts = [self._decryptions[t] for t in sorted(self._decryptions)]
        return combine(self.sums(), parts, self.counted, self.indices)

    # -- storage ----------------------------------------------------------------------------------

    @classmethod
    def restore(
        cls,
        poll: Poll,
        ctx: PollContext,
        trustees: Mapping[str, bytes],
        *,
        ballots: Iterable[tuple[str, EncryptedBallot, bool]],
        voters: Iterable[str],
        decryptions: Iterable[PartialDecryption] = (),
        threshold: int | None = None,
        indices: Mapping[str, int] | None = None,
    ) -> EncryptedBox:
        """Rebuild after a restart from (ballot key, ballot, superseded) rows, the
        who-voted marks and the accepted partial decryptions."""
        box = cls(poll, ctx, trustees, threshold, indices)
        for key, ballot, superseded in ballots:
            stored = _Stored(key, ballot.tracker(), ballot)
            (box._superseded if superseded else box._current)[key] = stored
            box._arrived.append(stored)  # in the rows' order: live chunks start again from there
            box._trackers.add(stored.tracker)
            box._alphas |= {c.alpha for c in ballot.ciphertexts}
        box._voters.update(voters)
        if len(box._voters) != len(box._current):
            raise InvalidState("voters and counted ballots do not match in number", code="restore_mismatch")
        for part in decryptions:
            box._decryptions[part.trustee_id] = part
        return box
