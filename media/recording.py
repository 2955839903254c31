"""Recording: the forwarded encoded frames, tapped into WebM/Matroska files. No decoding.

A :class:`MeetingRecorder` observes a meeting's :class:`~media.sfu.Sfu` (``Sfu.observers``)
and puts a tap (``PublishedTrack.taps``) on every published track. All the tracks of one
participant go into one file, a *segment*; when the participant's set of tracks changes
(a reconnect, a re-publish, a track added or removed) the segment is closed and a new
one starts. Video starts at a keyframe (one is requested when a segment starts).

The tap runs on the event loop for every frame and only appends a tuple to a bounded
queue. One writer thread per recorder muxes the frames (``av.Packet`` built from the
frame's bytes, never the shared packet the subscribers read) with PyAV, finalizes each
file and hashes it (SHA-256). If the writer falls behind, frames are dropped: a video
track then waits for its next keyframe (requested), and the drop is logged. Forwarding
never waits for the recorder.

Timeline of a segment: it starts at the arrival of its first written frame (the first
video keyframe, or the first audio frame of an audio-only segment); each track's RTP
timestamps (unwrapped) are offset by the arrival of that track's first written frame.
Audio and video are aligned to arrival time (within the jitter of the link), not RTCP
sender reports.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from media.aiortc_hooks import EncodedFrame
from media.forwarding import PublishedTrack

logger = logging.getLogger(__name__)

# RFC 7845 5.1 identification header: version 1, 2 channels (WebRTC's opus/48000/2),
# pre-skip 312, 48 kHz input, gain 0, mapping family 0. Matroska carries it as CodecPrivate.
OPUS_HEAD = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)
CLOCK = {"audio": 48000, "video": 90000}
BATCH_SECONDS = 0.25  # the writer thread wakes about 4 times a second
OPEN_WAIT_FRAMES = 300  # frames buffered while a second video track waits for its keyframe
_template_lock = threading.Lock()
_opus_template: Any = None


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 9.1), no decoding."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack_from("<HH", data, 6)
    return width & 0x3FFF, height & 0x3FFF


def _opus_stream_template() -> Any:
    """An input Opus stream to copy codec parameters from (PyAV opens no codec for it).

    Built once: one Matroska file in memory holding one silent Opus packet.
    """
    global _opus_template
    with _template_lock:
        if _opus_template is None:
            buf = io.BytesIO()
            with av.open(buf, "w", format="matroska") as out:
                stream = out.add_mux_stream("opus", rate=48000)
                packet = av.Packet(b"\xfc\xff\xfe")  # an Opus silence frame
                packet.stream, packet.pts, packet.dts = stream, 0, 0
                packet.time_base = Fraction(1, 48000)
                out.mux(packet)
            buf.seek(0)
            container = av.open(buf, "r")
            _opus_template = (container, container.streams.audio[0])
        return _opus_template[1]


@dataclass
class RecordedFile:
    """One finalized segment file."""

    participant_id: str
    segment: int
    kind: str  # "audio+video" | "audio" | "video"
    path: Path
    sha256: str
    size: int
    started_at: float  # Unix time of the first frame written
    ended_at: float  # Unix time of the last frame written
    frames: int
    dropped: int
    codecs: list[str] = field(default_factory=list)


@dataclass(eq=False)
class _Slot:
    """One track of a segment. ``waiting``/``dropped`` belong to the loop thread."""

    kind: str
    track: PublishedTrack
    waiting: bool = True  # video: until a keyframe; audio: until the segment opens (writer)
    dropped: int = 0
    dropping: bool = False  # in a drop episode (log once per episode)
    # writer thread
    stream: Any = None
    mime: str = ""
    size: tuple[int, int] | None = None
    first_pts: int | None = None
    offset: int = 0
    last_pts: int | None = None
    written: int = 0


@dataclass(eq=False)
class _Segment:
    participant_id: str
    number: int
    base: Path  # file path without extension
    slots: list[_Slot]
    # writer thread
    container: Any = None
    path: Path | None = None
    pending: list[tuple[Any, ...]] = field(default_factory=list)
    t0: float | None = None  # monotonic arrival of the first written frame
    last_arrival: float | None = None
    failed: bool = False

    @property
    def kinds(self) -> str:
        kinds = {s.kind for s in self.slots if s.written}
        return "+".join(k for k in ("audio", "video") if k in kinds)


class _Tap:
    """Called by a :class:`PublishedTrack` for every frame, on the event loop: O(1), no I/O."""

    __slots__ = ("recorder", "segment", "slot")

    def __init__(self, recorder: MeetingRecorder, segment: _Segment, slot: _Slot) -> None:
        self.recorder, self.segment, self.slot = recorder, segment, slot

    def __call__(self, frame: EncodedFrame, packet: av.Packet[Any]) -> None:
        slot = self.slot
        if slot.kind == "video":
            if frame.discontinuity and not frame.keyframe:
                slot.waiting = True
            if slot.waiting:
                if not frame.keyframe:
                    slot.dropped += 1
                    return
                slot.waiting = False
        item = (
            self.segment,
            slot,
            frame.data,
            packet.pts,
            frame.keyframe,
            frame.arrival,
            frame.codec.mimeType,
        )
        if self.recorder._writer.offer(item):
            slot.dropping = False
            return
        slot.dropped += 1
        if not slot.dropping:
            slot.dropping = True
            logger.warning(
                "participant=%s recording %s: writer behind, frames dropped%s",
                self.segment.participant_id,
                slot.kind,
                " until the next keyframe" if slot.kind == "video" else "",
            )
        if slot.kind == "video":
            slot.waiting = True
            slot.track.keyframes.request()


class _Writer(threading.Thread):
    """The recorder's writer thread: a bounded queue of frames, unbounded control items."""

    def __init__(self, max_frames: int) -> None:
        super().__init__(name="recording-writer", daemon=True)
        self._cond = threading.Condition()
        self._items: deque[tuple[Any, ...]] = deque()
        self._frames = 0
        self._control = 0
        self._max = max_frames
        self.files: list[RecordedFile] = []

    def offer(self, item: tuple[Any, ...]) -> bool:
        # No wake-up per frame (a thread switch per frame costs far more than muxing
        # it): the writer drains every BATCH_SECONDS, or early when the queue is half full.
        with self._cond:
            if self._frames >= self._max:
                return False
            self._frames += 1
            self._items.append(item)
            if self._frames == self._max // 2:
                self._cond.notify()
        return True

    def control(self, *item: Any) -> None:
        with self._cond:
            self._control += 1
            self._items.append(item)
            self._cond.notify()

    def run(self) -> None:
        while True:
            with self._cond:
                if self._frames < self._max // 2 and not self._control:
                    self._cond.wait(BATCH_SECONDS)  # let a batch gather
                if not self._items:
                    continue
                self._control = 0
                batch = list(self._items)
                self._items.clear()
                self._frames = 0
            for item in batch:
                if item[0] == "stop":
                    return
                try:
                    if item[0] == "close":
                        self._close(item[1])
                    else:
                        self._frame(*item)
                except Exception:  # a full disk, say: log it, keep the thread alive
                    logger.exception("recording writer failed on %s", item[0])

    # -- writer-thread side ------------------------------------------------------------

    def _frame(
        self, seg: _Segment, slot: _Slot, data: bytes, pts: int, keyframe: bool, arrival: float, mime: str
    ) -> None:
        if seg.failed:
            return
        if seg.container is None:
            if not self._buffer(seg, slot, data, pts, keyframe, arrival, mime):
                return
            self._open(seg)
            if seg.container is None:
                return
            pending, seg.pending = seg.pending, []
            for p in pending:
                self._write(seg, *p)
            return
        self._write(seg, slot, data, pts, keyframe, arrival, mime)

    def _buffer(
        self, seg: _Segment, slot: _Slot, data: bytes, pts: int, keyframe: bool, arrival: float, mime: str
    ) -> bool:
        """Hold frames until every video track has a keyframe; True when it is time to open."""
        videos = [s for s in seg.slots if s.kind == "video"]
        if slot.kind == "video" and slot.size is None:
            if not keyframe:
                return False
            slot.mime = mime
            size = vp8_size(data) if mime.lower() == "video/vp8" else (0, 0)
            if size is None:
                return False
            slot.size = size
        elif slot.kind == "audio":
            slot.mime = mime
            if videos and not seg.pending:
                return False  # audio before the first video keyframe: nothing to align to
        seg.pending.append((slot, data, pts, keyframe, arrival, mime))
        ready = all(s.size is not None for s in videos)
        if not ready and len(seg.pending) >= OPEN_WAIT_FRAMES:
            ready = True  # the other video tracks are left out of this segment
        return ready

    def _open(self, seg: _Segment) -> None:
        for s in seg.slots:
            if s.kind == "audio" and not s.mime:
                s.mime = "audio/opus"  # the only audio codec the SFU accepts (media/sfu.py)
        usable = [
            s
            for s in seg.slots
            if (s.kind == "video" and s.size is not None)
            or (s.kind == "audio" and s.mime.lower() == "audio/opus")
        ]
        webm = all(s.mime.lower() in ("video/vp8", "audio/opus") for s in usable)
        seg.path = seg.base.with_suffix(".webm" if webm else ".mkv")
        try:
            container = av.open(str(seg.path), "w", format="webm" if webm else "matroska")
            container.metadata["title"] = f"{seg.participant_id} segment {seg.number}"
            for s in usable:
                if s.kind == "audio":
                    s.stream = container.add_stream_from_template(_opus_stream_template(), opaque=True)
                    s.stream.codec_context.extradata = OPUS_HEAD
                else:
                    codec = "vp8" if s.mime.lower() == "video/vp8" else "h264"
                    assert s.size is not None
                    s.stream = container.add_mux_stream(codec, width=s.size[0], height=s.size[1])
            seg.container = container
        except Exception:
            seg.failed = True
            logger.exception("participant=%s recording: cannot open %s", seg.participant_id, seg.path)

    def _write(
        self, seg: _Segment, slot: _Slot, data: bytes, pts: int, keyframe: bool, arrival: float, mime: str
    ) -> None:
        if slot.stream is None:
            return
        clock = CLOCK[slot.kind]
        if seg.t0 is None:
            seg.t0 = arrival
        if slot.first_pts is None:
            slot.first_pts = pts
            slot.offset = max(0, round((arrival - seg.t0) * clock))
        out = pts - slot.first_pts + slot.offset
        if slot.last_pts is not None and out <= slot.last_pts:
            return  # Matroska wants increasing timestamps per track
        packet = av.Packet(data)
        packet.stream = slot.stream
        packet.pts = packet.dts = out
        packet.time_base = Fraction(1, clock)
        packet.is_keyframe = keyframe or slot.kind == "audio"
        try:
            seg.container.mux(packet)
        except Exception:
            seg.failed = True
            logger.exception("participant=%s recording: write to %s failed", seg.participant_id, seg.path)
            return
        slot.last_pts = out
        slot.written += 1
        seg.last_arrival = arrival

    def _close(self, seg: _Segment) -> None:
        if seg.container is None:
            return  # nothing was written: no file
        try:
            seg.container.close()
        except Exception:
            logger.exception("participant=%s recording: finalizing %s failed", seg.participant_id, seg.path)
        seg.container = None
        assert seg.path is not None and seg.t0 is not None
        digest, size = hashlib.sha256(), 0
        with seg.path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
        wall = time.time() - time.monotonic()
        self.files.append(
            RecordedFile(
                participant_id=seg.participant_id,
                segment=seg.number,
                kind=seg.kinds or "none",
                path=seg.path,
                sha256=digest.hexdigest(),
                size=size,
                started_at=seg.t0 + wall,
                ended_at=(seg.last_arrival or seg.t0) + wall,
                frames=sum(s.written for s in seg.slots),
                dropped=sum(s.dropped for s in seg.slots),
                codecs=[s.mime for s in seg.slots if s.written],
            )
        )
        logger.info(
            "participant=%s recording segment %s closed: %s, %s bytes",
            seg.participant_id,
            seg.number,
            seg.path.name,
            size,
        )


