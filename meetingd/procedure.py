"""The meeting procedure service: attendance, quorum, agenda, speakers — and the entry
point for polls (``meetingd.ballots``).

Each command runs the pure core (``meeting.*``, ``voting.*``) inside ONE journal
transaction, so the rows and their minutes entries commit together; then the facts are
broadcast. Frequent facts (attendance counts, quorum figures, live tallies) are
coalesced and sent by a ticker a few times a second, one ``emit`` per room.

If a transaction fails after the core state changed, the meeting's live state is
dropped and rebuilt from the database on next use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.agenda import Motion
from meeting.attendance import Person, RegisterChange
from meeting.clock import Clock, iso
from meeting.errors import InvalidInput, InvalidState, MeetingError, NotAuthorised
from meeting.pacing import stretched_interval
from meeting.roles import MeetingState, Role
from meeting.roster import Roster, RosterEvent
from meeting.speakers import Speaker, SpeechEnded
from signaling.messages import Empty
from signaling.procedure import (
    AddMotion,
    AddNote,
    AgendaPosition,
    Excuse,
    FloorTarget,
    HandTarget,
    MemberRef,
    Reorder,
    RoomCode,
    SetQuorumRule,
    SpeakingLimitPayload,
)
from voting.poll import PollState

from .ballots import Ballots
from .journal import Journal, JournalTx
from .procedure_state import Emit, Live, load_live, online_from_seat, require_open
from .storage.models import Meeting
from .storage.procedure_models import (
    CheckInRow,
    ExcuseRow,
    MotionRow,
    ProcedureSettings,
    SpeechRow,
)
from .storage.speaking_models import SpeakingLimit

logger = logging.getLogger(__name__)

TICK_S = 0.25
TALLY_SENDS_PER_S = 1000


# What a database that does not answer raises (connection refused, dropped, timed out).
DATABASE_DOWN = (OperationalError, InterfaceError, OSError, TimeoutError, PoolTimeout)


def server_busy(meeting_id: int, exc: BaseException) -> InvalidState:
    logger.warning("meeting=%s database unavailable: %s", meeting_id, exc)
    return InvalidState(
        "the database is not answering; nothing was recorded; retry", code="server_busy", retry_after=1.0
    )


class Ownership(Protocol):
    """Which node may write a meeting (meetingd.cluster.node.ClusterNode); one node: all."""

    async def owns(self, meeting_id: int) -> bool: ...

    async def refuse(self, meeting_id: int) -> MeetingError: ...


class Procedure:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        journal: Journal,
        clock: Clock,
        *,
        emit: Emit,
        roster_of: Callable[[int], Roster | None],
        on_floor_given: Callable[[int, str], Awaitable[None]],
        group_commit: bool = True,
        group_window_s: float = 0.012,  # vote bench: -20 % CPU per ballot vs 4 ms, p50 +4 ms
        tick_s: float = TICK_S,
        ownership: Ownership | None = None,
    ) -> None:
        """``emit`` broadcasts to a meeting's room; ``roster_of`` is the live roster
        (signaling's); ``on_floor_given`` unmutes the new speaker's media; ``ownership``
        (several nodes) says whether this node owns a meeting and may write it."""
        self.db, self.journal, self.clock = db, journal, clock
        self.ownership = ownership
        self.tick_s = tick_s
        self.emit = emit
        self.roster_of = roster_of
        self.on_floor_given = on_floor_given
        self._lives: dict[int, Live] = {}
        self._load_lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.ballots = Ballots(self, group_commit=group_commit, window_s=group_window_s)

    # -- wiring -------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore every meeting with an open poll (re-arming time limits), start ticking."""
        from .storage.procedure_models import PollRow

        async with self.db() as s:
            ids = set((await s.scalars(select(PollRow.meeting_id).where(PollRow.state == "open"))).all())
        for meeting_id in sorted(ids):
            await self.live(meeting_id)
        self._ticker = asyncio.ensure_future(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        for live in self._lives.values():
            self.ballots.disarm(live)
            if live.flusher is not None:
                await asyncio.gather(live.flusher, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.ballots.e2e.close()

    async def checkpoint(self, meeting_id: int) -> None:
        """Sign a checkpoint of the meeting's log now (e.g. at a poll's close)."""
        await self.journal.checkpoint_now(meeting_id)

    def spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                logger.exception("procedure background task failed")

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def live_count(self) -> int:
        """Meetings whose live state this process holds (metrics)."""
        return len(self._lives)

    async def live(self, meeting_id: int) -> Live:
        live = self._lives.get(meeting_id)
        if live is not None:
            return live
        if self.ownership is not None and not await self.ownership.owns(meeting_id):
            # another node owns it: a fresh read-only copy (no timers; writes are refused)
            async with self.db() as s:
                return await load_live(s, meeting_id, self.roster_of(meeting_id))
        async with self._load_lock:
            live = self._lives.get(meeting_id)
            if live is None:
                try:
                    async with self.db() as s:
                        live = await load_live(s, meeting_id, self.roster_of(meeting_id))
                        await self.ballots.e2e.load(s, live)
                except DATABASE_DOWN as exc:
                    raise server_busy(meeting_id, exc) from exc
                self._lives[meeting_id] = live
                self.ballots.arm_all(live)
        return live

    def floor_holder(self, meeting_id: int) -> str | None:
        """The member who has the floor now (None: nobody, a site, or not loaded here)."""
        live = self._lives.get(meeting_id)
        current = live.speakers.current if live is not None else None
        return current.member_id if current is not None and current.member_id else None

    def drop(self, meeting_id: int) -> None:
        """Forget the in-memory state (after a failed transaction): reload on next use."""
        live = self._lives.pop(meeting_id, None)
        if live is not None:
            self.ballots.disarm(live)
            logger.warning("meeting=%s procedure state dropped; reloading", meeting_id)

    async def transaction(self, live: Live, work: Callable[[JournalTx], Awaitable[Any]]) -> Any:
        if self.ownership is not None and self._lives.get(live.meeting_id) is not live:
            raise await self.ownership.refuse(live.meeting_id)  # not the owner's live state
        try:
            async with self.journal.transaction(live.meeting_id) as tx:
                return await work(tx)
        except MeetingError:
            raise
        except DATABASE_DOWN as exc:
            # the database does not answer: nothing was committed, so nothing is acknowledged
            self.drop(live.meeting_id)
            raise server_busy(live.meeting_id, exc) from exc
        except Exception:
            self.drop(live.meeting_id)
            raise

    async def close_open_polls(self, meeting_id: int, by: str) -> None:
        """Closing a meeting closes its open polls first (tally and result published)."""
        live = await self.live(meeting_id)
        for lp in list(live.polls.values()):
            if lp.poll.state is PollState.OPEN:
                await self.ballots.close(live, lp.id, by=by)

    async def on_roster(self, meeting_id: int, ev: RosterEvent) -> None:
        """A roster event: a member's live seat appeared, changed or ended."""
        live = self._lives.get(meeting_id)
        if live is None:
            return  # loaded later from the roster itself
        member_id = ev.seat["member_id"]
        if live.register.set_online(member_id, online_from_seat(ev.seat, live.sites)):
            live.dirty_members.add(member_id)
            await self.presence_changed(live, None)

    async def snapshot(self, meeting_id: int, member_id: str) -> dict[str, Any]:
        live = await self.live(meeting_id)
        me = live.register.get(member_id)
        attendance = (
            live.register.snapshot()
            if me is not None and me.role.is_officer
            else {
                **live.register.counts(),
                "members": [live.register.entry(member_id)] if me is not None else [],
            }
        )
        return {
            "attendance": attendance,
            "quorum": live.quorum.to_dict(),
            "agenda": live.agenda.to_dict(),
            "speakers": live.speakers.to_dict(),
            "polls": [self.ballots.poll_dict(live, lp) for lp in live.polls.values()],
            "my_votes": {str(pid): self.ballots.my_vote(lp, member_id) for pid, lp in live.polls.items()},
        }

    async def get_procedure(self, live: Live, caller: Person, _p: Empty) -> dict[str, Any]:
        return {"procedure": await self.snapshot(live.meeting_id, caller.member_id)}

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def require(caller: Person, *roles: Role, what: str) -> None:
        """A rule finer than the command's declared access (someone else's hand)."""
        if caller.role not in roles:
            names = " or ".join(r.value for r in roles)
            raise NotAuthorised(f"only the {names} may {what}")

    async def presence_changed(self, live: Live, tx: JournalTx | None) -> None:
        """Recompute quorum; record a flip (and each open poll's) in the minutes."""
        live.quorum_dirty = True
        reg = live.register
        flip = live.quorum.evaluate(reg.present_voting(), reg.entitled_voting())
        if flip is None:
            return
        now = self.clock()
        poll_events = [
            (lp, ev)
            for lp in live.polls.values()
            if (ev := lp.poll.note_quorum(now, flip.status.quorate)) is not None
        ]

        async def write(t: JournalTx) -> None:
            if t.closed:  # after close, who is connected is not a minutes fact
                return
            st = flip.status
            t.record(
                flip.kind, present=st.present, entitled=st.entitled, required=st.required, rule=st.description
            )
            for lp, ev in poll_events:
                t.record("poll_quorum_changed", poll_id=lp.id, quorate=ev.quorate)

        if tx is not None:
            await write(tx)
        else:
            await self.transaction(live, write)
        logger.info(
            "meeting=%s %s present=%s entitled=%s",
            live.meeting_id,
            flip.kind,
            flip.status.present,
            flip.status.entitled,
        )
        for lp, ev in poll_events:
            await self.emit(live.meeting_id, "poll_quorum_changed", {"poll_id": lp.id, "quorate": ev.quorate})

    # -- the ticker: coalesced broadcasts ---------------------------------------------------

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            for live in list(self._lives.values()):
                try:
                    await self.flush_broadcasts(live)
                except Exception:
                    logger.exception("meeting=%s broadcast tick failed", live.meeting_id)

    def _tally_interval(self, meeting_id: int) -> float:
        """Tallies (and attendance / quorum updates) go out every tick (4/s) in a normal
        meeting; in a very large room the interval stretches so the server sends at most
        ~TALLY_SENDS_PER_S messages a second of each (each recipient's client must also
        parse every update)."""
        roster = self.roster_of(meeting_id)
        recipients = roster.connection_count if roster else 0
        return stretched_interval(recipients, TALLY_SENDS_PER_S, self.tick_s, 1.0)

    async def flush_broadcasts(self, live: Live) -> None:
        mid = live.meeting_id
        now = asyncio.get_running_loop().time()
        interval = self._tally_interval(mid)
        if (live.dirty_members or live.quorum_dirty) and now - live.last_presence_at >= interval:
            # attendance and quorum: every tick in a cell, stretched like tallies in a huge room
            live.last_presence_at = now
            if live.dirty_members:
                changed, live.dirty_members = sorted(live.dirty_members), set()
                await self.emit(
                    mid,
                    "attendance_changed",
                    {
                        "attendance": live.register.counts(),
                        "changed": [live.register.entry(m) for m in changed],
                    },
                )
            if live.quorum_dirty:
                live.quorum_dirty = False
                await self.emit(mid, "quorum_changed", {"quorum": live.quorum.to_dict()})
        if live.dirty_polls and now - live.last_tally_at >= interval:
            live.last_tally_at = now
            polls, live.dirty_polls = sorted(live.dirty_polls), set()
            for pid in polls:
                lp = live.polls.get(pid)
                if lp is not None:
                    await self.emit(mid, "tally_updated", self.ballots.live_view(live, lp))

    # -- attendance -----------------------------------------------------------------------

    async def _register_change(self, live: Live, change: RegisterChange | None, tx: JournalTx) -> None:
        if change is None:
            return
        tx.record(change.kind, **change.minutes)
        live.dirty_members.add(change.member_id)
        await self.presence_changed(live, tx)

    async def check_in(self, live: Live, caller: Person, p: MemberRef) -> dict[str, Any]:
        member_id = p.member_id

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            previous = live.register.checked_in(member_id)
            change = live.register.check_in(caller, member_id, self.clock())
            if change is None:
                return
            now = self.clock()
            if previous is not None:
                await self._close_checkin_row(tx, live, member_id, now)
            check = live.register.checked_in(member_id)
            assert check is not None
            tx.session.add(
                CheckInRow(
                    meeting_id=live.meeting_id,
                    member_pk=live.pk_of[member_id],
                    attendance=check.attendance.value,
                    site_id=check.site.id if check.site else None,
                    by_pk=live.pk_of[caller.member_id],
                    checked_in_at=now,
                )
            )
            await self._register_change(live, change, tx)

        await self.transaction(live, work)
        return {"entry": live.register.entry(member_id)}

    async def _close_checkin_row(self, tx: JournalTx, live: Live, member_id: str, now: Any) -> None:
        await tx.session.execute(
            update(CheckInRow)
            .where(
                CheckInRow.meeting_id == live.meeting_id,
                CheckInRow.member_pk == live.pk_of[member_id],
                CheckInRow.checked_out_at.is_(None),
            )
            .values(checked_out_at=now)
        )

    async def check_out(self, live: Live, caller: Person, p: MemberRef) -> dict[str, Any]:
        member_id = p.member_id

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            change = live.register.check_out(caller, member_id, self.clock())
            await self._close_checkin_row(tx, live, member_id, self.clock())
            await self._register_change(live, change, tx)

        await self.transaction(live, work)
        return {"entry": live.register.entry(member_id)}

    async def get_room_code(self, live: Live, caller: Person, _p: Empty) -> dict[str, Any]:
        code, expires = live.room_codes.current(self.clock())
        return {"code": code, "expires_at": iso(expires)}

    async def check_in_with_code(self, live: Live, caller: Person, p: RoomCode) -> dict[str, Any]:
        code = p.code

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            if not live.room_codes.accepts(code, self.clock()):
                raise InvalidInput(
                    "this room code is wrong or expired", code="invalid_room_code", field="code"
                )
            previous = live.register.checked_in(caller.member_id)
            change = live.register.self_check_in(caller, self.clock())
            if change is None:
                return
            now = self.clock()
            if previous is not None:
                await self._close_checkin_row(tx, live, caller.member_id, now)
            tx.session.add(
                CheckInRow(
                    meeting_id=live.meeting_id,
                    member_pk=live.pk_of[caller.member_id],
                    attendance="main_room",
                    site_id=None,
                    by_pk=live.pk_of[caller.member_id],
                    checked_in_at=now,
                )
            )
            await self._register_change(live, change, tx)

        await self.transaction(live, work)
        return {"entry": live.register.entry(caller.member_id)}

    async def excuse(self, live: Live, caller: Person, p: Excuse) -> dict[str, Any]:
        member_id, reason = p.member_id, p.reason

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            change = live.register.excuse(caller, member_id, reason, self.clock())
            row = await tx.session.get(ExcuseRow, (live.meeting_id, live.pk_of[member_id]))
            if row is None:
                row = ExcuseRow(meeting_id=live.meeting_id, member_pk=live.pk_of[member_id])
                tx.session.add(row)
            row.reason, row.by_pk, row.at = reason.strip(), live.pk_of[caller.member_id], self.clock()
            await self._register_change(live, change, tx)

        await self.transaction(live, work)
        return {"entry": live.register.entry(member_id)}

    # -- quorum ---------------------------------------------------------------------------

    async def set_quorum_rule(self, live: Live, caller: Person, p: SetQuorumRule) -> dict[str, Any]:
        parsed = p.rule

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            live.quorum.set_rule(parsed)
            settings = await self._settings(tx.session, live.meeting_id)
            settings.quorum_rule = p.stored
            tx.record("quorum_rule_set", rule=parsed.to_dict(), by=caller.member_id)
            await self.presence_changed(live, tx)

        await self.transaction(live, work)
        return {"quorum": live.quorum.to_dict()}

    @staticmethod
    async def _settings(s: AsyncSession, meeting_id: int) -> ProcedureSettings:
        row = await s.get(ProcedureSettings, meeting_id)
        if row is None:
            row = ProcedureSettings(meeting_id=meeting_id)
            s.add(row)
        return row

    # -- agenda and motions -----------------------------------------------------------------

    async def set_agenda_item(self, live: Live, caller: Person, p: AgendaPosition) -> dict[str, Any]:
        position = p.position

        async def work(tx: JournalTx) -> dict[str, Any]:
            await require_open(tx, live.meeting_id)
            item = live.agenda.start_item(position)
            (await self._settings(tx.session, live.meeting_id)).current_item = position
            tx.record("agenda_item_started", position=item.position, title=item.title, by=caller.member_id)
            return item.to_dict()

        item = await self.transaction(live, work)
        await self.emit(live.meeting_id, "agenda_item_started", {"item": item, "by": caller.member_id})
        return {"item": item}

    async def add_motion(self, live: Live, caller: Person, p: AddMotion) -> dict[str, Any]:
        text, proposer = p.text, p.proposer or caller.member_id
        live.register.person(proposer)

        async def work(tx: JournalTx) -> Motion:
            await require_open(tx, live.meeting_id)
            position, clean = live.agenda.check_motion(text)
            now = self.clock()
            row = MotionRow(
                meeting_id=live.meeting_id,
                position=position,
                text=clean,
                proposer_pk=live.pk_of[proposer],
                added_by_pk=live.pk_of[caller.member_id],
                at=now,
            )
            tx.session.add(row)
            await tx.session.flush()
            motion = Motion(row.id, position, clean, proposer, caller.member_id, now)
            tx.record(
                "motion_added",
                motion_id=row.id,
                position=position,
                text=clean,
                proposer=proposer,
                by=caller.member_id,
            )
            live.agenda.add_motion(motion)
            return motion

        motion = await self.transaction(live, work)
        await self.emit(live.meeting_id, "motion_added", {"motion": motion.to_dict()})
        return {"motion": motion.to_dict()}

    async def add_note(self, live: Live, caller: Person, p: AddNote) -> dict[str, Any]:
        """A minute note by the secretary (or chair), filed under the current agenda item."""
        text = p.text
        position = live.agenda.current
        note: dict[str, Any] = {}

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            entry = tx.record("secretary_note", text=text, position=position, by=caller.member_id)
            note.update(text=text, position=position, by=caller.member_id, at=entry["at"])

        await self.transaction(live, work)
        await self.emit(live.meeting_id, "note_added", {"note": note})
        return {"note": note}

    # -- list of speakers -------------------------------------------------------------------

    def _own_entry(self, caller: Person) -> Speaker:
        now = self.clock()
        if caller.role == Role.OPERATOR:
            if caller.site is None:
                raise InvalidState("this operator has no site")
            return Speaker.for_site(caller.site, caller.member_id, now)
        if not caller.voting:
            raise NotAuthorised("observers cannot ask for the floor")
        return Speaker.member(caller.member_id, caller.full_name, caller.member_id, now)

    async def _speakers_changed(self, live: Live) -> dict[str, Any]:
        speakers = live.speakers.to_dict()
        await self.emit(live.meeting_id, "speakers_changed", {"speakers": speakers})
        return {"speakers": speakers}

    async def _meeting_open(self, live: Live) -> None:
        async with self.db() as s:
            m = await s.get(Meeting, live.meeting_id)
        if m is None or m.state != MeetingState.OPEN.value:
            raise InvalidState("the meeting is not open", code="meeting_not_open")

    async def raise_hand(self, live: Live, caller: Person, _p: Empty) -> dict[str, Any]:
        entry = self._own_entry(caller)
        await self._meeting_open(live)
        live.speakers.raise_hand(entry)
        return await self._speakers_changed(live)

    async def lower_hand(self, live: Live, caller: Person, p: HandTarget) -> dict[str, Any]:
        member_id, site_id = p.member_id, p.site_id
        if member_id is None and site_id is None:
            entry_id = self._own_entry(caller).entry_id
        else:
            entry_id = f"member:{member_id}" if member_id else f"site:{site_id}"
            if entry_id != self._own_entry_id(caller):
                self.require(caller, Role.CHAIR, what="lower someone else's hand")
        live.speakers.lower_hand(entry_id)
        return await self._speakers_changed(live)

    @staticmethod
    def _own_entry_id(caller: Person) -> str:
        if caller.role == Role.OPERATOR and caller.site is not None:
            return f"site:{caller.site.id}"
        return f"member:{caller.member_id}"

    async def give_floor(self, live: Live, caller: Person, p: FloorTarget) -> dict[str, Any]:
        member_id, site_id = p.member_id, p.site_id
        now = self.clock()
        if member_id is not None:
            who = live.register.person(member_id)
            if not who.voting:
                raise NotAuthorised("only voting members take the floor", code="not_eligible")
            speaker = Speaker.member(who.member_id, who.full_name, caller.member_id, now)
        else:
            site = live.sites.get(site_id or 0)
            if site is None:
                raise InvalidInput(f"site {site_id} is not a site of this meeting", field="site_id")
            speaker = Speaker.for_site(site, caller.member_id, now)

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            ended = live.speakers.give_floor(speaker, now)
            if ended is not None:
                await self._speech_ended(tx, live, ended, caller.member_id)
            current = live.speakers.current
            assert current is not None
            row = SpeechRow(
                meeting_id=live.meeting_id,
                member_pk=live.pk_of[current.member_id] if current.member_id else None,
                site_id=current.site.id if current.site else None,
                started_at=now,
            )
            tx.session.add(row)
            await tx.session.flush()
            live.speech_row = row.id
            tx.record(
                "floor_given",
                entry_id=current.entry_id,
                member_id=current.member_id,
                site=current.site.name if current.site else None,
                by=caller.member_id,
            )

        await self.transaction(live, work)
        current = live.speakers.current
        if current is not None and current.member_id:
            try:
                await self.on_floor_given(live.meeting_id, current.member_id)
            except MeetingError as exc:  # no media session: nothing to unmute
                logger.debug("meeting=%s floor unmute skipped: %s", live.meeting_id, exc.message)
        return await self._speakers_changed(live)

    async def _speech_ended(self, tx: JournalTx, live: Live, ended: SpeechEnded, by: str) -> None:
        if live.speech_row is not None:
            await tx.session.execute(
                update(SpeechRow)
                .where(SpeechRow.id == live.speech_row)
                .values(ended_at=ended.ended_at, duration_ms=ended.duration_ms)
            )
            live.speech_row = None
        tx.record("speech_ended", **ended.minutes(), by=by)
        if ended.overtime_ms > 0:
            tx.record("speech_overtime", **ended.overtime_minutes(), by=by)

    async def end_speech(self, live: Live, caller: Person, _p: Empty) -> dict[str, Any]:
        current = live.speakers.current
        own = current is not None and current.entry_id == self._own_entry_id(caller)
        if not own:
            self.require(caller, Role.CHAIR, what="end someone else's speech")

        async def work(tx: JournalTx) -> None:
            ended = live.speakers.end_speech(self.clock())
            await self._speech_ended(tx, live, ended, caller.member_id)

        await self.transaction(live, work)
        return await self._speakers_changed(live)

    async def set_speaking_limit(self, live: Live, caller: Person, p: SpeakingLimitPayload) -> dict[str, Any]:
        """The chair's speaking-time limit (seconds, or None): for the running speech and
        the ones to come; recorded in the minutes, kept over a restart."""
        limit_s = p.limit_s

        async def work(tx: JournalTx) -> None:
            await require_open(tx, live.meeting_id)
            row = await tx.session.get(SpeakingLimit, live.meeting_id)
            if row is None:
                tx.session.add(SpeakingLimit(meeting_id=live.meeting_id, limit_s=limit_s))
            else:
                row.limit_s = limit_s
            live.speakers.set_limit(limit_s)
            tx.record("speaking_limit_set", limit_s=limit_s, by=caller.member_id)

        await self.transaction(live, work)
        return await self._speakers_changed(live)

    async def reorder_queue(self, live: Live, caller: Person, p: Reorder) -> dict[str, Any]:
        live.speakers.reorder(list(p.order))
        return await self._speakers_changed(live)
