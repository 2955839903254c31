"""Where a meeting's commands run: at this node if it owns the meeting, else forwarded
to the owner (forward.py). Implements signaling's ProcedureBackend and roster listener,
so signaling does not know whether it talks to one node or a cluster.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from meeting.errors import InvalidState, MeetingError
from meeting.roster import Roster, RosterEvent
from signaling.command import Command, Payload
from signaling.media import MediaSignaling

from ..meetings import Meetings
from ..procedure import Procedure
from ..procedure_commands import ProcedureHandler
from ..services import CoreServices, SignalingBackend
from .node import ClusterNode

logger = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
# A member seen on two nodes (two devices) is shown in the more present state.
PRESENCE = {"online": 2, "reconnecting": 1, "left": 0}


class RoutedSignaling(SignalingBackend):
    """Signaling's storage backend on a cluster node: a meeting's attendance intervals (and
    their member_joined / member_left minutes entries) are written by its owner, so the
    owner is the one writer of the meeting's log. If the owner cannot be reached they are
    written here (the journal keeps one log either way: it appends under the meeting's lock
    after catching up with what is stored)."""

    def __init__(self, core: CoreServices, node: ClusterNode) -> None:
        super().__init__(core)
        self.node = node

    async def _forward(self, meeting_id: int, payload: dict[str, Any]) -> bool:
        """True if the owner (another node) wrote it."""
        if await self.node.owns(meeting_id):
            return False
        try:
            owner = await self.node.leases.owner_of(meeting_id)
            if owner is None:
                return False
            await self.node.forwarder.call(owner, "interval", {"meeting_id": meeting_id, **payload})
            return True
        except MeetingError as exc:
            logger.warning("meeting=%s attendance written here, owner unreachable: %s", meeting_id, exc.code)
            return False

    async def start_interval(self, *args: Any) -> None:
        meeting_id, member_pk, attendance, site_id, at = args
        payload = {"op": "start", "member_pk": member_pk, "attendance": attendance, "site_id": site_id}
        if not await self._forward(meeting_id, payload | {"at": at.isoformat()}):
            await super().start_interval(*args)

    async def end_interval(self, *args: Any) -> None:
        meeting_id, member_pk, at = args
        if not await self._forward(meeting_id, {"op": "end", "member_pk": member_pk, "at": at.isoformat()}):
            await super().end_interval(*args)


class RoutedProcedure:
    """The procedure's Router (meetingd.procedure_commands) and roster listener on a
    cluster node: commands for a meeting another node owns run at the owner."""

    def __init__(self, procedure: Procedure, meetings: Meetings, node: ClusterNode) -> None:
        self.procedure, self.meetings, self.node, self.forwarder = procedure, meetings, node, node.forwarder
        self._commands: dict[str, tuple[Command[Any], ProcedureHandler[Any]]] = {}
        # the owner last forwarded to, per meeting: no lease lookups on the hot path; dropped
        # when the owner refuses or cannot be reached (the client's retry looks it up again)
        self._owners: dict[int, str] = {}
        self.media: MediaSignaling | None = None
        # at the owner: each meeting's latest seat per member, from every node's roster changes
        self._seats: dict[int, dict[str, dict[str, Any]]] = {}
        self.roster_of: Callable[[int], Roster | None] = lambda _meeting_id: None
        node.serve_with(self.serve)
        node.on_lost(self.forget)

    def use_media(self, media: MediaSignaling) -> None:
        """Media commands for a meeting another node owns run at that node's SFU too."""
        self.media = media
        media.router = self

    def forget(self, meeting_id: int) -> None:
        """The lease was lost: what this node knew as the meeting's owner is stale."""
        self._seats.pop(meeting_id, None)
        self._owners.pop(meeting_id, None)
        if self.media is not None:
            self.media.meeting_lost(meeting_id)

    def owns_now(self, meeting_id: int) -> bool:
        """This node holds the meeting's lease (no lookup)."""
        return self.node.leases.holds(meeting_id)

    async def route_media(self, name: str, meeting_id: int, call: dict[str, Any]) -> dict[str, Any] | None:
        return await self._forward(meeting_id, "media", {"name": name, "call": call})

    async def media_closed(self, meeting_id: int, sid: str, reason: str) -> None:
        try:
            await self._forward(meeting_id, "media_closed", {"sid": sid, "reason": reason})
        except MeetingError as exc:  # the owner's grace timer or its own failover ends it
            logger.warning("meeting=%s media close of sid=%s not delivered: %s", meeting_id, sid, exc.code)

    def add(self, command: Command[P], handler: ProcedureHandler[P]) -> None:
        self._commands[command.name] = (command, handler)

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

    async def _forward(self, meeting_id: int, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Run at the owner; None when this node is the owner."""
        if self.node.leases.holds(meeting_id):
            return None
        owner = self._owners.get(meeting_id)
        if owner is None:
            owner = await self._owner(meeting_id)
            if owner is None:
                return None
            self._owners[meeting_id] = owner
        try:
            return await self.forwarder.call(owner, kind, {"meeting_id": meeting_id, **payload})
        except MeetingError as exc:
            if exc.code in ("not_owner", "owner_unreachable", "owner_timeout", "server_busy"):
                self._owners.pop(meeting_id, None)
            raise

    async def route(self, name: str, meeting_id: int, member_id: str, data: Any) -> dict[str, Any] | None:
        return await self._forward(
            meeting_id, "command", {"member_id": member_id, "name": name, "data": data}
        )

    async def snapshot(self, meeting_id: int, member_id: str) -> dict[str, Any]:
        reply = await self._forward(meeting_id, "snapshot", {"member_id": member_id})
        if reply is None:
            return await self.procedure.snapshot(meeting_id, member_id)
        return dict(reply["procedure"])

    def _saw(self, meeting_id: int, ev: RosterEvent) -> None:
        """The owner's view of the meeting's roster on every node (latest seat per member)."""
        self._seats.setdefault(meeting_id, {})[str(ev.seat["member_id"])] = ev.seat

    async def roster_view(self, meeting_id: int, conn: Any) -> dict[str, Any]:
        """A join ack's roster on a cluster node: the seats of members connected to every
        node (the owner hears every node's roster changes), this node's own seats first-hand."""
        local = self.roster_of(meeting_id)
        here = {seat["member_id"]: seat for seat in (local.snapshot() if local is not None else [])}
        try:
            reply = await self._forward(meeting_id, "roster_view", {})
        except MeetingError as exc:  # the owner is unreachable: this node's roster, said in the log
            logger.warning("meeting=%s join ack lists this node's roster only: %s", meeting_id, exc.code)
            return {}
        seats = list(self._seats.get(meeting_id, {}).values()) if reply is None else list(reply["seats"])
        merged = {str(seat["member_id"]): seat for seat in seats}
        for member_id, seat in here.items():  # first-hand, unless the member is more present elsewhere
            other = merged.get(member_id)
            if other is None or PRESENCE[seat["state"]] >= PRESENCE[other["state"]]:
                merged[member_id] = seat
        ordered = sorted(merged.values(), key=lambda s: (s["state"] == "left", s["full_name"]))
        return {"roster": ordered}

    async def on_roster(self, meeting_id: int, ev: RosterEvent) -> None:
        """A member came, changed or went at this node: the owner's register must know."""
        try:
            if await self._forward(meeting_id, "roster", {"event": dataclasses.asdict(ev)}) is None:
                self._saw(meeting_id, ev)
                await self.procedure.on_roster(meeting_id, ev)
        except MeetingError as exc:  # the member's presence reaches the owner on its next event
            logger.warning("meeting=%s roster event not delivered to the owner: %s", meeting_id, exc.code)

    async def serve(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A request forwarded by another node (this node believes it owns the meeting)."""
        meeting_id = int(payload["meeting_id"])
        if not await self.node.owns(meeting_id):
            raise await self.node.refuse(meeting_id)
        if kind == "command":
            command, handler = self._commands[str(payload["name"])]
            parsed = command.parse(payload["data"])  # parsed again here, as sent by the client
            live = await self.procedure.live(meeting_id)
            return await handler(live, live.register.person(str(payload["member_id"])), parsed)
        if kind == "media" and self.media is not None:
            return await self.media.run_forwarded(str(payload["name"]), dict(payload["call"]))
        if kind == "media_closed" and self.media is not None:
            await self.media.remote_closed(meeting_id, str(payload["sid"]), str(payload["reason"]))
            return {}
        if kind == "snapshot":
            return {"procedure": await self.procedure.snapshot(meeting_id, str(payload["member_id"]))}
        if kind == "roster":
            ev = RosterEvent(**payload["event"])
            self._saw(meeting_id, ev)
            await self.procedure.on_roster(meeting_id, ev)
            return {}
        if kind == "roster_view":
            return {"seats": list(self._seats.get(meeting_id, {}).values())}
        if kind == "interval":
            at = datetime.fromisoformat(str(payload["at"]))
            pk = int(payload["member_pk"])
            if payload["op"] == "start":
                site = payload["site_id"]
                await self.meetings.start_interval(
                    meeting_id, pk, str(payload["attendance"]), None if site is None else int(site), at
                )
            else:
                await self.meetings.end_interval(meeting_id, pk, at)
            return {}
        raise InvalidState(f"unknown forwarded request {kind!r}", code="invalid_state")
