"""Room broadcasts written as one encoded packet per connection, on one node or many.

python-socketio's ``emit`` to a room creates one task per recipient; for a tally or
roster update to hundreds of members that task churn dominated the server's CPU. The
fast path encodes the Socket.IO packet once and, for each local connection, writes it as
one WebSocket frame built once for the whole room (compressed once where the connection's
compression allows) straight to the connection's socket
when nothing is waiting to go out ahead of it (its engine.io writer is idle), and to its
send queue otherwise, in order, with no task per recipient. Queued, each message woke
the connection's writer task and was framed and encoded to UTF-8 per recipient: in a
1,000-member join storm those writers were ~30 % of the event loop's time.

Across nodes, broadcasts travel through python-socketio's Redis manager (one published
message per broadcast, not per recipient). :class:`RedisFanout` keeps that transport and
replaces only the *delivery* on each node, local or remote, with the same fast path, so
a cluster never silently degrades to per-recipient emits. Emits the fast path cannot
carry (callbacks, binary attachments, no room) go through python-socketio unchanged.

python-socketio delivers a broadcast to this node's own connections before publishing it
(and skips its own messages coming back), so with Redis unreachable a node's own members
still get its broadcasts; what is lost is what the nodes could not publish to each other.
The gap is remembered: once the node reaches Redis again (its listener subscribed anew,
or a publish went through) ``on_back`` is called once for that gap, and the namespace
tells every client on every node to resynchronise (``resync``).

The publisher and the listener have clients of their own: the publisher's has a read
timeout (a black-holed Redis must not hang every broadcast), the listener's has none (it
waits for messages indefinitely, Redis's health checks keep it honest). A client replaced
after an error is closed, so a long outage does not pile up connection pools.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import engineio
import redis.asyncio as aioredis
import socketio
from aiohttp import web
from engineio.async_socket import AsyncSocket
from socketio.async_redis_manager import AsyncRedisManager

logger = logging.getLogger(__name__)

# Redis connections per node, shared by all publishers: a burst waits for a free one (up to
# REDIS_POOL_WAIT_S) instead of failing. redis-py's default pool refuses the 101st
# concurrent command outright ("Too many connections"), which a vote or a join storm
# reaches: 150 concurrent publishes failed 1 in 3 here.
REDIS_POOL_SIZE = 32
REDIS_POOL_WAIT_S = 5.0


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """A redis-py asyncio client whose pool waits for a free connection when all are busy."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_POOL_WAIT_S, **options
    )
    return aioredis.Redis.from_pool(pool)


# The listener's reconnect backoff stops growing here (python-socketio's goes to 60 s):
# clients are resynchronised only once the node listens again.
MAX_LISTEN_RETRY_S = 4.0
# A publish waits at most this long for Redis to answer (then python-socketio retries once).
PUBLISH_TIMEOUT_S = 2.0


# A broadcast to a large room is written a slice of connections at a time, yielding to the
# event loop in between: each write wakes that connection's writer task, and a tally to
# 1,000 members woke 1,000 at once, so every ballot acknowledged meanwhile waited ~100 ms
# behind them (the vote bench's p99). Rooms up to this size are written in one go.
BROADCAST_SLICE = 64


# one lock per room with a paced broadcast in flight: later broadcasts to it wait, so every
# member still receives a room's broadcasts in the order they were sent
class _Pacing:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0  # broadcasts holding or waiting for the lock


_pacing: dict[tuple[int, str, str], _Pacing] = {}


# --- one frame for the whole room -----------------------------------------------------------

_WEBSOCKET = "_meetingd_websocket"  # on an engine.io socket: the aiohttp response it is served over
# A connection whose socket already holds this much unsent is written through its queue,
# whose writer waits for the socket to drain (a direct write has no back-pressure).
DIRECT_WRITE_MAX_BUFFER = 256 * 1024


@dataclass
class FrameCounts:
    """Broadcast messages written straight to a connection's socket, and through its queue."""

    direct: int = 0
    queued: int = 0


frames = FrameCounts()


