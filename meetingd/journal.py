"""The minutes journal: every meeting fact is appended in the same transaction as the fact.

Usage (the one way facts reach the minutes)::

    async with journal.transaction(meeting_id) as tx:
        tx.session.add(SomeRow(...))            # the fact itself
        tx.record("member_checked_in", member_id="C1-001", attendance="main_room")
    # committed: rows and minutes entries are on disk together, or neither is

A per-meeting lock orders transactions, so ``seq`` follows commit order and the
in-memory Merkle tree (``recorder.MinutesLog``) matches the database. A background
task signs a checkpoint every ``checkpoint_seconds`` while entries arrive, and
:meth:`Journal.checkpoint_now` signs one at once (meeting close).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import InvalidInput, InvalidState
from recorder.canonical import canonicalize
from recorder.checkpoint import add_cosignatures
from recorder.entry_types import ENTRY_TYPES
from recorder.minutes_log import MinutesLog
from recorder.note import Ed25519Signer, NoteSignature, parse_signed_note
from recorder.receipt import Receipt

from .storage.dialect import lock_meeting_log
from .storage.models import MinutesCheckpoint, MinutesEntry

logger = logging.getLogger(__name__)

CLOSED_TYPE = "meeting_closed"
SEAL_TYPE = "minutes_rendered"
PRESENCE_TYPES = frozenset(
    {"member_joined", "member_left", "quorum_reached", "quorum_lost", "quorum_changed", "poll_quorum_changed"}
)
"""Facts about who is connected: minutes facts only while the meeting is open."""


class MinutesSealed(InvalidState):
    """The meeting's minutes are sealed: its log takes no further entry, ever."""

    code = "minutes_sealed"


@dataclass
class _LogState:
    log: MinutesLog
    signer: Ed25519Signer
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    checkpointed_size: int = 0
    closed: bool = False  # a meeting_closed entry is in the log
    sealed_seq: int | None = None  # seq of the minutes_rendered entry, once sealed
    last_at: datetime | None = None  # time of the latest entry: ``at`` never runs backwards

    def note(self, type: str, seq: int) -> None:
        if type == CLOSED_TYPE:
            self.closed = True
        elif type == SEAL_TYPE and self.sealed_seq is None:
            self.sealed_seq = seq


class JournalTx:
    """One storage transaction that may append minutes entries."""

    def __init__(self, session: AsyncSession, state: _LogState, meeting_id: int, clock: Clock) -> None:
        self.session, self._state, self._meeting_id, self._clock = session, state, meeting_id, clock
        self.pending: list[dict[str, Any]] = []
        self._rows: list[dict[str, Any]] = []  # minutes_entries rows, inserted at the end
        self._last_at = state.last_at

    @property
    def origin(self) -> str:
        """The meeting's log origin (``<prefix>/<meeting id>``)."""
        return self._state.log.origin

    @property
    def closed(self) -> bool:
        """The meeting's log holds ``meeting_closed`` (committed or in this transaction)."""
        return self._state.closed or any(e["type"] == CLOSED_TYPE for e in self.pending)

    @property
    def sealed(self) -> bool:
        return self._state.sealed_seq is not None or any(e["type"] == SEAL_TYPE for e in self.pending)

    def sign_receipt(self, poll_id: int, receipt: str, index: int | None) -> str:
        """The server's signed statement that a ballot is (at ``index``) in this log.

        Given to the voter in the ack, which is sent only after this transaction commits.
        """
        statement = Receipt(
            self._state.log.origin,
            str(poll_id),
            receipt,
            index,
            int(self._last_at.timestamp() if self._last_at else self._clock().timestamp()),
        )
        return statement.sign(self._state.signer)

    def record(self, type: str, **fields: Any) -> dict[str, Any]:
        """Append one entry (canonical JSON; integers below 2^53) to this transaction.

        Raises :class:`MinutesSealed` once the minutes are sealed, and
        :class:`InvalidState` (``meeting_closed``) for a presence fact after close.
        """
        if type not in ENTRY_TYPES:
            logger.error("meeting=%s refused minutes entry of undeclared type %r", self._meeting_id, type)
            raise InvalidInput(
                f"{type!r} is not a declared minutes entry type "
                "(recorder/entry_types.py, docs/minutes-format.md)",
                code="unknown_entry_type",
                type=type,
            )
        if self.sealed:
            logger.error(
                "meeting=%s refused minutes entry type=%s: the minutes are sealed "
                "(seq=%s); nothing is appended after the seal",
                self._meeting_id,
                type,
                self._state.sealed_seq,
            )
            raise MinutesSealed(
                f"the minutes of meeting {self._meeting_id} are sealed; no {type!r} entry can be appended",
                type=type,
            )
        if type in PRESENCE_TYPES and self.closed:
            logger.warning(
                "meeting=%s refused minutes entry type=%s: the meeting is closed", self._meeting_id, type
            )
            raise InvalidState(
                f"meeting {self._meeting_id} is closed; {type!r} is not a minutes fact any more",
                code="meeting_closed",
                type=type,
            )
        fields.pop("at", None)  # the journal's clock stamps every entry, in log order
        now = self._clock()
        last = self._last_at
        if last is not None and now < last:  # the clock stepped back: keep the order true
            logger.warning(
                "meeting=%s clock is %s behind the previous entry; using its time",
                self._meeting_id,
                last - now,
            )
            now = last
        self._last_at = now
        entry = {
            "type": type,
            "seq": self._state.log.size + len(self.pending),
            "at": iso(now),
            "meeting_id": self._meeting_id,
            **fields,
        }
        canonical = canonicalize(entry).decode("utf-8")  # validates before anything is stored
        row = {"meeting_id": self._meeting_id, "seq": entry["seq"], "type": type, "canonical": canonical}
        self._rows.append(row)
        self.pending.append(entry)
        return entry

    async def write_entries(self) -> None:
        """Insert the entries recorded so far, in one statement (the transaction's last
        step: no ORM unit of work, which cost ~0.3 ms per entry in the vote bench)."""
        if self._rows:
            rows, self._rows = self._rows, []
            await self.session.execute(insert(MinutesEntry), rows)


