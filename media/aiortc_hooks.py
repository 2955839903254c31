"""The one module that reaches into aiortc and aioice internals.

Everything here is per object (per receiver, per sender, per ICE connection);
nothing patches a module-level function, so receivers that are not hooked keep
decoding as usual. aiortc is pinned (pyproject.toml) and
``tests/unit/test_media_hooks.py`` fails loudly when an upgrade moves any of
the names used below.

Hooks:

* :func:`install_packet_sink` (the relay's publish side) replaces a receiver's
  jitter buffer with a :class:`PacketTap`: every packet goes, as it arrives, to
  a callback as a :class:`~media.rtpwire.MediaPacket` (payload untouched), and
  through a :class:`FrameAssembler` to a frame callback only while someone
  (recording, the low rendition) wants whole frames. Nothing reaches the decoder.
  For video it also replaces aiortc's NACK generator (one NACK per gap, never repeated)
  with a :class:`NackRetrier`: asked again every round trip until the packet arrives
  or is too old.
* :func:`install_simulcast_sink` does the same for a video receiver that gets simulcast
  layers (RFC 8853): a :class:`SimulcastTap` binds each SSRC to its layer by the
  rtp-stream-id header extension (and each RTX SSRC by repaired-rtp-stream-id, so aiortc
  unwraps retransmissions), and hands each layer to a :class:`PacketTap` of its own, with
  its own NACK retrier; :func:`request_layer_keyframe` sends a PLI for one layer.
  :func:`enable_simulcast` negotiates the two extensions.
* :func:`install_frame_sink` (test and bench clients) replaces it with a
  :class:`FrameAssembler` that hands re-assembled, still-encoded frames to a
  callback. A video frame is released as soon as its marker packet completes it
  (the stock buffer waits for the next frame's first packet, ~33 ms at 30 fps).
* :func:`attach_sender` takes a subscriber's ``RTCRtpSender`` off aiortc's
  encode-and-send task: once aiortc starts it (``send()``), a :class:`SenderLink`
  writes finished RTP straight into the sender's SRTP session and ICE socket,
  synchronously, keeping the sender's counters (sender reports, ``getStats``)
  right; the NACKs and PLI/FIR the sender receives go to callbacks.
* :func:`install_direct_rtcp` gives a subscriber's connection the RTCP half of the
  direct receive path: the NACKs, PLIs, reports, REMBs and transport feedback its
  subscriber sends are handled in the socket callback, not one task wake-up each.
* :func:`set_codecs` replaces what a transceiver negotiated (Opus fmtp, RED; see
  :mod:`media.negotiation`), for its next answer and its sender's and receiver's start.
* :func:`datagrams_received` counts what a connection received (is the link alive?).
* :func:`media_stream_counts` reads a receiver's media-stream counters (its
  ``getStats()`` mixes them up with the RTX stream's).
* :func:`request_keyframe` sends a PLI from a receiver to its remote sender.
* :func:`on_keyframe_request` routes the PLI/FIR a sender receives to a
  callback (the stock sender would force its encoder, which we do not use).
* :func:`announce_host_candidates` makes one peer connection's ICE gatherers
  bind and announce configured addresses (aioice skips loopback), and gives each
  connection a consent check that waits for a slow answer (:func:`tolerant_consent`).
"""

from __future__ import annotations

import asyncio
import copy
import errno
import ipaddress
import logging
import math
import random
import socket
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aioice.ice
import pylibsrtp
from aioice import Candidate, stun
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc import clock as aiortc_clock
from aiortc.codecs import depayload, is_rtx
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import (
    RTCRtcpFeedback,
    RTCRtpCodecParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpSrPacket,
    RtpPacket,
    is_rtcp,
    pack_remb_fci,
    unpack_remb_fci,
    unwrap_rtx,
)
from aiortc.utils import uint16_add, uint16_gt

from media.bwe import SendSideBwe
from media.negotiation import REPAIRED_RID_URI, RID_URI
from media.rtpwire import MediaPacket, h264_starts_keyframe, parse_vp8
from media.twcc import TRANSPORT_CC_URI, ArrivalRecorder, parse_feedback, split_compound

logger = logging.getLogger(__name__)


# Tasks started from callbacks (socket, timers) whose results nobody awaits: the event loop
# keeps only a weak reference to a task, so each is held here until it is done.
_BACKGROUND: set[asyncio.Task[Any]] = set()