def remember_websockets() -> None:
    """Make every engine.io socket served over a WebSocket keep the aiohttp response it is
    served over, for :func:`write_to_room` (idempotent; engine.io keeps it only in the
    handler's frame)."""
    original = AsyncSocket._websocket_handler
    if getattr(original, "_meetingd_remembers", False):
        return

    async def websocket_handler(self: AsyncSocket, ws: Any) -> Any:
        response = getattr(ws, "_sock", None)  # engine.io's aiohttp driver
        if isinstance(response, web.WebSocketResponse):
            setattr(self, _WEBSOCKET, response)
        try:
            return await original(self, ws)
        finally:
            self.__dict__.pop(_WEBSOCKET, None)

    websocket_handler._meetingd_remembers = True  # type: ignore[attr-defined]
    websocket_handler.__wrapped__ = original  # type: ignore[attr-defined]
    AsyncSocket._websocket_handler = websocket_handler


def text_frame(message: str, deflate_bits: int = 0) -> bytes:
    """One unfragmented, unmasked WebSocket text frame holding ``message`` (RFC 6455 §5.2).

    ``deflate_bits`` > 0: compressed on its own for a permessage-deflate connection with that
    window and no context takeover by the server (RSV1 set, RFC 7692 §7.2.1), where every
    message starts from an empty window, so one compressed frame serves them all."""
    data = message.encode()
    first = 0x81
    if deflate_bits:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -deflate_bits)
        data = (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)).removesuffix(DEFLATE_TRAILER)
        first |= 0x40
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", first, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + data


DEFLATE_TRAILER = b"\x00\x00\xff\xff"  # what a sync flush ends with; not sent (RFC 7692 §7.2.1)
# On a connection whose compressor keeps its window from message to message (browsers ask
# for that), a message compressed elsewhere would land in the client's window but not in the
# server compressor's and corrupt what follows; an uncompressed one (RSV1 clear, RFC 7692
# §6) touches neither. So such connections take a broadcast direct only when it is this small
# (deflate would save a few hundred bytes at most); a longer one goes through the queue and
# aiohttp compresses it, so a member on a thin link still gets big updates compressed.
DIRECT_PLAIN_MAX = 1024


class RoomFrames:
    """The frames of one broadcast: plain, and compressed once per window size negotiated."""

    def __init__(self, message: str) -> None:
        self.message = message
        self._small = len(message) <= DIRECT_PLAIN_MAX
        self._frames: dict[int, bytes] = {}

    def frame_for(self, compress: int, server_takeover: bool) -> bytes | None:
        """The frame for a connection with aiohttp's ``compress`` (window bits, 0: none) and
        the server's context takeover; None: this one must go through its queue."""
        if compress and server_takeover:
            if not self._small:
                return None
            compress = 0
        found = self._frames.get(compress)
        if found is None:
            found = self._frames[compress] = text_frame(self.message, compress)
        return found


def _write_now(eio: engineio.AsyncServer, eio_sid: str, frames: RoomFrames) -> bool:
    """Write the broadcast to the connection's socket now if that keeps its order: a
    WebSocket connection past its upgrade whose queue is empty and whose writer waits on it
    (so no message of its own is half sent), not past its ping timeout, and whose socket
    takes more. False: queue it."""
    socket = eio.sockets.get(eio_sid)
    if socket is None or socket.closing or socket.closed or socket.upgrading or not socket.upgraded:
        return False
    response = socket.__dict__.get(_WEBSOCKET)
    if response is None or response.closed:
        return False
    queue = socket.queue
    if not queue.empty() or not any(not waiter.done() for waiter in queue._getters):
        return False
    if socket.last_ping and time.time() - socket.last_ping > eio.ping_timeout:
        return False  # the queued send closes such a connection; let it
    writer = response._writer
    transport = None if writer is None else writer.transport
    if transport is None or transport.is_closing() or writer.protocol._paused:
        return False
    if transport.get_write_buffer_size() > DIRECT_WRITE_MAX_BUFFER:
        return False
    frame = frames.frame_for(int(writer.compress or 0), not writer.notakeover)
    if frame is None:
        return False
    transport.write(frame)
    return True


