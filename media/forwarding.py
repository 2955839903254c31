"""Encoded-frame fan-out: one published track to N forwarding tracks.

A :class:`PublishedTrack` receives complete encoded frames from a hooked
receiver (``aiortc_hooks.install_frame_sink``), wraps each once in an
``av.Packet`` and appends it to every subscriber's bounded queue. Each
:class:`ForwardingTrack` is the track of one subscriber's ``RTCRtpSender``:
its ``recv()`` returns the ``av.Packet``, which aiortc's sender packetizes
without encoding. A slow subscriber overflows only its own queue and then
waits for the next keyframe; it never blocks the publisher or the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.aiortc_hooks import EncodedFrame

logger = logging.getLogger(__name__)


class KeyframeRequester:
    """Coalesces keyframe requests to one publisher, at most one per ``min_interval``."""

    def __init__(
        self,
        send: Callable[[], Awaitable[bool]],
        min_interval: float,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._send = send
        self._min_interval = min_interval
        self._loop = loop or asyncio.get_running_loop()
        self._last_sent: float | None = None
        self._pending: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.requested = 0
        self.sent = 0

    def request(self) -> None:
        self.requested += 1
        if self._pending is not None:
            return  # coalesced into the one already scheduled
        now = self._loop.time()
        delay = 0.0
        if self._last_sent is not None:
            delay = max(0.0, self._last_sent + self._min_interval - now)
        self._last_sent = now + delay
        self._pending = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._pending = None
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            if await self._send():
                self.sent += 1
        except ConnectionError:
            pass

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._task is not None:
            self._task.cancel()


class ForwardingTrack(MediaStreamTrack):
    """What one subscriber's sender reads: encoded ``av.Packet``s of one publisher track.

    The track lives as long as its sender; :meth:`set_source` points it at
    another publisher (a recycled transceiver) without disturbing the sender.
    """

    def __init__(self, kind: str, max_queue: int) -> None:
        super().__init__()
        self.kind = kind
        self.source: PublishedTrack | None = None
        self._max_queue = max_queue
        self._queue: deque[av.Packet[Any]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._enabled = True
        self.needs_keyframe = kind == "video"
        self._reading = False  # the sender has asked for a first frame
        self.forwarded = 0
        self.dropped = 0
        self.keyframe_requests = 0

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_source(self, source: PublishedTrack | None) -> None:
        if source is self.source:
            return
        if self.source is not None:
            self.source.detach(self)
        self.dropped += len(self._queue)
        self._queue.clear()
        self.needs_keyframe = self.kind == "video"
        self.source = source
        if source is not None:
            source.attach(self)
            if self._reading and self.kind == "video":
                source.keyframes.request()

    def request_keyframe(self) -> None:
        """A PLI/FIR from this subscriber: forwarded (coalesced) to the publisher."""
        self.keyframe_requests += 1
        if self.source is not None and self.kind == "video":
            self.source.keyframes.request()

    def set_enabled(self, enabled: bool) -> None:
        """Start or stop forwarding (receive profiles). Video restarts at a keyframe."""
        if enabled == self._enabled:
            return
        self._enabled = enabled
        if not enabled:
            self.dropped += len(self._queue)
            self._queue.clear()
        elif self.kind == "video":
            self.needs_keyframe = True
            if self.source is not None:
                self.source.keyframes.request()

    def push(self, packet: av.Packet[Any], keyframe: bool) -> bool:
        """Queue a frame; False when this track is waiting for a keyframe."""
        if not self._enabled or not self._reading:
            return True
        if self.needs_keyframe:
            if not keyframe:
                self.dropped += 1
                return False
            self.needs_keyframe = False
        queue = self._queue
        if len(queue) >= self._max_queue:
            if self.kind == "video":
                # Too slow: drop everything and resume at a keyframe.
                self.dropped += len(queue)
                queue.clear()
                if not keyframe:
                    self.needs_keyframe = True
                    self.dropped += 1
                    return False
            else:
                queue.popleft()
                self.dropped += 1
        queue.append(packet)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def recv(self) -> av.Packet[Any]:
        queue = self._queue
        if not self._reading:
            # First read: the sender is running. Start at a keyframe, asked for now.
            self._reading = True
            if self.kind == "video" and self.source is not None:
                self.source.keyframes.request()
        while not queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        self.forwarded += 1
        return queue.popleft()

    def stop(self) -> None:
        self.set_source(None)
        super().stop()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class PublishedTrack:
    """One incoming audio or video stream and the subscribers it fans out to."""

    def __init__(
        self,
        publisher_id: str,
        kind: str,
        request_keyframe: Callable[[], Awaitable[bool]],
        *,
        keyframe_interval: float,
        on_audio_level: Callable[[str, int], None] | None = None,
    ) -> None:
        self.publisher_id = publisher_id
        self.kind = kind
        self.codec_mime: str | None = None
        self.muted = False
        self.keyframes = KeyframeRequester(request_keyframe, keyframe_interval)
        self._subscribers: list[ForwardingTrack] = []
        self._on_audio_level = on_audio_level
        self._time_base: Fraction | None = None
        self._ts_last: int | None = None
        self._ts_offset = 0
        self.frames = 0
        self.keyframes_seen = 0
        self.last_frame_at: float | None = None
        # Optional tap for recording or measurement: called with every frame.
        self.taps: list[Callable[[EncodedFrame, av.Packet[Any]], None]] = []
        # Set on a rendition's output (media/rendition.py): the publisher track it renders.
        self.origin: PublishedTrack | None = None

    @property
    def subscribers(self) -> tuple[ForwardingTrack, ...]:
        return tuple(self._subscribers)

    def attach(self, track: ForwardingTrack) -> None:
        """A new subscriber: it gets nothing until a keyframe (requested once it reads).

        Call through ``ForwardingTrack.set_source``.
        """
        self._subscribers.append(track)

    def detach(self, track: ForwardingTrack) -> None:
        try:
            self._subscribers.remove(track)
        except ValueError:
            pass

    def on_frame(self, frame: EncodedFrame) -> None:
        """Sink of the hooked receiver: runs on the event loop for every frame."""
        self.frames += 1
        self.last_frame_at = frame.arrival
        if self._time_base is None:
            self.codec_mime = frame.codec.mimeType
            self._time_base = Fraction(1, frame.codec.clockRate)
        if self.kind == "audio":
            if frame.audio_level is not None and self._on_audio_level is not None:
                self._on_audio_level(self.publisher_id, frame.audio_level)
            if self.muted:
                return
        packet = av.Packet(frame.data)
        packet.pts = self._unwrap(frame.timestamp)
        packet.time_base = self._time_base
        for tap in self.taps:
            tap(frame, packet)
        keyframe = frame.keyframe
        if keyframe and self.kind == "video":
            self.keyframes_seen += 1
        waiting = False
        if frame.discontinuity:
            for sub in self._subscribers:
                sub.needs_keyframe = True
        for sub in self._subscribers:
            if not sub.push(packet, keyframe):
                waiting = True
        if waiting:
            self.keyframes.request()

    def _unwrap(self, timestamp: int) -> int:
        last = self._ts_last
        if last is not None:
            if timestamp < last and last - timestamp > 0x80000000:
                self._ts_offset += 1 << 32
            elif timestamp > last and timestamp - last > 0x80000000:
                self._ts_offset -= 1 << 32
        self._ts_last = timestamp
        return timestamp + self._ts_offset

    def close(self) -> None:
        self.keyframes.close()
        for sub in list(self._subscribers):
            sub.set_source(None)
        self._subscribers.clear()