class MeetingRecorder:
    """Records every published track of the SFUs it is attached to, per participant.

    ``name_for(participant_id, segment_number)`` gives each file's path without its
    extension (``.webm``, or ``.mkv`` for H.264). Use from the event loop.
    """

    def __init__(self, name_for: Callable[[str, int], Path], *, queue_frames: int = 1000) -> None:
        self._name_for = name_for
        self._writer = _Writer(queue_frames)
        self._writer.start()
        self._sfus: list[Any] = []
        self._tracks: dict[str, list[PublishedTrack]] = {}
        self._segments: dict[str, _Segment] = {}
        self._numbers: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._scheduled = False
        self._stopped = False

    # -- observing SFUs ------------------------------------------------------------------

    def attach(self, sfu: Any) -> None:
        """Record ``sfu``'s current and future tracks."""
        if sfu in self._sfus or self._stopped:
            return
        self._sfus.append(sfu)
        sfu.observers.append(self)
        for track in sfu.published_tracks():
            self.track_published(track)

    def track_published(self, track: PublishedTrack) -> None:
        if track.kind not in CLOCK:
            return
        self._tracks.setdefault(track.publisher_id, []).append(track)
        self._mark(track.publisher_id)

    def track_unpublished(self, track: PublishedTrack) -> None:
        tracks = self._tracks.get(track.publisher_id, [])
        if track in tracks:
            tracks.remove(track)
            self._mark(track.publisher_id)
        seg = self._segments.get(track.publisher_id)
        if seg is not None:  # stop tapping now: the track is closing
            for slot in seg.slots:
                if slot.track is track:
                    _remove_tap(track, seg)

    def _mark(self, pid: str) -> None:
        # Tracks of one offer arrive one by one in the same loop step: one segment for all.
        self._dirty.add(pid)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._resegment)

    def _resegment(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, set()
        if self._stopped:
            return
        for pid in dirty:
            self._close_segment(pid)
            tracks = self._tracks.get(pid) or []
            if not tracks:
                self._tracks.pop(pid, None)
                continue
            number = self._numbers[pid] = self._numbers.get(pid, 0) + 1
            slots = [_Slot(t.kind, t, waiting=t.kind == "video") for t in tracks]
            seg = _Segment(pid, number, self._name_for(pid, number), slots)
            self._segments[pid] = seg
            for slot in slots:
                slot.track.taps.append(_Tap(self, seg, slot))
                if slot.kind == "video":
                    slot.track.keyframes.request()

    def _close_segment(self, pid: str) -> None:
        seg = self._segments.pop(pid, None)
        if seg is None:
            return
        for slot in seg.slots:
            _remove_tap(slot.track, seg)
        self._writer.control("close", seg)

    # -- stopping ------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        return sum(s.dropped for seg in self._segments.values() for s in seg.slots)

    async def stop(self) -> list[RecordedFile]:
        """Stop tapping, finalize and hash every file (off the loop); the files, in order."""
        if not self._stopped:
            self._stopped = True
            for sfu in self._sfus:
                if self in sfu.observers:
                    sfu.observers.remove(self)
            for pid in list(self._segments):
                self._close_segment(pid)
            self._writer.control("stop")
        await asyncio.to_thread(self._writer.join)
        return sorted(self._writer.files, key=lambda f: (f.started_at, f.participant_id))


def _remove_tap(track: PublishedTrack, seg: _Segment) -> None:
    track.taps[:] = [t for t in track.taps if not (isinstance(t, _Tap) and t.segment is seg)]
