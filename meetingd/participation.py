"""Participation figures of a meeting: attendance, opinions expressed, vote turnout.

Plain dicts, computed from storage (attendance intervals, check-ins, excuses,
speeches, poll voters and published results); used by the HTTP API and, later, the
minutes report.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meeting.errors import NotAuthorised, NotFound
from meeting.roles import Role

from .storage.models import AttendanceInterval, Meeting, Member, Participant
from .storage.procedure_models import CheckInRow, ExcuseRow, PollRow, PollVoter, SpeechRow


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of the spans (online and checked in may overlap)."""
    total, cur_start, cur_end = 0.0, None, None
    for start, stop in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_start is not None and cur_end is not None:
                total += (cur_end - cur_start).total_seconds()
            cur_start, cur_end = start, stop
        elif stop > cur_end:
            cur_end = stop
    if cur_start is not None and cur_end is not None:
        total += (cur_end - cur_start).total_seconds()
    return max(0.0, total)


async def participation(s: AsyncSession, meeting_id: int, caller: Member, now: datetime) -> dict[str, Any]:
    """Officers of the meeting and administrators only."""
    meeting = await s.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(f"no meeting {meeting_id}")
    people = (
        await s.execute(
            select(Participant, Member)
            .join(Member, Member.id == Participant.member_pk)
            .where(Participant.meeting_id == meeting_id)
            .order_by(Member.full_name)
        )
    ).all()
    mine = next((p for p, m in people if m.id == caller.id), None)
    if not caller.is_admin and (mine is None or not Role(mine.role).is_officer):
        raise NotAuthorised("only the meeting's officers or an administrator")
    end = meeting.closed_at or now
    spans: dict[int, list[tuple[datetime, datetime]]] = {}
    for iv in (
        await s.scalars(select(AttendanceInterval).where(AttendanceInterval.meeting_id == meeting_id))
    ).all():
        spans.setdefault(iv.member_pk, []).append((iv.joined_at, iv.left_at or end))
    for ci in (await s.scalars(select(CheckInRow).where(CheckInRow.meeting_id == meeting_id))).all():
        spans.setdefault(ci.member_pk, []).append((ci.checked_in_at, ci.checked_out_at or end))
    present = {pk: _union_seconds(v) for pk, v in spans.items()}
    excused = set(
        (await s.scalars(select(ExcuseRow.member_pk).where(ExcuseRow.meeting_id == meeting_id))).all()
    )
    speeches: dict[int, tuple[int, int]] = {}
    for sp in await s.scalars(
        select(SpeechRow).where(SpeechRow.meeting_id == meeting_id, SpeechRow.member_pk.is_not(None))
    ):
        n, ms = speeches.get(sp.member_pk or 0, (0, 0))
        speeches[sp.member_pk or 0] = (n + 1, ms + (sp.duration_ms or 0))
    polls = (
        await s.scalars(select(PollRow).where(PollRow.meeting_id == meeting_id).order_by(PollRow.id))
    ).all()
    voters: dict[int, set[int]] = {p.id: set() for p in polls}
    if polls:
        for pid, pk in (
            await s.execute(
                select(PollVoter.poll_id, PollVoter.member_pk).where(
                    PollVoter.poll_id.in_([p.id for p in polls])
                )
            )
        ).all():
            voters[pid].add(pk)
    voting = [(p, m) for p, m in people if Role(p.role).can_vote]
    entitled = len(voting)
    members = []
    for p, m in people:
        n, ms = speeches.get(m.id, (0, 0))
        members.append(
            {
                "member_id": m.member_id,
                "full_name": m.full_name,
                "role": p.role,
                "attended": m.id in present,
                "present_seconds": round(present.get(m.id, 0.0)),
                "opinions": n,
                "speaking_seconds": round(ms / 1000),
                "votes_cast": sum(m.id in v for v in voters.values()),
                "excused": m.id in excused,
            }
        )
    poll_rows = []
    for poll in polls:
        config = json.loads(poll.config)
        result = json.loads(poll.result) if poll.result else None
        hands = result["tally"]["hand"]["ballots"] if result else 0
        electronic = len(voters[poll.id])
        poll_rows.append(
            {
                "poll_id": poll.id,
                "question": config.get("question"),
                "kind": config.get("kind", "open"),
                "state": poll.state,
                "voters_electronic": electronic,
                "hands": hands,
                "turnout": _rate(electronic + hands, entitled),
                "eligible_at_close": result["counts"]["present"] if result else None,
            }
        )
    attended = sum(m.id in present for p, m in voting)
    return {
        "meeting_id": meeting_id,
        "entitled": entitled,
        "attended": attended,
        "attendance_rate": _rate(attended, entitled),
        "members": members,
        "polls": poll_rows,
    }
