"""Meetings: scheduling, participants, state changes, attendance intervals, chat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import InvalidInput, NotAuthorised, NotFound
from meeting.lifecycle import transition
from meeting.roles import MeetingState, Role
from meeting.roster import Entitlement, Site
from signaling.wire_json import Encoded

from .group_commit import GroupCommit
from .journal import Journal
from .storage.models import (
    AgendaItem,
    AttendanceInterval,
    Cell,
    ChatMessage,
    Meeting,
    MeetingSite,
    Member,
    Participant,
)
from .storage.models import Site as SiteRow

_CHAT_HISTORY = (
    select(ChatMessage.id, Member.member_id, Member.full_name, ChatMessage.text, ChatMessage.at)
    .join(Member, Member.id == ChatMessage.member_pk)
    .where(ChatMessage.meeting_id == bindparam("meeting_id"))
    .order_by(ChatMessage.id.desc())
    .limit(bindparam("limit"))
)


@dataclass(frozen=True)
class _IntervalChange:
    """Open an interval (``attendance`` set) or close the open one (``attendance`` None)."""

    member_pk: int
    at: datetime
    attendance: str | None = None
    site_id: int | None = None


@dataclass(frozen=True)
class Admission:
    """What signaling needs to seat a member in a meeting."""

    meeting: dict[str, Any]
    entitlement: Entitlement
    sites: list[Site]
    member_pk: int


class Meetings:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        journal: Journal,
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._db, self._clock, self._journal = db, clock, journal
        # lookups made on every join go to SQLite's read pool, not the one writer's queue
        self._reads = reads or db
        self._admit_cache: dict[int, dict[str, Any]] = {}
        self._attendance: GroupCommit[int, _IntervalChange, None] = GroupCommit(self._write_intervals)

    # -- reading ----------------------------------------------------------------------

    async def _summary(self, s: AsyncSession, m: Meeting, my_role: str | None) -> dict[str, Any]:
        cell = await s.get(Cell, m.cell_id)
        return {
            "id": m.id,
            "title": m.title,
            "cell": {"id": m.cell_id, "name": cell.name if cell else ""},
            "place": m.place,
            "starts_at": iso(m.starts_at),
            "state": m.state,
            "my_role": my_role,
        }

    async def list_for(self, member: Member) -> list[dict[str, Any]]:
        async with self._db() as s:
            roles = dict(
                (
                    await s.execute(
                        select(Participant.meeting_id, Participant.role).where(
                            Participant.member_pk == member.id
                        )
                    )
                ).all()
            )
            q = select(Meeting).order_by(Meeting.starts_at.desc())
            if not member.is_admin:
                q = q.where(Meeting.id.in_(list(roles)))
            return [await self._summary(s, m, roles.get(m.id)) for m in (await s.scalars(q)).all()]

    async def _role(self, s: AsyncSession, meeting_id: int, member_pk: int) -> Participant | None:
        return await s.scalar(
            select(Participant).where(
                Participant.meeting_id == meeting_id, Participant.member_pk == member_pk
            )
        )

    async def detail(self, meeting_id: int, member: Member) -> dict[str, Any]:
        async with self._db() as s:
            m = await s.get(Meeting, meeting_id)
            if m is None:
                raise NotFound(f"no meeting {meeting_id}")
            mine = await self._role(s, meeting_id, member.id)
            if mine is None and not member.is_admin:
                raise NotAuthorised("you are not a participant of this meeting")
            return await self._detail(s, m, mine.role if mine else None)

    async def public_detail(self, meeting_id: int) -> dict[str, Any]:
        """The meeting as a paired display sees it (no role of its own)."""
        async with self._db() as s:
            m = await s.get(Meeting, meeting_id)
            if m is None:
                raise NotFound(f"no meeting {meeting_id}")
            return await self._detail(s, m, None)

    async def _detail(self, s: AsyncSession, m: Meeting, my_role: str | None) -> dict[str, Any]:
        out = await self._summary(s, m, my_role)
        agenda = (
            await s.scalars(
                select(AgendaItem).where(AgendaItem.meeting_id == m.id).order_by(AgendaItem.position)
            )
        ).all()
        sites = (
            await s.scalars(
                select(SiteRow)
                .join(MeetingSite, MeetingSite.site_id == SiteRow.id)
                .where(MeetingSite.meeting_id == m.id)
                .order_by(SiteRow.name)
            )
        ).all()
        people = (
            await s.execute(
                select(Participant, Member)
                .join(Member, Member.id == Participant.member_pk)
                .where(Participant.meeting_id == m.id)
                .order_by(Member.full_name)
            )
        ).all()
        out.update(
            {
                "agenda": [{"position": a.position, "title": a.title} for a in agenda],
                "sites": [{"id": x.id, "name": x.name} for x in sites],
                "participants": [
                    {
                        "member_id": mem.member_id,
                        "full_name": mem.full_name,
                        "role": p.role,
                        "site_id": p.site_id,
                    }
                    for p, mem in people
                ],
                "opened_at": iso(m.opened_at),
                "closed_at": iso(m.closed_at),
            }
        )
        return out

    # -- scheduling -------------------------------------------------------------------

    async def create(self, req: dict[str, Any]) -> int:
        """``req`` is validated by the HTTP adapter; references are checked here."""
        async with self._db() as s, s.begin():
            if await s.get(Cell, req["cell_id"]) is None:
                raise InvalidInput(f"no cell {req['cell_id']}", field="cell_id")

            async def member(mid: str, field: str) -> Member:
                row = await s.scalar(select(Member).where(Member.member_id == mid))
                if row is None:
                    raise InvalidInput(f"no member {mid}", field=field)
                return row

            chair = await member(req["chair"], "chair")
            secretary = await member(req["secretary"], "secretary")
            if chair.id == secretary.id:
                raise InvalidInput("chair and secretary must be different members", field="secretary")
            m = Meeting(
                title=req["title"],
                cell_id=req["cell_id"],
                place=req["place"],
                starts_at=req["starts_at"],
                state=MeetingState.SCHEDULED.value,
            )
            s.add(m)
            await s.flush()
            for i, title in enumerate(req["agenda"], start=1):
                s.add(AgendaItem(meeting_id=m.id, position=i, title=title))
            roles: dict[int, tuple[str, int | None]] = {}
            for mem in (
                await s.scalars(
                    select(Member).where(Member.cell_id == req["cell_id"], Member.status == "active")
                )
            ).all():
                roles[mem.id] = (Role.MEMBER.value, None)
            for mid in req["guests"]:
                roles.setdefault((await member(mid, "guests")).id, (Role.OBSERVER.value, None))
            for site_id in req["sites"]:
                site = await s.get(SiteRow, site_id)
                if site is None:
                    raise InvalidInput(f"no site {site_id}", field="sites")
                s.add(MeetingSite(meeting_id=m.id, site_id=site.id))
                if site.operator_id is not None:
                    roles[site.operator_id] = (Role.OPERATOR.value, site.id)
            roles[chair.id] = (Role.CHAIR.value, None)
            roles[secretary.id] = (Role.SECRETARY.value, None)
            for pk, (role, site_id) in roles.items():
                s.add(Participant(meeting_id=m.id, member_pk=pk, role=role, site_id=site_id))
            return m.id

    async def require_chair(self, meeting_id: int, member: Member, action: str) -> None:
        async with self._db() as s:
            if await s.get(Meeting, meeting_id) is None:
                raise NotFound(f"no meeting {meeting_id}")
            mine = await self._role(s, meeting_id, member.id)
        if mine is None or mine.role != Role.CHAIR.value:
            raise NotAuthorised(f"only the chair may {action} the meeting")

    async def change_state(self, meeting_id: int, action: str, member: Member) -> dict[str, Any]:
        async with self._journal.transaction(meeting_id) as tx:
            s = tx.session
            m = await s.get(Meeting, meeting_id)
            if m is None:
                raise NotFound(f"no meeting {meeting_id}")
            mine = await self._role(s, meeting_id, member.id)
            if mine is None or mine.role != Role.CHAIR.value:
                raise NotAuthorised(f"only the chair may {action} the meeting")
            m.state = transition(MeetingState(m.state), action).value
            now = self._clock()
            detail = await self._detail(s, m, mine.role)
            if action == "open":
                m.opened_at = now
                tx.record(
                    "meeting_opened",
                    by=member.member_id,
                    title=m.title,
                    cell=detail["cell"]["name"],
                    place=m.place,
                    scheduled_for=iso(m.starts_at),
                    agenda=detail["agenda"],
                    sites=detail["sites"],
                    participants=[
                        {k: p[k] for k in ("member_id", "full_name", "role")} for p in detail["participants"]
                    ],
                )
            else:
                m.closed_at = now
                open_ = (
                    await s.scalars(
                        select(AttendanceInterval).where(
                            AttendanceInterval.meeting_id == meeting_id, AttendanceInterval.left_at.is_(None)
                        )
                    )
                ).all()
                for interval in open_:
                    interval.left_at = now
                    who = await s.get(Member, interval.member_pk)
                    tx.record("member_left", member_id=who.member_id if who else "?", reason="meeting_closed")
                tx.record("meeting_closed", by=member.member_id)
            detail.update({"state": m.state, "opened_at": iso(m.opened_at), "closed_at": iso(m.closed_at)})
        self._admit_cache.pop(meeting_id, None)
        if action == "close":
            await self._journal.checkpoint_now(meeting_id)
        return detail

    # -- live meeting support (called by signaling) ------------------------------------

    async def admit(self, meeting_id: int, member: Member) -> Admission:
        async with self._reads() as s:
            m = await s.get(Meeting, meeting_id)
            if m is None:
                raise NotFound(f"no meeting {meeting_id}")
            mine = await self._role(s, meeting_id, member.id)
            if mine is None:
                raise NotAuthorised("you are not a participant of this meeting")
            cached = self._admit_cache.get(meeting_id)
            if cached is None or cached["state"] != m.state:
                # The participant list is read once per meeting, not once per join
                # (a join storm of N members read N x N rows).
                cached = await self._detail(s, m, None)
                # and encoded once: each join ack carries the list (1,000 members: 80 kB)
                cached = self._admit_cache[meeting_id] = {
                    **cached,
                    "participants": Encoded(cached["participants"]),
                }
            detail = {**cached, "my_role": mine.role}
            sites = [Site(x["id"], x["name"]) for x in detail["sites"]]
            own = next((x for x in sites if x.id == mine.site_id), None)
            return Admission(
                detail,
                Entitlement(member.member_id, member.full_name, Role(mine.role), own),
                sites,
                member.id,
            )

    async def start_interval(
        self, meeting_id: int, member_pk: int, attendance: str, site_id: int | None, at: datetime
    ) -> None:
        """A member's online seat began: close any open interval, open one, and record
        ``member_joined`` in the minutes. Returns once it is committed."""
        await self._attendance.submit(meeting_id, _IntervalChange(member_pk, at, attendance, site_id))

    async def end_interval(self, meeting_id: int, member_pk: int, at: datetime) -> None:
        """A member's online seat ended: close the open interval, record ``member_left``."""
        await self._attendance.submit(meeting_id, _IntervalChange(member_pk, at))

    async def _write_intervals(self, meeting_id: int, changes: Sequence[_IntervalChange]) -> list[None]:
        """Apply attendance changes, in order, in one minutes transaction (group commit:
        a join storm of 1,000 members took one durable commit per join, ~17 ms each under
        load with the write lock held; now the joins that arrive while one commit runs
        share the next one)."""
        async with self._journal.transaction(meeting_id) as tx:
            s = tx.session
            pks = {c.member_pk for c in changes}
            names = dict(
                (await s.execute(select(Member.id, Member.member_id).where(Member.id.in_(pks)))).all()
            )
            site_ids = {c.site_id for c in changes if c.site_id is not None}
            sites = (
                dict(
                    (await s.execute(select(SiteRow.id, SiteRow.name).where(SiteRow.id.in_(site_ids)))).all()
                )
                if site_ids
                else {}
            )
            unflushed: set[int] = set()
            for c in changes:
                if c.member_pk in unflushed:  # this member's row added above must be seen
                    await s.flush()
                    unflushed.clear()
                result = await s.execute(
                    update(AttendanceInterval)
                    .where(
                        AttendanceInterval.meeting_id == meeting_id,
                        AttendanceInterval.member_pk == c.member_pk,
                        AttendanceInterval.left_at.is_(None),
                    )
                    .values(left_at=c.at)
                )
                member_id = names.get(c.member_pk, "?")
                if c.attendance is None:
                    if result.rowcount and not tx.closed:  # type: ignore[attr-defined]
                        tx.record("member_left", member_id=member_id, reason="left")
                    continue
                s.add(
                    AttendanceInterval(
                        meeting_id=meeting_id,
                        member_pk=c.member_pk,
                        attendance=c.attendance,
                        site_id=c.site_id,
                        joined_at=c.at,
                    )
                )
                unflushed.add(c.member_pk)
                if not tx.closed:  # presence after close is not a minutes fact
                    tx.record(
                        "member_joined",
                        member_id=member_id,
                        attendance=c.attendance,
                        site=sites.get(c.site_id) if c.site_id is not None else None,
                    )
        return [None] * len(changes)

    async def post_chat(self, meeting_id: int, member: Member, text: str) -> dict[str, Any]:
        now = self._clock()
        async with self._db() as s, s.begin():
            msg = ChatMessage(meeting_id=meeting_id, member_pk=member.id, text=text, at=now)
            s.add(msg)
            await s.flush()
            return {
                "id": msg.id,
                "member_id": member.member_id,
                "full_name": member.full_name,
                "text": text,
                "at": iso(now),
            }

    async def chat_history(self, meeting_id: int, limit: int) -> list[dict[str, Any]]:
        """The meeting's last ``limit`` chat messages, oldest first (read on every join:
        plain columns through one statement built once, no ORM objects)."""
        async with self._reads() as s:
            rows = (await s.execute(_CHAT_HISTORY, {"meeting_id": meeting_id, "limit": limit})).all()
        return [
            {"id": r.id, "member_id": r.member_id, "full_name": r.full_name, "text": r.text, "at": iso(r.at)}
            for r in reversed(rows)
        ]