def _background(coro: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def _run_now(coro: Coroutine[Any, Any, Any]) -> None:
    """Run ``coro`` to its end now, in the caller's stack, when it never has to wait (aiortc's
    RTCP handlers are coroutines that, for our senders and receivers, never do); if it does
    wait, the rest runs as a background task once what it waits for is done."""
    try:
        awaited = coro.send(None)
    except StopIteration:
        return
    _background(_resume(coro, awaited))


async def _resume(coro: Coroutine[Any, Any, Any], awaited: Any) -> None:
    """Finish a coroutine :func:`_run_now` started: wait for what it yielded (a future, or
    nothing for a bare ``sleep(0)``) without taking its result, then let it go on."""
    while True:
        if isinstance(awaited, asyncio.Future):
            await asyncio.wait([awaited])
        else:
            await asyncio.sleep(0)
        try:
            awaited = coro.send(None)
        except StopIteration:
            return


AIORTC_VERSION = "1.16.0"

# Name-mangled attributes we rely on (checked by the hook test).
_RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_RECEIVER_CODECS = "_RTCRtpReceiver__codecs"
_RECEIVER_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"
_RECEIVER_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_RECEIVER_NACK_GENERATOR = "_RTCRtpReceiver__nack_generator"
_SENDER_PACKETS = "_RTCRtpSender__packet_count"
_SENDER_OCTETS = "_RTCRtpSender__octet_count"
_SENDER_NTP = "_RTCRtpSender__ntp_timestamp"
_SENDER_RTP_TS = "_RTCRtpSender__rtp_timestamp"
_SENDER_RTT = "_RTCRtpSender__rtt"
_SENDER_REMB = "_meetingd_on_remb"
_DTLS_TX_BYTES = "_RTCDtlsTransport__tx_bytes"
_DTLS_RX_PACKETS = "_RTCDtlsTransport__rx_packets"
_DTLS_TX_PACKETS = "_RTCDtlsTransport__tx_packets"

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

# A video frame whose packets are still incomplete after this long is given up.
MAX_FRAME_WAIT = 1.0
# Packets held while waiting for a missing one, before giving up on it.
MAX_HELD_PACKETS = 1024


@dataclass(slots=True)
class EncodedFrame:
    """A complete encoded frame as it came off the wire (RTP timestamp, not mapped)."""

    data: bytes
    timestamp: int
    keyframe: bool
    codec: RTCRtpCodecParameters
    arrival: float
    audio_level: int | None = None
    discontinuity: bool = False


FrameSink = Callable[[EncodedFrame], None]


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own."""
    if not data:
        return False
    if codec_name == "VP8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame.
        return data[0] & 0x01 == 0
    if codec_name == "H264":
        # aiortc's depayloader emits Annex B: look for an IDR slice or an SPS.
        pos = data.find(b"\x00\x00\x01")
        while pos != -1 and pos + 3 < len(data):
            if data[pos + 3] & 0x1F in (5, 7):
                return True
            pos = data.find(b"\x00\x00\x01", pos + 3)
        return False
    return True  # audio: every frame stands alone


class FrameAssembler:
    """Stands in for aiortc's ``JitterBuffer`` on one receiver.

    ``add(packet)`` has the jitter buffer's signature and returns
    ``(pli_flag, None)``: the receiver never gets a frame to decode. Complete
    frames go to ``sink`` instead, synchronously, on the event loop.
    """

    def __init__(
        self,
        kind: str,
        codecs: dict[int, RTCRtpCodecParameters],
        sink: FrameSink,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.ssrc: int | None = None
        self._codecs = codecs
        self._sink = sink
        self._clock = clock
        self._packets: dict[int, tuple[RtpPacket, float]] = {}
        self._next_seq: int | None = None  # first packet of the next frame
        self._blocked_since: float | None = None
        self._discontinuity = False
        self.frames = 0
        self.gaps = 0

    @property
    def capacity(self) -> int:  # what aiortc reads from a JitterBuffer
        return MAX_HELD_PACKETS

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self.ssrc = packet.ssrc
        now = self._clock()
        if self.kind == "audio":
            self._add_audio(packet, now)
            return False, None
        return self._add_video(packet, now), None

    def reset(self) -> None:
        """Forget everything held: the next frame start resynchronises."""
        self._packets.clear()
        self._next_seq = None
        self._blocked_since = None
        self._discontinuity = False

    def _emit(self, packets: Sequence[RtpPacket], arrival: float) -> None:
        first = packets[0]
        codec = self._codecs.get(first.payload_type)
        if codec is None:
            return
        try:
            data = b"".join(_depayloaded(codec, p) for p in packets)
        except ValueError:  # a payload aiortc's depayloader refuses: the frame is dropped
            return
        level = first.extensions.audio_level
        frame = EncodedFrame(
            data=data,
            timestamp=first.timestamp,
            keyframe=is_keyframe(codec.name, data),
            codec=codec,
            arrival=arrival,
            audio_level=None if level is None else int(level[1]),
            discontinuity=self._discontinuity,
        )
        self._discontinuity = False
        self.frames += 1
        self._sink(frame)

    def _add_audio(self, packet: RtpPacket, now: float) -> None:
        # Each Opus packet is a frame: forward at once, drop late duplicates.
        seq = packet.sequence_number
        if self._next_seq is not None and not uint16_gt(seq, uint16_add(self._next_seq, -1)):
            return
        self._next_seq = uint16_add(seq, 1)
        self._emit([packet], now)

    def _add_video(self, packet: RtpPacket, now: float) -> bool:
        seq = packet.sequence_number
        if self._next_seq is None:
            # Not synchronised: wait for a frame's first packet.
            if self._starts_frame(packet):
                self._next_seq = seq
            else:
                if packet.marker:  # the packet after a marker starts a frame
                    self._next_seq = uint16_add(seq, 1)
                return False
        if not uint16_gt(seq, uint16_add(self._next_seq, -1)):
            return False  # late or duplicate: its frame has left already
        self._packets[seq] = (packet, now)
        self._release()
        if not self._packets:
            self._blocked_since = None
            return False
        if self._blocked_since is None:
            self._blocked_since = now
        if now - self._blocked_since > MAX_FRAME_WAIT or len(self._packets) > MAX_HELD_PACKETS:
            self._skip_gap()
            self._blocked_since = None if not self._packets else now
            return True  # ask the publisher for a keyframe
        return False

    def _starts_frame(self, packet: RtpPacket) -> bool:
        codec = self._codecs.get(packet.payload_type)
        if codec is None or codec.name != "VP8" or not packet.payload:
            return False
        # VP8 payload descriptor (RFC 7741): S bit set and partition index 0.
        first = packet.payload[0]
        return bool(first & 0x10) and first & 0x0F == 0

    def _release(self) -> None:
        """Release every frame complete from ``_next_seq`` on."""
        assert self._next_seq is not None
        while True:
            seq = self._next_seq
            first = self._packets.get(seq)
            if first is None:
                return
            packets: list[RtpPacket] = []
            entry: tuple[RtpPacket, float] | None = first
            arrival = first[1]
            while entry is not None:
                pkt = entry[0]
                if pkt.timestamp != first[0].timestamp:
                    break  # previous frame had no marker: it ends here
                packets.append(pkt)
                arrival = max(arrival, entry[1])
                if pkt.marker:
                    seq = uint16_add(seq, 1)
                    break
                seq = uint16_add(seq, 1)
                entry = self._packets.get(seq)
            else:
                return  # a packet is missing: wait for a retransmission
            for i in range(len(packets)):
                del self._packets[uint16_add(self._next_seq, i)]
            self._next_seq = seq
            self._emit(packets, arrival)

    def _skip_gap(self) -> None:
        """Give up on a missing packet: resume at the next frame start held."""
        assert self._next_seq is not None
        self.gaps += 1
        self._discontinuity = True
        held = sorted(self._packets, key=lambda s: uint16_add(s, -self._next_seq))  # type: ignore[operator]
        restart: int | None = None
        for s in held:
            if self._packets[s][0].marker:
                restart = uint16_add(s, 1)
                break
        if restart is None:
            self._packets.clear()
            self._next_seq = None  # resynchronise on the next marker
            return
        for s in held:
            if uint16_gt(restart, s):
                del self._packets[s]
        self._next_seq = restart
        self._release()


PacketSink = Callable[[MediaPacket], bool]

_VP8, _H264, _OTHER, _RED = 1, 2, 3, 4


def _depayloaded(codec: RTCRtpCodecParameters, packet: RtpPacket) -> bytes:
    """The codec payload of ``packet``: what aiortc's receiver depayloaded, or (a packet that
    came through :class:`DirectReceive`, which leaves that to whole frames) done now."""
    data: bytes | None = packet.__dict__.get("_data")
    if data is None:
        data = depayload(codec, packet.payload) if packet.payload else b""
        packet._data = data  # type: ignore[attr-defined]
    return data


class PacketTap:
    """Stands in for aiortc's ``JitterBuffer`` on one publisher's receiver (the relay).

    ``add(packet)`` turns each packet (after aiortc's SRTP, statistics, NACK
    generation and RTX unwrapping) into a :class:`MediaPacket` and hands it to
    ``on_packet`` at once: nothing is held back for a missing packet.
    ``on_packet`` returns whether whole frames are wanted now; only then do
    packets also go through a :class:`FrameAssembler` to ``on_frame``.
    """

    def __init__(
        self,
        kind: str,
        codecs: dict[int, RTCRtpCodecParameters],
        on_packet: PacketSink,
        on_frame: FrameSink,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kind = kind
        self.ssrc: int | None = None
        self._codecs = codecs
        self._on_packet = on_packet
        self._clock = clock
        self._assembler = FrameAssembler(kind, codecs, on_frame, clock)
        self._assembling = False
        self._formats: dict[int, int] = {}
        self.packets = 0
        self.nacks: NackRetrier | None = None  # video: asks the publisher again for what is missing

    @property
    def capacity(self) -> int:  # what aiortc reads from a JitterBuffer
        return MAX_HELD_PACKETS

    def _format(self, payload_type: int) -> int:
        fmt = self._formats.get(payload_type)
        if fmt is None:
            codec = self._codecs.get(payload_type)
            name = "" if codec is None else codec.name.upper()
            fmt = self._formats[payload_type] = (
                _VP8 if name == "VP8" else _H264 if name == "H264" else _RED if name == "RED" else _OTHER
            )
        return fmt

    def _primary_type(self) -> int | None:
        """The payload type of the Opus the RED blocks carry (for whole frames)."""
        for pt, codec in self._codecs.items():
            if codec.name.lower() == "opus":
                return pt
        return None

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        self.ssrc = packet.ssrc
        self.packets += 1
        payload = packet.payload
        marker = bool(packet.marker)
        fmt = self._format(packet.payload_type)
        if fmt == _VP8:
            _start, key, pid, pid_at, pid_len = parse_vp8(payload)
            media = MediaPacket(
                payload,
                packet.sequence_number,
                packet.timestamp,
                marker,
                keyframe=key,
                frame_end=marker,
                picture_id=pid,
                picture_id_at=pid_at,
                picture_id_len=pid_len,
                arrival=self._clock(),
            )
        elif fmt == _H264:
            media = MediaPacket(
                payload,
                packet.sequence_number,
                packet.timestamp,
                marker,
                keyframe=h264_starts_keyframe(payload),
                frame_end=marker,
                arrival=self._clock(),
            )
        else:
            level = packet.extensions.audio_level
            media = MediaPacket(
                payload,
                packet.sequence_number,
                packet.timestamp,
                marker,
                keyframe=True,
                frame_end=True,
                arrival=self._clock(),
                audio_level=None if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F),
                red=fmt == _RED,
            )
        if self._on_packet(media):
            self._assembling = True
            if media.red:  # whole frames are Opus: the primary block, under Opus's type
                primary, pt = media.primary, self._primary_type()
                if primary is None or pt is None:
                    return False, None
                packet.payload_type = pt
                packet.payload = primary
                packet._data = primary  # type: ignore[attr-defined]
            return self._assembler.add(packet)
        if self._assembling:
            self._assembling = False
            self._assembler.reset()
        return False, None


# NACKs upstream: a missing packet is asked for again every NACK_RETRY_RTTS round trips
# (at least NACK_MIN_INTERVAL apart) until it arrives, was asked for NACK_MAX_TRIES times, or
# another try's answer could not come within the horizon (NACK_HORIZON by default; the
# relay passes MediaSettings.video_nack_horizon_ms) of the loss. Past the horizon the
# packet is given up. The retries are checked every NACK_TICK.
NACK_HORIZON = 1.6
NACK_MAX_TRIES = 8
NACK_MIN_INTERVAL = 0.05
NACK_RETRY_RTTS = 1.25
NACK_TICK = 0.05
NACK_MAX_MISSING = 512
# Each NACK (the first for a gap and each retry) goes out twice, a quarter of a round trip
# apart (30-100 ms): on a link losing 10 % of its packets one NACK in ten is lost, and its
# packet then waits a whole retry interval (1.25 round trips) more; the longest stalls at
# 10 % loss were such chains. A libwebrtc sender resends a packet at most once per round
# trip (RtpPacketHistory), so the copy costs a small RTCP packet, and no media when the
# first got through (on links under ~30 ms it can come after that limit and cost a resend:
# loss is rare there).
NACK_REPEAT_RTTS = 0.25
NACK_REPEAT_MIN = 0.03
NACK_REPEAT_MAX = 0.1
# A publisher's transport that carried nothing (audio, RTCP: Chrome sends a sender report
# about every second) for this many seconds was cut; NackRetrier.add dates a gap by its
# place in the stream's quiet only after such a cut, not when the stream alone was idle.
LINK_ALIVE_QUIET = 1.5
LINK_ALIVE_QUIET_NS = int(LINK_ALIVE_QUIET * 1e9)


class NackRetrier:
    """Stands in for aiortc's ``NackGenerator`` on one video receiver.

    aiortc calls ``add(packet)`` for every media packet (retransmissions unwrapped) and,
    when it returns True, sends a NACK for ``missing``: here, the packets found missing
    just now. :meth:`due` (called every ``NACK_TICK``) names the ones to ask for again;
    the retry interval follows the round trip measured from first NACKs to their answers.
    :meth:`request` adds a packet a subscriber asked for that never arrived here.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, horizon: float = NACK_HORIZON) -> None:
        self._clock = clock
        self.horizon = horizon
        self.max_seq: int | None = None
        self.ssrc: int | None = None
        self._last_at: float | None = None  # when the last packet came
        # When a silence of the publisher's whole transport last ended (time.monotonic s;
        # DirectReceive.silence_ended_at). None: not known, this stream's own quiet is used.
        self.link_silence_ended: Callable[[], float | None] | None = None
        # seq -> [missed at, last asked, tries, first asked (-1: not yet)]
        self._missing: dict[int, list[float]] = {}
        self._new: list[int] = []
        self.rtt = 0.2
        self.rtt_samples = 0  # first NACKs answered (``rtt`` is a guess until there is one)
        self.last_missing_at: float | None = None  # when a gap was last found
        self.timer: asyncio.TimerHandle | None = None
        self.sent = 0  # sequence numbers asked for (first NACKs and retries)
        self.recovered = 0
        self.given_up = 0
        # Called with each packet given up on (too old, asked too often): its frame, and the
        # frames after it, cannot be decoded until the next keyframe.
        self.on_give_up: Callable[[int], None] | None = None

    @property
    def missing(self) -> list[int]:
        """What aiortc NACKs after ``add`` returned True: the packets just found missing."""
        new, self._new = self._new, []
        self.sent += len(new)
        return new

    @property
    def outstanding(self) -> int:
        return len(self._missing)

    def add(self, packet: RtpPacket) -> bool:
        self.ssrc = packet.ssrc
        seq = packet.sequence_number
        now = self._clock()
        last_at, self._last_at = self._last_at, now
        if self.max_seq is None or last_at is None:
            self.max_seq = seq
            return False
        if uint16_gt(seq, self.max_seq):
            # The packets of a gap were sent between the last packet and this one: each is
            # dated by its place in the gap. After a cut (seconds without a packet) most are
            # older than any answer could be useful: they are not asked for, and the next
            # tick gives them up (a keyframe is asked for at once, not a horizon later;
            # seen: 0.8 s more before video came back after a 5 s cut).
            count = (seq - self.max_seq - 1) & 0xFFFF
            # the transport carried other packets (audio, RTCP) all along: this stream was
            # idle (a still screen share), not cut, and its gap was lost just now
            if self.link_silence_ended is not None:
                ended = self.link_silence_ended()
                if ended is None or ended < last_at:
                    last_at = now
            step = (now - last_at) / (count + 1)
            # never below a tick: a round trip measured near the horizon must not stop every
            # first NACK (no NACK, no new round trip to bring the estimate down)
            too_old = max(NACK_MIN_INTERVAL, self.horizon - self.rtt)
            s = uint16_add(self.max_seq, 1)
            k = 1
            while uint16_gt(seq, s):
                missed_at = last_at + k * step
                if now - missed_at < too_old:
                    self._missing[s] = [missed_at, now, 1.0, now]
                    self._new.append(s)
                else:  # never asked, no try left: given up at the next tick
                    self._missing[s] = [missed_at, -math.inf, float(NACK_MAX_TRIES), -1.0]
                self.last_missing_at = now
                s = uint16_add(s, 1)
                k += 1
            self.max_seq = seq
            while len(self._missing) > NACK_MAX_MISSING:
                oldest = next(iter(self._missing))
                del self._missing[oldest]
                self._give_up(oldest)
        else:
            entry = self._missing.pop(seq, None)
            if entry is not None:
                self.recovered += 1
                if entry[3] >= 0:
                    # From the first NACK: retries go out every 1.25 estimated round trips, so
                    # while the estimate is short the answer to the first one comes after a
                    # retry (timing only the last would keep the estimate short for ever).
                    # Overestimates when the first NACK or its answer was lost.
                    sample = max(0.0, now - entry[3])
                    self.rtt = sample if not self.rtt_samples else 0.8 * self.rtt + 0.2 * sample
                    self.rtt_samples += 1
        return bool(self._new)

    def _give_up(self, seq: int) -> None:
        self.given_up += 1
        if self.on_give_up is not None:
            self.on_give_up(seq)

    def request(self, seq: int) -> None:
        """A subscriber NACKed ``seq``, which never arrived here: ask the publisher now."""
        if self.max_seq is None or uint16_gt(seq, self.max_seq) or seq in self._missing:
            return
        now = self._clock()
        self._missing[seq] = [now, now - self.horizon, 0.0, -1.0]

    def due(self) -> list[int]:
        """The packets to NACK again now (and forget the ones too old or asked too often)."""
        now = self._clock()
        interval = max(NACK_MIN_INTERVAL, NACK_RETRY_RTTS * self.rtt)
        # a try now is answered after about a round trip: past the horizon it is no use, and
        # nor is waiting for the last try's answer once it is due (given up then)
        last_try = self.horizon - self.rtt
        due: list[int] = []
        for seq, entry in list(self._missing.items()):
            waited = now - entry[1]
            if now - entry[0] > self.horizon or (
                waited >= interval and (entry[2] >= NACK_MAX_TRIES or now - entry[0] > last_try)
            ):
                del self._missing[seq]
                self._give_up(seq)
            elif waited >= interval:
                entry[1] = now
                entry[2] += 1
                if entry[3] < 0:
                    entry[3] = now
                due.append(seq)
        self.sent += len(due)
        return due


