"""Participation figures across meetings, from the signed minutes of closed meetings.

Each closed meeting's :class:`recorder.participation.MeetingSummary` is computed from
its stored entries up to its latest signed checkpoint and cached in
``meeting_figures`` with that checkpoint's size and root; a later checkpoint (a seal)
makes the cache recompute. The report lists, for every meeting it counted, the log
origin, size and root it was computed over, so ``meetingd report verify`` can take the
same prefix of each exported bundle and recompute the same figures.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import NotFound
from recorder.checkpoint import Checkpoint
from recorder.note import parse_signed_note
from recorder.participation import MeetingSummary, committee_figures, member_timeline, summarise_meeting

from ..journal import Journal
from ..storage.models import Meeting, Member, MinutesCheckpoint, MinutesEntry, Participant
from ..storage.org_models import CommitteeRow, MeetingFiguresRow
from .org import load_tree, viewer_of

CHUNK = 500


@dataclass(frozen=True)
class Counted:
    """A meeting's summary and the signed prefix of its log it was computed from."""

    summary: MeetingSummary
    origin: str
    size: int
    root: str  # base64, as in the checkpoint


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


class Figures:
    def __init__(self, db: async_sessionmaker[AsyncSession], journal: Journal) -> None:
        self._db, self._journal = db, journal

    async def summaries(self, meeting_ids: Sequence[int]) -> list[Counted]:
        """Summaries of closed meetings (cached; recomputed when a newer checkpoint exists)."""
        out: list[Counted] = []
        async with self._db() as s:
            for chunk in _chunks(sorted(meeting_ids)):
                latest = dict(
                    (
                        await s.execute(
                            select(MinutesCheckpoint.meeting_id, func.max(MinutesCheckpoint.size))
                            .where(MinutesCheckpoint.meeting_id.in_(chunk))
                            .group_by(MinutesCheckpoint.meeting_id)
                        )
                    ).all()
                )
                cached = {
                    r.meeting_id: r
                    for r in (
                        await s.scalars(
                            select(MeetingFiguresRow).where(MeetingFiguresRow.meeting_id.in_(chunk))
                        )
                    ).all()
                }
                for mid in chunk:
                    size = latest.get(mid)
                    if not size:
                        continue  # never signed: nothing to count
                    row = cached.get(mid)
                    if row is not None and row.size == size:
                        out.append(
                            Counted(
                                MeetingSummary.from_dict(json.loads(row.summary)),
                                self._journal.origin(mid),
                                size,
                                row.root,
                            )
                        )
                        continue
                    out.append(await self._compute(s, mid, size, row))
            await s.commit()
        return out

    async def _compute(
        self, s: AsyncSession, meeting_id: int, size: int, row: MeetingFiguresRow | None
    ) -> Counted:
        note = await s.scalar(
            select(MinutesCheckpoint.note).where(
                MinutesCheckpoint.meeting_id == meeting_id, MinutesCheckpoint.size == size
            )
        )
        root = base64.b64encode(Checkpoint.parse(parse_signed_note(note or "").text).root_hash).decode()
        texts = (
            await s.scalars(
                select(MinutesEntry.canonical)
                .where(MinutesEntry.meeting_id == meeting_id, MinutesEntry.seq < size)
                .order_by(MinutesEntry.seq)
            )
        ).all()
        summary = summarise_meeting([json.loads(t) for t in texts])
        text = json.dumps(summary.to_dict(), ensure_ascii=False, separators=(",", ":"))
        if row is None:
            s.add(MeetingFiguresRow(meeting_id=meeting_id, size=size, root=root, summary=text))
        else:
            row.size, row.root, row.summary = size, root, text
        return Counted(summary, self._journal.origin(meeting_id), size, root)

    async def committee(
        self, caller: Member | None, committee_id: int, start: date, end: date, absent_run: int
    ) -> dict[str, Any]:
        """The committee's figures for the period, with the list of logs they came from.

        ``caller=None`` is the command line (an administrator on the server)."""
        async with self._db() as s:
            tree = await load_tree(s)
            row = await s.get(CommitteeRow, committee_id)
            if row is None:
                raise NotFound(f"no committee {committee_id}")
            if caller is not None:
                viewer = await viewer_of(s, caller)
                if not tree.may_see_committee(viewer, committee_id):
                    raise NotFound(f"no committee {committee_id}")
            cells = tree.cells_under(committee_id)
            ids = [c.id for c in cells]
            meetings: list[Any] = []
            for chunk in _chunks(ids):
                meetings += (
                    await s.execute(
                        select(
                            Meeting.id, Meeting.cell_id, Meeting.starts_at, Meeting.state, Meeting.opened_at
                        ).where(Meeting.cell_id.in_(chunk))
                    )
                ).all()
        names = {c.id: c.name for c in cells}
        scheduled: dict[str, int] = {}
        closed: list[int] = []
        for mid, cell_id, starts_at, state, opened_at in meetings:
            if start <= starts_at.date() <= end:
                scheduled[names[cell_id]] = scheduled.get(names[cell_id], 0) + 1
            # a day's margin: the period is applied to the minutes' own opened_at below
            if (
                state == "closed"
                and opened_at is not None
                and start - timedelta(days=1) <= opened_at.date() <= end + timedelta(days=1)
            ):
                closed.append(mid)
        counted = await self.summaries(closed)
        lo, hi = start.isoformat(), end.isoformat()
        figures = committee_figures(
            [c.summary for c in counted],
            cells=list(names.values()),
            scheduled=scheduled,
            start=lo,
            end=hi,
            absent_run=absent_run,
        )
        used = sorted(
            (
                c
                for c in counted
                if lo <= c.summary.opened_at[:10] <= hi
                and c.summary.cell in set(names.values())
                and c.summary.closed_at
            ),
            key=lambda c: c.origin,
        )
        return {
            "committee": {
                "id": row.id,
                "code": row.code,
                "name": row.name,
                "committees": sorted(tree.committees[k].code for k in tree.committees_under(committee_id)),
            },
            "cells": sorted(names.values()),
            "scheduled": dict(sorted(scheduled.items())),
            "figures": figures,
            "bundles": [
                {"meeting_id": c.summary.meeting_id, "origin": c.origin, "size": c.size, "root": c.root}
                for c in used
            ],
        }

    async def member_timeline(self, member_pk: int, member_id: str) -> list[dict[str, Any]]:
        async with self._db() as s:
            ids = (
                await s.scalars(
                    select(Meeting.id)
                    .join(Participant, Participant.meeting_id == Meeting.id)
                    .where(Participant.member_pk == member_pk, Meeting.state == "closed")
                )
            ).all()
        counted = await self.summaries(list(ids))
        return member_timeline([c.summary for c in counted], member_id)
