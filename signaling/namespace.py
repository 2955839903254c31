"""The `/meeting` Socket.IO namespace: connect auth, join, roster, chat.

Every handler's return value is the client's ack, always ``{"ok": true, ...}`` or the
error shape from :func:`meeting.errors.error_body`. A handler that raises anything
else answers ``internal`` and the server keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import engineio
import socketio

from meeting.clock import Clock
from meeting.errors import (
    INTERNAL_ERROR,
    InvalidState,
    MeetingError,
    NotAuthenticated,
    NotAuthorised,
    PayloadTooLarge,
    RateLimited,
    error_body,
)
from meeting.roles import MeetingState
from meeting.roster import Roster, RosterEvent

from .backend import Backend, Caller
from .messages import Empty, Join, SendChat

logger = logging.getLogger(__name__)

NAMESPACE = "/meeting"
# A socket refused this many events in a row is flooding; it is disconnected.
FLOOD_STRIKES = 50


def room_of(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


@dataclass
class Limits:
    max_payload_bytes: int
    events_per_second: float
    event_burst: int
    chat_history: int
    reconnect_grace_seconds: float


@dataclass
class Connection:
    member: Caller
    bucket: Any  # meetingd.ratelimit.TokenBucket-compatible: take(), strikes
    meeting_id: int | None = None
    member_pk: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[str, Connection, Any], Awaitable[dict[str, Any]]]
RosterListener = Callable[[int, RosterEvent], Awaitable[None]]
JoinExtra = Callable[[int, Connection], Awaitable[dict[str, Any]]]
# (sid, connection, meeting_id, "leave" | "disconnect"): a joined connection went away.
ConnectionListener = Callable[[str, Connection, int, str], Awaitable[None]]


class MeetingNamespace:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        backend: Backend,
        limits: Limits,
        clock: Clock,
        allowed_origins: Callable[[str | None], bool],
        bucket_factory: Callable[[], Any],
    ) -> None:
        self.sio, self.backend, self.limits, self.clock = sio, backend, limits, clock
        self._origin_ok = allowed_origins
        self._bucket = bucket_factory
        self._conns: dict[str, Connection] = {}
        self._rosters: dict[int, Roster] = {}
        self._meeting_state: dict[int, str] = {}
        self._expiry: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._roster_listeners: list[RosterListener] = []
        self._join_extras: list[JoinExtra] = []
        self._connection_listeners: list[ConnectionListener] = []
        sio.on("connect", self._on_connect, namespace=NAMESPACE)
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.register("join", self._join, needs_join=False)
        self.register("leave", self._leave)
        self.register("send_chat", self._send_chat)

    # -- plumbing -----------------------------------------------------------------------

    def register(self, event: str, handler: Handler, *, needs_join: bool = True) -> None:
        """Register a client->server event: auth, rate limit, size limit, join check,
        and the ack shape are handled here; ``handler(sid, conn, data)`` returns the
        ack's fields or raises a MeetingError."""

        async def wrapped(sid: str, data: Any = None) -> dict[str, Any]:
            try:
                conn = self._conns.get(sid)
                if conn is None:
                    raise NotAuthenticated("connection is not authenticated")
                try:
                    conn.bucket.take()
                except RateLimited:
                    if conn.bucket.strikes >= FLOOD_STRIKES:
                        logger.warning("flood sid=%s member=%s: disconnecting", sid, conn.member.member_id)
                        self._spawn(self.sio.disconnect(sid, namespace=NAMESPACE))
                    raise
                if len(json.dumps(data, separators=(",", ":"))) > self.limits.max_payload_bytes:
                    raise PayloadTooLarge(
                        f"payload is larger than {self.limits.max_payload_bytes} bytes",
                        limit=self.limits.max_payload_bytes,
                    )
                if needs_join and conn.meeting_id is None:
                    raise InvalidState(f"'{event}' before 'join'", hint="join first")
                return {"ok": True, **await handler(sid, conn, data)}
            except MeetingError as exc:
                return error_body(exc)
            except Exception:
                logger.exception("event=%s sid=%s failed", event, sid)
                return dict(INTERNAL_ERROR)

        self.sio.on(event, wrapped, namespace=NAMESPACE)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                logger.exception("background task failed")

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def emit_to_meeting(
        self, meeting_id: int, event: str, data: dict[str, Any], skip_sid: str | None = None
    ) -> None:
        """Broadcast to a meeting's room: encode once, queue on each connection.

        python-socketio's ``emit`` to a room creates one task per recipient; for a
        tally or roster update to hundreds of members that task churn dominated the
        server's CPU. On a single node (the default manager) we write the encoded
        packet to each connection's send queue directly, in order, with no task.
        With a cross-node manager (Redis) we must go through ``emit``.
        """
        if type(self.sio.manager) is not socketio.AsyncManager:
            await self.sio.emit(event, data, room=room_of(meeting_id), namespace=NAMESPACE, skip_sid=skip_sid)
            return
        encoded = self.sio.packet_class(
            socketio.packet.EVENT, namespace=NAMESPACE, data=[event, data]
        ).encode()
        packets = [
            engineio.packet.Packet(engineio.packet.MESSAGE, p)
            for p in (encoded if isinstance(encoded, list) else [encoded])
        ]
        eio = self.sio.eio
        for sid, eio_sid in list(self.sio.manager.get_participants(NAMESPACE, room_of(meeting_id))):
            if sid == skip_sid:
                continue
            for pkt in packets:
                await eio.send_packet(eio_sid, pkt)

    async def _apply(self, meeting_id: int, member_pk: int, ev: RosterEvent | None) -> None:
        """Persist what a roster event means for attendance, then broadcast it."""
        if ev is None:
            return
        at = self.clock()
        if ev.interval_started:
            site = ev.seat["site"]["id"] if ev.seat["site"] else None
            await self.backend.start_interval(meeting_id, member_pk, ev.seat["attendance"], site, at)
        elif ev.interval_ended:
            await self.backend.end_interval(meeting_id, member_pk, at)
        await self.emit_to_meeting(meeting_id, ev.kind, {"participant": ev.seat})
        for listener in self._roster_listeners:
            await listener(meeting_id, ev)

    def on_roster_change(self, listener: RosterListener) -> None:
        """Call ``listener(meeting_id, event)`` after each roster event is applied."""
        self._roster_listeners.append(listener)

    def add_join_extra(self, extra: JoinExtra) -> None:
        """Merge ``await extra(meeting_id, conn)`` into every ``join`` ack."""
        self._join_extras.append(extra)

    def on_connection_closed(self, listener: ConnectionListener) -> None:
        """Call ``listener(sid, conn, meeting_id, reason)`` when a joined connection
        leaves (``"leave"``) or drops (``"disconnect"``)."""
        self._connection_listeners.append(listener)

    async def _connection_closed(self, sid: str, conn: Connection, meeting_id: int, reason: str) -> None:
        for listener in self._connection_listeners:
            try:
                await listener(sid, conn, meeting_id, reason)
            except Exception:
                logger.exception("connection listener failed sid=%s", sid)

    # -- connection lifecycle -------------------------------------------------------------

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        origin = environ.get("HTTP_ORIGIN")
        if not self._origin_ok(origin):
            logger.info("socket refused sid=%s origin=%s", sid, origin)
            refusal = NotAuthorised(f"origin {origin!r} is not allowed")
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, error_body(refusal))
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            member = await self.backend.redeem_socket_token(token)
        except MeetingError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, error_body(exc)) from None
        self._conns[sid] = Connection(member=member, bucket=self._bucket())
        logger.info("socket connected sid=%s member=%s", sid, member.member_id)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self._conns.pop(sid, None)
        if conn is None or conn.meeting_id is None or conn.member_pk is None:
            return
        meeting_id, member_pk = conn.meeting_id, conn.member_pk
        await self._connection_closed(sid, conn, meeting_id, "disconnect")
        roster = self._rosters[meeting_id]
        ev = roster.disconnect(sid)
        logger.info("socket disconnected sid=%s member=%s meeting=%s", sid, conn.member.member_id, meeting_id)
        if ev is None:
            return
        await self._apply(meeting_id, member_pk, ev)
        key = (meeting_id, conn.member.member_id)
        loop = asyncio.get_running_loop()
        self._expiry[key] = loop.call_later(
            self.limits.reconnect_grace_seconds,
            lambda: self._spawn(self._expire(meeting_id, member_pk, key[1])),
        )

    async def _expire(self, meeting_id: int, member_pk: int, member_id: str) -> None:
        self._expiry.pop((meeting_id, member_id), None)
        await self._apply(meeting_id, member_pk, self._rosters[meeting_id].expire(member_id))

    # -- events -------------------------------------------------------------------------

    async def _join(self, sid: str, conn: Connection, data: Any) -> dict[str, Any]:
        req = Join.parse(data)
        if conn.meeting_id is not None and conn.meeting_id != req.meeting_id:
            raise InvalidState("this connection is already in another meeting; leave it first")
        adm = await self.backend.admit(req.meeting_id, conn.member)
        if adm.meeting["state"] == MeetingState.CLOSED.value:
            raise InvalidState("this meeting is closed", code="meeting_closed")
        roster = self._rosters.get(req.meeting_id)
        if roster is None:
            roster = self._rosters[req.meeting_id] = Roster(adm.sites)
        ev = roster.join(adm.entitlement, req.attendance, req.site_id, sid, self.clock())
        timer = self._expiry.pop((req.meeting_id, conn.member.member_id), None)
        if timer is not None:
            timer.cancel()
        conn.meeting_id, conn.member_pk = req.meeting_id, adm.member_pk
        await self.sio.enter_room(sid, room_of(req.meeting_id), namespace=NAMESPACE)
        await self._apply(req.meeting_id, adm.member_pk, ev)
        me = roster.seat(conn.member.member_id)
        assert me is not None
        answer = {
            "meeting": adm.meeting,
            "roster": roster.snapshot(),
            "counts": roster.counts(),
            "chat": await self.backend.chat_history(req.meeting_id, self.limits.chat_history),
            "me": me.to_dict(),
        }
        for extra in self._join_extras:
            answer.update(await extra(req.meeting_id, conn))
        return answer

    async def _leave(self, sid: str, conn: Connection, data: Any) -> dict[str, Any]:
        Empty.parse(data)
        assert conn.meeting_id is not None and conn.member_pk is not None
        meeting_id = conn.meeting_id
        await self._connection_closed(sid, conn, meeting_id, "leave")
        ev = self._rosters[meeting_id].leave(sid)
        await self._apply(meeting_id, conn.member_pk, ev)
        await self.sio.leave_room(sid, room_of(meeting_id), namespace=NAMESPACE)
        conn.meeting_id = conn.member_pk = None
        return {}

    async def _send_chat(self, sid: str, conn: Connection, data: Any) -> dict[str, Any]:
        req = SendChat.parse(data)
        assert conn.meeting_id is not None
        message = await self.backend.post_chat(conn.meeting_id, conn.member, req.text)
        await self.emit_to_meeting(conn.meeting_id, "chat_posted", {"message": message}, skip_sid=sid)
        return {"message": message}

    # -- called by the HTTP adapter / daemon / other handler modules --------------------

    def roster(self, meeting_id: int) -> Roster | None:
        return self._rosters.get(meeting_id)

    def connection(self, sid: str) -> Connection | None:
        return self._conns.get(sid)

    async def meeting_state_changed(self, meeting: dict[str, Any]) -> None:
        summary = {k: meeting[k] for k in ("id", "title", "cell", "place", "starts_at", "state")}
        await self.emit_to_meeting(meeting["id"], "meeting_state_changed", {"meeting": summary})

    async def shutdown(self) -> None:
        """Tell every client we are going away, close their connections, stop timers.

        Called from the web server's on_shutdown, before it waits for open handlers:
        an open websocket would otherwise hold the shutdown until its timeout.
        Everything acknowledged is already committed, so nothing is lost.
        """
        await self.sio.emit(
            "server_shutting_down",
            {"message": "the server is restarting; reconnecting shortly"},
            namespace=NAMESPACE,
        )
        if self.sio.eio.sockets:  # engineio raises on an empty set
            await self.sio.eio.disconnect()  # every client, all transports
        for timer in self._expiry.values():
            timer.cancel()
        self._expiry.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sio.shutdown()
