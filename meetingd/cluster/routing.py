"""Where a meeting's commands run: at this node if it owns the meeting, else forwarded
to the owner (forward.py). Implements signaling's ProcedureBackend and roster listener,
so signaling does not know whether it talks to one node or a cluster.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from meeting.errors import InvalidState, MeetingError
from meeting.roster import RosterEvent

from ..procedure import Procedure
from .node import ClusterNode

logger = logging.getLogger(__name__)


class RoutedProcedure:
    def __init__(self, procedure: Procedure, node: ClusterNode) -> None:
        self.procedure, self.node, self.forwarder = procedure, node, node.forwarder
        node.serve_with(self.serve)

    async def _owner(self, meeting_id: int) -> str | None:
        """None when this node owns the meeting (or just leased it), else the owner's id."""
        if await self.node.owns(meeting_id):
            return None
        owner = await self.node.leases.owner_of(meeting_id)
        if owner is None:  # freed meanwhile: take it
            if await self.node.owns(meeting_id):
                return None
            raise await self.node.refuse(meeting_id)
        return owner

    async def call(
        self, meeting_id: int, member_id: str, action: str, args: dict[str, Any]
    ) -> dict[str, Any]:
        owner = await self._owner(meeting_id)
        if owner is None:
            return await self.procedure.call(meeting_id, member_id, action, args)
        return await self.forwarder.call(
            owner, "call", {"meeting_id": meeting_id, "member_id": member_id, "action": action, "args": args}
        )

    async def snapshot(self, meeting_id: int, member_id: str) -> dict[str, Any]:
        owner = await self._owner(meeting_id)
        if owner is None:
            return await self.procedure.snapshot(meeting_id, member_id)
        reply = await self.forwarder.call(
            owner, "snapshot", {"meeting_id": meeting_id, "member_id": member_id}
        )
        return dict(reply["procedure"])

    async def on_roster(self, meeting_id: int, ev: RosterEvent) -> None:
        """A member came, changed or went at this node: the owner's register must know."""
        try:
            owner = await self._owner(meeting_id)
            if owner is None:
                await self.procedure.on_roster(meeting_id, ev)
            else:
                await self.forwarder.call(
                    owner, "roster", {"meeting_id": meeting_id, "event": dataclasses.asdict(ev)}
                )
        except MeetingError as exc:  # the member's presence reaches the owner on its next event
            logger.warning("meeting=%s roster event not delivered to the owner: %s", meeting_id, exc.code)

    async def serve(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A request forwarded by another node (this node believes it owns the meeting)."""
        meeting_id = int(payload["meeting_id"])
        if not await self.node.owns(meeting_id):
            raise await self.node.refuse(meeting_id)
        if kind == "call":
            return await self.procedure.call(
                meeting_id, str(payload["member_id"]), str(payload["action"]), dict(payload["args"])
            )
        if kind == "snapshot":
            return {"procedure": await self.procedure.snapshot(meeting_id, str(payload["member_id"]))}
        if kind == "roster":
            await self.procedure.on_roster(meeting_id, RosterEvent(**payload["event"]))
            return {}
        raise InvalidState(f"unknown forwarded request {kind!r}", code="invalid_state")
