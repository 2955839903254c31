"""A shared low rendition of one published VP8 video track (receive profile ``low_video``).

One :class:`LowRendition` per publisher video track, created by the SFU when the first
subscriber asks for ``low_video`` and stopped when the last one leaves or switches. It
taps the publisher's encoded frames (``PublishedTrack.taps``), and one worker thread
decodes them (one PyAV VP8 decoder), scales them down and re-encodes them (one PyAV VP8
encoder, ~150 kbit/s, at most 15 fps). The encoded low frames come back to the event loop
and fan out through :attr:`LowRendition.output`, a :class:`PublishedTrack` that the
subscribers' :class:`ForwardingTrack`\\ s attach to exactly as to the original: encoded
and packetized once per publisher, shared by every low subscriber.

The tap only offers to a small bounded queue; when the worker is behind, frames are
dropped and decoding resumes at the publisher's next keyframe (requested). A keyframe
request on :attr:`output` (a new subscriber, a PLI) makes the next encoded frame a key frame.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType

from media.aiortc_hooks import EncodedFrame
from media.forwarding import PublishedTrack

logger = logging.getLogger(__name__)

MAX_WIDTH, MAX_HEIGHT = 320, 240
BITRATE = 150_000
MAX_FPS = 15
QUEUE_FRAMES = 4
CLOCK = 90_000
TIME_BASE = Fraction(1, CLOCK)
KEYFRAME_INTERVAL = 0.2  # coalesce keyframe requests to the low encoder

# Encoders alive in this process (for tests and operators).
active_encoders = 0
_count_lock = threading.Lock()


def low_size(width: int, height: int) -> tuple[int, int]:
    """Half size, fitted into 320x240, even, at least 16x16."""
    scale = min(0.5, MAX_WIDTH / width, MAX_HEIGHT / height)
    return max(16, int(width * scale) // 2 * 2), max(16, int(height * scale) // 2 * 2)


class LowRendition:
    """Decode, scale and re-encode one publisher's VP8 video, once, for every low subscriber."""

    def __init__(self, source: PublishedTrack) -> None:
        self.source = source
        self._loop = asyncio.get_running_loop()
        self._force_keyframe = threading.Event()
        self._force_keyframe.set()

        async def request_keyframe() -> bool:
            self._force_keyframe.set()
            return True

        self.output = PublishedTrack(
            source.publisher_id, "video", request_keyframe, keyframe_interval=KEYFRAME_INTERVAL
        )
        self.output.codec_mime = "video/VP8"
        self.output.origin = source
        self._queue: queue.Queue[tuple[bytes, int] | None] = queue.Queue(QUEUE_FRAMES)
        self._waiting = True  # loop side: until the publisher's next keyframe
        self.dropped = 0
        self.encoded = 0
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="low-rendition", daemon=True)
        self._thread.start()
        source.taps.append(self._tap)
        source.keyframes.request()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    # -- event loop side -------------------------------------------------------------

    def _tap(self, frame: EncodedFrame, packet: av.Packet[Any]) -> None:
        if frame.discontinuity and not frame.keyframe:
            self._waiting = True
        if self._waiting:
            if not frame.keyframe:
                return
            self._waiting = False
        try:
            self._queue.put_nowait((frame.data, packet.pts or 0))
        except queue.Full:
            self.dropped += 1
            self._waiting = True  # the decoder needs a keyframe again
            self.source.keyframes.request()

    def _deliver(self, data: bytes, pts: int, keyframe: bool) -> None:
        if self._stopped:
            return
        self.output.send_frame(data, pts & 0xFFFFFFFF, keyframe)

    def stop(self) -> None:
        """Stop tapping, detach the subscribers, end the worker thread (it exits promptly)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.source.taps.remove(self._tap)
        except ValueError:
            pass
        self.output.close()
        while True:  # make room for the stop marker
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass

    async def join(self) -> None:
        await asyncio.to_thread(self._thread.join)

    # -- worker thread -----------------------------------------------------------------

    def _run(self) -> None:
        global active_encoders
        decoder: Any = av.CodecContext.create("vp8", "r")
        encoder: Any = None
        last_pts: int | None = None
        count = 0
        with _count_lock:
            active_encoders += 1
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                data, pts = item
                try:
                    frames = decoder.decode(av.Packet(data))
                except av.FFmpegError:
                    logger.debug("low rendition: undecodable frame dropped")
                    continue
                for frame in frames:
                    force = self._force_keyframe.is_set()
                    if not force and last_pts is not None and pts - last_pts < CLOCK // MAX_FPS:
                        continue  # frame rate cap
                    size = low_size(frame.width, frame.height)
                    if encoder is None or (encoder.width, encoder.height) != size:
                        encoder = self._new_encoder(*size)
                        force = True
                    small = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                    small.pts, small.time_base = count, encoder.time_base
                    count += 1
                    if force:
                        self._force_keyframe.clear()
                        small.pict_type = PictureType.I
                    else:
                        small.pict_type = PictureType.NONE
                    last_pts = pts
                    for out in encoder.encode(small):
                        self._loop.call_soon_threadsafe(self._deliver, bytes(out), pts, bool(out.is_keyframe))
                        self.encoded += 1
        except Exception:
            logger.exception("low rendition of %s failed", self.source.publisher_id)
        finally:
            with _count_lock:
                active_encoders -= 1

    @staticmethod
    def _new_encoder(width: int, height: int) -> Any:
        encoder: Any = av.CodecContext.create("libvpx", "w")
        encoder.width, encoder.height = width, height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, MAX_FPS)
        encoder.framerate = Fraction(MAX_FPS, 1)
        encoder.bit_rate = BITRATE
        encoder.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "error-resilient": "1",
            "auto-alt-ref": "0",
        }
        encoder.gop_size = 10 * MAX_FPS
        encoder.open()
        return encoder
