"""Participation figures across meetings, from the signed minutes of closed meetings.

Each closed meeting's :class:`recorder.participation.MeetingSummary` is stored once, when
its minutes are signed at close and at the seal (:mod:`meetingd.committee.summaries`);
the committee's figures aggregate those. The report lists, for every meeting it counted,
the log origin, size and root its summary was computed over, so ``meetingd report
verify`` can take the same prefix of each exported bundle and recompute the same figures.

Whole reports are cached by (committee, period) with the fingerprint of everything they
were computed from (cells, scheduled meetings, every counted log's latest checkpoint):
in memory, and in ``committee_reports`` for a restarted server.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import NotFound
from recorder.participation import FIGURES_VERSION, committee_figures, member_timeline

from ..storage.models import Meeting, Member, Participant
from ..storage.org_models import CommitteeReportRow, CommitteeRow
from .org import load_tree, viewer_of
from .summaries import MeetingSummaries, chunks

MAX_REPORTS = 8

PAGE_OMITS = ("members", "polls")  # the page shows cells, trends and flags; reports carry all


def page_view(data: dict[str, Any]) -> dict[str, Any]:
    figures = {k: v for k, v in data["figures"].items() if k not in PAGE_OMITS}
    view = {k: v for k, v in data.items() if k != "bundles"}
    return {**view, "figures": figures, "bundles_count": len(data["bundles"])}


class Figures:
    def __init__(self, db: async_sessionmaker[AsyncSession], summaries: MeetingSummaries) -> None:
        self._db, self.summaries = db, summaries
        # whole reports by (committee, period[, "page"]) with what they were computed from
        self._reports: OrderedDict[tuple[Any, ...], tuple[Any, dict[str, Any]]] = OrderedDict()

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
            for chunk in chunks(ids):
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
            latest = await self.summaries.latest_sizes(s, closed)
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
                row, tree, committee_id, names, scheduled, latest, start, end, absent_run
            )
            if page:  # the page keeps its own copy below; the whole report is written when asked for
                self._memo(key, fingerprint, full)
            else:
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
        latest: dict[int, int],
        start: date,
        end: date,
        absent_run: int,
    ) -> dict[str, Any]:
        counted = await self.summaries.of(list(latest), latest)
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
        counted = await self.summaries.of(list(ids))
        return member_timeline([c.summary for c in counted], member_id)
