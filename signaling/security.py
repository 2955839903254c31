"""Security on the `/meeting` namespace: step-up for sensitive commands, live alerts for
administrators (and a meeting's chair), closing the sockets of ended sessions, and the
presence facts the alert rules need (docs/protocol.md, "Security").

The daemon gives a :class:`SecurityHooks`; signaling knows nothing else of it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .command import Command, Payload
from .namespace import NAMESPACE, Call, Connection, Handler, MeetingNamespace
from .procedure import OpenPoll

logger = logging.getLogger(__name__)

ADMINS_ROOM = "security:admins"
SESSION_KEY = "session"  # Connection.extra key: hash of the browser session behind the socket

# event -> what the caller is asked to confirm (and the step-up's "action" detail)
STEP_UP_EVENTS: dict[str, str] = {
    "open_poll": "open a poll",
    "close_poll": "close a poll",
    "set_quorum_rule": "change the quorum rule",  # lowering the quorum is overriding it too
}


class SecurityHooks(Protocol):
    async def session_of_token(self, token: object) -> str | None: ...

    async def require_step_up(self, conn: Connection, action: str) -> None: ...

    async def connected(self, sid: str, member_id: str, address: str) -> None: ...

    async def joined(self, sid: str, member_id: str, meeting_id: int) -> None: ...

    def left(self, sid: str, member_id: str) -> None: ...

    async def rate_limited(
        self, member_id: str, address: str, event: str, meeting_id: int | None, strikes: int
    ) -> None: ...

    def gone(self, sid: str, member_id: str) -> None: ...


P = TypeVar("P", bound=Payload)


def step_up_action(event: str, payload: object) -> str | None:
    """What a command must be confirmed as, or None when it needs no step-up."""
    if isinstance(payload, OpenPoll) and payload.override_quorum:
        return "open a poll without quorum"
    return STEP_UP_EVENTS.get(event)


def guard(command: Command[P], handler: Handler[P], hooks: SecurityHooks) -> Handler[P]:
    """``handler`` behind a step-up check (for the events of STEP_UP_EVENTS). It runs
    after the payload is parsed and the command's access rule is checked."""

    async def guarded(call: Call, payload: P) -> dict[str, Any]:
        action = step_up_action(command.name, payload)
        if action is not None:
            await hooks.require_step_up(call.conn, action)
        return await handler(call, payload)

    return guarded


class SecurityChannel:
    """Installs the hooks on a namespace; pushes alerts; closes ended sessions' sockets."""

    def __init__(self, namespace: MeetingNamespace, hooks: SecurityHooks) -> None:
        self.ns, self.hooks = namespace, hooks
        namespace.on_connected(self._connected)
        namespace.on_disconnected(self._disconnected)
        namespace.on_connection_closed(self._closed)
        namespace.add_join_extra(self._joined)
        namespace.on_rate_limited(self._limited)

    async def _connected(self, sid: str, conn: Connection, address: str, token: object) -> None:
        conn.extra[SESSION_KEY] = await self.hooks.session_of_token(token)
        conn.extra["address"] = address
        if getattr(conn.member, "is_admin", False):
            await self.ns.sio.enter_room(sid, ADMINS_ROOM, namespace=NAMESPACE)
        await self.hooks.connected(sid, conn.member.member_id, address)

    async def _limited(self, sid: str, conn: Connection, event: str, strikes: int) -> None:
        await self.hooks.rate_limited(
            conn.member.member_id, str(conn.extra.get("address", "?")), event, conn.meeting_id, strikes
        )

    async def _disconnected(self, sid: str, conn: Connection) -> None:
        self.hooks.gone(sid, conn.member.member_id)

    async def _closed(self, sid: str, conn: Connection, meeting_id: int, reason: str) -> None:
        self.hooks.left(sid, conn.member.member_id)

    async def _joined(self, meeting_id: int, conn: Connection) -> dict[str, Any]:
        if conn.sid:  # (a scan of every connection, per join, before: O(n²) in a storm)
            await self.hooks.joined(conn.sid, conn.member.member_id, meeting_id)
        return {}

    async def push_alert(
        self, alert: dict[str, Any], chair_of: Callable[[int], Awaitable[str | None]]
    ) -> None:
        """``security_alert``: to administrators; and to the chair when it names a meeting."""
        event = {"alert": alert}
        await self.ns.sio.emit("security_alert", event, room=ADMINS_ROOM, namespace=NAMESPACE)
        meeting_id = alert.get("meeting_id")
        if meeting_id is None:
            return
        chair = await chair_of(int(meeting_id))
        for sid, conn in self.ns.connections():
            if (
                conn.meeting_id == meeting_id
                and conn.member.member_id == chair
                and not getattr(conn.member, "is_admin", False)
            ):
                await self.ns.sio.emit("security_alert", event, to=sid, namespace=NAMESPACE)

    async def end_sessions(self, session_hashes: list[str]) -> None:
        """Disconnect every socket opened by one of these (ended) sessions."""
        ended = set(session_hashes)
        for sid, conn in self.ns.connections():
            if conn.extra.get(SESSION_KEY) in ended:
                logger.info("socket closed: its session ended sid=%s member=%s", sid, conn.member.member_id)
                await self.ns.sio.emit(
                    "session_ended", {"message": "this session was ended"}, to=sid, namespace=NAMESPACE
                )
                await self.ns.sio.disconnect(sid, namespace=NAMESPACE)
