"""The `/meeting` Socket.IO namespace: connect auth, join, roster, chat, and the one
dispatcher of every client→server command (declared in :mod:`signaling.command`).

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
from typing import Any, TypeVar

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
from meeting.pacing import stretched_interval
from meeting.roles import MeetingState
from meeting.roster import ConnState, Roster, RosterDeltas, RosterEvent, Seat

from . import fanout
from .backend import Backend, Caller
from .command import Command, Payload
from .commands import all_commands
from .messages import JOIN, JOIN_DISPLAY, LEAVE, SEND_CHAT, Empty, Join, JoinDisplay, SendChat
from .wire_json import Encoded, check_value

logger = logging.getLogger(__name__)

NAMESPACE = "/meeting"
# A socket refused this many events in a row is flooding; it is disconnected.
FLOOD_STRIKES = 50
# What a paired main-room display may send: it watches, it does not take part.
DISPLAY_EVENTS = frozenset(
    {
        "join_display",
        "leave",
        "get_procedure",
        "media_open",
        "media_close",
        "subscribe_answer",
        "ice_candidate",
        "set_receive_profile",
    }
)


def room_of(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


SERVER_BUSY = InvalidState(
    "the server's database is busy or not answering; nothing was recorded; retry",
    code="server_busy",
    retry_after=1.0,
)

# Roster changes are merged and broadcast at most this often per meeting (like tallies).
ROSTER_TICK_S = 0.2
# In a very large room the interval stretches so a room's roster updates cost at most
# about this many sends a second: a join storm of 1,000 members otherwise sent every
# member five updates a second, and that fan-out, not the joins, was the server's work.
ROSTER_SENDS_PER_S = 1000
MAX_ROSTER_TICK_S = 1.0


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
    # a paired display (no roster seat, read-only): the meeting it is paired with
    display_meeting: int | None = None
    sid: str = ""  # the Socket.IO session this connection is


@dataclass(frozen=True)
class Call:
    """Who sent a command, on which connection. ``seat`` is None only for ``join`` and
    for a paired display's commands (``conn.display_meeting`` is set)."""

    sid: str
    conn: Connection
    seat: Seat | None
    data: Any = None  # the payload as sent (JSON): what a cluster node forwards to the owner

    @property
    def member_id(self) -> str:
        return self.conn.member.member_id

    @property
    def meeting_id(self) -> int:
        """The joined meeting (every command but ``join`` is dispatched only after it)."""
        assert self.conn.meeting_id is not None
        return self.conn.meeting_id


P = TypeVar("P", bound=Payload)
Handler = Callable[[Call, P], Awaitable[dict[str, Any]]]
RosterListener = Callable[[int, RosterEvent], Awaitable[None]]
JoinExtra = Callable[[int, Connection], Awaitable[dict[str, Any]]]
# (sid, connection, meeting_id, "leave" | "disconnect"): a joined connection went away.
ConnectionListener = Callable[[str, Connection, int, str], Awaitable[None]]
# (sid, connection, address, auth token): a connection was accepted.
ConnectedListener = Callable[[str, Connection, str, object], Awaitable[None]]
# (sid, connection): any accepted connection ended.
DisconnectedListener = Callable[[str, Connection], Awaitable[None]]
# (sid, connection, event, strikes): events refused by the rate limit (first, and at a flood).
RateLimitedListener = Callable[[str, Connection, str, int], Awaitable[None]]