def _retry_nacks(receiver: RTCRtpReceiver, retrier: NackRetrier) -> None:
    loop = asyncio.get_running_loop()

    def tick() -> None:
        due = retrier.due()
        if due and retrier.ssrc is not None:
            _background(receiver._send_rtcp_nack(retrier.ssrc, sorted(due)))
        retrier.timer = loop.call_later(NACK_TICK, tick)

    retrier.timer = loop.call_later(NACK_TICK, tick)


def _repeat_nacks(receiver: RTCRtpReceiver, rtt: Callable[[], float]) -> None:
    """Send every NACK of ``receiver`` again NACK_REPEAT_RTTS of ``rtt()`` later."""
    send = receiver._send_rtcp_nack
    loop = asyncio.get_running_loop()

    async def send_twice(media_ssrc: int, lost: list[int]) -> None:
        delay = min(NACK_REPEAT_MAX, max(NACK_REPEAT_MIN, NACK_REPEAT_RTTS * rtt()))
        loop.call_later(delay, lambda: _background(send(media_ssrc, lost)))
        await send(media_ssrc, lost)

    receiver._send_rtcp_nack = send_twice  # type: ignore[method-assign]


def _measured_rtt(retriers: Sequence[NackRetrier]) -> float:
    """The longest round trip the layers of one link measured; the first layer's guess while
    none has (a layer with no answered NACK yet still holds the 0.2 s guess, which would
    otherwise outweigh a 40 ms link measured on another layer)."""
    measured = [r.rtt for r in retriers if r.rtt_samples]
    return max(measured) if measured else retriers[0].rtt


def stop_nack_retries(tap: PacketTap) -> None:
    """Stop asking the publisher again (the track is gone)."""
    if tap.nacks is not None and tap.nacks.timer is not None:
        tap.nacks.timer.cancel()
        tap.nacks.timer = None