async def write_to_room(
    sio: socketio.AsyncServer, namespace: str, room: str, event: str, data: Any, skip_sid: str | None = None
) -> int:
    """Encode ``[event, data]`` once and write it to each local member of ``room``: as one
    frame built once, straight to its socket when that keeps its order, else through its
    queue.

    Returns how many connections it was written to.
    """
    args = list(data) if isinstance(data, tuple) else [data]
    encoded = sio.packet_class(socketio.packet.EVENT, namespace=namespace, data=[event, *args]).encode()
    packets = [
        engineio.packet.Packet(engineio.packet.MESSAGE, p)
        for p in (encoded if isinstance(encoded, list) else [encoded])
    ]
    eio = sio.eio
    text = packets[0].encode() if len(packets) == 1 else None  # binary attachments: queued
    frame = RoomFrames(text) if isinstance(text, str) else None

    async def write(eio_sid: str) -> None:
        if frame is not None and _write_now(eio, eio_sid, frame):
            frames.direct += 1
            return
        frames.queued += 1
        for pkt in packets:
            await eio.send_packet(eio_sid, pkt)

    def recipients() -> list[str]:
        return [e for sid, e in list(sio.manager.get_participants(namespace, room)) if sid != skip_sid]

    targets = recipients()
    key = (id(sio), namespace, room)
    if len(targets) <= BROADCAST_SLICE and key not in _pacing:
        for eio_sid in targets:
            await write(eio_sid)
        return len(targets)
    pacing = _pacing.setdefault(key, _Pacing())
    pacing.users += 1
    try:
        async with pacing.lock:
            targets = recipients()  # who is in the room now, after the broadcasts before it
            size = BROADCAST_SLICE
            for start in range(0, len(targets), size):
                if start:
                    await asyncio.sleep(0)
                for eio_sid in targets[start : start + size]:
                    await write(eio_sid)
    finally:
        pacing.users -= 1
        if not pacing.users:
            del _pacing[key]
    return len(targets)