def remote_address(environ: dict[str, Any]) -> str:
    """The peer's address (engineio's aiohttp driver leaves REMOTE_ADDR at 127.0.0.1)."""
    request = environ.get("aiohttp.request")
    remote = getattr(request, "remote", None)
    return str(remote) if remote else str(environ.get("REMOTE_ADDR") or "?")


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
        self._roster_pending: dict[int, RosterDeltas] = {}
        self._roster_timers: dict[int, asyncio.TimerHandle] = {}
        self._roster_locks: dict[int, asyncio.Lock] = {}
        # per meeting, the roster (and its counts) as a join ack carries it, once per tick
        self._roster_views: dict[int, tuple[Encoded, dict[str, int]]] = {}
        self.roster_tick_s = ROSTER_TICK_S
        # errors meaning "the database is not answering" (set by the daemon, which knows its
        # storage): a command failing with one is answered server_busy with retry_after,
        # never internal, and nothing of it was acknowledged
        self.transient_errors: tuple[type[BaseException], ...] = ()
        if isinstance(sio.manager, fanout.RedisFanout):
            sio.manager.on_back = self.resync_everyone
        self._rosters: dict[int, Roster] = {}
        self._meeting_state: dict[int, str] = {}
        self._expiry: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._roster_listeners: list[RosterListener] = []
        self._join_extras: list[JoinExtra] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._connected_listeners: list[ConnectedListener] = []
        self._disconnected_listeners: list[DisconnectedListener] = []
        self._handled: set[str] = set()
        self._limited_listeners: list[RateLimitedListener] = []
        sio.on("connect", self._on_connect, namespace=NAMESPACE)
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        self.handle(JOIN, self._join)
        self.handle(JOIN_DISPLAY, self._join_display)
        self.handle(LEAVE, self._leave)
        self.handle(SEND_CHAT, self._send_chat)

    # -- the dispatcher -----------------------------------------------------------------

    def handle(self, command: Command[P], handler: Handler[P]) -> None:
        """Bind a declared command to its handler (once). Authentication, rate limit,
        size limit, the join check, the payload's parse, the command's access rule and
        the ack shape are all done here; ``handler(call, payload)`` returns the ack's
        fields or raises a MeetingError."""
        if command.name in self._handled:
            raise ValueError(f"command {command.name!r} already has a handler")
        self._handled.add(command.name)

        async def dispatch(sid: str, data: Any = None) -> dict[str, Any]:
            try:
                call = self._admit(sid, command, data)
                payload = command.parse(data)
                if call.seat is not None and not command.access.allows(call.seat.role):
                    raise NotAuthorised(f"only {command.access.describe()} may {command.doc}")
                return {"ok": True, **await handler(call, payload)}
            except MeetingError as exc:
                return error_body(exc)
            except Exception as exc:
                if isinstance(exc, self.transient_errors):
                    logger.warning("event=%s sid=%s database busy or down: %s", command.name, sid, exc)
                    return error_body(SERVER_BUSY)
                logger.exception("event=%s sid=%s failed", command.name, sid)
                return dict(INTERNAL_ERROR)

        self.sio.on(command.name, dispatch, namespace=NAMESPACE)

    def _admit(self, sid: str, command: Command[Any], data: Any) -> Call:
        """Who is calling: checked before the payload is parsed."""
        conn = self._conns.get(sid)
        if conn is None:
            raise NotAuthenticated("connection is not authenticated")
        try:
            conn.bucket.take()
        except RateLimited:
            if conn.bucket.strikes in (1, FLOOD_STRIKES):  # a burst's first refusal, a flood
                self._spawn(self._notify_limited(sid, conn, command.name, conn.bucket.strikes))
            if conn.bucket.strikes >= FLOOD_STRIKES:
                logger.warning("flood sid=%s member=%s: disconnecting", sid, conn.member.member_id)
                self._spawn(self.sio.disconnect(sid, namespace=NAMESPACE))
            raise
        check_value(data)  # nesting, huge numbers, NaN, lone surrogates: invalid_input naming the field
        if len(json.dumps(data, separators=(",", ":"))) > self.limits.max_payload_bytes:
            raise PayloadTooLarge(
                f"payload is larger than {self.limits.max_payload_bytes} bytes",
                limit=self.limits.max_payload_bytes,
            )
        if conn.display_meeting is not None:
            # a paired display: no seat; it may only watch
            if command.name not in DISPLAY_EVENTS:
                raise NotAuthorised(f"a paired display only watches: '{command.name}' is not allowed")
            if command.access.joined and conn.meeting_id is None:
                raise InvalidState(f"'{command.name}' before 'join_display'", hint="join_display first")
            return Call(sid, conn, None, data)  # data: what a cluster node forwards to the owner
        if not command.access.joined:
            return Call(sid, conn, None, data)
        seat = None
        if conn.meeting_id is not None:
            seat = self._rosters[conn.meeting_id].seat(conn.member.member_id)
        if seat is None:
            raise InvalidState(f"'{command.name}' before 'join'", hint="join first")
        return Call(sid, conn, seat, data)

    def unhandled(self) -> list[str]:
        """Declared commands with no handler bound."""
        return [c.name for c in all_commands() if c.name not in self._handled]

    def check_complete(self) -> None:
        """Refuse to serve with a declared command left unbound (called at start-up)."""
        missing = self.unhandled()
        if missing:
            raise RuntimeError(f"commands declared without a handler: {', '.join(missing)}")

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
        """Broadcast to a meeting's room: encode once, queue on each connection
        (signaling/fanout.py; across nodes through the Redis manager, same fast path)."""
        await fanout.broadcast(self.sio, NAMESPACE, room_of(meeting_id), event, data, skip_sid)

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
        self._queue_roster_change(meeting_id, ev)
        for listener in self._roster_listeners:
            await listener(meeting_id, ev)

    def _queue_roster_change(self, meeting_id: int, ev: RosterEvent) -> None:
        """Roster changes go out as one ``roster_changed`` per room every ``roster_tick_s``
        (O(n) messages for n joins, not O(n²)); the first change of a quiet room starts the timer."""
        pending = self._roster_pending.get(meeting_id)
        if pending is None:
            pending = self._roster_pending[meeting_id] = RosterDeltas()
            self._roster_timers[meeting_id] = asyncio.get_running_loop().call_later(
                self._roster_interval(meeting_id), lambda: self._spawn(self.flush_roster(meeting_id))
            )
        pending.add(ev)

    def roster_view(self, meeting_id: int) -> tuple[Encoded, dict[str, int]]:
        """The roster a join ack carries, and its counts, shared by every join between two
        roster ticks.

        It may be older than the roster (a join in this tick is not in it), never older
        than the last tick: each change after that tick is pending, and reaches every
        member in the room (the joiner entered it first) with the next ``roster_changed``,
        which carries each member's latest seat. So ack + the next deltas = the roster,
        and a storm of n joins encodes O(n) seats per tick instead of O(n) per join.
        """
        view = self._roster_views.get(meeting_id)
        if view is None:
            roster = self._rosters.get(meeting_id)
            seats, counts = (roster.snapshot(), roster.counts()) if roster else ([], {})
            view = self._roster_views[meeting_id] = (Encoded(seats), counts)
        return view

    def _roster_interval(self, meeting_id: int) -> float:
        roster = self._rosters.get(meeting_id)
        recipients = roster.connection_count if roster else 0
        return stretched_interval(recipients, ROSTER_SENDS_PER_S, self.roster_tick_s, MAX_ROSTER_TICK_S)

    async def flush_roster(self, meeting_id: int) -> None:
        """Send a meeting's pending roster changes now (the timer does it; so may a caller
        that must not let them trail another broadcast). One flush at a time per meeting,
        so the nodes receive a member's changes in order."""
        timer = self._roster_timers.pop(meeting_id, None)
        if timer is not None:
            timer.cancel()
        lock = self._roster_locks.setdefault(meeting_id, asyncio.Lock())
        async with lock:
            pending = self._roster_pending.pop(meeting_id, None)
            if pending:
                self._roster_views.pop(meeting_id, None)
                await self.emit_to_meeting(meeting_id, "roster_changed", {"changes": pending.drain()})

    async def resync_everyone(self) -> None:
        """Redis was unreachable and is back: every client, on every node, may have missed
        broadcasts, so each is told to read the meeting's state again (it re-joins)."""
        await self.sio.emit("resync", {"reason": "broadcasts_lost"}, namespace=NAMESPACE)

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

    def on_connected(self, listener: ConnectedListener) -> None:
        """Call ``listener(sid, conn, address, token)`` after a connection is accepted."""
        self._connected_listeners.append(listener)

    def on_disconnected(self, listener: DisconnectedListener) -> None:
        """Call ``listener(sid, conn)`` when any accepted connection ends."""
        self._disconnected_listeners.append(listener)

    def on_rate_limited(self, listener: RateLimitedListener) -> None:
        """Call ``listener(sid, conn, event, strikes)`` when a connection's events start
        being refused by the rate limit, and again when it floods."""
        self._limited_listeners.append(listener)

    async def _notify_limited(self, sid: str, conn: Connection, event: str, strikes: int) -> None:
        for listener in self._limited_listeners:
            await listener(sid, conn, event, strikes)

    def connections(self) -> list[tuple[str, Connection]]:
        return list(self._conns.items())

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
            refusal = (
                NotAuthorised(
                    "no Origin header: a non-browser client sends the server's URL as Origin",
                    code="origin_required",
                )
                if origin is None
                else NotAuthorised(f"origin {origin!r} is not allowed")
            )
            raise socketio.exceptions.ConnectionRefusedError(refusal.message, error_body(refusal))
        token = auth.get("token") if isinstance(auth, dict) else None
        display_token = auth.get("display_token") if isinstance(auth, dict) else None
        address = remote_address(environ)
        try:
            if display_token is not None:
                display = await self.backend.redeem_display_token(display_token)
                self._conns[sid] = Connection(
                    member=display, bucket=self._bucket(), display_meeting=display.meeting_id, sid=sid
                )
                logger.info("socket connected sid=%s display=%s", sid, display.member_id)
                return
            member = await self.backend.redeem_socket_token(token, address)
        except MeetingError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.message, error_body(exc)) from None
        conn = self._conns[sid] = Connection(member=member, bucket=self._bucket(), sid=sid)
        logger.info("socket connected sid=%s member=%s", sid, member.member_id)
        for listener in self._connected_listeners:
            try:
                await listener(sid, conn, address, token)
            except Exception:
                logger.exception("connected listener failed sid=%s", sid)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self._conns.pop(sid, None)
        if conn is not None:
            for gone in self._disconnected_listeners:
                try:
                    await gone(sid, conn)
                except Exception:
                    logger.exception("disconnected listener failed sid=%s", sid)
        if conn is not None and conn.display_meeting is not None:
            if conn.meeting_id is not None:
                await self._connection_closed(sid, conn, conn.meeting_id, "disconnect")
            return
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

    async def _join(self, call: Call, req: Join) -> dict[str, Any]:
        sid, conn = call.sid, call.conn
        if conn.meeting_id is not None and conn.meeting_id != req.meeting_id:
            raise InvalidState("this connection is already in another meeting; leave it first")
        adm = await self.backend.admit(req.meeting_id, conn.member)
        if adm.meeting["state"] == MeetingState.CLOSED.value:
            raise InvalidState("this meeting is closed", code="meeting_closed")
        roster = self._rosters.get(req.meeting_id)
        if roster is None:
            roster = self._rosters[req.meeting_id] = Roster(adm.sites)
        attendance, site_id = req.attendance, req.site_id
        if req.keep_attendance:
            # a second device: join the way the member already attends, never move them
            seat = roster.seat(conn.member.member_id)
            if seat is None or seat.state == ConnState.LEFT:
                raise InvalidState("you are not in the meeting on another device", code="not_joined")
            attendance, site_id = seat.attendance, seat.site.id if seat.site else None
        ev = roster.join(adm.entitlement, attendance, site_id, sid, self.clock())
        timer = self._expiry.pop((req.meeting_id, conn.member.member_id), None)
        if timer is not None:
            timer.cancel()
        conn.meeting_id, conn.member_pk = req.meeting_id, adm.member_pk
        await self.sio.enter_room(sid, room_of(req.meeting_id), namespace=NAMESPACE)
        await self._apply(req.meeting_id, adm.member_pk, ev)
        me = roster.seat(conn.member.member_id)
        assert me is not None
        answer: dict[str, Any] = {
            "meeting": adm.meeting,
            "chat": await self.backend.chat_history(req.meeting_id, self.limits.chat_history),
            "me": me.to_dict(),
        }
        for extra in self._join_extras:
            answer.update(await extra(req.meeting_id, conn))
        # Last, with no await after it: a roster tick that fell during the awaits above
        # reached this member before the ack, so the roster must be as of that tick or later.
        seats, counts = self.roster_view(req.meeting_id)
        answer.setdefault("roster", seats)
        answer["counts"] = counts
        return answer

    async def _join_display(self, call: Call, req: JoinDisplay) -> dict[str, Any]:
        """A paired display joins its meeting's broadcasts: no roster seat, so it is
        never in the roster, the register or the quorum."""
        sid, conn = call.sid, call.conn
        if conn.display_meeting is None:
            raise NotAuthorised("'join_display' is for a paired display; members send 'join'")
        if req.meeting_id != conn.display_meeting:
            raise NotAuthorised("this display is paired with another meeting")
        meeting = await self.backend.meeting_summary(req.meeting_id)
        if meeting["state"] == MeetingState.CLOSED.value:
            raise InvalidState("this meeting is closed", code="meeting_closed")
        conn.meeting_id = req.meeting_id
        await self.sio.enter_room(sid, room_of(req.meeting_id), namespace=NAMESPACE)
        answer: dict[str, Any] = {"meeting": meeting, "display": {"id": conn.member.id}}
        for extra in self._join_extras:
            answer.update(await extra(req.meeting_id, conn))
        answer.setdefault("roster", self.roster_view(req.meeting_id)[0])  # last: see _join
        return answer

    def disconnect_display(self, display_id: int) -> int:
        """A revoked display: drop its sockets. Returns how many."""
        sids = [
            sid
            for sid, c in self._conns.items()
            if c.display_meeting is not None and c.member.id == display_id
        ]
        for sid in sids:
            self._spawn(self._revoke(sid))
        return len(sids)

    async def _revoke(self, sid: str) -> None:
        # say why first, so the screen shows the pairing form at once (no retry loop)
        await self.sio.emit("display_revoked", {}, to=sid, namespace=NAMESPACE)
        await self.sio.disconnect(sid, namespace=NAMESPACE)

    async def _leave(self, call: Call, _p: Empty) -> dict[str, Any]:
        sid, conn = call.sid, call.conn
        if conn.display_meeting is not None:
            if conn.meeting_id is not None:
                await self._connection_closed(sid, conn, conn.meeting_id, "leave")
                await self.sio.leave_room(sid, room_of(conn.meeting_id), namespace=NAMESPACE)
                conn.meeting_id = None
            return {}
        assert conn.meeting_id is not None and conn.member_pk is not None
        meeting_id = conn.meeting_id
        await self._connection_closed(sid, conn, meeting_id, "leave")
        ev = self._rosters[meeting_id].leave(sid)
        await self._apply(meeting_id, conn.member_pk, ev)
        await self.sio.leave_room(sid, room_of(meeting_id), namespace=NAMESPACE)
        conn.meeting_id = conn.member_pk = None
        return {}

    async def _send_chat(self, call: Call, req: SendChat) -> dict[str, Any]:
        message = await self.backend.post_chat(call.meeting_id, call.conn.member, req.text)
        await self.emit_to_meeting(call.meeting_id, "chat_posted", {"message": message}, skip_sid=call.sid)
        return {"message": message}

    # -- called by the HTTP adapter / daemon / other handler modules --------------------

    def roster(self, meeting_id: int) -> Roster | None:
        return self._rosters.get(meeting_id)

    @property
    def connection_count(self) -> int:
        """Authenticated Socket.IO connections on this node (metrics)."""
        return len(self._conns)

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
        for timer in self._roster_timers.values():  # nobody is left to tell
            timer.cancel()
        self._roster_timers.clear()
        self._roster_pending.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sio.shutdown()