def install_packet_sink(
    receiver: RTCRtpReceiver,
    kind: str,
    on_packet: PacketSink,
    on_frame: FrameSink,
    *,
    nack_horizon: float = NACK_HORIZON,
    nack_repeat: bool = True,
) -> PacketTap:
    """Make ``receiver`` hand each packet to ``on_packet`` (and frames, when wanted, to ``on_frame``).

    Call before the receiver gets its first packet (right after
    ``setRemoteDescription``). The receiver's decoder thread still starts but stays idle.
    """
    if not hasattr(receiver, _RECEIVER_JITTER_BUFFER):
        raise RuntimeError("aiortc RTCRtpReceiver has no jitter buffer to hook")
    codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, _RECEIVER_CODECS)
    tap = PacketTap(kind, codecs, on_packet, on_frame)
    setattr(receiver, _RECEIVER_JITTER_BUFFER, tap)
    if kind == "video" and getattr(receiver, _RECEIVER_NACK_GENERATOR, None) is not None:
        retrier = tap.nacks = NackRetrier(horizon=nack_horizon)
        setattr(receiver, _RECEIVER_NACK_GENERATOR, retrier)
        _retry_nacks(receiver, retrier)
        if nack_repeat:
            _repeat_nacks(receiver, lambda: retrier.rtt)
    return tap


def enable_simulcast(transceiver: RTCRtpTransceiver, rid_ext_id: int, repaired_rid_ext_id: int) -> None:
    """Negotiate the rtp-stream-id (and repaired-rtp-stream-id) header extensions on a
    publisher's video ``transceiver``, for its next answer and its receiver's start: aiortc
    parses both once negotiated but its tables offer neither. Call after
    ``setRemoteDescription``; the ``a=rid``/``a=simulcast`` lines are added to the answer text
    (``media.negotiation.answer_simulcast``)."""
    wanted = [(rid_ext_id, RID_URI), (repaired_rid_ext_id, REPAIRED_RID_URI)]
    extensions = list(transceiver._headerExtensions)
    for ext_id, uri in wanted:
        if ext_id and not any(e.uri == uri for e in extensions):
            extensions.append(RTCRtpHeaderExtensionParameters(id=ext_id, uri=uri))
    transceiver._headerExtensions = extensions


class _LayerNacks:
    """Stands in for aiortc's ``NackGenerator`` on a simulcast receiver: each layer's packets
    go to that layer's :class:`NackRetrier` (one sequence space per SSRC); ``missing`` is
    what the last one added found missing (aiortc NACKs it for that packet's SSRC)."""

    def __init__(self, tap: SimulcastTap) -> None:
        self._tap = tap
        self._last: NackRetrier | None = None

    @property
    def missing(self) -> list[int]:
        return [] if self._last is None else self._last.missing

    def add(self, packet: RtpPacket) -> bool:
        layer = self._tap.layer_of(packet.ssrc)
        self._last = None if layer is None else layer.nacks
        return False if self._last is None else self._last.add(packet)


class SimulcastTap:
    """Stands in for aiortc's ``JitterBuffer`` on a receiver that gets several simulcast
    layers (RFC 8853) on one m-line: a :class:`PacketTap` per layer, chosen by SSRC.

    aiortc routes every SSRC of the m-line here (by payload type) and knows nothing of
    rids. :meth:`learn` runs before aiortc handles each packet (:func:`install_simulcast_sink`
    wraps the receiver's handler): a packet whose rtp-stream-id names a layer binds its SSRC
    to that layer; a retransmission whose repaired-rtp-stream-id names one binds its SSRC,
    as RTX, to that layer's media SSRC, in the receiver's own table, so aiortc unwraps it.
    A libwebrtc sender stops sending the ids once our receiver reports acknowledge the SSRC.
    Packets of an SSRC not bound yet are dropped (``unbound``)."""

    def __init__(
        self, kind: str, rids: Sequence[str], layers: Sequence[PacketTap], rtx: dict[int, int]
    ) -> None:
        if len(rids) != len(layers):
            raise ValueError("one packet tap per rid")
        self.kind = kind
        self.rids = tuple(rids)
        self.layers = tuple(layers)
        self._by_rid = dict(zip(self.rids, self.layers, strict=True))
        self._by_ssrc: dict[int, PacketTap] = {}
        self._media_ssrc: dict[str, int] = {}
        self._rtx = rtx
        self.unbound = 0
        self.ssrc: int | None = None  # the newest packet's (what a plain tap offers)

    @property
    def capacity(self) -> int:  # what aiortc reads from a JitterBuffer
        return MAX_HELD_PACKETS

    def layer_of(self, ssrc: int) -> PacketTap | None:
        return self._by_ssrc.get(ssrc)

    def learn(self, packet: RtpPacket) -> None:
        ext = packet.extensions
        rid = ext.rtp_stream_id
        if rid is not None and packet.ssrc not in self._by_ssrc:
            layer = self._by_rid.get(rid)
            if layer is not None:
                old = self._media_ssrc.get(rid)
                if old is not None:  # the sender renumbered the layer
                    self._by_ssrc.pop(old, None)
                self._by_ssrc[packet.ssrc] = layer
                self._media_ssrc[rid] = packet.ssrc
        repaired = ext.repaired_rtp_stream_id
        if repaired is not None and packet.ssrc not in self._rtx:
            media = self._media_ssrc.get(repaired)
            if media is not None:
                self._rtx[packet.ssrc] = media

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        layer = self._by_ssrc.get(packet.ssrc)
        if layer is None:
            self.unbound += 1
            return False, None
        self.ssrc = packet.ssrc
        return layer.add(packet)


def install_simulcast_sink(
    receiver: RTCRtpReceiver,
    rids: Sequence[str],
    sinks: Sequence[tuple[PacketSink, FrameSink]],
    *,
    nack_horizon: float = NACK_HORIZON,
    nack_repeat: bool = True,
) -> SimulcastTap:
    """Like :func:`install_packet_sink` for a video receiver that gets one layer per rid:
    ``sinks[i]`` gets the packets (and, when wanted, frames) of ``rids[i]``. Each layer
    has its own NACK retrier; PLIs go per layer (:func:`request_layer_keyframe`)."""
    if not hasattr(receiver, _RECEIVER_JITTER_BUFFER):
        raise RuntimeError("aiortc RTCRtpReceiver has no jitter buffer to hook")
    codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, _RECEIVER_CODECS)
    rtx: dict[int, int] = getattr(receiver, _RECEIVER_RTX_SSRC)
    layers = [PacketTap("video", codecs, on_packet, on_frame) for on_packet, on_frame in sinks]
    tap = SimulcastTap("video", rids, layers, rtx)
    setattr(receiver, _RECEIVER_JITTER_BUFFER, tap)
    if getattr(receiver, _RECEIVER_NACK_GENERATOR, None) is not None:
        retriers = []
        for layer in layers:
            retrier = layer.nacks = NackRetrier(horizon=nack_horizon)
            _retry_nacks(receiver, retrier)
            retriers.append(retrier)
        setattr(receiver, _RECEIVER_NACK_GENERATOR, _LayerNacks(tap))
        if nack_repeat:  # the layers share the link: the longest round trip measured
            _repeat_nacks(receiver, lambda: _measured_rtt(retriers))
    handle = receiver._handle_rtp_packet

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        tap.learn(packet)
        await handle(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]
    return tap


async def request_layer_keyframe(receiver: RTCRtpReceiver, layer: PacketTap) -> bool:
    """Send a PLI for one simulcast layer (its SSRC). False if nothing received of it yet."""
    if layer.ssrc is None:
        return False
    await receiver._send_rtcp_pli(layer.ssrc)
    return True


def install_frame_sink(receiver: RTCRtpReceiver, kind: str, sink: FrameSink) -> FrameAssembler:
    """Make ``receiver`` hand encoded frames to ``sink`` instead of decoding them.

    Call before the receiver gets its first packet (e.g. right after
    ``setRemoteDescription``). The receiver's decoder thread still starts but
    stays idle; its remote track never yields a frame.
    """
    if not hasattr(receiver, _RECEIVER_JITTER_BUFFER):
        raise RuntimeError("aiortc RTCRtpReceiver has no jitter buffer to hook")
    codecs: dict[int, RTCRtpCodecParameters] = getattr(receiver, _RECEIVER_CODECS)
    assembler = FrameAssembler(kind, codecs, sink)
    setattr(receiver, _RECEIVER_JITTER_BUFFER, assembler)
    return assembler


def hooked_assembler(receiver: RTCRtpReceiver) -> FrameAssembler | PacketTap | SimulcastTap | None:
    buffer = getattr(receiver, _RECEIVER_JITTER_BUFFER, None)
    return buffer if isinstance(buffer, FrameAssembler | PacketTap | SimulcastTap) else None


@dataclass(frozen=True, slots=True)
class InboundCounts:
    """One received media stream's RTCP counters (RFC 3550 A.3, A.8)."""

    packets_received: int
    packets_lost: int
    jitter: int