class Journal:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        key: Ed25519PrivateKey | Callable[[], Ed25519PrivateKey],
        origin_prefix: str,
        clock: Clock,
        checkpoint_seconds: float = 5.0,
    ) -> None:
        """``key`` may be a function that opens it: called once, when first needed (a CLI
        command that never touches the minutes needs no passphrase)."""
        self._db, self._clock = db, clock
        self._key_source = key
        self._opened: Ed25519PrivateKey | None = key if isinstance(key, Ed25519PrivateKey) else None
        self._prefix = origin_prefix.rstrip("/")
        self._interval = checkpoint_seconds
        self._states: dict[int, _LogState] = {}
        self._load_lock = asyncio.Lock()
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._checkpoint_listeners: list[Callable[[int, int], Awaitable[None]]] = []

    def origin(self, meeting_id: int) -> str:
        return f"{self._prefix}/{meeting_id}"

    @property
    def key(self) -> Ed25519PrivateKey:
        """The server's minutes key (opened on first use; raises if it cannot be)."""
        if self._opened is None:
            source = self._key_source
            assert not isinstance(source, Ed25519PrivateKey)
            self._opened = source()
        return self._opened

    def signer(self, meeting_id: int) -> Ed25519Signer:
        return Ed25519Signer(self.origin(meeting_id), self.key)

    def signer_for(self, origin: str) -> Ed25519Signer:
        """The server's minutes key signing another log (the organisation log)."""
        return Ed25519Signer(origin, self.key)

    async def _state(self, meeting_id: int) -> _LogState:
        state = self._states.get(meeting_id)
        if state is not None:
            return state
        async with self._load_lock:
            state = self._states.get(meeting_id)
            if state is None:
                async with self._db() as s:
                    state = await self._load(s, meeting_id)
                self._states[meeting_id] = state
                if state.checkpointed_size < state.log.size:
                    self._mark_dirty(meeting_id)
        return state

    async def _load(self, s: AsyncSession, meeting_id: int) -> _LogState:
        """The log as stored: entries, checkpoints, and what they say (closed, sealed)."""
        signer = self.signer(meeting_id)
        rows = (
            await s.execute(
                select(MinutesEntry.canonical, MinutesEntry.type, MinutesEntry.seq)
                .where(MinutesEntry.meeting_id == meeting_id)
                .order_by(MinutesEntry.seq)
            )
        ).all()
        checkpoints = (
            await s.execute(
                select(MinutesCheckpoint.size, MinutesCheckpoint.note)
                .where(MinutesCheckpoint.meeting_id == meeting_id)
                .order_by(MinutesCheckpoint.size)
            )
        ).all()
        log = MinutesLog.restore(
            self.origin(meeting_id),
            [r[0] for r in rows],
            [note for _, note in checkpoints],
            log_key=signer.verifier_key,
        )
        state = _LogState(log, signer, checkpointed_size=int(checkpoints[-1][0]) if checkpoints else 0)
        for _canonical, type_, seq in rows:
            state.note(type_, seq)
        if rows:
            state.last_at = datetime.fromisoformat(json.loads(rows[-1][0])["at"])
        return state

    async def _in_step(
        self, s: AsyncSession, state: _LogState, meeting_id: int, *, checkpoints: bool = False
    ) -> None:
        """Hold the meeting's log lock for this transaction (storage/dialect.py); catch the
        tree up if the database has moved on (a commit whose outcome was lost when the
        database connection dropped, or another node appended): never fork the log."""
        on_disk = await lock_meeting_log(s, meeting_id)
        signed = state.checkpointed_size
        if checkpoints:
            signed = int(
                await s.scalar(
                    select(func.max(MinutesCheckpoint.size)).where(MinutesCheckpoint.meeting_id == meeting_id)
                )
                or 0
            )
        if on_disk > state.log.size and signed == state.checkpointed_size:
            # entries appended elsewhere (another node's attendance facts, or a commit whose
            # outcome was lost): append just those, in order, to the tree
            rows = (
                await s.execute(
                    select(MinutesEntry.canonical, MinutesEntry.type, MinutesEntry.seq)
                    .where(MinutesEntry.meeting_id == meeting_id, MinutesEntry.seq >= state.log.size)
                    .order_by(MinutesEntry.seq)
                )
            ).all()
            logger.info("meeting=%s catching up %s entries stored elsewhere", meeting_id, len(rows))
            for canonical, type_, seq in rows:
                state.log.append(json.loads(canonical))
                state.note(type_, seq)
            if rows:
                state.last_at = datetime.fromisoformat(json.loads(rows[-1][0])["at"])
        elif on_disk != state.log.size or signed != state.checkpointed_size:
            logger.warning(
                "meeting=%s log has %s entries and a checkpoint at %s stored, %s and %s here: reloading",
                meeting_id,
                on_disk,
                signed,
                state.log.size,
                state.checkpointed_size,
            )
            fresh = await self._load(s, meeting_id)  # same lock object: waiters stay queued
            state.log, state.checkpointed_size = fresh.log, fresh.checkpointed_size
            state.closed, state.sealed_seq, state.last_at = fresh.closed, fresh.sealed_seq, fresh.last_at

    @asynccontextmanager
    async def transaction(self, meeting_id: int) -> AsyncIterator[JournalTx]:
        state = await self._state(meeting_id)
        async with state.lock:
            async with self._db() as s, s.begin():
                await self._in_step(s, state, meeting_id)
                tx = JournalTx(s, state, meeting_id, self._clock)
                yield tx
                await tx.write_entries()
            # committed: now the in-memory tree may grow
            for entry in tx.pending:
                state.log.append(entry)
                state.note(entry["type"], entry["seq"])
            if tx.pending:
                state.last_at = datetime.fromisoformat(tx.pending[-1]["at"])
        if tx.pending:
            self._mark_dirty(meeting_id)

    async def is_closed(self, meeting_id: int) -> bool:
        return (await self._state(meeting_id)).closed

    async def is_sealed(self, meeting_id: int) -> bool:
        return (await self._state(meeting_id)).sealed_seq is not None

    async def log(self, meeting_id: int) -> MinutesLog:
        return (await self._state(meeting_id)).log

    def _mark_dirty(self, meeting_id: int) -> None:
        self._dirty.add(meeting_id)
        self._wake.set()

    async def checkpoint_now(self, meeting_id: int) -> str | None:
        """Sign and store a checkpoint covering every committed entry (if any are new)."""
        state = await self._state(meeting_id)
        async with state.lock:
            size = state.log.size
            if size == 0 or size == state.checkpointed_size:
                return state.log.latest_checkpoint
            async with self._db() as s, s.begin():
                await self._in_step(s, state, meeting_id, checkpoints=True)
                size = state.log.size
                if size == state.checkpointed_size:  # another node signed this size
                    return state.log.latest_checkpoint
                note = state.log.checkpoint(state.signer)  # refuses an inconsistent one
                s.add(MinutesCheckpoint(meeting_id=meeting_id, size=size, note=note, at=self._clock()))
            state.checkpointed_size = size
        logger.debug("meeting=%s checkpoint size=%s", meeting_id, size)
        for listener in self._checkpoint_listeners:
            try:
                await listener(meeting_id, size)
            except Exception:
                logger.exception("meeting=%s checkpoint listener failed", meeting_id)
        return note

    def on_checkpoint(self, listener: Callable[[int, int], Awaitable[None]]) -> None:
        """Call ``listener(meeting_id, size)`` after each new checkpoint is stored."""
        self._checkpoint_listeners.append(listener)

    async def add_cosignature(self, meeting_id: int, size: int, sig: NoteSignature) -> str:
        """Append one (already verified) cosignature line to the stored checkpoint of ``size``."""
        async with self._db() as s, s.begin():
            # locked (PostgreSQL): an officer's cosignature may be added at the same moment
            row = await s.get(MinutesCheckpoint, (meeting_id, size), with_for_update=True)
            if row is None:
                raise InvalidState(f"meeting {meeting_id} has no checkpoint of size {size}")
            if not any(
                x.name == sig.name and x.key_id == sig.key_id for x in parse_signed_note(row.note).signatures
            ):
                row.note = add_cosignatures(row.note, [sig])
            return row.note

    async def replace_latest_checkpoint(self, meeting_id: int, note: str) -> None:
        """Store the latest checkpoint again with cosignature lines added."""
        state = await self._state(meeting_id)
        async with self._db() as s, s.begin():
            row = await s.get(MinutesCheckpoint, (meeting_id, state.checkpointed_size))
            if row is None:
                raise RuntimeError("no checkpoint to cosign")
            row.note = note

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._interval)  # batch the entries of a few seconds
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for meeting_id in dirty:
                try:
                    await self.checkpoint_now(meeting_id)
                except Exception:
                    logger.exception("meeting=%s checkpoint failed", meeting_id)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop the background signer and sign what is pending (graceful shutdown)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for meeting_id in list(self._dirty):
            await self.checkpoint_now(meeting_id)
        self._dirty.clear()
