"""The live procedure state of one meeting, and loading it back from the database.

Everything here is rebuilt from storage on first use (and after a restart): the
register's check-ins and excuses, the quorum rule, the agenda and motions, a speech in
progress, and every poll with its ballots (``Poll.restore`` / ``BallotBox.restore``).
Online presence comes from the live roster.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meeting.agenda import Agenda, AgendaItem, Motion
from meeting.attendance import AttendanceRegister, CheckIn, Excuse, Online, Person, RoomCodes
from meeting.clock import Clock
from meeting.errors import InvalidState, NotFound
from meeting.quorum import QuorumRule
from meeting.quorum_watch import QuorumWatch
from meeting.roles import Attendance, MeetingState, Role
from meeting.roster import ConnState, Roster, Site
from meeting.speakers import Speaker, SpeakerList
from signaling.procedure import CastBallot
from voting import BallotBox, HandCount, Poll, PollConfig, StoredBallot
from voting.e2e.board import VerifiedBallot

from .journal import JournalTx
from .storage.models import AgendaItem as AgendaRow
from .storage.models import Meeting, MeetingSite, Member, Participant
from .storage.models import Site as SiteRow
from .storage.procedure_models import (
    CheckInRow,
    ExcuseRow,
    HandCountRow,
    MotionRow,
    OpenBallot,
    PollRow,
    ProcedureSettings,
    SpeechRow,
    SupersededBallot,
)
from .storage.speaking_models import SpeakingLimit


@dataclass
class LivePoll:
    id: int
    motion_id: int | None
    poll: Poll
    box: BallotBox
    close_reason: str | None = None
    result: dict[str, Any] | None = None
    timer: asyncio.TimerHandle | None = None

    @property
    def secret(self) -> bool:
        return self.poll.config.kind.value == "secret"


@dataclass(frozen=True)
class EncryptedPending:
    """A secret poll's cast whose every proof already verified (meetingd.e2e_polls)."""

    poll_id: int
    ballot_id: str
    replaces: str | None
    verified: VerifiedBallot


@dataclass
class PendingCast:
    member_id: str
    payload: CastBallot | EncryptedPending
    future: asyncio.Future[dict[str, Any]]


@dataclass
class Live:
    meeting_id: int
    register: AttendanceRegister
    quorum: QuorumWatch
    agenda: Agenda
    speakers: SpeakerList
    sites: dict[int, Site]
    pk_of: dict[str, int]
    room_codes: RoomCodes = field(default_factory=RoomCodes)
    polls: dict[int, LivePoll] = field(default_factory=dict)
    speech_row: int | None = None
    # group commit
    pending: list[PendingCast] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None
    # coalesced broadcasts
    dirty_members: set[str] = field(default_factory=set)
    quorum_dirty: bool = False
    dirty_polls: set[int] = field(default_factory=set)
    last_tally_at: float = 0.0  # loop time of the last tally broadcast
    last_presence_at: float = 0.0  # loop time of the last attendance / quorum broadcast

    def poll(self, poll_id: int) -> LivePoll:
        lp = self.polls.get(poll_id)
        if lp is None:
            raise NotFound(f"no poll {poll_id} in this meeting")
        return lp


Emit = Callable[[int, str, dict[str, Any]], Awaitable[None]]
"""Broadcast ``(meeting_id, event, data)`` to a meeting's room."""


T = TypeVar("T")


class PollHost(Protocol):
    """What the poll service needs from the procedure that owns it (and no more)."""

    clock: Clock
    emit: Emit

    async def transaction(self, live: Live, work: Callable[[JournalTx], Awaitable[T]]) -> T:
        """Run ``work`` in one journal transaction; on failure the live state is dropped."""
        ...

    async def live(self, meeting_id: int) -> Live:
        """The meeting's live state (reloaded from the database after a drop)."""
        ...

    def spawn(self, coro: Awaitable[Any]) -> None: ...

    async def checkpoint(self, meeting_id: int) -> None:
        """Sign a checkpoint now (a poll closed: the witnesses see its result at once)."""
        ...


async def require_open(tx: JournalTx, meeting_id: int) -> None:
    """Procedure actions need the meeting open (checked inside their transaction)."""
    m = await tx.session.get(Meeting, meeting_id)
    if m is None or m.state != MeetingState.OPEN.value:
        raise InvalidState("the meeting is not open", code="meeting_not_open")


def online_from_seat(seat: dict[str, Any], sites: dict[int, Site]) -> Online | None:
    if seat["state"] == ConnState.LEFT.value:
        return None
    site = sites.get(seat["site"]["id"]) if seat.get("site") else None
    return Online(Attendance(seat["attendance"]), site)


