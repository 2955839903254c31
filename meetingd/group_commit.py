"""Group commit: the writes that arrive while one commit runs share the next one.

SQLite (and a PostgreSQL meeting log) has one writer at a time, and a durable commit
costs a sync of the disk. When many members act at once (a join storm, the end of a
meeting) each waiting for its own commit queues them one by one behind the lock; handing
every waiting write to one transaction makes the queue as long as one commit, not N.

Each submitter still returns only after *its* write is committed, so an acknowledgement
always follows the disk. If a shared transaction fails, each of its writes is tried again
alone, so one bad write fails only its own submitter (never its neighbours').
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 256
"""Writes per transaction at most (a transaction's size and lock time stay bounded)."""


class GroupCommit(Generic[K, T, R]):
    """Per key (a meeting), a queue of writes drained by one task, a batch at a time.

    ``write(key, items)`` runs one transaction for the batch and returns one result per
    item, in order; each submitter gets its own."""

    def __init__(
        self, write: Callable[[K, Sequence[T]], Awaitable[Sequence[R]]], max_batch: int = MAX_BATCH
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._running: dict[K, asyncio.Task[None]] = {}
        self.batches = 0
        """Transactions run (for tests and metrics)."""

    async def submit(self, key: K, item: T) -> R:
        """Queue ``item``; return its result once the transaction holding it has committed."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.setdefault(key, []).append((item, fut))
        if key not in self._running:
            self._running[key] = asyncio.ensure_future(self._drain(key))
        return await fut  # a caller that gives up cancels only its wait: the drain task commits on

    def post(self, key: K, item: T) -> None:
        """Queue ``item`` and return at once: for writes nobody waits on (a socket's
        last-seen time). It commits with the next batch of ``key``; a failure is logged."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_log_failure)
        self._pending.setdefault(key, []).append((item, fut))
        if key not in self._running:
            self._running[key] = asyncio.ensure_future(self._drain(key))

    async def _drain(self, key: K) -> None:
        try:
            while queue := self._pending.pop(key, None):
                for i in range(0, len(queue), self._max_batch):
                    await self._commit(key, queue[i : i + self._max_batch])
        finally:
            del self._running[key]

    async def _commit(self, key: K, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            self.batches += 1
            results = await self._write(key, [item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} writes gave {len(results)} results")
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], None, exc)
                return
            logger.warning(
                "key=%s a batch of %s writes failed (%s): each is tried alone", key, len(batch), exc
            )
            for one in batch:
                await self._commit(key, [one])
            return
        for (_, fut), result in zip(batch, results, strict=True):
            _settle(fut, result, None)

    async def drain(self) -> None:
        """Wait until every queued write has been committed or has failed."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)


def _log_failure(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        logger.warning("a posted write failed: %s", fut.exception())


def _settle(fut: asyncio.Future[R], result: R | None, exc: BaseException | None) -> None:
    if fut.done():
        return
    if exc is None:
        fut.set_result(result)  # type: ignore[arg-type]  # R itself when no exception
    else:
        fut.set_exception(exc)
