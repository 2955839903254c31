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
import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import NotFound
from recorder.checkpoint import Checkpoint
from recorder.note import parse_signed_note
from recorder.participation import (
    FIGURES_VERSION,
    SUMMARY_TYPES,
    MeetingSummary,
    committee_figures,
    member_timeline,
    summarise_meeting,
)

from ..journal import Journal
from ..storage.models import Meeting, Member, MinutesCheckpoint, MinutesEntry, Participant
from ..storage.org_models import CommitteeReportRow, CommitteeRow, MeetingFiguresRow
from .org import load_tree, viewer_of

CHUNK = 500
COMPUTE_CHUNK = 100  # meetings whose entries are parsed at once
MAX_DECODED = 50_000  # decoded meeting summaries kept in memory
MAX_REPORTS = 8


PAGE_OMITS = ("members", "polls")  # the page shows cells, trends and flags; reports carry all


def page_view(data: dict[str, Any]) -> dict[str, Any]:
    figures = {k: v for k, v in data["figures"].items() if k not in PAGE_OMITS}
    view = {k: v for k, v in data.items() if k != "bundles"}
    return {**view, "figures": figures, "bundles_count": len(data["bundles"])}


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
        # In memory, both checked against storage on every use: decoded summaries by
        # meeting (valid while its latest checkpoint size is the same), and whole reports
        # by (committee, period) with the fingerprint of everything they were computed from.
        self._decoded: dict[int, Counted] = {}
        self._reports: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = OrderedDict()

    def _remember(self, meeting_id: int, counted: Counted) -> Counted:
        if len(self._decoded) >= MAX_DECODED:
            self._decoded.pop(next(iter(self._decoded)))
        self._decoded[meeting_id] = counted
        return counted

    async def latest_sizes(self, s: AsyncSession, meeting_ids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(sorted(meeting_ids)):
            rows = await s.execute(
                select(MinutesCheckpoint.meeting_id, func.max(MinutesCheckpoint.size))
                .where(MinutesCheckpoint.meeting_id.in_(chunk))
                .group_by(MinutesCheckpoint.meeting_id)
            )
            out.update({mid: size for mid, size in rows.all()})
        return out

    async def summaries(self, meeting_ids: Sequence[int]) -> list[Counted]:
        """Summaries of closed meetings (cached; recomputed when a newer checkpoint exists).

        A few queries per chunk of meetings, whatever the chunk's size: latest checkpoint
        sizes, cached rows, then for the meetings to (re)compute their checkpoint notes and
        entries in one query each, and one bulk write of the new cache rows.
        """
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
                rows = await s.execute(
                    select(
                        MeetingFiguresRow.meeting_id,
                        MeetingFiguresRow.size,
                        MeetingFiguresRow.root,
                        MeetingFiguresRow.summary,
                    ).where(MeetingFiguresRow.meeting_id.in_(chunk))
                )
                cached = {mid: (size, root, summary) for mid, size, root, summary in rows.all()}
                todo: list[int] = []
                for mid in chunk:
                    size = latest.get(mid)
                    if not size:
                        continue  # never signed: nothing to count
                    known = self._decoded.get(mid)
                    if known is not None and known.size == size:
                        out.append(known)
                        continue
                    row = cached.get(mid)
                    doc = json.loads(row[2]) if row is not None and row[0] == size else None
                    if row is not None and doc is not None and doc.get("v") == FIGURES_VERSION:
                        summary = MeetingSummary.from_dict(doc)
                        out.append(
                            self._remember(mid, Counted(summary, self._journal.origin(mid), size, row[1]))
                        )
                    else:
                        todo.append(mid)
                todo = await self._only_sealed_since(s, todo, latest, cached, out)
                for part in range(0, len(todo), COMPUTE_CHUNK):  # bounded memory: parsed entries
                    ids = todo[part : part + COMPUTE_CHUNK]
                    out += await self._compute(s, ids, latest, stale=[m for m in ids if m in cached])
            await s.commit()
        return out

    async def _only_sealed_since(
        self,
        s: AsyncSession,
        todo: list[int],
        sizes: dict[int, int],
        cached: dict[int, tuple[int, str, str]],
        out: list[Counted],
    ) -> list[int]:
        """Keep a cached summary whose log only grew by entries the figures ignore (the seal):
        move it to the new checkpoint (size and root) instead of recomputing it."""
        grown = [
            m
            for m in todo
            if m in cached
            and cached[m][0] < sizes[m]
            and json.loads(cached[m][2]).get("v") == FIGURES_VERSION
        ]
        if not grown:
            return todo
        relevant = set(
            (
                await s.scalars(
                    select(MinutesEntry.meeting_id).where(
                        MinutesEntry.meeting_id.in_(grown),
                        MinutesEntry.type.in_(SUMMARY_TYPES),
                        MinutesEntry.seq
                        >= select(MeetingFiguresRow.size)
                        .where(MeetingFiguresRow.meeting_id == MinutesEntry.meeting_id)
                        .scalar_subquery(),
                    )
                )
            ).all()
        )
        keep = [m for m in grown if m not in relevant]
        roots = await self._roots(s, keep, sizes)
        for mid in keep:
            await s.execute(
                update(MeetingFiguresRow)
                .where(MeetingFiguresRow.meeting_id == mid)
                .values(size=sizes[mid], root=roots[mid])
            )
            summary = MeetingSummary.from_dict(json.loads(cached[mid][2]))
            out.append(
                self._remember(mid, Counted(summary, self._journal.origin(mid), sizes[mid], roots[mid]))
            )
        return [m for m in todo if m not in set(keep)]

    async def _roots(self, s: AsyncSession, ids: list[int], sizes: dict[int, int]) -> dict[int, str]:
        """Base64 root of each meeting's checkpoint at ``sizes[meeting]``."""
        if not ids:
            return {}
        rows = await s.execute(
            select(MinutesCheckpoint.meeting_id, MinutesCheckpoint.size, MinutesCheckpoint.note).where(
                MinutesCheckpoint.meeting_id.in_(ids)
            )
        )
        return {
            mid: base64.b64encode(Checkpoint.parse(parse_signed_note(note).text).root_hash).decode()
            for mid, size, note in rows.all()
            if size == sizes[mid]
        }

    async def _compute(
        self, s: AsyncSession, ids: list[int], sizes: dict[int, int], stale: list[int]
    ) -> list[Counted]:
        roots = await self._roots(s, ids, sizes)
        entries: dict[int, list[Any]] = {mid: [] for mid in ids}
        for mid, seq, text in (
            await s.execute(
                select(MinutesEntry.meeting_id, MinutesEntry.seq, MinutesEntry.canonical)
                .where(MinutesEntry.meeting_id.in_(ids), MinutesEntry.type.in_(SUMMARY_TYPES))
                .order_by(MinutesEntry.meeting_id, MinutesEntry.seq)
            )
        ).all():
            if seq < sizes[mid]:
                entries[mid].append(json.loads(text))
        out, rows = [], []
        for mid in ids:
            root = roots[mid]
            summary = summarise_meeting(entries.pop(mid))
            text = json.dumps(
                {**summary.to_dict(), "v": FIGURES_VERSION}, ensure_ascii=False, separators=(",", ":")
            )
            rows.append({"meeting_id": mid, "size": sizes[mid], "root": root, "summary": text})
            out.append(self._remember(mid, Counted(summary, self._journal.origin(mid), sizes[mid], root)))
        if stale:
            await s.execute(delete(MeetingFiguresRow).where(MeetingFiguresRow.meeting_id.in_(stale)))
        await s.execute(insert(MeetingFiguresRow), rows)
        return out

    async def committee(
        self,
        caller: Member | None,
        committee_id: int,
        start: date,
        end: date,
        absent_run: int,
        *,
        page: bool = False,
    ) -> dict[str, Any]:
        """The committee's figures for the period, with the list of logs they came from.

        ``page=True`` is what the committee page shows (:func:`page_view`): the same
        figures without the per-member and per-poll rows, and how many logs were counted.

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
        async with self._db() as s:
            latest = await self.latest_sizes(s, closed)
        key = (committee_id, start, end, absent_run)
        fingerprint = (
            FIGURES_VERSION,
            row.code,
            row.name,
            tuple(sorted(tree.committees_under(committee_id))),
            tuple(sorted(names.items())),
            tuple(sorted(scheduled.items())),
            tuple(sorted(latest.items())),
        )
        digest = hashlib.sha256(repr(fingerprint).encode()).hexdigest()
        stored_key = f"{committee_id}:{start}:{end}:{absent_run}"
        if page:
            hit = await self._cached((*key, "page"), f"{stored_key}:page", fingerprint, digest)
            if hit is not None:
                return hit
        full = await self._cached(key, stored_key, fingerprint, digest)
        if full is None:
            full = await self._compute_report(
                row, tree, committee_id, names, scheduled, closed, start, end, absent_run
            )
            await self._store(key, stored_key, fingerprint, digest, full)
        if not page:
            return full
        view = page_view(full)
        await self._store((*key, "page"), f"{stored_key}:page", fingerprint, digest, view)
        return view

    async def _cached(
        self, key: tuple[Any, ...], stored_key: str, fingerprint: Any, digest: str
    ) -> dict[str, Any] | None:
        memo = self._reports.get(key)
        if memo is not None and memo[0] == fingerprint:
            self._reports.move_to_end(key)
            return memo[1]
        async with self._db() as s:
            stored = await s.get(CommitteeReportRow, stored_key)
        if stored is None or stored.fingerprint != digest:
            return None
        data: dict[str, Any] = json.loads(stored.data)
        self._memo(key, fingerprint, data)
        return data

    async def _store(
        self, key: tuple[Any, ...], stored_key: str, fingerprint: Any, digest: str, data: dict[str, Any]
    ) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._db() as s, s.begin():
            await s.merge(CommitteeReportRow(key=stored_key, fingerprint=digest, data=text))
        self._memo(key, fingerprint, data)

    async def _compute_report(
        self,
        row: CommitteeRow,
        tree: Any,
        committee_id: int,
        names: dict[int, str],
        scheduled: dict[str, int],
        closed: list[int],
        start: date,
        end: date,
        absent_run: int,
    ) -> dict[str, Any]:
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
        wanted = set(names.values())
        used = sorted(
            (
                c
                for c in counted
                if lo <= c.summary.opened_at[:10] <= hi and c.summary.cell in wanted and c.summary.closed_at
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

    def _memo(self, key: tuple[Any, ...], fingerprint: Any, data: dict[str, Any]) -> None:
        self._reports[key] = (fingerprint, data)
        if len(self._reports) > MAX_REPORTS:
            self._reports.popitem(last=False)

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
