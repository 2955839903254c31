"""Owner leases: a meeting has one owner node at a time, and the lease dies with the node.

**Mechanism: a PostgreSQL session advisory lock** ``pg_try_advisory_lock(LEASE_LOCK_CLASS,
meeting_id)`` held on one dedicated connection per node, not a heartbeat row with an
expiry. Why:

* It dies with the node. ``kill -9``, a kernel panic or a pulled cable closes the
  connection (at once on the same host; within the TCP keepalive time across hosts) and
  PostgreSQL drops every lock the session held. No expiry to tune, no clock to trust, no
  stale row to clean up, no window where two nodes both believe a heartbeat is fresh.
* Mutual exclusion is PostgreSQL's, the database that holds the meeting's truth anyway.
* Who owns what is visible in ``pg_locks`` joined with ``pg_stat_activity``: the lease
  connection's ``application_name`` names the node (``meetingd-lease:<node id>``).

The cost: a node must notice when *its* lease connection is gone (PostgreSQL restarted,
the backend was terminated): :class:`LeaseHolder` checks it every ``check_seconds`` and
reports the meetings it lost, so the node stops acting as their owner. In the window
before it notices, the database still fences it: the minutes journal appends under a
per-transaction advisory lock and catches up with what is stored (never forks the log),
and one member, one vote is enforced by primary keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ..storage.dialect import LEASE_LOCK_CLASS

logger = logging.getLogger(__name__)

APP_PREFIX = "meetingd-lease:"
# How long stop() waits for each step of closing (the watcher, the session, the engine): a
# connection the server ended can leave a close waiting for ever, and a shutdown must end.
# The server drops a session's locks when the session ends, closed by us or not.
STOP_STEP_SECONDS = 5.0
LostListener = Callable[[set[int]], Awaitable[None]]

_OWNER = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.classid = :cls AND l.objid = :id AND l.objsubid = 2 "
    "AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_OWNED = text(
    "SELECT a.application_name, l.objid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.classid = :cls AND l.objsubid = 2 AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class LeaseLost(Exception):
    """The lease connection is gone: this node holds no lease until it reconnects."""


class LeaseHolder:
    """One node's owner leases, held on one dedicated PostgreSQL connection."""

    def __init__(
        self, url: str, node_id: str, *, check_seconds: float = 1.0, on_lost: LostListener | None = None
    ) -> None:
        if not url.startswith("postgresql"):
            raise ValueError("owner leases need PostgreSQL ([database] url)")
        self.node_id = node_id
        self._check = check_seconds
        self._on_lost = on_lost
        self._engine: AsyncEngine = create_async_engine(
            url,
            poolclass=NullPool,
            connect_args={"timeout": 5, "server_settings": {"application_name": (APP_PREFIX + node_id)[:63]}},
        )
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._held: set[int] = set()
        self._watch: asyncio.Task[None] | None = None
        self.connected = False

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._held)

    def holds(self, meeting_id: int) -> bool:
        return meeting_id in self._held

    async def start(self) -> None:
        await self._connect()
        self._watch = asyncio.ensure_future(self._watcher())

    async def stop(self) -> None:
        """Release every lease (a graceful shutdown hands meetings over at once)."""
        if self._watch is not None:
            self._watch.cancel()
            await self._bounded(self._watch, "watcher")
            self._watch = None
        if await self._bounded(self._lock.acquire(), "lock"):
            try:
                if self._conn is not None:
                    # closing the session releases its locks
                    await self._bounded(self._conn.close(), "session close")
            finally:
                self._lock.release()
        self._conn = None
        self._held.clear()
        self.connected = False
        await self._bounded(self._engine.dispose(), "engine dispose")

    async def _bounded(self, step: Awaitable[Any], what: str) -> bool:
        """Wait for one step of stop() for at most STOP_STEP_SECONDS; True if it ended well.
        A step still running then is cancelled and left (asyncio.wait does not wait for it)."""
        task = asyncio.ensure_future(step)
        done, _ = await asyncio.wait({task}, timeout=STOP_STEP_SECONDS)
        if not done:
            task.cancel()
            logger.warning(
                "node=%s lease stop: %s did not end in %.0f s", self.node_id, what, STOP_STEP_SECONDS
            )
            return False
        if task.cancelled():  # the watcher, cancelled by stop() itself
            return False
        exc = task.exception()
        if exc is not None:  # the connection may already be gone
            logger.debug("node=%s lease stop: %s failed: %s", self.node_id, what, exc)
            return False
        return True

    async def _connect(self) -> None:
        self._conn = await self._engine.connect()
        self.connected = True

    async def _run(self, stmt: TextClause, **params: int) -> list[tuple[Any, ...]]:
        if self._conn is None:
            raise LeaseLost(f"node={self.node_id} has no lease connection")
        try:
            result = await self._conn.execute(stmt, params)
            rows: list[tuple[Any, ...]] = [tuple(r) for r in result.all()]
            await self._conn.commit()  # session locks outlive the transaction; no idle tx
            return rows
        except Exception as exc:
            await self._lost(exc)
            raise LeaseLost(f"node={self.node_id} lease connection failed: {exc}") from exc

    async def acquire(self, meeting_id: int) -> bool:
        """Become the meeting's owner if nobody is; True if this node owns it now."""
        async with self._lock:
            if meeting_id in self._held:
                return True
            rows = await self._run(
                text("SELECT pg_try_advisory_lock(:cls, :id)"), cls=LEASE_LOCK_CLASS, id=meeting_id
            )
            if rows[0][0]:
                self._held.add(meeting_id)
                logger.info("node=%s meeting=%s lease acquired", self.node_id, meeting_id)
                return True
            return False

    async def release(self, meeting_id: int) -> None:
        async with self._lock:
            if meeting_id not in self._held:
                return
            self._held.discard(meeting_id)
            await self._run(text("SELECT pg_advisory_unlock(:cls, :id)"), cls=LEASE_LOCK_CLASS, id=meeting_id)
            logger.info("node=%s meeting=%s lease released", self.node_id, meeting_id)

    async def owner_of(self, meeting_id: int) -> str | None:
        """The node id holding the meeting's lease, or None."""
        async with self._lock:
            if meeting_id in self._held:
                return self.node_id
            rows = await self._run(_OWNER, cls=LEASE_LOCK_CLASS, id=meeting_id)
        return _node(str(rows[0][0])) if rows else None

    async def owners(self) -> dict[int, str]:
        """Every meeting with an owner, and its node id (for /healthz)."""
        async with self._lock:
            rows = await self._run(_OWNED, cls=LEASE_LOCK_CLASS)
        return {int(str(mid)): _node(str(app)) for app, mid in rows}

    async def _lost(self, exc: BaseException | None) -> None:
        lost, self._held = self._held, set()
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:  # already broken: nothing to release
                logger.debug("node=%s invalidate failed", self.node_id)
        logger.warning(
            "node=%s lease connection lost (%s): meetings %s no longer owned", self.node_id, exc, sorted(lost)
        )
        if lost and self._on_lost is not None:
            await self._on_lost(lost)

    async def _watcher(self) -> None:
        while True:
            await asyncio.sleep(self._check)
            async with self._lock:
                if self._conn is None:
                    try:
                        await self._connect()
                        logger.info("node=%s lease connection restored", self.node_id)
                    except Exception as exc:
                        logger.warning("node=%s lease connection: %s", self.node_id, exc)
                    continue
                try:
                    await asyncio.wait_for(self._run(text("SELECT 1")), timeout=max(self._check, 2.0))
                except (LeaseLost, TimeoutError):
                    if self._conn is not None:  # a timeout: the connection is not trusted
                        await self._lost(None)


def _node(application_name: str) -> str:
    return application_name.removeprefix(APP_PREFIX)
