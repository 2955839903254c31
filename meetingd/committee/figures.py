"""Participation figures across meetings, from the signed minutes of closed meetings.

Each closed meeting's :class:`recorder.participation.MeetingSummary` is stored once, when
its minutes are signed at close and at the seal (:mod:`meetingd.committee.summaries`);
the committee's figures aggregate those. The report lists, for every meeting it counted,
the log origin, size and root its summary was computed over, so ``meetingd report
verify`` can take the same prefix of each exported bundle and recompute the same figures.

The figures are a kept fold (:class:`recorder.committee_fold.CommitteeFold`) per committee
and period: a closed meeting is folded in once, when a request first sees its summary, in
O(that meeting); a seal only moves its tag. The fold is stored in ``committee_folds`` after
each change, so a new process loads it and folds in only the meetings that changed since
(each stored meeting names the size and root of the summary it folded, checked against
``meeting_summaries``) instead of refolding the period.

Whole reports are cached by (committee, period) with the fingerprint of everything they
were computed from (cells, scheduled meetings, every counted log's latest checkpoint):
in memory, and in ``committee_reports`` for a restarted server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import NotFound
from recorder.committee_fold import CommitteeFold
from recorder.participation import FIGURES_VERSION, MeetingSummary, member_timeline

from ..storage.fold_models import CommitteeFoldRow
from ..storage.models import Meeting, Member, Participant
from ..storage.org_models import CommitteeReportRow, CommitteeRow
from .org import load_tree, viewer_of
from .summaries import MeetingSummaries, chunks

logger = logging.getLogger(__name__)

MAX_REPORTS = 8
STORE_DELAY = 1.0  # seconds a changed fold waits before it is stored (later changes join it)

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
        # the kept folds by (committee, from, to): each closed meeting's summary folded in once
        self._folds: OrderedDict[tuple[int, str, str], CommitteeFold] = OrderedDict()
        self._locks: dict[tuple[int, str, str], asyncio.Lock] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._pending: set[tuple[int, str, str]] = set()  # folds to be stored soon
        self._store_lock = asyncio.Lock()
        self.folds = 0  # times a period's figures were folded from nothing (tests and bench read it)
        self.extended = 0  # times a kept fold took in what changed (new, replaced, gone meetings)

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
            memo = self._reports.get(key)  # the whole report, when in memory and still valid
            if memo is not None and memo[0] == fingerprint:
                view = page_view(memo[1])
            else:  # the page's figures only: no per-member and per-poll rows to build
                view = page_view(
                    await self._compute_report(
                        row, tree, committee_id, names, scheduled, latest, start, end, absent_run, rows=False
                    )
                )
            self._memo((*key, "page"), fingerprint, view)
            # the stored copy (for a restarted server) is written after the answer: it is a cache
            self._later(self._store((*key, "page"), f"{stored_key}:page", fingerprint, digest, view))
            return view
        full = await self._cached(key, stored_key, fingerprint, digest)
        if full is None:
            full = await self._compute_report(
                row, tree, committee_id, names, scheduled, latest, start, end, absent_run, rows=True
            )
            await self._store(key, stored_key, fingerprint, digest, full)
        return full

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("a committee cache (page copy or fold) was not stored: %s", task.exception())

    async def flush(self) -> None:
        """Wait for the cached copies still being written (tests, shutdown)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def _cached(
        self, key: tuple[Any, ...], stored_key: str, fingerprint: Any, digest: str
    ) -> dict[str, Any] | None:
        memo = self._reports.get(key)
        if memo is not None and memo[0] == fingerprint:
            self._reports.move_to_end(key)
            return memo[1]
        async with self._db() as s:  # the (large) data only when it is still valid
            text = await s.scalar(
                select(CommitteeReportRow.data).where(
                    CommitteeReportRow.key == stored_key, CommitteeReportRow.fingerprint == digest
                )
            )
        if text is None:
            return None
        data: dict[str, Any] = json.loads(text)
        self._memo(key, fingerprint, data)
        return data

    async def _store(
        self, key: tuple[Any, ...], stored_key: str, fingerprint: Any, digest: str, data: dict[str, Any]
    ) -> None:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        async with self._db() as s, s.begin():  # replaced without reading the old (large) row
            await s.execute(delete(CommitteeReportRow).where(CommitteeReportRow.key == stored_key))
            s.add(CommitteeReportRow(key=stored_key, fingerprint=digest, data=text))
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
        *,
        rows: bool,
    ) -> dict[str, Any]:
        lo, hi = start.isoformat(), end.isoformat()
        fold_key = (committee_id, lo, hi)
        lock = self._locks.setdefault(fold_key, asyncio.Lock())
        async with lock:
            fold = await self._bring_fold_up(fold_key, sorted(set(names.values())), latest)
            figures = fold.figures(scheduled, absent_run, rows=rows)
            used = sorted(
                (
                    (self.summaries.origin(int(k)), r["mid"], r["tag"])
                    for k, r in fold.meetings.items()
                    if r["counted"]
                ),
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
                {"meeting_id": mid, "origin": origin, "size": tag[0], "root": tag[1]}
                for origin, mid, tag in used
            ],
        }

    async def _bring_fold_up(
        self, fold_key: tuple[int, str, str], cells: list[str], latest: dict[int, int]
    ) -> CommitteeFold:
        """The period's fold with every closed meeting's current summary folded in: kept in
        memory, or stored by an earlier process, extended by what changed since (a seal
        only moves a meeting's tag); folded from nothing when there is neither."""
        fold = self._folds.get(fold_key)
        if fold is None or fold.cells != cells:
            fold = await self._load_fold(fold_key, cells)
        self._folds[fold_key] = fold
        self._folds.move_to_end(fold_key)
        if len(self._folds) > MAX_REPORTS:
            self._folds.popitem(last=False)
        from_nothing = not fold.meetings
        # a log's checkpoint of a given size is one, so a meeting folded at its latest size is
        # current; only the others' stored summaries are looked at
        kept = fold.meetings
        current: dict[str, Any] = {
            k: kept[k]["tag"] for m in latest if (k := str(m)) in kept and kept[k]["tag"][0] == latest[m]
        }
        ask = [m for m in latest if str(m) not in current]
        heads = await self.summaries.heads(ask, latest) if ask else {}
        current.update({str(m): [size, root] for m, (size, root) in heads.items()})
        behind = [m for m in ask if m not in heads]  # no row at the latest checkpoint yet
        counted = {str(c.meeting): c for c in await self.summaries.of(behind, latest)} if behind else {}
        current.update({k: [c.size, c.root] for k, c in counted.items()})
        changed = [
            k for k, tag in current.items() if k not in fold.meetings or fold.meetings[k]["tag"] != tag
        ]
        removed = [k for k in fold.meetings if k not in current]
        missing = [int(k) for k in changed if k not in counted]
        if missing:
            counted.update({str(c.meeting): c for c in await self.summaries.of(missing, latest)})
        added: dict[str, MeetingSummary] = {}
        for k in changed:
            c = counted.get(k)
            if c is None:  # its row went meanwhile: it is counted on the next request
                continue
            before = fold.meetings.get(k)
            if before is not None and before["digest"] == c.digest:
                fold.retag(k, [c.size, c.root])  # the same summary over a longer log: a seal
            else:
                added[k] = c.summary
        if added or removed:
            need = fold.needs(added, removed)
            history = (
                {str(c.meeting): c.summary for c in await self.summaries.of([int(k) for k in need], latest)}
                if need
                else {}
            )
            fold.apply(
                added,
                removed,
                tags={k: [counted[k].size, counted[k].root] for k in added},
                digests={k: counted[k].digest for k in added},
                history=history,
            )
            if from_nothing:
                self.folds += 1
            else:
                self.extended += 1
        if changed or removed:
            self._store_soon(fold_key)
        return fold

    def _store_soon(self, fold_key: tuple[int, str, str]) -> None:
        """Store the fold after :data:`STORE_DELAY`: the changes meanwhile are written once."""
        if fold_key not in self._pending:
            self._pending.add(fold_key)
            self._later(self._store_fold(fold_key))

    async def _load_fold(self, fold_key: tuple[int, str, str], cells: list[str]) -> CommitteeFold:
        """The fold a (possibly earlier) process stored for this period, else the one stored
        last for another period of the committee moved to this one (the page's default period
        moves daily), if of these cells and formats; else an empty one."""
        async with self._db() as s:
            text = await s.scalar(
                select(CommitteeFoldRow.state).where(CommitteeFoldRow.key == _fold_id(fold_key))
            )
            moved = text is None
            if moved:
                text = await s.scalar(
                    select(CommitteeFoldRow.state)
                    .where(CommitteeFoldRow.key.startswith(f"{fold_key[0]}:"))
                    .order_by(CommitteeFoldRow.written_at.desc())
                    .limit(1)
                )
        if text is not None:
            try:
                fold = CommitteeFold.from_dict(json.loads(text))
            except (ValueError, KeyError, TypeError) as exc:
                logger.info("committee fold %s not reused: %s", _fold_id(fold_key), exc)
            else:
                if fold.cells == cells:
                    if moved:
                        await self._move_fold(fold, fold_key)
                    return fold
        return CommitteeFold(cells, fold_key[1], fold_key[2])

    async def _move_fold(self, fold: CommitteeFold, fold_key: tuple[int, str, str]) -> None:
        gone = fold.moved_to(fold_key[1], fold_key[2])
        if gone:
            need = fold.needs({}, gone)
            history = (
                {str(c.meeting): c.summary for c in await self.summaries.of([int(k) for k in need])}
                if need
                else {}
            )
            fold.apply({}, gone, history=history)

    async def _store_fold(self, fold_key: tuple[int, str, str]) -> None:
        """Write the fold for a restarted server, :data:`STORE_DELAY` after it changed."""
        await asyncio.sleep(STORE_DELAY)
        self._pending.discard(fold_key)
        async with self._store_lock:  # one write at a time: the newest state is written last
            async with self._locks.setdefault(fold_key, asyncio.Lock()):  # no change while encoding
                fold = self._folds.get(fold_key)
                if fold is None:
                    return
                text = await asyncio.to_thread(
                    lambda: json.dumps(fold.to_dict(), ensure_ascii=False, separators=(",", ":"))
                )
            async with self._db() as s, s.begin():
                await s.execute(delete(CommitteeFoldRow).where(CommitteeFoldRow.key == _fold_id(fold_key)))
                s.add(CommitteeFoldRow(key=_fold_id(fold_key), state=text, written_at=self.summaries.clock()))

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


def _fold_id(fold_key: tuple[int, str, str]) -> str:
    return ":".join(map(str, fold_key))
