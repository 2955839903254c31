"""The organisation log: profile changes, profile reads, refused edits, imports.

Stored like the minutes (``org_log_entries`` + ``org_log_checkpoints``) and kept in
memory as a :class:`recorder.minutes_log.MinutesLog` under origin ``<prefix>/org``.
Every append is one transaction holding the entries and a checkpoint signed over them,
so what is stored is always signed. If the commit fails the in-memory log is dropped
and rebuilt from storage on the next use.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import InvalidInput, InvalidState
from recorder.canonical import parse_canonical
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer
from recorder.org_log import ORG_ENTRY_TYPES, export_org_log

from ..storage.org_models import OrgLogCheckpoint, OrgLogEntry

logger = logging.getLogger(__name__)


class OrgTx:
    """A transaction of the organisation log: rows of the caller and log entries together."""

    def __init__(self, session: AsyncSession, log: MinutesLog, clock: Clock) -> None:
        self.session, self._log, self._clock = session, log, clock
        self.pending: list[dict[str, Any]] = []

    def append(self, type: str, **fields: Any) -> dict[str, Any]:
        if type not in ORG_ENTRY_TYPES:
            raise InvalidInput(f"the organisation log has no entry type {type!r}")
        entry = {"type": type, **fields, "seq": self._log.size, "at": iso(self._clock())}
        canonical = self._log.append(entry).canonical.decode("utf-8")
        self.session.add(
            OrgLogEntry(seq=entry["seq"], type=type, member_id=fields.get("member_id"), canonical=canonical)
        )
        self.pending.append(entry)
        return entry


class OrgLog:
    def __init__(self, db: async_sessionmaker[AsyncSession], signer: Ed25519Signer, clock: Clock) -> None:
        self._db, self._signer, self._clock = db, signer, clock
        self._log: MinutesLog | None = None
        self._lock = asyncio.Lock()

    @property
    def origin(self) -> str:
        return self._signer.name

    async def _load(self) -> MinutesLog:
        if self._log is None:
            async with self._db() as s:
                texts = (await s.scalars(select(OrgLogEntry.canonical).order_by(OrgLogEntry.seq))).all()
                notes = (await s.scalars(select(OrgLogCheckpoint.note).order_by(OrgLogCheckpoint.size))).all()
            log = MinutesLog.restore(self.origin, list(texts), list(notes), log_key=self._signer.verifier_key)
            problems = log.inconsistencies()
            if problems:
                logger.error(
                    "origin=%s storage contradicts its checkpoints: %s", self.origin, "; ".join(problems)
                )
                raise InvalidState(
                    "the organisation log in storage contradicts its signed "
                    "checkpoints: " + "; ".join(problems)
                )
            self._log = log
        return self._log

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[OrgTx]:
        """One storage transaction that may append entries; signed before it commits."""
        async with self._lock:
            log = await self._load()
            tx: OrgTx | None = None
            try:
                async with self._db() as s, s.begin():
                    tx = OrgTx(s, log, self._clock)
                    yield tx
                    if tx.pending:
                        note = log.checkpoint(self._signer)
                        s.add(OrgLogCheckpoint(size=log.size, note=note, at=self._clock()))
            except BaseException:
                if tx is not None and tx.pending:
                    self._log = None  # the tree grew past what storage holds: rebuild
                raise

    async def append(self, type: str, **fields: Any) -> dict[str, Any]:
        async with self.transaction() as tx:
            return tx.append(type, **fields)

    async def member_entries(self, member_id: str) -> list[dict[str, Any]]:
        async with self._db() as s:
            texts = (
                await s.scalars(
                    select(OrgLogEntry.canonical)
                    .where(OrgLogEntry.member_id == member_id)
                    .order_by(OrgLogEntry.seq)
                )
            ).all()
        return [parse_canonical(t) for t in texts]

    async def export(self) -> dict[str, Any]:
        async with self._lock:
            log = await self._load()
            return export_org_log(self.origin, self._signer.verifier_key, log.entries, log.checkpoints)