def media_stream_counts(receiver: RTCRtpReceiver) -> InboundCounts | None:
    """The counters of the media stream ``receiver`` gets, retransmission streams left out.

    aiortc's ``getStats()`` files every SSRC of a receiver under one report id, so once an
    RTX packet has arrived its ``inbound-rtp`` report shows the RTX stream's few packets in
    place of the media stream's. The receiver's per-SSRC statistics are read here instead;
    the SSRCs it learned as RTX (from the remote's parameters) are skipped, and of the rest
    the busiest is the media stream. None before any packet."""
    streams: dict[int, Any] = getattr(receiver, _RECEIVER_REMOTE_STREAMS, {})
    rtx: dict[int, int] = getattr(receiver, _RECEIVER_RTX_SSRC, {})
    media = [s for ssrc, s in streams.items() if ssrc not in rtx]
    if not media:
        return None
    stream = max(media, key=lambda s: s.packets_received)
    return InboundCounts(stream.packets_received, stream.packets_lost, stream.jitter)


def sender_rtt(sender: RTCRtpSender) -> float | None:
    """The round trip (s) aiortc measured from ``sender``'s receiver reports (None: not yet)."""
    rtt = sender.__dict__.get(_SENDER_RTT)
    return rtt if isinstance(rtt, float) else None


async def request_keyframe(receiver: RTCRtpReceiver) -> bool:
    """Send a PLI for the stream ``receiver`` gets. False if nothing received yet."""
    assembler = hooked_assembler(receiver)
    if assembler is None or assembler.ssrc is None:
        return False
    await receiver._send_rtcp_pli(assembler.ssrc)
    return True


class SenderLink:
    """Writes finished RTP packets through one started ``RTCRtpSender``'s transport.

    What aiortc negotiated for the sender (payload types, SSRCs, header extension
    ids) is read from the parameters of its ``send()``. :meth:`send` protects a
    packet with the transport's SRTP session and hands it to the nominated ICE
    pair's socket, synchronously (aiortc's path awaits three coroutines per
    packet), and keeps the sender's counters that its RTCP sender reports and
    ``getStats`` read.
    """

    def __init__(self, sender: RTCRtpSender, parameters: RTCRtpSendParameters) -> None:
        media = [c for c in parameters.codecs if not is_rtx(c) and c.name.lower() != "red"]
        codec = media[0] if media else parameters.codecs[0]
        if codec.payloadType is None:
            raise ValueError("the sender's codec has no payload type")
        self.payload_type: int = codec.payloadType
        self.clock_rate = codec.clockRate
        # RFC 2198 redundancy the subscriber negotiated (audio/red), or None
        self.red_payload_type: int | None = next(
            (c.payloadType for c in parameters.codecs if c.name.lower() == "red"), None
        )
        self.rtx_payload_type: int | None = None
        for c in parameters.codecs:
            if is_rtx(c) and c.payloadType is not None and c.parameters.get("apt") == codec.payloadType:
                self.rtx_payload_type = c.payloadType
                break
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        self.mid: str | None = parameters.muxId or None
        self.mid_id = ids.get(MID_URI, 0)
        self.abs_send_time_id = ids.get(ABS_SEND_TIME_URI, 0)
        self.audio_level_id = ids.get(AUDIO_LEVEL_URI, 0)
        self.transport_cc_id = ids.get(TRANSPORT_CC_URI, 0)
        self._dtls = sender.transport
        # one transport-wide sequence counter and estimate per connection (bundled transport)
        self.bwe: SendSideBwe | None = _sender_bwe(self._dtls) if self.transport_cc_id else None
        self._clock = time.monotonic_ns
        self._counters: dict[str, Any] = sender.__dict__
        self._transport_counters: dict[str, Any] = self._dtls.__dict__
        # aioice's nominated pairs (emptied when the connection closes, e.g. consent expired)
        self._nominated: dict[int, Any] = self._dtls.transport._connection._nominated

    def next_transport_seq(self) -> int:
        """The transport-wide sequence number for the next packet (-1: not negotiated)."""
        bwe = self.bwe
        return -1 if bwe is None else bwe.next_seq()

    def send(self, header: bytes, payload: bytes, timestamp: int, ntp: int, transport_seq: int = -1) -> bool:
        """Send one RTP packet; False (nothing sent) while the transport is not connected."""
        dtls = self._dtls
        pair = self._nominated.get(1)
        if pair is None or dtls._state is not DtlsState.CONNECTED:
            return False
        data = self._protect(dtls._tx_srtp, header, payload)
        if data is None:
            return False
        pair.protocol.transport.sendto(data, pair.remote_addr)
        if transport_seq >= 0 and self.bwe is not None:
            self.bwe.sent(transport_seq, self._clock() // 1000, len(data))
        counters = self._counters
        counters[_SENDER_PACKETS] += 1
        counters[_SENDER_OCTETS] += len(payload)
        counters[_SENDER_NTP] = ntp
        counters[_SENDER_RTP_TS] = timestamp
        transport_counters = self._transport_counters
        transport_counters[_DTLS_TX_BYTES] += len(data)
        transport_counters[_DTLS_TX_PACKETS] += 1
        return True

    def resend(self, header: bytes, payload: bytes, transport_seq: int = -1) -> bool:
        """Send a retransmission (not counted as media in the sender report)."""
        dtls = self._dtls
        pair = self._nominated.get(1)
        if pair is None or dtls._state is not DtlsState.CONNECTED:
            return False
        data = self._protect(dtls._tx_srtp, header, payload)
        if data is None:
            return False
        pair.protocol.transport.sendto(data, pair.remote_addr)
        if transport_seq >= 0 and self.bwe is not None:
            self.bwe.sent(transport_seq, self._clock() // 1000, len(data))
        return True

    @staticmethod
    def _protect(session: pylibsrtp.Session, header: bytes, payload: bytes) -> bytes | None:
        try:
            return session.protect(header + payload)
        except (pylibsrtp.Error, ValueError):  # older than the replay window, too long: drop it
            return None


def attach_sender(
    sender: RTCRtpSender,
    *,
    on_started: Callable[[SenderLink], None],
    on_keyframe_request: Callable[[], None],
    on_nack: Callable[[int], None],
    on_report: Callable[[float], None] | None = None,
    on_remb: Callable[[int], None] | None = None,
) -> None:
    """Route ``sender``'s start, PLI/FIR and NACKs to the relay (per instance).

    ``on_report`` gets the fraction lost (0-1) of each receiver report block about this
    sender's stream, ``on_remb`` each REMB estimate (bit/s) that names its SSRC; aiortc
    still handles both (round trip, statistics) first.

    ``on_started`` gets the :class:`SenderLink` once aiortc has started the sender
    (after DTLS, with the negotiated parameters). aiortc's own RTP task keeps
    waiting on the track (a :class:`~media.forwarding.ForwardingTrack` never
    yields), so it encodes and sends nothing; its RTCP task still sends the
    sender reports and handles receiver reports.
    """
    original = sender.send
    started = False

    async def send(parameters: RTCRtpSendParameters) -> None:
        nonlocal started
        await original(parameters)
        if not started:
            started = True
            on_started(SenderLink(sender, parameters))

    async def retransmit(sequence_number: int) -> None:
        on_nack(sequence_number)

    sender.send = send  # type: ignore[method-assign]
    sender._retransmit = retransmit  # type: ignore[method-assign]
    sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]
    if on_report is None and on_remb is None:
        return
    handle = sender._handle_rtcp_packet

    async def handle_rtcp(packet: Any) -> None:
        await handle(packet)
        if on_report is not None and isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            for report in packet.reports:
                if report.ssrc == sender._ssrc:
                    on_report(report.fraction_lost / 256)
        elif on_remb is not None and isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            bitrate = _remb_bitrate(packet, sender._ssrc)
            if bitrate is not None:
                on_remb(bitrate)

    sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]
    if on_remb is not None:  # for the direct RTCP path, which skips aiortc's REMB handling
        setattr(sender, _SENDER_REMB, on_remb)


