"""Pushing this server's checkpoints to its witnesses (C2SP tlog-witness client side).

Each new checkpoint of a meeting's log (during the meeting, at each poll close, at the
seal) raises the ``pending_size`` of a :class:`WitnessPush` row per witness; a background
task pushes the latest pending checkpoint with a consistency proof from what the witness
last cosigned, and stores the returned cosignature on that checkpoint (so the bundle
carries it). The rows are the durable queue: after a restart, or while the link is down,
pushing resumes with backoff (1 s doubling up to ``minutes.witness_retry_max_seconds``).

A witness that refuses a checkpoint because it contradicts what it cosigned before (409
with equal sizes, 422, or a size beyond our log) may be seeing a fork of the log: the row
is marked ``refused`` (never retried), the refusal is logged at ERROR and handed to the
``on_refusal`` listeners (e.g. a security event), and the minutes view shows it to the chair.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock
from recorder.cosignature import verify_cosignature
from recorder.errors import NoteError
from recorder.note import SIG_COSIGNATURE_V1, VerifierKey, parse_signature_line, parse_signed_note
from recorder.witness import SIZE_CONTENT_TYPE, add_checkpoint_body

from .config import ConfigError
from .journal import Journal
from .storage.models import MinutesCheckpoint
from .storage.witness_models import WitnessPush

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str  # submission prefix
    key: VerifierKey

    @property
    def name(self) -> str:
        return self.key.name


@dataclass(frozen=True)
class Refusal:
    meeting_id: int
    witness: str
    size: int
    reason: str


def parse_witnesses(entries: list[str]) -> list[WitnessEndpoint]:
    out = []
    for i, entry in enumerate(entries):
        parts = entry.split()
        if len(parts) != 2:
            raise ConfigError(f"[minutes] witnesses[{i}] {entry!r}: expected '<URL> <verifier key>'")
        try:
            key = VerifierKey.parse(parts[1])
        except NoteError as exc:
            raise ConfigError(f"[minutes] witnesses[{i}]: {exc}") from None
        if key.sig_type != SIG_COSIGNATURE_V1:
            raise ConfigError(f"[minutes] witnesses[{i}]: {key.name} is not a cosignature/v1 key")
        out.append(WitnessEndpoint(parts[0].rstrip("/"), key))
    return out


RefusalListener = Callable[[Refusal], Awaitable[None]]


class WitnessPusher:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        journal: Journal,
        witnesses: list[WitnessEndpoint],
        clock: Clock,
        retry_max_seconds: float = 300.0,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._db, self._journal, self._clock = db, journal, clock
        self.witnesses = {w.name: w for w in witnesses}
        self._retry_max = retry_max_seconds
        self._timeout = timeout_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._listeners: list[RefusalListener] = []
        self.pushed = 0  # cosignatures received (tests wait on it)

    def on_refusal(self, listener: RefusalListener) -> None:
        """Hook for a witness refusal (e.g. a "witness refused a checkpoint" security event)."""
        self._listeners.append(listener)

    async def checkpoint_signed(self, meeting_id: int, size: int) -> None:
        """Journal listener: queue ``size`` for every witness, durably (a checkpoint signed
        just before a crash is found again by :meth:`_reconcile`)."""
        if self.witnesses:
            await self._queue({meeting_id: size})
            self._wake.set()

    async def _queue(self, sizes: dict[int, int]) -> None:
        now = self._clock()
        async with self._db() as s, s.begin():
            for meeting_id, size in sizes.items():
                for name in self.witnesses:
                    row = await s.get(WitnessPush, (name, meeting_id))
                    if row is None:
                        s.add(
                            WitnessPush(
                                witness=name,
                                meeting_id=meeting_id,
                                cosigned_size=0,
                                pending_size=size,
                                attempts=0,
                                next_attempt_at=now,
                            )
                        )
                    elif size > row.pending_size:
                        row.pending_size, row.next_attempt_at = size, now

    async def _reconcile(self) -> None:
        """At start: queue every meeting's latest checkpoint the queue does not hold yet."""
        query = select(MinutesCheckpoint.meeting_id, func.max(MinutesCheckpoint.size))
        async with self._db() as s:
            rows = (await s.execute(query.group_by(MinutesCheckpoint.meeting_id))).all()
        latest = {int(m): int(n) for m, n in rows}
        if latest:
            await self._queue(latest)

    # -- the loop -----------------------------------------------------------------------------

    def start(self) -> None:
        if self.witnesses and self._task is None:
            self._stopping = False
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
            self._task = asyncio.ensure_future(self._run())
            self._wake.set()  # resume what a previous run left queued

    async def stop(self) -> None:
        """Let the loop finish its current push (bounded), then stop it."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=self._timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self) -> None:
        try:
            await self._reconcile()
        except Exception:
            logger.exception("witness queue: reconciling with the stored checkpoints failed")
        while not self._stopping:
            try:
                delay = await self.push_due()
            except Exception:
                logger.exception("witness queue: a round failed; retrying")
                delay = 1.0
            if self._stopping:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def push_due(self) -> float:
        """Push every due row once; return the seconds until the next one is due."""
        now = self._clock()
        async with self._db() as s:
            rows = (
                await s.scalars(
                    select(WitnessPush).where(
                        WitnessPush.refused.is_(None), WitnessPush.pending_size > WitnessPush.cosigned_size
                    )
                )
            ).all()
        wait = self._retry_max
        for row in rows:
            if self._stopping:
                break
            due = row.next_attempt_at or now
            if due > now:
                wait = min(wait, (due - now).total_seconds())
                continue
            try:
                again = await self._push(row.witness, row.meeting_id)
            except Exception:
                logger.exception("meeting=%s witness=%s push failed", row.meeting_id, row.witness)
                again = None
            if again is not None:
                wait = min(wait, again)
        return max(wait, 0.05)

    async def _push(self, name: str, meeting_id: int) -> float | None:
        """One attempt; returns when to retry (None: nothing more to do now).

        A 409 whose body is the witness's latest size (``text/x.tlog.size``) means our idea
        of what it cosigned is stale — typically it accepted a checkpoint whose reply was
        lost. The spec's answer is to resend from that size: at once, with a consistency
        proof from it (an empty one when it already holds our size: it then cosigns again).
        """
        witness = self.witnesses.get(name)
        if witness is None or self._http is None:
            return None
        async with self._db() as s:
            row = await s.get(WitnessPush, (name, meeting_id))
            if row is None or row.refused is not None or row.pending_size <= row.cosigned_size:
                return None
            old, size = row.cosigned_size, row.pending_size
        log = await self._journal.log(meeting_id)
        for attempt in range(2):
            async with self._db() as s:
                cp_row = await s.get(MinutesCheckpoint, (meeting_id, size))
            if cp_row is None:
                return None
            proof = log.consistency_proof(old, size) if old and old < size else []
            body = add_checkpoint_body(old, proof, cp_row.note)
            try:
                async with self._http.post(
                    f"{witness.url}/add-checkpoint", data=body, headers={"Content-Type": "text/plain"}
                ) as r:
                    status, ctype, text = r.status, r.content_type, await r.text()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                return await self._backoff(name, meeting_id, f"unreachable: {exc!r}")
            if status == 200:
                return await self._cosigned(witness, meeting_id, size, cp_row.note, text)
            if status == 409 and ctype == SIZE_CONTENT_TYPE and text.strip().isdigit():
                theirs = int(text.strip())
                latest = await self._latest_checkpoint_size(meeting_id)
                if theirs == old or theirs > latest:
                    await self._refused(
                        name,
                        meeting_id,
                        size,
                        f"409: the witness holds size {theirs}, "
                        f"which this log cannot extend (our latest checkpoint has size {latest})",
                    )
                    return None
                if attempt:
                    return await self._backoff(
                        name, meeting_id, f"the witness's size moved again (now {theirs}); retrying"
                    )
                resend = latest if theirs > size else size
                logger.warning(
                    "meeting=%s witness=%s holds size %s, not %s (a reply lost?): resending size %s from it",
                    meeting_id,
                    name,
                    theirs,
                    old,
                    resend,
                )
                old, size = theirs, resend
                await self._update(name, meeting_id, last_error=f"resynced to the witness's size {theirs}")
                continue
            if status in (409, 422):
                await self._refused(name, meeting_id, size, f"{status}: {text.strip()}")
                return None
            return await self._backoff(name, meeting_id, f"HTTP {status}: {text.strip()[:200]}")
        return None

    async def _latest_checkpoint_size(self, meeting_id: int) -> int:
        async with self._db() as s:
            got = await s.scalar(
                select(func.max(MinutesCheckpoint.size)).where(MinutesCheckpoint.meeting_id == meeting_id)
            )
        return int(got or 0)

    async def _cosigned(
        self, witness: WitnessEndpoint, meeting_id: int, size: int, note: str, text: str
    ) -> float | None:
        body = parse_signed_note(note).text
        good = []
        for line in text.splitlines():
            try:
                sig = parse_signature_line(line)
                if witness.key.matches(sig):
                    verify_cosignature(body, sig, witness.key)
                    good.append(sig)
            except NoteError:
                continue
        if not good:
            return await self._backoff(witness.name, meeting_id, "200 without a valid cosignature")
        for sig in good:
            await self._journal.add_cosignature(meeting_id, size, sig)
        await self._update(witness.name, meeting_id, cosigned_size=size, attempts=0, last_error=None)
        self.pushed += 1
        logger.info("meeting=%s witness=%s cosigned size=%s", meeting_id, witness.name, size)
        return 0.0

    async def _update(self, name: str, meeting_id: int, **values: object) -> None:
        async with self._db() as s, s.begin():
            row = await s.get(WitnessPush, (name, meeting_id))
            if row is not None:
                for k, v in values.items():
                    setattr(row, k, v)

    async def _backoff(self, name: str, meeting_id: int, error: str) -> float:
        async with self._db() as s, s.begin():
            row = await s.get(WitnessPush, (name, meeting_id))
            attempts = (row.attempts if row else 0) + 1
            delay = min(self._retry_max, float(2 ** min(attempts - 1, 20)))
            if row is not None:
                row.attempts, row.last_error = attempts, error
                row.next_attempt_at = self._clock() + timedelta(seconds=delay)
        logger.warning(
            "meeting=%s witness=%s push failed (attempt %s, next in %.0fs): %s",
            meeting_id,
            name,
            attempts,
            delay,
            error,
        )
        return delay

    async def _refused(self, name: str, meeting_id: int, size: int, reason: str) -> None:
        await self._update(name, meeting_id, refused=reason, last_error=reason)
        logger.error(
            "meeting=%s witness=%s REFUSED checkpoint size=%s: %s -- the witness saw a "
            "different history of this log: a possible fork; check the minutes before "
            "cosigning",
            meeting_id,
            name,
            size,
            reason,
        )
        refusal = Refusal(meeting_id, name, size, reason)
        for listener in self._listeners:
            try:
                await listener(refusal)
            except Exception:
                logger.exception("meeting=%s witness refusal listener failed", meeting_id)