async def load_live(s: AsyncSession, meeting_id: int, roster: Roster | None) -> Live:
    m = await s.get(Meeting, meeting_id)
    if m is None:
        raise NotFound(f"no meeting {meeting_id}")
    sites = {
        x.id: Site(x.id, x.name)
        for x in (
            await s.scalars(
                select(SiteRow)
                .join(MeetingSite, MeetingSite.site_id == SiteRow.id)
                .where(MeetingSite.meeting_id == meeting_id)
            )
        ).all()
    }
    people: list[Person] = []
    pk_of: dict[str, int] = {}
    for p, mem in (
        await s.execute(
            select(Participant, Member)
            .join(Member, Member.id == Participant.member_pk)
            .where(Participant.meeting_id == meeting_id)
        )
    ).all():
        pk_of[mem.member_id] = mem.id
        people.append(
            Person(
                mem.member_id,
                mem.full_name,
                Role(p.role),
                sites.get(p.site_id) if p.site_id else None,
                mem.status == "active",
            )
        )
    by_pk = {v: k for k, v in pk_of.items()}
    register = AttendanceRegister(people)
    for row in (
        await s.scalars(
            select(CheckInRow).where(CheckInRow.meeting_id == meeting_id, CheckInRow.checked_out_at.is_(None))
        )
    ).all():
        register.restore_check_in(
            by_pk.get(row.member_pk, "?"),
            CheckIn(
                Attendance(row.attendance),
                sites.get(row.site_id) if row.site_id else None,
                by_pk.get(row.by_pk, "?"),
                row.checked_in_at,
            ),
        )
    for ex in (await s.scalars(select(ExcuseRow).where(ExcuseRow.meeting_id == meeting_id))).all():
        register.restore_excuse(
            by_pk.get(ex.member_pk, "?"), Excuse(ex.reason, by_pk.get(ex.by_pk, "?"), ex.at)
        )
    if roster is not None:
        for seat in roster.seats:
            register.set_online(seat.member_id, online_from_seat(seat.to_dict(), sites))

    settings = await s.get(ProcedureSettings, meeting_id)
    rule = (
        QuorumRule.from_payload(json.loads(settings.quorum_rule))
        if settings is not None and settings.quorum_rule
        else QuorumRule.default()
    )
    items = [
        AgendaItem(a.position, a.title)
        for a in (await s.scalars(select(AgendaRow).where(AgendaRow.meeting_id == meeting_id))).all()
    ]
    agenda = Agenda(items, settings.current_item if settings else None)
    for mo in (await s.scalars(select(MotionRow).where(MotionRow.meeting_id == meeting_id))).all():
        agenda.add_motion(
            Motion(
                mo.id,
                mo.position,
                mo.text,
                by_pk.get(mo.proposer_pk, "?"),
                by_pk.get(mo.added_by_pk, "?"),
                mo.at,
            )
        )
    limit = await s.get(SpeakingLimit, meeting_id)
    speakers = SpeakerList(limit.limit_s if limit is not None else None)
    live = Live(meeting_id, register, QuorumWatch(rule), agenda, speakers, sites, pk_of)
    speech = await s.scalar(
        select(SpeechRow).where(SpeechRow.meeting_id == meeting_id, SpeechRow.ended_at.is_(None))
    )
    if speech is not None:
        if speech.member_pk is not None:
            mid = by_pk.get(speech.member_pk, "?")
            person = register.get(mid)
            who = Speaker.member(mid, person.full_name if person else mid, "?", speech.started_at)
        else:
            who = Speaker.for_site(sites[speech.site_id or 0], "?", speech.started_at)
        speakers.current, speakers.since, live.speech_row = who, speech.started_at, speech.id
        speakers.current_limit_s = speakers.limit_s

    for poll_row in (
        await s.scalars(select(PollRow).where(PollRow.meeting_id == meeting_id).order_by(PollRow.id))
    ).all():
        live.polls[poll_row.id] = await _load_poll(s, poll_row, by_pk)
        if poll_row.opened_at is not None:
            live.quorum.locked = True
    live.quorum.evaluate(register.present_voting(), register.entitled_voting())
    return live


async def _load_poll(s: AsyncSession, row: PollRow, by_pk: dict[int, str]) -> LivePoll:
    config = PollConfig.from_payload(json.loads(row.config))
    poll = Poll.restore(
        str(row.id),
        config,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        quorate=row.quorate,
        quorum_override=row.quorum_override,
    )
    ballots: list[StoredBallot] = []
    if config.kind.value == "secret":
        pass  # encrypted: its box is restored by meetingd.e2e_polls (no plaintext ballots)
    else:
        for ob in await s.scalars(select(OpenBallot).where(OpenBallot.poll_id == row.id)):
            ballots.append(
                StoredBallot(
                    ob.ballot_key,
                    ob.receipt,
                    tuple(json.loads(ob.choices)),
                    by_pk.get(ob.member_pk, f"pk:{ob.member_pk}"),
                )
            )
    superseded = (
        await s.scalars(select(SupersededBallot.ballot_key).where(SupersededBallot.poll_id == row.id))
    ).all()
    hands = [
        HandCount(
            str(row.id), h.site or None, h.entered_by, tuple(json.loads(h.counts)), h.hand_eligible, h.at
        )
        for h in (await s.scalars(select(HandCountRow).where(HandCountRow.poll_id == row.id)))
    ]
    box = BallotBox.restore(poll, ballots=ballots, superseded=superseded, hand_counts=hands)
    return LivePoll(
        row.id, row.motion_id, poll, box, row.close_reason, json.loads(row.result) if row.result else None
    )