def _remb_bitrate(packet: RtcpPsfbPacket, ssrc: int) -> int | None:
    """The estimate (bit/s) of a REMB that names ``ssrc``; None if it does not or is malformed."""
    try:
        bitrate, ssrcs = unpack_remb_fci(packet.fci)
    except ValueError:
        return None
    return bitrate if ssrc in ssrcs else None


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Route the PLI/FIR that ``sender`` receives to ``callback`` (per instance)."""
    sender._send_keyframe = callback  # type: ignore[method-assign]


def datagrams_received(pc: RTCPeerConnection) -> int:
    """Datagrams (RTP, RTCP, DTLS; not STUN) ``pc`` has received on its transports so far."""
    transports = {id(t.receiver.transport): t.receiver.transport for t in pc.getTransceivers()}
    return sum(int(getattr(t, _DTLS_RX_PACKETS, 0)) for t in transports.values())


def set_codecs(transceiver: RTCRtpTransceiver, codecs: list[RTCRtpCodecParameters]) -> None:
    """Make ``codecs`` what ``transceiver`` negotiated (aiortc knows neither RED nor Opus fmtp).

    aiortc sets a transceiver's codecs from its own table at each ``createOffer`` and
    ``setRemoteDescription``, and writes them into the next ``createAnswer`` and into
    the parameters its sender and receiver start with (``send()`` / ``receive()``, once
    DTLS is up). Call after ``setRemoteDescription`` (before ``createAnswer``) and after
    ``setLocalDescription`` of an offer rewritten with :mod:`media.negotiation`.
    """
    transceiver._codecs = codecs


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """The msid stream id the remote side sees for ``sender``'s track."""
    sender._stream_id = stream_id


def set_receive_buffer(pc: RTCPeerConnection, size: int) -> int:
    """Ask for a ``size``-byte kernel receive buffer on every ICE socket ``pc`` gathered.

    Root may exceed ``net.core.rmem_max`` (SO_RCVBUFFORCE). Returns how many sockets
    were set. Call after ``setLocalDescription`` (gathering binds the sockets).
    """
    done = 0
    connections = {
        id(c): c
        for t in pc.getTransceivers()
        for c in [t.receiver.transport.transport.iceGatherer._connection]
    }
    for connection in connections.values():
        for protocol in connection._protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, size)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            done += 1
    return done


_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)


# --- ICE: consent freshness that survives a busy peer ---------------------------------

# aioice sends each consent check once and counts it failed after 0.5 s; 6 failures in a
# row (~30 s) close the connection. A peer (or this server) whose event loop is late by
# more than 0.5 s at each check loses a live connection. Here each check is retransmitted
# (0.5 + 1 + 2 s to answer) and two thirds as many failures in a row (4) close it: a dead
# link is still noticed in ~30-35 s. aioice's CONSENT_INTERVAL / CONSENT_FAILURES are read
# at each check, so a shorter interval (as a test sets) keeps aioice's single try.
CONSENT_RETRANSMISSIONS = 2


def tolerant_consent(connection: Connection) -> None:
    """Replace ``connection``'s consent loop (RFC 7675) with one that waits for slow answers."""

    async def query_consent() -> None:
        assert connection.remote_password is not None
        failures = 0
        while True:
            interval = aioice.ice.CONSENT_INTERVAL
            retransmissions = CONSENT_RETRANSMISSIONS if interval >= 4 else 0
            limit = (
                max(1, aioice.ice.CONSENT_FAILURES * 2 // 3)
                if retransmissions
                else aioice.ice.CONSENT_FAILURES
            )
            await asyncio.sleep(interval * (0.8 + 0.4 * random.random()))  # noqa: S311
            for pair in list(connection._nominated.values()):
                request = connection.build_request(pair, nominate=False)
                try:
                    await pair.protocol.request(
                        request,
                        pair.remote_addr,
                        integrity_key=connection.remote_password.encode("utf8"),
                        retransmissions=retransmissions,
                    )
                    failures = 0
                except stun.TransactionError:
                    failures += 1
                if failures >= limit:
                    logger.info("ice consent to send expired")
                    connection._query_consent_task = None
                    await connection.close()
                    return

    connection.query_consent = query_consent  # type: ignore[method-assign]


# --- ICE: announce configured addresses --------------------------------------------


def _is_local_address(address: str) -> bool:
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return False
            raise
    return True


async def _bind_udp(
    connection: Connection, address: str, ports: tuple[int, int] | None
) -> tuple[asyncio.DatagramTransport, StunProtocol]:
    loop = asyncio.get_running_loop()
    candidates = [0]
    if ports is not None:
        candidates = list(range(ports[0], ports[1] + 1))
        random.shuffle(candidates)
    last: OSError | None = None
    for port in candidates:
        try:
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: StunProtocol(connection), local_addr=(address, port)
            )
        except OSError as exc:
            last = exc
            continue
        return transport, protocol
    raise OSError(f"no free UDP port on {address} in {ports}") from last


def announce_host_candidates(
    pc: RTCPeerConnection,
    announce: Sequence[str],
    *,
    bind_address: str = "0.0.0.0",  # noqa: S104 - only used for NAT-announced addresses
    ports: tuple[int, int] | None = None,
) -> None:
    """Make ``pc``'s ICE gatherers offer exactly ``announce`` as host candidates.

    An announced address assigned to this host (``127.0.0.1``, a LAN address)
    is bound directly; any other (a public address behind 1:1 NAT) is announced
    while binding ``bind_address``. TURN relay candidates still come from the
    configured ICE servers. Call before every ``setLocalDescription``: new
    transceivers bring new gatherers; hooked ones are left alone.
    """
    if not announce:
        return
    local = {a: _is_local_address(a) for a in announce}
    for transceiver in pc.getTransceivers():
        connection = transceiver.sender.transport.transport.iceGatherer._connection
        if getattr(connection, "_meetingd_announce", False):
            continue
        original = connection.get_component_candidates

        async def gather(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109 - mirrors aioice gather_candidates signature
            *,
            _connection: Connection = connection,
            _original: Any = original,
        ) -> list[Candidate]:
            found: list[Candidate] = []
            for address in announce:
                bind = address if local[address] else bind_address
                try:
                    transport, protocol = await _bind_udp(_connection, bind, ports)
                except OSError as exc:
                    logger.warning("ice could not bind %s: %s", bind, exc)
                    continue
                port = transport.get_extra_info("sockname")[1]
                protocol.local_candidate = Candidate(
                    foundation=candidate_foundation("host", "udp", address),
                    component=component,
                    transport="udp",
                    priority=candidate_priority(component, "host"),
                    host=address,
                    port=port,
                    type="host",
                )
                _connection._protocols.append(protocol)
                found.append(protocol.local_candidate)
            # STUN is only queried for the host addresses passed in: none here.
            # TURN relay candidates are still gathered.
            found += await _original(component, [], timeout)
            return found

        connection.get_component_candidates = gather  # type: ignore[method-assign]
        connection._meetingd_announce = True  # type: ignore[attr-defined]
        tolerant_consent(connection)


# --- transport-wide congestion control (media/twcc.py, media/bwe.py) -------------------

_RECEIVER_REMB_ESTIMATOR = "_RTCRtpReceiver__remote_bitrate_estimator"
_DTLS_RECORDER = "_meetingd_twcc_recorder"
_DTLS_BWE = "_meetingd_bwe"
_DTLS_FEEDBACK_HOOK = "_meetingd_twcc_feedback"
# Transport feedback to a publisher goes out this often while packets come in.
TWCC_FEEDBACK_INTERVAL = 0.05


def transport_cc_id_offered(media_ext: Sequence[Any]) -> int:
    """The id an m-line's header extensions give transport-cc (0: not offered)."""
    return next((e.id for e in media_ext if e.uri == TRANSPORT_CC_URI), 0)


def enable_transport_cc(transceiver: RTCRtpTransceiver, ext_id: int, *, drop_remb: bool = True) -> None:
    """Negotiate transport-cc (header extension ``ext_id`` and ``a=rtcp-fb:* transport-cc``) on
    ``transceiver`` for its next answer or start; aiortc's tables know neither.

    With ``drop_remb`` the codecs lose ``goog-remb`` and a receiver its REMB estimator: a
    libwebrtc sender takes a REMB as an upper limit on its transport-cc estimate, and the
    receive-side one aiortc computes follows the incoming rate, so it held the publisher down.
    Call after ``setRemoteDescription`` (and after :func:`set_codecs`)."""
    if not any(e.uri == TRANSPORT_CC_URI for e in transceiver._headerExtensions):
        transceiver._headerExtensions = [
            *transceiver._headerExtensions,
            RTCRtpHeaderExtensionParameters(id=ext_id, uri=TRANSPORT_CC_URI),
        ]
    codecs = []
    for codec in transceiver._codecs:
        codec = copy.deepcopy(codec)
        if not is_rtx(codec):
            feedback = [f for f in codec.rtcpFeedback if not (drop_remb and f.type == "goog-remb")]
            if not any(f.type == "transport-cc" for f in feedback):
                feedback.append(RTCRtcpFeedback(type="transport-cc"))
            codec.rtcpFeedback = feedback
        codecs.append(codec)
    transceiver._codecs = codecs
    if drop_remb and transceiver.kind == "video":
        setattr(transceiver.receiver, _RECEIVER_REMB_ESTIMATOR, None)


