"""Polls and ballots: create, open, close (also on time), cast with group commit,
hand counts, and what clients may see.

**Group commit.** Casts arriving within ``window_s`` of each other are applied to the
ballot box and written in ONE journal transaction (rows + minutes entries), then all
are acknowledged — an ack always follows the commit. With ``group_commit=False`` each
cast is its own transaction (the benchmark's baseline).

**Secrecy.** A secret poll takes only encrypted ballots (``meetingd.e2e_polls``): the
server checks their proofs, stores ciphertexts apart from who voted, and never sees a
choice; the result comes from the trustees' partial decryptions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, insert, select, update

from meeting.attendance import Person
from meeting.clock import iso
from meeting.errors import InvalidInput, InvalidState, MeetingError, NotAuthorised
from meeting.roles import Role
from signaling.e2e import CastEncryptedBallot
from signaling.procedure import CastBallot, CreatePoll, HandCount, OpenPoll, PollRef
from voting import (
    BallotBox,
    BallotCast,
    Counts,
    Poll,
    PollState,
)

from .e2e_polls import E2EBatch, E2EPolls
from .journal import JournalTx
from .procedure_state import EncryptedPending, Live, LivePoll, PendingCast, PollHost, require_open
from .storage.models import Member
from .storage.procedure_models import (
    HandCountRow,
    OpenBallot,
    PollRow,
    PollVoter,
    SupersededBallot,
)

logger = logging.getLogger(__name__)

TIMER_SLACK_S = 0.02


def _int_poll(d: dict[str, Any], poll_id: int) -> dict[str, Any]:
    out = {k: v for k, v in d.items() if k != "type"}
    out["poll_id"] = poll_id
    return out


T = TypeVar("T")
Outcome = dict[str, Any] | MeetingError  # one cast's ack, or its refusal


class Ballots:
    def __init__(self, proc: PollHost, *, group_commit: bool, window_s: float) -> None:
        self.proc = proc
        self.group_commit = group_commit
        self.window_s = window_s
        self.commits = 0
        """Transactions that carried ballots (the benchmark reads it)."""
        self.acked = 0
        """Ballots acknowledged after their commit (metrics: meetingd_ballots_acked_total)."""
        self.e2e = E2EPolls(proc, on_result=self.result_published)
        """Secret polls: encrypted ballots (the only kind a secret poll takes)."""

    # -- views --------------------------------------------------------------------------

    def live_view(self, live: Live, lp: LivePoll) -> dict[str, Any]:
        view = _int_poll(lp.box.live_view(), lp.id)
        view["eligible"] = live.register.present_voting()
        if lp.secret:  # the count exists only once the trustees have decrypted it
            view["voted"] = self.e2e.voted(lp)
            view.pop("tally", None)
            if lp.result is not None:
                view["tally"] = lp.result["tally"]
        return view

    def poll_dict(self, live: Live, lp: LivePoll) -> dict[str, Any]:
        p = lp.poll
        view = lp.box.live_view()
        return {
            "poll_id": lp.id,
            "motion_id": lp.motion_id,
            "state": p.state.value,
            "config": p.config.to_dict(),
            "opened_at": _iso(p.opened_at),
            "closed_at": _iso(p.closed_at),
            "expires_at": _iso(p.expires_at),
            "quorate": p.quorate,
            "quorum_override": p.quorum_override,
            "close_reason": lp.close_reason,
            "voted": self.e2e.voted(lp) if lp.secret else lp.box.voted_count,
            "eligible": live.register.present_voting(),
            "tally": (lp.result["tally"] if lp.result else None) if lp.secret else view.get("tally"),
            "e2e": self.e2e.poll_view(lp) if lp.secret else None,
            "hand_counts": [_int_poll(h.to_dict(), lp.id) for h in lp.box.hand_counts()],
            "result": lp.result,
        }

    def my_vote(self, lp: LivePoll, member_id: str) -> dict[str, Any]:
        if lp.secret:
            return {"has_voted": self.e2e.has_voted(lp, member_id)}
        out: dict[str, Any] = {"has_voted": lp.box.has_voted(member_id)}
        if out["has_voted"] and not lp.secret:
            for b in lp.box.stored_ballots():
                if b.voter_id == member_id:
                    out.update(receipt=b.receipt, choices=list(b.choices))
        return out

    async def get_poll_state(self, live: Live, caller: Person, p: PollRef) -> dict[str, Any]:
        lp = live.poll(p.poll_id)
        return {"poll": self.poll_dict(live, lp), "you": self.my_vote(lp, caller.member_id)}

    # -- chair's commands -----------------------------------------------------------------

    async def create(self, live: Live, caller: Person, p: CreatePoll) -> dict[str, Any]:
        config, motion_id = p.config, p.motion_id
        if motion_id is not None:
            live.agenda.motion(motion_id)

        async def work(tx: JournalTx) -> LivePoll:
            await require_open(tx, live.meeting_id)
            row = PollRow(
                meeting_id=live.meeting_id,
                motion_id=motion_id,
                config=p.stored,
                state=PollState.DRAFT.value,
            )
            tx.session.add(row)
            await tx.session.flush()
            poll = Poll(str(row.id), config)
            tx.record(
                "poll_created",
                poll_id=row.id,
                motion_id=motion_id,
                config=config.to_dict(),
                by=caller.member_id,
            )
            lp = LivePoll(row.id, motion_id, poll, BallotBox(poll))
            live.polls[row.id] = lp
            return lp

        lp = await self.proc.transaction(live, work)
        poll = self.poll_dict(live, lp)
        await self.proc.emit(live.meeting_id, "poll_created", {"poll": poll})
        return {"poll": poll}

    async def open(self, live: Live, caller: Person, p: OpenPoll) -> dict[str, Any]:
        lp, override = live.poll(p.poll_id), p.override_quorum

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            reg = live.register
            live.quorum.evaluate(reg.present_voting(), reg.entitled_voting())
            if lp.secret:
                self.e2e.require_keys(live)
            opened = lp.poll.open(self.proc.clock(), live.quorum.quorate, override)
            await tx.session.execute(
                update(PollRow)
                .where(PollRow.id == lp.id)
                .values(
                    state="open",
                    opened_at=opened.at,
                    quorate=opened.quorate,
                    quorum_override=opened.quorum_override,
                )
            )
            tx.record("poll_opened", **_int_poll(opened.to_dict(), lp.id), by=caller.member_id)
            if lp.secret:
                self.e2e.open_poll(tx, live, lp)
            if not live.quorum.locked:
                live.quorum.locked = True
                live.quorum_dirty = True

        await self.proc.transaction(live, work)
        logger.info("meeting=%s poll=%s opened override=%s", live.meeting_id, lp.id, lp.poll.quorum_override)
        self.arm(live, lp)
        poll = self.poll_dict(live, lp)
        await self.proc.emit(live.meeting_id, "poll_opened", {"poll": poll})
        return {"poll": poll}

    async def close_poll(self, live: Live, caller: Person, p: PollRef) -> dict[str, Any]:
        return await self.close(live, p.poll_id, by=caller.member_id)

    async def close(self, live: Live, poll_id: int, *, by: str | None) -> dict[str, Any]:
        lp = live.poll(poll_id)
        if live.flusher is not None:  # ballots that arrived before the close go first
            await asyncio.gather(live.flusher, return_exceptions=True)
        started = asyncio.get_running_loop().time()

        async def work(tx: JournalTx) -> None:
            closed = lp.poll.close(self.proc.clock())
            reg = live.register
            counts = Counts(entitled=reg.entitled_voting(), present=reg.present_voting())
            if lp.secret:  # the result waits for the trustees' partial decryptions
                lp.close_reason = closed.reason.value
                await tx.session.execute(
                    update(PollRow)
                    .where(PollRow.id == lp.id)
                    .values(state="closed", closed_at=closed.at, close_reason=closed.reason.value)
                )
                tx.record("poll_closed", **_int_poll(closed.to_dict(), lp.id), by=by)
                await self.e2e.close_poll(tx, lp, counts)
                return
            result = lp.box.result(counts)
            lp.close_reason = closed.reason.value
            lp.result = {
                **_int_poll(result.to_dict(), lp.id),
                "counts": {"entitled": counts.entitled, "present": counts.present},
            }
            await tx.session.execute(
                update(PollRow)
                .where(PollRow.id == lp.id)
                .values(
                    state="closed",
                    closed_at=closed.at,
                    close_reason=closed.reason.value,
                    result=json.dumps(lp.result),
                )
            )
            tx.record("poll_closed", **_int_poll(closed.to_dict(), lp.id), by=by)
            tx.record("poll_result", **lp.result)

        await self.proc.transaction(live, work)
        await self.proc.checkpoint(live.meeting_id)  # witnessed at every poll close
        if lp.timer is not None:
            lp.timer.cancel()
            lp.timer = None
        logger.info(
            "meeting=%s poll=%s closed reason=%s in=%.1fms",
            live.meeting_id,
            lp.id,
            lp.close_reason,
            (asyncio.get_running_loop().time() - started) * 1000,
        )
        poll = self.poll_dict(live, lp)
        await self.proc.emit(live.meeting_id, "poll_closed", {"poll": poll})
        if lp.secret:
            await self.e2e.board_published(live, lp)
        else:
            await self.result_published(live, lp)
        return {"poll": poll}

    async def result_published(self, live: Live, lp: LivePoll) -> None:
        await self.proc.emit(live.meeting_id, "poll_result", lp.result or {})
        await self.proc.emit(live.meeting_id, "tally_updated", self.live_view(live, lp))

    # -- time limits ----------------------------------------------------------------------

    def arm_all(self, live: Live) -> None:
        for lp in live.polls.values():
            self.arm(live, lp)

    def arm(self, live: Live, lp: LivePoll) -> None:
        expires = lp.poll.expires_at
        if lp.poll.state is not PollState.OPEN or expires is None:
            return
        if lp.timer is not None:
            lp.timer.cancel()
        delay = max(0.0, (expires - self.proc.clock()).total_seconds()) + TIMER_SLACK_S
        loop = asyncio.get_running_loop()
        lp.timer = loop.call_later(delay, lambda: self.proc.spawn(self._expire(live, lp)))

    def disarm(self, live: Live) -> None:
        for lp in live.polls.values():
            if lp.timer is not None:
                lp.timer.cancel()
                lp.timer = None

    async def _expire(self, live: Live, lp: LivePoll) -> None:
        lp.timer = None
        if lp.poll.state is not PollState.OPEN:
            return
        if not lp.poll.is_expired(self.proc.clock()):
            self.arm(live, lp)
            return
        try:
            await self.close(live, lp.id, by=None)
        except MeetingError as exc:
            logger.info("meeting=%s poll=%s time limit: %s", live.meeting_id, lp.id, exc.code)

    # -- casting ------------------------------------------------------------------------

    async def cast(self, live: Live, caller: Person, p: CastBallot) -> dict[str, Any]:
        """Validate fully (the payload is typed; the poll's choice rules here), then join
        the next group commit: a malformed ballot is refused before it can touch a batch."""
        lp = live.poll(p.poll_id)
        if lp.secret:
            raise InvalidState(
                "a secret poll takes only encrypted ballots (cast_encrypted_ballot)",
                code="encrypted_ballot_required",
            )
        lp.poll.config.validate_choices(list(p.choices))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._enqueue(live, PendingCast(caller.member_id, p, future))
        return await future

    async def cast_encrypted(self, live: Live, caller: Person, p: CastEncryptedBallot) -> dict[str, Any]:
        """Every proof is checked first: only a verified ballot joins a group commit."""
        lp = live.poll(p.poll_id)
        if not lp.secret:
            raise InvalidState("an open (named) poll takes plain ballots", code="poll_not_secret")
        verified = await self.e2e.verify_off_loop(lp, p.ballot)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        pending = EncryptedPending(p.poll_id, p.ballot_id, p.replaces, verified)
        self._enqueue(live, PendingCast(caller.member_id, pending, future))
        return await future

    def _enqueue(self, live: Live, pending: PendingCast) -> None:
        if not self.group_commit:
            self.proc.spawn(self._commit(live, [pending]))
            return
        live.pending.append(pending)
        if live.flusher is None:
            live.flusher = asyncio.ensure_future(self._flusher(live))

    async def _flusher(self, live: Live) -> None:
        try:
            await asyncio.sleep(self.window_s)
            while live.pending:
                batch, live.pending = live.pending, []
                if not await self._commit(live, batch):
                    # The failed batch dropped this live state: what queued meanwhile
                    # goes to the state reloaded from the database.
                    rest, live.pending = live.pending, []
                    fresh = await self.proc.live(live.meeting_id)
                    for c in rest:
                        self._enqueue(fresh, c)
                    return
        finally:
            live.flusher = None

    async def _commit(self, live: Live, batch: list[PendingCast]) -> bool:
        """Commit ``batch`` in one transaction and settle its futures. If the transaction
        fails (a bug, a database error) the live state is dropped; each cast is then
        retried alone on the reloaded state, so only the offending one is refused.
        False if ``live`` was dropped."""
        try:
            outcomes = await self._commit_batch(live, batch)
        except Exception as exc:
            if len(batch) == 1:
                logger.exception("meeting=%s ballot commit failed", live.meeting_id)
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return False
            logger.exception(
                "meeting=%s ballot batch of %d failed; retrying each alone", live.meeting_id, len(batch)
            )
            for c in batch:
                try:
                    fresh = await self.proc.live(live.meeting_id)
                except MeetingError as reload_failed:  # e.g. server_busy: the database is down
                    if not c.future.done():
                        c.future.set_exception(reload_failed)
                    continue
                await self._commit(fresh, [c])
            return False
        self.commits += 1
        for c, outcome in zip(batch, outcomes, strict=True):
            if c.future.done():
                continue
            if isinstance(outcome, MeetingError):
                c.future.set_exception(outcome)
            else:
                c.future.set_result(outcome)
                self.acked += 1
                live.dirty_polls.add(c.payload.poll_id)
        return True

    async def _commit_batch(
        self, live: Live, batch: list[PendingCast]
    ) -> list[dict[str, Any] | MeetingError]:
        outcomes: list[dict[str, Any] | MeetingError] = []

        async def work(tx: JournalTx) -> None:
            pks = [live.pk_of[c.member_id] for c in batch]
            active = set(
                (
                    await tx.session.scalars(
                        select(Member.id).where(Member.id.in_(pks), Member.status == "active")
                    )
                ).all()
            )
            rows = _BatchRows()
            now = self.proc.clock()
            for c in batch:
                try:
                    outcomes.append(self._cast_one(live, tx, c, active, rows, now))
                except MeetingError as exc:
                    outcomes.append(exc)
            await rows.write(tx)

        await self.proc.transaction(live, work)
        return outcomes

    def _cast_one(
        self, live: Live, tx: JournalTx, c: PendingCast, active: set[int], rows: _BatchRows, now: datetime
    ) -> dict[str, Any]:
        lp = live.poll(c.payload.poll_id)
        reg = live.register
        person = reg.person(c.member_id)
        pk = live.pk_of[c.member_id]
        eligible = person.voting and reg.is_present(c.member_id) and pk in active
        if isinstance(c.payload, EncryptedPending):
            return self.e2e.cast_one(live, tx, lp, c.member_id, c.payload, eligible, rows.e2e, rows.voters)
        blocked = self._hand_counted_place(live, lp, c.member_id)
        try:
            result = lp.box.cast(
                c.member_id,
                c.payload.ballot_id,
                c.payload.choices,
                now,
                eligible and not blocked,
                c.payload.replaces,
            )
        except NotAuthorised as exc:
            if exc.code == "not_eligible" and eligible and blocked:
                raise NotAuthorised(
                    "the hands of your place were already counted", code="hand_counted"
                ) from None
            raise
        index: int | None = None  # the ballot_cast entry (open polls; not on a retry)
        for ev in result.events:
            if isinstance(ev, BallotCast):
                if ev.replaces_key is None:
                    rows.voters.append({"poll_id": lp.id, "member_pk": pk})
                else:
                    rows.replace(rows.open, ev.replaces_key, lp.id)
                rows.open[ev.ballot_key] = {
                    "ballot_key": ev.ballot_key,
                    "poll_id": lp.id,
                    "member_pk": pk,
                    "receipt": ev.receipt,
                    "choices": json.dumps(list(ev.choices)),
                    "at": now,
                }
                index = tx.record("ballot_cast", **_int_poll(ev.to_dict(), lp.id))["seq"]
        ack = _int_poll(result.ack(), lp.id) | {"ok": True}
        ack["signed_receipt"] = tx.sign_receipt(lp.id, ack["receipt"], index)
        return ack

    def _hand_counted_place(self, live: Live, lp: LivePoll, member_id: str) -> bool:
        check = live.register.checked_in(member_id)
        if check is None or not lp.box.hand_counts():
            return False
        site = check.site.name if check.site else None
        return any(h.site == site for h in lp.box.hand_counts())

    # -- hand counts ------------------------------------------------------------------------

    async def hand_count(self, live: Live, caller: Person, p: HandCount) -> dict[str, Any]:
        poll_id, counts = p.poll_id, p.counts
        if caller.role.is_officer:
            site = None
        elif caller.role == Role.OPERATOR and caller.site is not None:
            site = caller.site
        else:
            raise NotAuthorised("only the secretary, the chair or a sub-site operator records hand counts")
        lp = live.poll(poll_id)
        if len(counts) != len(lp.poll.config.options):
            raise InvalidInput("'counts' needs one number per option", field="counts")

        async def work(tx: JournalTx) -> dict[str, Any]:
            eligible = [m for m in live.register.voting_present_at(site) if not lp.box.has_voted(m)]
            entry = lp.box.record_hand_count(
                caller.member_id,
                site.name if site else None,
                dict(enumerate(counts)),
                len(eligible),
                self.proc.clock(),
            )
            key = site.name if site else ""
            await tx.session.execute(
                delete(HandCountRow).where(HandCountRow.poll_id == lp.id, HandCountRow.site == key)
            )
            tx.session.add(
                HandCountRow(
                    poll_id=lp.id,
                    site=key,
                    entered_by=caller.member_id,
                    counts=json.dumps(list(entry.counts)),
                    hand_eligible=entry.hand_eligible,
                    at=entry.at,
                )
            )
            d = _int_poll(entry.to_dict(), lp.id)
            tx.record("hand_count_recorded", **d)
            return d

        d = await self.proc.transaction(live, work)
        live.dirty_polls.add(lp.id)
        await self.proc.emit(live.meeting_id, "hand_count_recorded", {"hand_count": d})
        return {"hand_count": d}


class _BatchRows:
    """The rows of one group commit, written in bulk: deletes of replaced ballots
    first, then inserts. A ballot replaced within the same batch is never written."""

    def __init__(self) -> None:
        self.voters: list[dict[str, Any]] = []
        self.open: dict[str, dict[str, Any]] = {}
        self.superseded: list[dict[str, Any]] = []
        self.delete_open: list[str] = []
        self.e2e = E2EBatch()

    def replace(self, pending: dict[str, dict[str, Any]], key: str, poll_id: int) -> None:
        self.superseded.append({"ballot_key": key, "poll_id": poll_id})
        if pending.pop(key, None) is None:
            self.delete_open.append(key)

    async def write(self, tx: JournalTx) -> None:
        s = tx.session
        if self.delete_open:
            await s.execute(delete(OpenBallot).where(OpenBallot.ballot_key.in_(self.delete_open)))
        for model, values in (
            (PollVoter, self.voters),
            (OpenBallot, list(self.open.values())),
            (SupersededBallot, self.superseded),
        ):
            if values:
                await s.execute(insert(model), values)
        await self.e2e.write(s)


def _iso(dt: datetime | None) -> str | None:
    return iso(dt)