class RedisFanout(AsyncRedisManager):  # type: ignore[misc]  # python-socketio has no type hints
    """python-socketio's Redis manager with encode-once delivery on every node.

    ``published`` and ``delivered`` count broadcasts sent to Redis and written locally
    (for metrics and for the test that proves the fast path is taken on every node).
    """

    redis: Any  # the publisher's client (python-socketio's attribute)
    pubsub: Any  # the listener's subscription

    def __init__(self, url: str, channel: str = "meetingd-socketio", **kwargs: Any) -> None:
        # Connect attempts give up quickly when Redis is down (the node keeps serving its
        # own meetings); read timeouts are set per client (_client).
        options = {"socket_connect_timeout": 5, "health_check_interval": 10}
        super().__init__(
            url,
            channel=channel,
            write_only=False,
            redis_options=options | kwargs.pop("redis_options", {}),
            **kwargs,
        )
        self._listener_client: aioredis.Redis | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self.published = 0
        self.fast_deliveries = 0
        self.slow_deliveries = 0
        self.gaps = 0  # times Redis was lost and found again
        self._in_gap = False
        self._listening = False
        # called (as a background task) once Redis is reachable again after a gap
        self.on_back: Callable[[], Awaitable[None]] | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: str | None = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> None:
        await super().emit(
            event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )
        if not kwargs.get("ignore_queue"):
            self.published += 1

    async def _publish(self, data: Any) -> Any:
        result = await super()._publish(data)  # python-socketio: None once it gave up
        if result is None:  # the other nodes missed it: they resync once this node is back
            self._lost("publish failed")
        elif self._in_gap and self._listening:
            self._found()
        return result

    def _lost(self, why: str) -> None:
        if not self._in_gap:
            self._in_gap = True
            logger.error("redis unreachable (%s): broadcasts reach this node's clients only", why)

    def _found(self) -> None:
        self._in_gap = False
        self.gaps += 1
        logger.warning("redis reachable again: clients are told to resynchronise")
        if self.on_back is not None and self.server is not None:
            self.server.start_background_task(self.on_back)

    async def _redis_listen_with_retries(self) -> Any:
        """python-socketio's listener loop, telling this manager when it subscribed again
        after a failure (so clients resync), with a shorter backoff cap."""
        retry = 1.0
        while True:
            try:
                self._connect_listener()
                await self.pubsub.subscribe(self.channel)
                self._listening, retry = True, 1.0
                if self._in_gap:
                    self._found()
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._listening = False
                self._lost(f"listener: {exc}")
                logger.error("cannot receive from redis, retrying in %.0f s: %s", retry, exc)
                await asyncio.sleep(retry)
                retry = min(retry * 2, MAX_LISTEN_RETRY_S)

    def _client(self, *, read_timeout: float | None) -> aioredis.Redis:
        return redis_client(self.redis_url, **self.redis_options, socket_timeout=read_timeout)

    def _redis_connect(self) -> None:
        """The publisher's client (python-socketio calls this from _publish after an error)."""
        self._retire(self.redis)
        self.redis = self._client(read_timeout=PUBLISH_TIMEOUT_S)
        self.connected = True

    def _connect_listener(self) -> None:
        if self.pubsub is not None:
            self._retire(self.pubsub)
        self._retire(self._listener_client)
        self._listener_client = self._client(read_timeout=None)
        self.pubsub = self._listener_client.pubsub(ignore_subscribe_messages=True)

    def _retire(self, client: Any) -> None:
        """Close a replaced client (a Redis client or a pubsub) in the background."""
        if client is None:
            return
        task = asyncio.ensure_future(client.aclose())
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def close(self) -> None:
        """Stop listening and close every Redis connection made (server shutdown)."""
        thread = getattr(self, "thread", None)
        if thread is not None:
            thread.cancel()
            await asyncio.gather(thread, return_exceptions=True)
        for client in (self.pubsub, self._listener_client, self.redis):
            self._retire(client)
        self.pubsub = self._listener_client = self.redis = None
        if self._retired:
            await asyncio.gather(*list(self._retired), return_exceptions=True)
        self.connected = False

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        room = message.get("room")
        if (
            message.get("callback") is None
            and not message.get("binary")
            and isinstance(room, str)
            and self.server is not None
        ):
            data = message["data"]
            payload = data[0] if len(data) == 1 else tuple(data)
            await write_to_room(
                self.server,
                message.get("namespace") or "/",
                room,
                message["event"],
                payload,
                message.get("skip_sid"),
            )
            self.fast_deliveries += 1
            return
        self.slow_deliveries += 1
        await super()._handle_emit(message)


async def broadcast(
    sio: socketio.AsyncServer, namespace: str, room: str, event: str, data: Any, skip_sid: str | None = None
) -> None:
    """A room broadcast, encode-once wherever its members are connected."""
    manager = sio.manager
    if type(manager) is socketio.AsyncManager:  # one node
        await write_to_room(sio, namespace, room, event, data, skip_sid)
    elif isinstance(manager, RedisFanout):  # published once; RedisFanout delivers on each node
        await sio.emit(event, data, room=room, namespace=namespace, skip_sid=skip_sid)
    else:
        raise TypeError(
            f"{type(manager).__name__}: broadcasts need socketio.AsyncManager "
            "or signaling.fanout.RedisFanout (encode-once delivery)"
        )


def client_manager(redis_url: str) -> socketio.AsyncManager:
    """The Socket.IO client manager: in-process for one node, Redis for a cluster."""
    if not redis_url:
        return socketio.AsyncManager()
    return RedisFanout(redis_url)


async def close_manager(sio: socketio.AsyncServer) -> None:
    """Release what the client manager holds (the Redis connections of a cluster node)."""
    if isinstance(sio.manager, RedisFanout):
        await sio.manager.close()


async def redis_ok(sio: socketio.AsyncServer, within_s: float = 1.0) -> bool | None:
    """Whether this node reaches its Redis (None: a single node, no Redis)."""
    manager = sio.manager
    if not isinstance(manager, RedisFanout):
        return None
    try:
        if manager.redis is None:
            manager._redis_connect()
        return bool(await asyncio.wait_for(manager.redis.ping(), within_s))
    except Exception as exc:  # down, refused, timed out: reported, never raised
        logger.warning("redis ping failed: %s", exc)
        return False