def negotiated_transport_cc(transceiver: RTCRtpTransceiver) -> bool:
    return any(e.uri == TRANSPORT_CC_URI for e in transceiver._headerExtensions)


def install_transport_feedback(pc: RTCPeerConnection) -> ArrivalRecorder | None:
    """Record each packet's transport-wide sequence number and arrival on ``pc``'s transport
    and send the publisher transport feedback every ``TWCC_FEEDBACK_INTERVAL``.

    Call after the answer (``setLocalDescription``) once transport-cc is negotiated on one of
    ``pc``'s transceivers; a transport already hooked is left alone. Returns its recorder
    (None when nothing negotiated it). The feedback stops when the transport closes."""
    transceivers = [t for t in pc.getTransceivers() if negotiated_transport_cc(t)]
    if not transceivers:
        return None
    dtls = transceivers[0].receiver.transport
    existing = dtls.__dict__.get(_DTLS_RECORDER)
    if isinstance(existing, ArrivalRecorder):
        return existing
    recorder = ArrivalRecorder(sender_ssrc=transceivers[0].sender._ssrc)
    setattr(dtls, _DTLS_RECORDER, recorder)
    direct_receive(dtls).recorder = recorder
    loop = asyncio.get_running_loop()

    async def send(packets: list[bytes]) -> None:
        for packet in packets:
            try:
                await dtls._send_rtp(packet)
            except ConnectionError:
                return

    def tick() -> None:
        if dtls._state in (DtlsState.CLOSED, DtlsState.FAILED):
            return  # the connection is gone: stop
        if dtls._state is DtlsState.CONNECTED and recorder.pending:
            _background(send(recorder.feedback()))
        loop.call_later(TWCC_FEEDBACK_INTERVAL, tick)

    loop.call_later(TWCC_FEEDBACK_INTERVAL, tick)
    return recorder


# --- the direct receive path (a publisher's media; anyone's RTCP) ----------------------

_DTLS_DIRECT = "_meetingd_direct_receive"
_RECEIVER_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"
_RECEIVER_ACTIVE_SSRC = "_RTCRtpReceiver__active_ssrc"
_RECEIVER_DECODER_ERROR = "_RTCRtpReceiver__decoder_error"
_RECEIVER_KIND = "_RTCRtpReceiver__kind"
_DTLS_RX_BYTES = "_RTCDtlsTransport__rx_bytes"
ACTIVE_SSRC_EVERY_NS = 500_000_000


class DirectReceive:
    """Takes a transport's SRTP media packets and SRTCP packets from the socket callback and
    runs them through SRTP, routing and the relay's receiver at once, with no coroutine.

    aiortc queues every datagram (aioice ``Connection.data_received``); the DTLS transport's
    task takes them one at a time and awaits four coroutines per packet (``_recv_next``,
    ``_handle_rtp_data``, ``_handle_rtp_packet``, the jitter buffer's), and the receiver
    depayloads every packet for a decoder the relay does not run. Here, a media packet that
    finds the queue empty (nothing ahead of it, so the order holds) goes straight through
    :meth:`_media`, which does what ``RTCRtpReceiver._handle_rtp_packet`` does for a
    receiver whose jitter buffer is a :class:`PacketTap` or :class:`SimulcastTap`: REMB
    estimate, statistics, RTX unwrapping, NACKs, the tap; the RTCP it sends is sent from a
    task, as aiortc's own RTCP loop does. Depayloading is left to whole frames
    (:func:`_depayloaded`). An RTCP packet that finds the queue empty is handled by
    :func:`handle_rtcp_now` (on a subscriber's transport that is all it carries). Everything
    else (DTLS records, packets that arrive while the queue holds some, before SRTP is keyed,
    or for a receiver without a tap) takes aiortc's path, through :meth:`handle_rtp_data`
    for media and :func:`handle_rtcp_now` for RTCP.

    Each datagram is timed as the socket hands it over (for the transport-cc ``recorder``):
    on a busy loop the queue holds several, and stamping them as they leave it bunches their
    arrivals, which a delay-based estimator reads as a queue building on the link.
    """

    def __init__(self, dtls: Any) -> None:
        self._dtls = dtls
        self._dtls_state: dict[str, Any] = dtls.__dict__
        ice = dtls.transport
        connection = ice._connection
        self._queue: asyncio.Queue[Any] = connection._queue
        self._router = dtls._rtp_router
        self._extensions = dtls._rtp_header_extensions_map
        self._clock = time.monotonic_ns
        self._stamps: deque[int] = deque()  # arrivals of the datagrams queued, in order
        self._queued_arrival = self._clock()  # of the one aiortc's path took last
        self._active: dict[int, int] = {}  # SSRC -> when its receiver's active time was written
        self.recorder: ArrivalRecorder | None = None
        self.direct = 0  # media packets that took this path
        self.rtcp_direct = 0  # compound RTCP packets that took it
        self._arrival = self._clock()  # of the newest datagram
        self._silence_ended: float | None = None  # when the last LINK_ALIVE_QUIET silence ended
        self.queued = 0  # datagrams that took aiortc's
        self._enqueue = connection.data_received
        self._recv = ice._recv
        connection.data_received = self.data_received
        ice._recv = self._stamped_recv
        dtls._handle_rtp_data = self.handle_rtp_data
        _rtcp_through_hooks(dtls)

    def data_received(self, data: bytes, component: int) -> None:
        """aioice's callback for each datagram that is not STUN."""
        now = self._clock()
        if now - self._arrival >= LINK_ALIVE_QUIET_NS:
            self._silence_ended = now / 1e9
        self._arrival = now
        dtls = self._dtls
        if (
            data
            and 127 < data[0] < 192
            and not self._queue.qsize()
            and dtls._rx_srtp is not None
            and dtls._state is DtlsState.CONNECTED
        ):
            state = self._dtls_state
            state[_DTLS_RX_BYTES] += len(data)
            state[_DTLS_RX_PACKETS] += 1
            if is_rtcp(data):
                try:
                    clear = dtls._rx_srtp.unprotect_rtcp(data)
                except pylibsrtp.Error:
                    return  # aiortc drops it too
                self.rtcp_direct += 1
                try:
                    handle_rtcp_now(dtls, clear)
                except Exception:  # in the socket callback, an error would close the socket
                    logger.exception("an RTCP packet could not be handled; dropped")
                return
            try:
                clear = dtls._rx_srtp.unprotect(data)
            except pylibsrtp.Error:
                return  # aiortc drops it too (replayed, forged, too old)
            self.direct += 1
            receiver, packet = self._route(clear, now)
            if receiver is not None and packet is not None:
                _background(receiver._handle_rtp_packet(packet, arrival_time_ms=aiortc_clock.current_ms()))
            return
        self.queued += 1
        self._stamps.append(now)
        self._enqueue(data, component)

    async def _stamped_recv(self) -> bytes:
        data: bytes = await self._recv()
        self._queued_arrival = self._stamps.popleft() if self._stamps else self._clock()
        return data

    async def handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        """``RTCDtlsTransport._handle_rtp_data`` for a media packet that took aiortc's path."""
        receiver, packet = self._route(data, self._queued_arrival)
        if receiver is not None and packet is not None:
            await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)

    def _route(self, data: bytes, arrival_ns: int) -> tuple[Any, RtpPacket | None]:
        """Parse, record and route a clear media packet; handle it at once if its receiver
        has a tap. Returns the receiver and packet still to be handled by aiortc, if any."""
        try:
            packet = RtpPacket.parse(data, self._extensions)
        except ValueError:
            return None, None
        recorder = self.recorder
        if recorder is not None:
            seq = packet.extensions.transport_sequence_number
            if seq is not None:
                recorder.record(seq, arrival_ns // 1000)
                if not recorder.media_ssrc:
                    recorder.media_ssrc = packet.ssrc
        receiver = self._router.route_rtp(packet)
        if receiver is None:
            return None, None
        tap = receiver.__dict__.get(_RECEIVER_JITTER_BUFFER)
        if not isinstance(tap, PacketTap | SimulcastTap):
            return receiver, packet
        self._media(receiver, tap, packet, arrival_ns)
        return None, None

    def _media(
        self, receiver: RTCRtpReceiver, tap: PacketTap | SimulcastTap, packet: RtpPacket, arrival_ns: int
    ) -> None:
        # RTCRtpReceiver._handle_rtp_packet (tests/unit/test_media_hooks.py pins its source).
        # Two differences: the REMB estimator is given monotonic milliseconds (it only takes
        # differences; every packet of a tapped receiver comes through here, so it never sees
        # aiortc's wall-clock ones), and the time a source was last active (read only by
        # getSynchronizationSources, which keeps the sources of the last 10 s) is written at
        # most every ACTIVE_SSRC_EVERY_NS, not with a datetime per packet.
        if not receiver._enabled:
            return
        if isinstance(tap, SimulcastTap):
            tap.learn(packet)  # what install_simulcast_sink's wrapper does first
        state = receiver.__dict__
        estimator = state[_RECEIVER_REMB_ESTIMATOR]
        if estimator is not None and packet.extensions.abs_send_time is not None:
            remb = estimator.add(
                abs_send_time=packet.extensions.abs_send_time,
                arrival_time_ms=arrival_ns // 1_000_000,
                payload_size=len(packet.payload) + packet.padding_size,
                ssrc=packet.ssrc,
            )
            rtcp_ssrc = state[_RECEIVER_RTCP_SSRC]
            if rtcp_ssrc is not None and remb is not None:
                fci = pack_remb_fci(*remb)
                _background(
                    receiver._send_rtcp(
                        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=fci)
                    )
                )
        active = self._active
        if arrival_ns - active.get(packet.ssrc, -ACTIVE_SSRC_EVERY_NS) >= ACTIVE_SSRC_EVERY_NS:
            active[packet.ssrc] = arrival_ns
            state[_RECEIVER_ACTIVE_SSRC][packet.ssrc] = aiortc_clock.current_datetime()
        codecs: dict[int, RTCRtpCodecParameters] = state[_RECEIVER_CODECS]
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        streams = state[_RECEIVER_REMOTE_STREAMS]
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)
        if is_rtx(codec):
            original_ssrc = state[_RECEIVER_RTX_SSRC].get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if (
                original_ssrc is None
                or len(packet.payload) < 2
                or not isinstance(apt, int)
                or apt not in codecs
            ):
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
        nacks = state[_RECEIVER_NACK_GENERATOR]
        if nacks is not None and nacks.add(packet):
            _background(receiver._send_rtcp_nack(packet.ssrc, sorted(nacks.missing)))
        pli, _frame = tap.add(packet)
        if state[_RECEIVER_DECODER_ERROR].is_set():
            state[_RECEIVER_DECODER_ERROR].clear()
            pli = pli or state[_RECEIVER_KIND] == "video"
        if pli:
            _background(receiver._send_rtcp_pli(packet.ssrc))

    def silence_ended_at(self) -> float | None:
        """When (time.monotonic s) the transport last came back after carrying nothing for
        LINK_ALIVE_QUIET s (a cut); None: never."""
        return self._silence_ended


