"""This node in a cluster: which meetings it owns, and taking over those nobody owns.

* :meth:`ClusterNode.owns` is the procedure's ownership check: a meeting nobody owns is
  leased on first use (so clients reconnecting after a failover bring it back at once);
  a meeting another node owns is not written here (``not_owner``, naming the owner).
* :meth:`ClusterNode.adopt_orphans` runs every ``lease_check_seconds``: each open meeting
  whose owner is gone is leased and restored from the database exactly as a restart does
  (open polls, acknowledged ballots, time limits re-armed, the minutes tree), so a poll's
  time limit still closes it when no client is connected to the new owner.
* When the lease connection is lost, the meetings it held are dropped from memory: this
  node stops acting as their owner (another node adopts them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.errors import InvalidState

from ..storage.models import Meeting
from .forward import Forwarder, Handler
from .lease import LeaseHolder, LeaseLost

logger = logging.getLogger(__name__)

Restore = Callable[[int], Awaitable[object]]
Forget = Callable[[int], None]


class ClusterNode:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        url: str,
        node_id: str,
        *,
        redis_url: str,
        check_seconds: float,
        forward_timeout_s: float = 5.0,
    ) -> None:
        self.db = db
        self.leases = LeaseHolder(url, node_id, check_seconds=check_seconds, on_lost=self.lost)
        self.forwarder = Forwarder(redis_url, node_id, timeout_s=forward_timeout_s)
        self._serve: Handler | None = None
        self.node_id = node_id
        self._check = check_seconds
        self._restore: Restore | None = None
        self._forget: Forget | None = None
        self._also_forget: list[Forget] = []  # media and routing (routing.RoutedProcedure)
        self._task: asyncio.Task[None] | None = None
        self.adopted = 0  # meetings taken over from a node that went away (metrics)

    async def owns(self, meeting_id: int) -> bool:
        """True if this node owns the meeting (leasing it if nobody does)."""
        if self.leases.holds(meeting_id):
            return True
        try:
            return await self.leases.acquire(meeting_id)
        except LeaseLost:
            return False

    async def refuse(self, meeting_id: int) -> InvalidState:
        """The precise error for a write to a meeting this node does not own."""
        try:
            owner = await self.leases.owner_of(meeting_id)
        except LeaseLost:
            owner = None
        if owner is None:
            return InvalidState(
                "this node cannot reach the database that holds the meeting's lease; retry",
                code="server_busy",
                retry_after=1.0,
            )
        return InvalidState(f"meeting {meeting_id} is served by node {owner}", code="not_owner", owner=owner)

    def on_lost(self, forget: Forget) -> None:
        """Also call ``forget(meeting_id)`` for each meeting whose lease this node lost."""
        self._also_forget.append(forget)

    async def lost(self, meetings: set[int]) -> None:
        for meeting_id in sorted(meetings):
            if self._forget is not None:
                self._forget(meeting_id)
            for forget in self._also_forget:
                forget(meeting_id)

    async def adopt_orphans(self) -> list[int]:
        """Lease and restore every open meeting that has no owner. Returns those adopted."""
        async with self.db() as s:
            open_ids = (await s.scalars(select(Meeting.id).where(Meeting.state == "open"))).all()
        adopted: list[int] = []
        for meeting_id in open_ids:
            if self.leases.holds(meeting_id):
                continue
            try:
                if not await self.leases.acquire(meeting_id):
                    continue
            except LeaseLost:
                return adopted
            adopted.append(meeting_id)
            if self._restore is not None:
                await self._restore(meeting_id)
            logger.info("node=%s meeting=%s adopted (no owner)", self.node_id, meeting_id)
        self.adopted += len(adopted)
        return adopted

    async def _adopter(self) -> None:
        while True:
            await asyncio.sleep(self._check)
            try:
                await self.adopt_orphans()
            except Exception:
                logger.exception("node=%s adopting meetings failed", self.node_id)

    def serve_with(self, handler: Handler) -> None:
        """Who answers the requests other nodes forward here (routing.RoutedProcedure)."""
        self._serve = handler

    async def start(self, restore: Restore, forget: Forget) -> None:
        self._restore, self._forget = restore, forget
        await self.leases.start()
        if self._serve is not None:
            await self.forwarder.start(self._serve)
        self._task = asyncio.ensure_future(self._adopter())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.forwarder.stop()
        await self.leases.stop()
