"""Each closed meeting's participation summary, computed once from its signed minutes.

:meth:`MeetingSummaries.meeting_signed` listens to the journal: when a checkpoint is
signed for a closed meeting (its closing checkpoint, then its seal's), the meeting's
:class:`recorder.participation.MeetingSummary` is folded from exactly the entries that
checkpoint signs and stored in ``meeting_summaries`` with its size and root. The seal
adds only entries the figures ignore, so its checkpoint just moves the row forward.

:meth:`MeetingSummaries.of` reads them for the committee's figures. A closed meeting
with no row, or a row behind its latest checkpoint (closed before this existed, or a
listener that failed), is computed there, in bounded chunks, and stored: the backfill
is lazy and idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock
from recorder.checkpoint import Checkpoint
from recorder.note import parse_signed_note
from recorder.participation import SUMMARY_FORMAT, SUMMARY_TYPES, MeetingSummary, summarise_meeting

from ..journal import Journal
from ..storage.models import MinutesCheckpoint, MinutesEntry
from ..storage.participation_models import MeetingSummaryRow

logger = logging.getLogger(__name__)

CHUNK = 500  # meeting ids per query
COMPUTE_CHUNK = 100  # meetings whose entries are parsed at once (bounded memory)
MAX_DECODED = 50_000  # decoded summaries kept in memory


@dataclass(frozen=True)
class Counted:
    """A meeting's summary and the signed prefix of its log it was computed from."""

    summary: MeetingSummary
    origin: str
    size: int
    root: str  # base64, as in the checkpoint
    digest: str  # of the summary's stored text: equal digests, equal summaries
    meeting: int  # the meeting's id in storage


def chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _encode(summary: MeetingSummary) -> str:
    return json.dumps(summary.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class MeetingSummaries:
    def __init__(self, db: async_sessionmaker[AsyncSession], journal: Journal, clock: Clock) -> None:
        self._db, self._journal, self._clock = db, journal, clock
        self.clock = clock
        # decoded rows by meeting, valid while the stored size is the same
        self._decoded: dict[int, Counted] = {}
        self.computed = 0  # summaries folded from minutes entries so far (what a backfill costs)
        self.decoded = 0  # summaries brought into memory (from rows or computed)

    def origin(self, meeting_id: int) -> str:
        """The meeting's minutes log origin (what a report lists it by)."""
        return self._journal.origin(meeting_id)

    def _remember(self, meeting_id: int, counted: Counted) -> Counted:
        if len(self._decoded) >= MAX_DECODED:
            self._decoded.pop(next(iter(self._decoded)))
        self._decoded[meeting_id] = counted
        self.decoded += 1
        return counted

    async def meeting_signed(self, meeting_id: int, size: int) -> None:
        """Journal listener: a checkpoint of ``size`` entries was signed for the meeting.
        Once the meeting is closed, its summary is brought to that checkpoint."""
        if not await self._journal.is_closed(meeting_id):
            return
        async with self._db() as s:
            got = await self._bring_up(s, [meeting_id], {meeting_id: size})
            await s.commit()
        if got:
            logger.debug("meeting=%s participation summary at size=%s", meeting_id, size)

    async def latest_sizes(self, s: AsyncSession, meeting_ids: Sequence[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in chunks(sorted(meeting_ids)):
            rows = await s.execute(
                select(MinutesCheckpoint.meeting_id, func.max(MinutesCheckpoint.size))
                .where(MinutesCheckpoint.meeting_id.in_(chunk))
                .group_by(MinutesCheckpoint.meeting_id)
            )
            out.update({mid: size for mid, size in rows.all()})
        return out

    async def heads(self, meeting_ids: Sequence[int], latest: dict[int, int]) -> dict[int, tuple[int, str]]:
        """(size, root) of each meeting's stored summary that is of this format and at the
        meeting's latest checkpoint, without reading the summaries; the others are left
        out (:meth:`of` brings them up)."""
        out: dict[int, tuple[int, str]] = {}
        ask: list[int] = []
        for m in meeting_ids:
            c = self._decoded.get(m)
            if c is not None and c.size == latest.get(m):
                out[m] = (c.size, c.root)
            else:
                ask.append(m)
        if not ask:
            return out
        async with self._db() as s:
            for chunk in chunks(sorted(ask)):
                rows = await s.execute(
                    select(
                        MeetingSummaryRow.meeting_id,
                        MeetingSummaryRow.format,
                        MeetingSummaryRow.size,
                        MeetingSummaryRow.root,
                    ).where(MeetingSummaryRow.meeting_id.in_(chunk))
                )
                for mid, fmt, size, root in rows.all():
                    if fmt == SUMMARY_FORMAT and size == latest.get(mid):
                        out[mid] = (size, root)
        return out

    async def of(self, meeting_ids: Sequence[int], latest: dict[int, int] | None = None) -> list[Counted]:
        """The summaries of these (closed) meetings at their latest signed checkpoint.

        ``latest`` (meeting -> latest checkpoint size) may be passed when already read.
        Meetings never signed have none. A few queries per chunk of meetings."""
        out: list[Counted] = []
        async with self._db() as s:
            if latest is None:
                latest = await self.latest_sizes(s, meeting_ids)
            for chunk in chunks(sorted(m for m in meeting_ids if latest.get(m))):
                out += await self._bring_up(s, list(chunk), latest)
            await s.commit()
        return out

    async def _bring_up(self, s: AsyncSession, ids: list[int], latest: dict[int, int]) -> list[Counted]:
        """Summaries of ``ids`` at ``latest[id]``: from memory, from their rows, moved forward
        over entries the figures ignore, or computed from the entries (then stored)."""
        out: list[Counted] = []
        unknown = [m for m in ids if (c := self._decoded.get(m)) is None or c.size != latest[m]]
        for m in ids:
            if m not in unknown:
                out.append(self._decoded[m])
        if not unknown:
            return out
        rows = await s.execute(
            select(
                MeetingSummaryRow.meeting_id,
                MeetingSummaryRow.format,
                MeetingSummaryRow.size,
                MeetingSummaryRow.root,
                MeetingSummaryRow.summary,
            ).where(MeetingSummaryRow.meeting_id.in_(unknown))
        )
        found = rows.all()
        stored = {mid: (size, root, text) for mid, fmt, size, root, text in found if fmt == SUMMARY_FORMAT}
        existing = {r[0] for r in found}  # rows to replace (of this format or an older one)
        behind: list[int] = []
        todo: list[int] = []
        for m in unknown:
            row = stored.get(m)
            if row is not None and row[0] == latest[m]:
                summary = MeetingSummary.from_dict(json.loads(row[2]))
                out.append(
                    self._remember(
                        m, Counted(summary, self._journal.origin(m), row[0], row[1], _digest(row[2]), m)
                    )
                )
            elif row is not None and row[0] < latest[m]:
                behind.append(m)
            else:
                todo.append(m)
        if behind:
            # entries the figures read, signed after the row's size: those must be recomputed
            changed = set(
                (
                    await s.scalars(
                        select(MinutesEntry.meeting_id).where(
                            MinutesEntry.meeting_id.in_(behind),
                            MinutesEntry.type.in_(SUMMARY_TYPES),
                            MinutesEntry.seq
                            >= select(MeetingSummaryRow.size)
                            .where(MeetingSummaryRow.meeting_id == MinutesEntry.meeting_id)
                            .scalar_subquery(),
                        )
                    )
                ).all()
            )
            todo += [m for m in behind if m in changed]
            moved = [m for m in behind if m not in changed]
            roots = await self._roots(s, moved, latest)
            for m in moved:
                await s.execute(
                    update(MeetingSummaryRow)
                    .where(MeetingSummaryRow.meeting_id == m)
                    .values(size=latest[m], root=roots[m])
                )
                summary = MeetingSummary.from_dict(json.loads(stored[m][2]))
                counted = Counted(
                    summary, self._journal.origin(m), latest[m], roots[m], _digest(stored[m][2]), m
                )
                out.append(self._remember(m, counted))
        todo.sort()
        for part in range(0, len(todo), COMPUTE_CHUNK):
            batch = todo[part : part + COMPUTE_CHUNK]
            out += await self._compute(s, batch, latest, [m for m in batch if m in existing])
        return out

    async def _roots(self, s: AsyncSession, ids: list[int], sizes: dict[int, int]) -> dict[int, str]:
        """Base64 root of each meeting's checkpoint at ``sizes[meeting]``."""
        if not ids:
            return {}
        rows = await s.execute(
            select(MinutesCheckpoint.meeting_id, MinutesCheckpoint.note).where(
                tuple_(MinutesCheckpoint.meeting_id, MinutesCheckpoint.size).in_([(m, sizes[m]) for m in ids])
            )
        )
        return {
            mid: base64.b64encode(Checkpoint.parse(parse_signed_note(note).text).root_hash).decode()
            for mid, note in rows.all()
        }

    async def _compute(
        self, s: AsyncSession, ids: list[int], sizes: dict[int, int], stale: list[int]
    ) -> list[Counted]:
        """Fold each meeting's entries below its signed size; store the rows."""
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
        now = self._clock()
        for mid in ids:
            summary = summarise_meeting(entries.pop(mid))
            root, text = roots[mid], _encode(summary)
            rows.append(
                {
                    "meeting_id": mid,
                    "format": SUMMARY_FORMAT,
                    "size": sizes[mid],
                    "root": root,
                    "summary": text,
                    "computed_at": now,
                }
            )
            counted = Counted(summary, self._journal.origin(mid), sizes[mid], root, _digest(text), mid)
            out.append(self._remember(mid, counted))
        self.computed += len(rows)
        if stale:
            await s.execute(delete(MeetingSummaryRow).where(MeetingSummaryRow.meeting_id.in_(stale)))
        await s.execute(insert(MeetingSummaryRow), rows)
        return out