def direct_receive(dtls: Any) -> DirectReceive:
    """The :class:`DirectReceive` of a publisher's DTLS transport (installed on first use).
    Install before the connection carries media (its queue and stamps start together)."""
    found = dtls.__dict__.get(_DTLS_DIRECT)
    if isinstance(found, DirectReceive):
        return found
    direct = DirectReceive(dtls)
    setattr(dtls, _DTLS_DIRECT, direct)
    return direct


def install_direct_rtcp(pc: RTCPeerConnection) -> None:
    """Give each transport of ``pc`` (a subscriber's connection) the direct receive path, for
    the RTCP its subscriber sends: ~10 REMBs a second per video stream from some clients,
    transport feedback every 50-100 ms from browsers, reports, NACKs, PLIs. Call after the
    answer (``setRemoteDescription``: bundling may replace transports); idempotent."""
    transports = {id(t.sender.transport): t.sender.transport for t in pc.getTransceivers()}
    for dtls in transports.values():
        direct_receive(dtls)


def install_direct_receive(pc: RTCPeerConnection) -> DirectReceive | None:
    """Give ``pc`` (a publisher's connection, bundled) the direct receive path. Call after
    the answer (``setLocalDescription``), with the packet taps installed; idempotent."""
    transceivers = pc.getTransceivers()
    if not transceivers:
        return None
    direct = direct_receive(transceivers[0].receiver.transport)
    for transceiver in transceivers:
        tap = hooked_assembler(transceiver.receiver)
        if isinstance(tap, SimulcastTap):
            taps: Sequence[PacketTap] = tap.layers
        elif isinstance(tap, PacketTap):
            taps = (tap,)
        else:
            continue
        for layer in taps:
            if layer.nacks is not None:
                layer.nacks.link_silence_ended = direct.silence_ended_at
    return direct


_Kept = TypeVar("_Kept")


def _kept_on_transport(pc: RTCPeerConnection | None, side: str, key: str, kind: type[_Kept]) -> _Kept | None:
    """What a hook keeps on the DTLS transport of ``pc``'s receivers or senders, if any."""
    if pc is None:
        return None
    for transceiver in pc.getTransceivers():
        found = getattr(transceiver, side).transport.__dict__.get(key)
        if isinstance(found, kind):
            return found
    return None


def receive_path(pc: RTCPeerConnection | None) -> DirectReceive | None:
    """The direct receive path of ``pc``'s transport (None: not installed)."""
    return _kept_on_transport(pc, "receiver", _DTLS_DIRECT, DirectReceive)


def transport_recorder(pc: RTCPeerConnection | None) -> ArrivalRecorder | None:
    """The arrival recorder on ``pc``'s transport (None: no transport-cc negotiated)."""
    return _kept_on_transport(pc, "receiver", _DTLS_RECORDER, ArrivalRecorder)


def _sender_bwe(dtls: Any) -> SendSideBwe:
    """The subscribe transport's transport-wide numbering and estimate (made on first use),
    with the transport's RTCP watched for the subscriber's transport feedback."""
    bwe = dtls.__dict__.get(_DTLS_BWE)
    if isinstance(bwe, SendSideBwe):
        return bwe
    bwe = SendSideBwe()
    setattr(dtls, _DTLS_BWE, bwe)
    _rtcp_through_hooks(dtls)
    return bwe


# --- RTCP, handled where it arrives --------------------------------------------------------

_DTLS_RTCP_NOW = "_meetingd_rtcp_now"


def handle_rtcp_now(dtls: Any, data: bytes) -> None:
    """``RTCDtlsTransport._handle_rtcp_data`` for one clear compound RTCP packet, run to its
    end in this call. The subscriber's transport feedback goes to the transport's estimate
    (when it negotiated transport-cc); a REMB straight to the callback of each sender it
    names that has one (:func:`attach_sender`: aiortc's own handling of a REMB only sets the
    bitrate of the sender's encoder, and our senders encode nothing); every other packet to
    the recipients aiortc's router picks, whose handlers run here too (:func:`_run_now`)."""
    bwe = dtls.__dict__.get(_DTLS_BWE)
    if isinstance(bwe, SendSideBwe):
        feedback, data = split_compound(data)
        now_us = time.monotonic_ns() // 1000
        for block in feedback:
            try:
                parsed = parse_feedback(block)
            except ValueError:
                continue
            bwe.on_feedback(now_us, parsed.arrivals)
        if not data:
            return
    try:
        packets = RtcpPacket.parse(data)
    except ValueError:
        return  # aiortc drops it too
    router = dtls._rtp_router
    for packet in packets:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            _route_remb(router, packet)
            continue
        for recipient in router.route_rtcp(packet):
            _run_now(recipient._handle_rtcp_packet(packet))


def _route_remb(router: Any, packet: RtcpPsfbPacket) -> None:
    """``RtpRouter.route_rtcp`` and the sender's handling of a REMB, in one pass over its SSRCs."""
    try:
        bitrate, ssrcs = unpack_remb_fci(packet.fci)
    except ValueError:
        return  # the senders would ignore it
    seen: set[int] = set()
    for ssrc in (packet.media_ssrc, *ssrcs):
        sender = router.senders.get(ssrc)
        if sender is None or id(sender) in seen:
            continue
        seen.add(id(sender))
        hook = sender.__dict__.get(_SENDER_REMB)
        if hook is None:
            _run_now(sender._handle_rtcp_packet(packet))
        elif sender._ssrc in ssrcs:
            hook(bitrate)


def _rtcp_through_hooks(dtls: Any) -> None:
    """Make the RTCP that takes aiortc's queued path on ``dtls`` go through
    :func:`handle_rtcp_now` as well (idempotent)."""
    if dtls.__dict__.get(_DTLS_RTCP_NOW):
        return
    setattr(dtls, _DTLS_RTCP_NOW, True)

    async def handle_rtcp_data(data: bytes) -> None:
        handle_rtcp_now(dtls, data)

    dtls._handle_rtcp_data = handle_rtcp_data


def downlink_bwe(pc: RTCPeerConnection | None) -> SendSideBwe | None:
    """The estimate kept for the subscriber on ``pc`` (None: it negotiated no transport-cc)."""
    return _kept_on_transport(pc, "sender", _DTLS_BWE, SendSideBwe)
