"""The ballots of one poll: casting, idempotent retries, hand counts, tally, receipts.

Pure state, no I/O. Every accepted change returns events for the adapters to persist
(before the ack) and broadcast. This box takes the ballots of **open** (named) polls:
a secret poll takes only encrypted ballots (:mod:`voting.e2e.board`), and a plaintext
cast into one is refused (``encrypted_ballot_required``) — there is no plaintext secret
mode. For a secret poll the box still answers what may be shown (``live_view``) and
refuses hand counts.
"""

from __future__ import annotations

import bisect
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meeting.errors import Conflict, InvalidInput, InvalidState, NotAuthorised
from voting.poll import BallotKind, Poll, PollState
from voting.receipt import (
    TokenSource,
    ballot_key,
    check_ballot_id,
    check_voter_id,
    open_receipt,
)
from voting.rules import Counts, ElectionOutcome, Outcome
from voting.tally import Tally, TallyPart
from voting.timestamps import iso, require_utc

MAX_SITE = 200


@dataclass(frozen=True)
class StoredBallot:
    key: str
    receipt: str
    choices: tuple[int, ...]
    voter_id: str | None = None
    """Only for open polls."""


@dataclass(frozen=True)
class BallotCast:
    """An open (named) ballot: voter and choice are public."""

    poll_id: str
    voter_id: str
    ballot_key: str
    receipt: str
    choices: tuple[int, ...]
    at: datetime
    replaces_key: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "ballot_cast",
            "poll_id": self.poll_id,
            "voter_id": self.voter_id,
            "ballot_key": self.ballot_key,
            "receipt": self.receipt,
            "choices": list(self.choices),
            "at": iso(self.at),
            "replaces_key": self.replaces_key,
        }


@dataclass(frozen=True)
class VoterMarked:
    """Secret poll: this member has voted. Deliberately no time and no ballot key."""

    poll_id: str
    voter_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"type": "voter_marked", "poll_id": self.poll_id, "voter_id": self.voter_id}


CastEvent = BallotCast | VoterMarked


@dataclass(frozen=True)
class CastResult:
    poll_id: str
    receipt: str = field(repr=False)
    choices: tuple[int, ...] = field(repr=False)
    duplicate: bool
    """A retry of an accepted ballot: nothing changed, ``events`` is empty."""
    replaced: bool
    """This ballot replaced the voter's earlier one."""
    events: tuple[CastEvent, ...] = field(repr=False)

    def ack(self) -> dict[str, Any]:
        """The body of the ``cast_ballot`` ack, sent only to the voter."""
        return {
            "ok": True,
            "poll_id": self.poll_id,
            "receipt": self.receipt,
            "choices": list(self.choices),
            "duplicate": self.duplicate,
            "replaced": self.replaced,
        }


@dataclass(frozen=True)
class HandCount:
    poll_id: str
    site: str | None
    """``None`` for the main room."""
    entered_by: str
    counts: tuple[int, ...]
    hand_eligible: int
    at: datetime
    corrects_previous: bool = False

    @property
    def hands(self) -> int:
        return sum(self.counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "hand_count_recorded",
            "poll_id": self.poll_id,
            "site": self.site,
            "entered_by": self.entered_by,
            "counts": list(self.counts),
            "hands": self.hands,
            "hand_eligible": self.hand_eligible,
            "at": iso(self.at),
            "corrects_previous": self.corrects_previous,
        }


@dataclass(frozen=True)
class PollResult:
    poll_id: str
    tally: Tally
    outcome: Outcome | ElectionOutcome
    receipts: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "poll_result",
            "poll_id": self.poll_id,
            "tally": self.tally.to_dict(),
            "outcome": self.outcome.to_dict(),
            "receipts": list(self.receipts),
        }


class _SortedBallots:
    """Ballots in ballot-key order (a hash: the order reveals nothing)."""

    def __init__(self) -> None:
        self._items: list[StoredBallot] = []

    def _index(self, key: str) -> int:
        return bisect.bisect_left(self._items, key, key=lambda b: b.key)

    def get(self, key: str) -> StoredBallot | None:
        i = self._index(key)
        if i < len(self._items) and self._items[i].key == key:
            return self._items[i]
        return None

    def add(self, ballot: StoredBallot) -> None:
        bisect.insort(self._items, ballot, key=lambda b: b.key)

    def remove(self, key: str) -> None:
        i = self._index(key)
        if i >= len(self._items) or self._items[i].key != key:
            raise KeyError(key)
        del self._items[i]

    def __iter__(self) -> Iterator[StoredBallot]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class BallotBox:
    """All ballots of one poll."""

    def __init__(self, poll: Poll, *, token: TokenSource = secrets.token_bytes) -> None:
        self.poll = poll
        self._token = token
        self._voters: set[str] = set()
        self._ballots = _SortedBallots()
        self._receipts: set[str] = set()
        self._superseded: set[str] = set()
        self._open_current: dict[str, str] = {}
        """Open polls only: voter id → current ballot key."""
        self._hand: dict[str | None, HandCount] = {}

    def __repr__(self) -> str:
        return f"BallotBox({self.poll.poll_id!r}, voted={len(self._voters)})"

    @property
    def _secret(self) -> bool:
        return self.poll.config.kind is BallotKind.SECRET

    @property
    def voted_count(self) -> int:
        """Members who voted electronically (safe to show for a secret poll)."""
        return len(self._voters)

    def has_voted(self, voter_id: str) -> bool:
        return voter_id in self._voters

    def cast(
        self,
        voter_id: str,
        ballot_id: str,
        choices: Sequence[int],
        now: datetime,
        eligible: bool,
        replaces: str | None = None,
    ) -> CastResult:
        """Cast (or retry) a ballot.

        Checked in this order: ids (``replaces`` too) and choices well formed
        (``InvalidInput``, see :meth:`PollConfig.validate_choices`); a retry
        of an accepted ballot returns its receipt with ``duplicate=True`` (even after
        close); a ballot id reused with other choices → ``Conflict ballot_id_reused``;
        a replaced ballot's id → ``Conflict ballot_superseded``; poll not open
        → ``InvalidState poll_not_open``/``poll_closed``; not eligible
        → ``NotAuthorised not_eligible``; a second ballot → ``Conflict already_voted``
        unless the poll allows changes. To change a *secret* ballot the voter names
        the ballot id it replaces (``replaces``): the box cannot find it otherwise.
        """
        now = require_utc(now)
        if self._secret:
            raise InvalidState("a secret poll takes only encrypted ballots", code="encrypted_ballot_required")
        check_voter_id(voter_id)
        check_ballot_id(ballot_id)
        if replaces is not None:
            check_ballot_id(replaces, field="replaces")
        normal = self.poll.config.validate_choices(choices)
        poll_id = self.poll.poll_id
        key = ballot_key(poll_id, voter_id, ballot_id)

        existing = self._ballots.get(key)
        if existing is not None:
            if existing.choices != normal:
                raise Conflict("this ballot id was used with other choices", code="ballot_id_reused")
            return CastResult(poll_id, existing.receipt, normal, True, False, ())
        if key in self._superseded:
            raise Conflict("this ballot was replaced by a later one", code="ballot_superseded")

        self.poll.check_accepting(now)
        if not isinstance(eligible, bool) or not eligible:
            raise NotAuthorised("not eligible to vote in this poll", code="not_eligible")

        replaces_key = self._replaced_key(voter_id, replaces)
        receipt = open_receipt(key)
        self._store(StoredBallot(key, receipt, normal, voter_id), voter_id, replaces_key)
        events: tuple[CastEvent, ...] = (
            BallotCast(poll_id, voter_id, key, receipt, normal, now, replaces_key),
        )
        return CastResult(poll_id, receipt, normal, False, replaces_key is not None, events)

    def _replaced_key(self, voter_id: str, replaces: str | None) -> str | None:
        """The key of the ballot a new one replaces; raise if it may not."""
        if voter_id not in self._voters:
            if replaces is not None:
                raise Conflict("there is no ballot to replace", code="replaced_ballot_unknown")
            return None
        if not self.poll.config.allow_change:
            raise Conflict("already voted in this poll", code="already_voted")
        old = self._open_current[voter_id]
        if replaces is not None and ballot_key(self.poll.poll_id, voter_id, replaces) != old:
            raise Conflict("the replaced ballot is not current", code="replaced_ballot_unknown")
        return old

    def _store(self, ballot: StoredBallot, voter_id: str, replaces_key: str | None) -> None:
        if replaces_key is not None:
            old = self._ballots.get(replaces_key)
            assert old is not None
            self._ballots.remove(replaces_key)
            self._receipts.discard(old.receipt)
            self._superseded.add(replaces_key)
        self._ballots.add(ballot)
        self._receipts.add(ballot.receipt)
        self._voters.add(voter_id)
        if ballot.voter_id is not None:
            self._open_current[voter_id] = ballot.key

    def record_hand_count(
        self,
        entered_by: str,
        site: str | None,
        counts: Mapping[int, int],
        hand_eligible: int,
        now: datetime,
    ) -> HandCount:
        """Hands counted in the main room (``site=None``) or at a sub-site.

        ``hand_eligible`` is the number of checked-in voting members at that place
        who did not vote electronically (the caller computes it); the hands counted
        may not exceed it. A later entry for the same place corrects the earlier
        one. Open single-choice polls only, while the poll is open; whether
        ``entered_by`` may enter counts for ``site`` is the caller's check.
        """
        now = require_utc(now)
        config = self.poll.config
        if config.kind is BallotKind.SECRET:
            raise InvalidState("a secret poll takes no hand counts", code="hand_count_secret")
        if config.max_choices != 1:
            raise InvalidState("hand counts need a single-choice poll", code="hand_count_not_supported")
        self.poll.check_accepting(now)
        check_voter_id(entered_by)
        if site is not None and (not isinstance(site, str) or not site or len(site) > MAX_SITE):
            raise InvalidInput("site must be null or a non-empty string", field="site")
        if isinstance(hand_eligible, bool) or not isinstance(hand_eligible, int) or hand_eligible < 0:
            raise InvalidInput("hand_eligible must be a non-negative integer", field="hand_eligible")
        if not isinstance(counts, Mapping):
            raise InvalidInput("counts must map option index to count", field="counts")
        row = [0] * len(config.options)
        for option, count in counts.items():
            if isinstance(option, bool) or not isinstance(option, int):
                raise InvalidInput("counts keys must be option indices", field="counts")
            if not 0 <= option < len(row):
                raise InvalidInput(
                    f"option {option} is out of range", code="option_out_of_range", field="counts"
                )
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise InvalidInput("each count must be a non-negative integer", field="counts")
            row[option] = count
        if sum(row) > hand_eligible:
            raise InvalidInput(
                f"{sum(row)} hands counted but only {hand_eligible} may vote by hand",
                code="too_many_hands",
                field="counts",
            )
        entry = HandCount(
            poll_id=self.poll.poll_id,
            site=site,
            entered_by=entered_by,
            counts=tuple(row),
            hand_eligible=hand_eligible,
            at=now,
            corrects_previous=site in self._hand,
        )
        self._hand[site] = entry
        return entry

    def hand_counts(self) -> tuple[HandCount, ...]:
        return tuple(sorted(self._hand.values(), key=lambda h: (h.site is not None, h.site or "")))

    def tally(self) -> Tally:
        """The count. Sealed for a secret poll until it closes (``tally_sealed``)."""
        if self._secret and self.poll.state is not PollState.CLOSED:
            raise InvalidState("a secret poll's tally is sealed until close", code="tally_sealed")
        config = self.poll.config
        n = len(config.options)
        counts = [0] * n
        blank = 0
        for ballot in self._ballots:
            for choice in ballot.choices:
                counts[choice] += 1
            blank += not ballot.choices
        electronic = TallyPart(tuple(counts), len(self._ballots), blank)
        hand = TallyPart.empty(n)
        for entry in self._hand.values():
            hand = hand + TallyPart(entry.counts, entry.hands, 0)
        return Tally(config.poll_type, config.options, electronic, hand, config.abstain_index)

    def live_view(self) -> dict[str, Any]:
        """What may be broadcast while the poll runs: counts for an open poll, only
        how many have voted for a secret one."""
        view: dict[str, Any] = {
            "type": "tally_updated",
            "poll_id": self.poll.poll_id,
            "state": self.poll.state.value,
            "voted": self.voted_count,
        }
        if not self._secret or self.poll.state is PollState.CLOSED:
            view["tally"] = self.tally().to_dict()
        return view

    def published_receipts(self) -> tuple[dict[str, Any], ...]:
        """After close: every receipt with its choices, sorted by voter with the voter
        named (open polls; a secret poll publishes its board instead)."""
        if self.poll.state is not PollState.CLOSED:
            raise InvalidState("receipts are published when the poll closes", code="poll_not_closed")
        return tuple(
            {"voter_id": b.voter_id, "receipt": b.receipt, "choices": list(b.choices)}
            for b in sorted(self._ballots, key=lambda b: (b.voter_id or "", b.receipt))
        )

    def result(self, counts: Counts) -> PollResult:
        """Tally, outcome under the poll's rule, and receipts; the poll must be closed."""
        receipts = self.published_receipts()
        tally = self.tally()
        return PollResult(self.poll.poll_id, tally, self.poll.config.result(tally, counts), receipts)

    @classmethod
    def restore(
        cls,
        poll: Poll,
        *,
        ballots: Iterable[StoredBallot],
        superseded: Iterable[str] = (),
        hand_counts: Iterable[HandCount] = (),
        token: TokenSource = secrets.token_bytes,
    ) -> BallotBox:
        """Rebuild from storage after a restart (voters come from the ballots; a secret
        poll's box holds none)."""
        box = cls(poll, token=token)
        for ballot in ballots:
            if box._secret or ballot.voter_id is None:
                raise InvalidState("ballot does not match the poll's kind", code="restore_mismatch")
            box._voters.add(ballot.voter_id)
            box._open_current[ballot.voter_id] = ballot.key
            box._ballots.add(ballot)
            box._receipts.add(ballot.receipt)
        box._superseded.update(superseded)
        for entry in hand_counts:
            box._hand[entry.site] = entry
        return box

    def stored_ballots(self) -> tuple[StoredBallot, ...]:
        """The ballots in key order (what :meth:`restore` takes back)."""
        return tuple(self._ballots)
