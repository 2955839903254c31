"""Packet-level fan-out: one published track to N forwarding tracks (Galène's rtpwriter model).

A :class:`PublishedTrack` receives every RTP packet of a hooked receiver as it
arrives (``aiortc_hooks.install_packet_sink``) as a :class:`~media.rtpwire.MediaPacket`
whose payload is built once and shared. Each :class:`ForwardingTrack` (the track of
one subscriber's ``RTCRtpSender``) rewrites only what must differ per subscriber:
SSRC, sequence number, timestamp and payload type in a fresh header, the VP8 picture
id after a source switch; then :class:`~media.aiortc_hooks.SenderLink` SRTP-protects
and sends it synchronously: no queue, no task hop per packet. Each forwarding track
keeps a ring of what it sent, to answer its subscriber's NACKs (RTX).

Whole frames are assembled only while someone taps them (recording, the low
rendition): :attr:`PublishedTrack.taps`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from fractions import Fraction
from typing import Any, Protocol

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.aiortc_hooks import EncodedFrame
from media.bwe import backed_off
from media.rtpwire import (
    RED_MAX_BLOCKS,
    HeaderWriter,
    MediaPacket,
    Vp8Packetizer,
    red_blocks,
    seq_newer,
    vp8_media_packets,
    with_picture_id,
)

logger = logging.getLogger(__name__)


# A keyframe request made before the publisher's first packet is retried this often.
KEYFRAME_RETRY_DELAY = 0.1
MAX_KEYFRAME_RETRIES = 30


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
        self._retries = 0
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
                self._retries = 0
            elif self._retries < MAX_KEYFRAME_RETRIES and self._pending is None:
                # Nothing received from the publisher yet: ask again shortly.
                self._retries += 1
                self._pending = self._loop.call_later(KEYFRAME_RETRY_DELAY, self._fire)
        except ConnectionError:
            pass

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._task is not None:
            self._task.cancel()


# The playout-delay limit sent with a subscriber's video: the maximum is libwebrtc's default
# (10 s), so only the minimum (``ForwardingTrack.set_playout_delay``) changes anything.
PLAYOUT_DELAY_MAX_MS = 10_000

# Sent packets each video subscriber keeps for NACKs (a power of two; ~2 s at 1 Mbit/s).
HISTORY_PACKETS = 512
# What a forwarded packet carries besides its payload (RTP header, extensions, SRTP tag), so
# that a stream's rate compares with a subscriber's estimate (measured on SRTP packets).
RTP_OVERHEAD = 32
# Recent sequence numbers a published track remembers, to drop duplicates.
SEEN_PACKETS = 1024

_History = tuple[int, int, bytes, MediaPacket]  # sent seq, sent timestamp, payload, packet


class Link(Protocol):
    """What a forwarding track needs of its started sender (``aiortc_hooks.SenderLink``)."""

    ssrc: int
    payload_type: int
    red_payload_type: int | None
    clock_rate: int
    rtx_ssrc: int
    rtx_payload_type: int | None
    mid: str | None
    mid_id: int
    abs_send_time_id: int
    audio_level_id: int
    transport_cc_id: int  # 0: the subscriber negotiated no transport-cc

    def next_transport_seq(self) -> int: ...

    def send(
        self, header: bytes, payload: bytes, timestamp: int, ntp: int, transport_seq: int = -1
    ) -> bool: ...

    def resend(self, header: bytes, payload: bytes, transport_seq: int = -1) -> bool: ...


class ForwardingTrack(MediaStreamTrack):
    """One subscriber's sender of one publisher track: writes the publisher's packets, re-headed.

    The track lives as long as its sender; :meth:`set_source` points it at another
    publisher (a recycled transceiver) without disturbing the sender: the outgoing
    sequence numbers stay contiguous, timestamps and VP8 picture ids continue from
    where the previous source stopped, and video restarts at a keyframe.
    ``recv()`` never yields (aiortc's own RTP task just waits on it).
    """

    def __init__(self, kind: str, history: int = HISTORY_PACKETS) -> None:
        super().__init__()
        self.kind = kind
        self.source: PublishedTrack | None = None
        # A simulcast layer of the same publisher to switch to at its next keyframe
        # (:meth:`switch_layer`); until then the current layer goes on being forwarded.
        self.pending: PublishedTrack | None = None
        self.layer_switches = 0
        self._enabled = True
        self.needs_keyframe = kind == "video"
        self._link: Link | None = None
        self._writer: HeaderWriter | None = None
        self._red_type: int | None = None  # the subscriber negotiated RED (audio)
        self._clock_rate = 90000 if kind == "video" else 48000
        # Re-base on the next packet forwarded: sequence numbers always; timestamps and
        # picture ids too when the source changed (``_switched``).
        self._rebase = True
        self._switched = False
        self._seq_delta = random.getrandbits(15)
        self._ts_delta = random.getrandbits(32)
        self._pid_delta = 0
        self._start_seq = 0
        self._last: MediaPacket | None = None  # the newest packet sent
        if history & (history - 1):
            raise ValueError("history must be a power of two")
        self._mask = history - 1
        self._history: list[_History | None] = [None] * history if kind == "video" else []
        self._rtx_seq = random.getrandbits(15)
        self._ended: asyncio.Future[None] | None = None
        self.forwarded = 0  # frames (video: marker packets; audio: packets)
        self.packets = 0
        self.dropped = 0  # frames not sent: waiting for a keyframe, not started, disabled
        self.keyframe_requests = 0
        self.nacks = 0
        self.retransmitted = 0
        self.nacks_forwarded = 0  # NACKed packets we never had: asked of the publisher
        self.last_nack_at: float | None = None  # monotonic time of this subscriber's last NACK
        # The subscriber's feedback on this stream: the last receiver report's fraction lost
        # and the last REMB estimate (bit/s), with when they came (monotonic).
        self.fraction_lost: float | None = None
        self.report_at: float | None = None
        self.remb_bps: int | None = None
        self.remb_at: float | None = None
        # Video: the playout-delay extension's id the subscriber accepted (0: none), and the
        # minimum delay asked for (ms), so that its decoder waits for retransmissions.
        self.playout_delay_id = 0
        self.playout_delay_ms = 0

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def started(self) -> bool:
        """aiortc has started the sender (DTLS up, parameters negotiated)."""
        return self._link is not None

    @property
    def receives_red(self) -> bool:
        """The subscriber takes RED as it comes (else it gets the primary Opus only)."""
        return self._red_type is not None

    def on_started(self, link: Link) -> None:
        """The sender is running: forward from now on, video from a keyframe, asked for now."""
        self._link = link
        self._clock_rate = link.clock_rate
        self._red_type = link.red_payload_type if self.kind == "audio" else None
        self._writer = self._make_writer(link)
        if self.kind == "video" and self.source is not None and self._enabled:
            self.source.keyframes.request()

    def _make_writer(self, link: Link) -> HeaderWriter:
        video = self.kind == "video"
        delay = None
        if video and self.playout_delay_id:
            delay = (self.playout_delay_id, self.playout_delay_ms, PLAYOUT_DELAY_MAX_MS)
        return HeaderWriter(
            link.ssrc,
            link.payload_type,
            mid=link.mid,
            mid_id=link.mid_id,
            abs_send_time_id=link.abs_send_time_id if video else 0,
            audio_level_id=link.audio_level_id if not video else 0,
            playout_delay=delay,
            transport_cc_id=link.transport_cc_id,
        )

    def set_playout_delay_id(self, ext_id: int) -> None:
        """The subscriber accepted the playout-delay extension under ``ext_id`` (0: it did not)."""
        if self.kind != "video" or ext_id == self.playout_delay_id:
            return
        self.playout_delay_id = ext_id
        if self._link is not None:
            self._writer = self._make_writer(self._link)

    def set_playout_delay(self, min_ms: int) -> None:
        """Ask the subscriber's video decoder to play at least ``min_ms`` behind (10 ms steps).

        Sent on every video packet while the extension is negotiated; a lost packet can then
        be retransmitted (one round trip or two) before its frame is due, instead of the
        picture freezing until it comes."""
        min_ms = max(0, min(PLAYOUT_DELAY_MAX_MS, min_ms)) // 10 * 10
        if self.kind != "video" or min_ms == self.playout_delay_ms:
            return
        self.playout_delay_ms = min_ms
        if self._link is not None and self.playout_delay_id:
            self._writer = self._make_writer(self._link)

    def set_source(self, source: PublishedTrack | None) -> None:
        self._cancel_pending()
        if source is self.source:
            return
        if self.source is not None:
            self.source.detach(self)
        self.needs_keyframe = self.kind == "video"
        self._rebase = True
        self._switched = self._last is not None
        self.source = source
        if source is not None:
            source.attach(self)
            if self._link is not None and self.kind == "video":
                source.keyframes.request()

    def switch_layer(self, layer: PublishedTrack) -> None:
        """Move to another simulcast layer of the source's publisher without a gap: keep
        forwarding the current layer until ``layer``'s next keyframe (asked for now, coalesced
        per layer), then continue from it with contiguous sequence numbers, timestamps and
        picture ids (:meth:`PublishedTrack.on_packet` makes the move). With nothing flowing
        yet (not started, disabled, or waiting for a first keyframe) it moves at once."""
        if layer is self.source:
            self._cancel_pending()
            return
        if self.source is None or not self.started or not self._enabled or self.needs_keyframe:
            self.set_source(layer)
            return
        if layer is self.pending:
            return
        self._cancel_pending()
        self.pending = layer
        layer.attach_pending(self)
        layer.keyframes.request()

    def take_layer(self, layer: PublishedTrack) -> None:
        """``layer``'s keyframe has come: it is the source from this packet on (re-based as
        after :meth:`set_source`, without asking for another keyframe)."""
        self.pending = None
        layer.detach_pending(self)
        if self.source is not None:
            self.source.detach(self)
        self.needs_keyframe = True
        self._rebase = True
        self._switched = self._last is not None
        self.source = layer
        layer.attach(self)
        self.layer_switches += 1

    def _cancel_pending(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.detach_pending(self)

    def on_report(self, fraction_lost: float) -> None:
        """A receiver report block about this stream."""
        self.fraction_lost, self.report_at = fraction_lost, time.monotonic()

    def on_remb(self, bitrate: int) -> None:
        """The subscriber's REMB estimate, naming this stream."""
        self.remb_bps, self.remb_at = bitrate, time.monotonic()

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
            self._cancel_pending()
        if enabled:
            self._rebase = True
            if self.kind == "video":
                self.needs_keyframe = True
                if self.source is not None:
                    self.source.keyframes.request()

    def resume(self) -> None:
        """The source skipped packets on purpose (unmute): continue the sequence numbers."""
        self._rebase = True

    def forward(self, packet: MediaPacket) -> bool:
        """Send one packet of the source; False when this track waits for a keyframe."""
        link = self._link
        if link is None or not self._enabled:
            self.dropped += packet.frame_end
            return True
        rebased = self._rebase
        if rebased:
            if self.needs_keyframe and not packet.keyframe:
                self.dropped += packet.frame_end
                return False
            self._rebase_at(packet)
        elif (packet.seq - self._start_seq) & 0xFFFF >= 0x8000:
            return True  # from before this track (re)started: its slot is taken
        seq = (packet.seq + self._seq_delta) & 0xFFFF
        timestamp = (packet.timestamp + self._ts_delta) & 0xFFFFFFFF
        payload = packet.payload
        payload_type = -1
        if packet.red:
            if self._red_type is not None:  # RED as it came, its blocks under our Opus type
                payload_type = self._red_type
                red = packet.red_payload(link.payload_type)
            else:
                red = packet.primary
            if red is None:  # malformed RED: nothing to send
                self.dropped += 1
                return True
            payload = red
        elif self._pid_delta and packet.picture_id >= 0:
            payload = with_picture_id(packet, (packet.picture_id + self._pid_delta) & 0x7FFF)
        writer = self._writer
        assert writer is not None
        transport_seq = link.next_transport_seq() if writer.transport_cc else -1
        header = writer.header(packet, seq, timestamp, payload_type=payload_type, transport_seq=transport_seq)
        if not link.send(header, payload, timestamp, packet.ntp, transport_seq):
            if rebased:  # the restart did not go out: restart at the next keyframe instead
                self._rebase = True
                self.needs_keyframe = self.kind == "video"
            return True
        self.packets += 1
        self.forwarded += packet.frame_end
        last = self._last
        if last is None or (packet.seq - last.seq) & 0xFFFF < 0x8000:
            self._last = packet
        history = self._history
        if history:
            history[seq & self._mask] = (seq, timestamp, payload, packet)
        return True

    def _rebase_at(self, packet: MediaPacket) -> None:
        self._rebase = False
        self.needs_keyframe = False
        last = self._last
        if last is not None:
            self._seq_delta = (last.seq + self._seq_delta + 1 - packet.seq) & 0xFFFF
            if self._switched:
                gap = max(1, int((packet.arrival - last.arrival) * self._clock_rate))
                self._ts_delta = (last.timestamp + self._ts_delta + gap - packet.timestamp) & 0xFFFFFFFF
                if packet.picture_id >= 0 and last.picture_id >= 0:
                    self._pid_delta = (last.picture_id + self._pid_delta + 1 - packet.picture_id) & 0x7FFF
        else:
            self._seq_delta = (self._seq_delta - packet.seq) & 0xFFFF
        self._switched = False
        self._start_seq = packet.seq
        self._last = packet

    def retransmit(self, seq: int) -> None:
        """A NACK from this subscriber: resend the packet from the ring (as RTX when negotiated)."""
        self.nacks += 1
        self.last_nack_at = time.monotonic()
        history = self._history
        entry = history[seq & self._mask] if history else None
        link, writer = self._link, self._writer
        if entry is None or entry[0] != seq or link is None or writer is None:
            source = self.source
            if link is not None and source is not None and source.upstream_nack is not None:
                # never received here (lost upstream): ask the publisher; it comes in its slot
                self.nacks_forwarded += 1
                source.upstream_nack((seq - self._seq_delta) & 0xFFFF)
            return
        _seq, timestamp, payload, packet = entry
        transport_seq = link.next_transport_seq() if writer.transport_cc else -1
        if link.rtx_payload_type is not None:
            header = writer.header(
                packet,
                self._rtx_seq,
                timestamp,
                payload_type=link.rtx_payload_type,
                ssrc=link.rtx_ssrc,
                transport_seq=transport_seq,
            )
            payload = HeaderWriter.rtx_payload(seq, payload)
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
        else:
            header = writer.header(packet, seq, timestamp, transport_seq=transport_seq)
        if link.resend(header, payload, transport_seq):
            self.retransmitted += 1

    async def recv(self) -> av.Packet[Any]:
        # aiortc's RTP task waits here for the sender's life: packets go out through forward().
        if self.readyState == "live":
            if self._ended is None:
                self._ended = asyncio.get_running_loop().create_future()
            await self._ended
        raise MediaStreamError

    def stop(self) -> None:
        self.set_source(None)
        super().stop()
        if self._ended is not None and not self._ended.done():
            self._ended.set_result(None)


# A simulcast layer that sends nothing for this long while a lower layer of the same publisher
# keeps arriving has stopped (the publisher's encoder dropped it, usually because its uplink
# estimate no longer carries it): its subscribers move to the best layer still arriving at
# once, not at the next rate sample. At 30 fps a layer's packets are ~33 ms apart.
LAYER_STALL = 0.4
# A layer that stopped is not chosen again (by anyone not on it) until it has arrived without
# a stop for this long; each stop within LAYER_STALL_MEMORY of the one before doubles the hold,
# up to LAYER_STALL_HOLD_MAX. A publisher whose estimate hovers at a layer's threshold turns it
# on and off every few seconds: following it costs every subscriber a freeze per stop.
LAYER_STALL_HOLD = 8.0
LAYER_STALL_HOLD_MAX = 32.0
LAYER_STALL_MEMORY = 60.0


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
        self._muted = False
        self.keyframes = KeyframeRequester(request_keyframe, keyframe_interval)
        self._subscribers: list[ForwardingTrack] = []
        self._pending: list[ForwardingTrack] = []  # to switch to this layer at its next keyframe
        # A simulcast publisher's video: every layer, best first (this track is the first and
        # the origin of the others); empty for a single stream.
        self.layers: tuple[PublishedTrack, ...] = ()
        self.rid: str | None = None
        # Of a simulcast layer: the better layers of its publisher (best first), watched for a
        # stop from this layer's packets, and the worse ones (best first) that vouch for it.
        self._better: tuple[PublishedTrack, ...] = ()
        self._worse: tuple[PublishedTrack, ...] = ()
        self.stalls = 0  # times this layer stopped while a worse one kept coming
        self.stalled_at: float | None = None  # the newest such stop (monotonic)
        self.resumed_at: float | None = None  # when it came back from it
        self._stall_hold = LAYER_STALL_HOLD
        self._flowing_since = 0.0  # the start of this layer's current run without a stop
        self._on_audio_level = on_audio_level
        self._time_base: Fraction | None = None
        self._ts_last: int | None = None
        self._ts_offset = 0
        self._seen = [-1] * SEEN_PACKETS
        self._high_seq: int | None = None  # newest sequence number received (audio RED)
        # What arrived against what was sent (extended sequence numbers), for the share of a
        # subscriber's loss that happened upstream (``sample_loss``).
        self._ext_high: int | None = None
        self._unique = 0
        self._loss_mark: tuple[int, int] | None = None
        self.upstream_loss = 0.0
        self.packets = 0
        self.bytes = 0  # bytes received, as each subscriber is sent them (payload + RTP_OVERHEAD)
        self._rate_mark: tuple[float, int] | None = None
        self.rate_bps = 0  # bit/s between the last two ``sample_rate`` calls
        self.duplicates = 0
        self.red_packets = 0  # audio packets that came as RED
        self.recovered = 0  # audio packets lost upstream, rebuilt from RED for subscribers without it
        self.frames = 0
        self.keyframes_seen = 0
        self._keyframe_seq: int | None = None  # first packet of the newest keyframe received
        self.hopeless_keyframe_requests = 0  # asked for because a lost packet was given up
        self.last_frame_at: float | None = None
        # Optional taps for recording or the low rendition: called with every whole frame
        # (after the mute check). While the list is empty no frame is assembled.
        self.taps: list[Callable[[EncodedFrame, av.Packet[Any]], None]] = []
        # Asks the publisher for a packet a subscriber NACKed that never arrived here
        # (aiortc_hooks.NackRetrier.request), and what to call when the track closes.
        self.upstream_nack: Callable[[int], None] | None = None
        self.nack_stats: Any = None  # the receiver's NackRetrier (figures for stats), if any
        self.on_close: list[Callable[[], None]] = []
        # Set on a rendition's output (media/rendition.py): the publisher track it renders.
        self.origin: PublishedTrack | None = None
        # For a re-encoded track (a rendition's output): its own packetizer and numbering.
        self._packetizer: Vp8Packetizer | None = None
        self._next_seq = random.getrandbits(16)

    @property
    def subscribers(self) -> tuple[ForwardingTrack, ...]:
        return tuple(self._subscribers)

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, muted: bool) -> None:
        if self._muted and not muted:
            for sub in self._subscribers:
                sub.resume()  # no gap in their sequence numbers for the muted stretch
        self._muted = muted

    def attach(self, track: ForwardingTrack) -> None:
        """A new subscriber: it gets nothing until a keyframe (requested once its sender runs).

        Call through ``ForwardingTrack.set_source``.
        """
        self._subscribers.append(track)

    def detach(self, track: ForwardingTrack) -> None:
        try:
            self._subscribers.remove(track)
        except ValueError:
            pass

    def attach_pending(self, track: ForwardingTrack) -> None:
        """A subscriber of another layer moves here at the next keyframe (``switch_layer``)."""
        if track not in self._pending:
            self._pending.append(track)

    def detach_pending(self, track: ForwardingTrack) -> None:
        try:
            self._pending.remove(track)
        except ValueError:
            pass

    def set_layers(self, layers: tuple[PublishedTrack, ...]) -> None:
        """This track is one of ``layers`` (a simulcast publisher's video, best first)."""
        index = layers.index(self)
        self._better, self._worse = layers[:index], layers[index + 1 :]

    def arriving(self, now: float) -> bool:
        """Whether a packet came within ``LAYER_STALL``."""
        return self.last_frame_at is not None and now - self.last_frame_at <= LAYER_STALL

    def held(self, now: float) -> bool:
        """Whether this layer stopped lately (is stopped, or came back less than its hold
        ago): the layer choice does not move anyone up to it."""
        if self.stalled_at is None:
            return False
        if self._stopped():
            return True
        assert self.resumed_at is not None
        return now - self.resumed_at < self._stall_hold

    def _stopped(self) -> bool:
        """Stopped (while a worse layer went on) and not back yet."""
        stop, back = self.stalled_at, self.resumed_at
        return stop is not None and (back is None or back <= stop)

    def _stalled(self, now: float) -> None:
        """This layer stopped while a worse one kept arriving."""
        self._stall_hold = backed_off(
            self._stall_hold,
            self.stalled_at,
            now,
            within=LAYER_STALL_MEMORY,
            base=LAYER_STALL_HOLD,
            cap=LAYER_STALL_HOLD_MAX,
        )
        self.stalled_at = now
        self.stalls += 1

    def _watch_better_layers(self, now: float) -> None:
        """From a packet of this layer: move the subscribers of a better layer that stopped
        to the best layer still arriving (this one, or one between), now."""
        for i, better in enumerate(self._better):
            last = better.last_frame_at
            if last is None or better.arriving(now) or self._flowing_since > last:
                continue  # arriving, or this layer too was not (an outage of the whole uplink)
            if better.stalled_at is None or last > better.stalled_at:
                better._stalled(last)  # a new stop (``stalled_at``: its last packet before)
            if not better._subscribers and not better._pending:
                continue  # nobody to move (the usual case while it stays stopped)
            # its subscribers not moving already, and those about to move to it
            moved = [sub for sub in better._subscribers if sub.pending is None]
            moved += better._pending
            if not moved:
                continue
            between = self._better[i + 1 :]
            target = next((t for t in between if t.arriving(now)), self)
            logger.info(
                "participant=%s layer %s stopped %.2f s ago: %d subscribers move to %s",
                self.publisher_id,
                better.rid,
                now - last,
                len(moved),
                target.rid,
            )
            for sub in moved:
                sub.switch_layer(target)

    def on_packet(self, packet: MediaPacket) -> bool:
        """Sink of the hooked receiver, for every packet: forward it; True if frames are wanted."""
        self.packets += 1
        self.bytes += len(packet.payload) + RTP_OVERHEAD
        if self._better or self._worse:
            last = self.last_frame_at
            if last is None or packet.arrival - last > LAYER_STALL:
                self._flowing_since = packet.arrival
            if self._better:
                self._watch_better_layers(packet.arrival)
            if self._stopped():
                self.resumed_at = packet.arrival  # back from a stop (the hold counts from here)
        self.last_frame_at = packet.arrival
        if self.kind == "audio":
            if packet.audio_level is not None and self._on_audio_level is not None:
                self._on_audio_level(self.publisher_id, packet.audio_level & 0x7F)
        slot = packet.seq % SEEN_PACKETS
        if self._seen[slot] == packet.seq:
            self.duplicates += 1
            return bool(self.taps)
        self._seen[slot] = packet.seq
        self._unique += 1
        high = self._ext_high
        if high is None:
            self._ext_high = packet.seq
        else:
            step = (packet.seq - high) & 0xFFFF
            if step < 0x8000:
                self._ext_high = high + step
        self.frames += packet.frame_end  # received, muted or not: the stats count what arrived
        if self._muted and self.kind == "audio":
            if packet.red and (self._high_seq is None or seq_newer(packet.seq, self._high_seq)):
                self._high_seq = packet.seq  # nothing from a muted stretch is rebuilt later
            return False
        if packet.keyframe and self.kind == "video":
            self.keyframes_seen += 1
            if self._keyframe_seq is None or seq_newer(packet.seq, self._keyframe_seq):
                self._keyframe_seq = packet.seq
        if self._pending:
            if packet.keyframe:
                for sub in list(self._pending):
                    sub.take_layer(self)  # now among the subscribers, this keyframe included
            else:
                self.keyframes.request()  # coalesced: the switch waits for one
        subscribers = self._subscribers
        if packet.red:
            self.red_packets += 1
            self._recover_from_red(packet)
        if subscribers:
            packet.stamp()
            waiting = False
            for sub in subscribers:
                if not sub.forward(packet):
                    waiting = True
            if waiting:
                self.keyframes.request()
        return bool(self.taps)

    def sample_rate(self, now: float) -> int:
        """The bit/s received since the last call, RTP overhead included (what a subscriber
        of the full stream needs)."""
        mark = self._rate_mark
        self._rate_mark = (now, self.bytes)
        if mark is not None and now > mark[0]:
            self.rate_bps = int((self.bytes - mark[1]) * 8 / (now - mark[0]))
        return self.rate_bps

    def sample_loss(self) -> float:
        """The fraction of the packets sent since the last call that never arrived here (the
        loss every subscriber sees on top of its own link's)."""
        high = self._ext_high
        if high is None:
            return 0.0
        mark, self._loss_mark = self._loss_mark, (high, self._unique)
        if mark is not None:
            expected, got = high - mark[0], self._unique - mark[1]
            self.upstream_loss = min(1.0, max(0.0, 1 - got / expected)) if expected > 0 else 0.0
        return self.upstream_loss

    def recovery_hopeless(self, seq: int) -> None:
        """Upstream NACKs gave up on ``seq``: every subscriber's decoder is stuck from its frame
        on, so ask the publisher for a keyframe now (coalesced with the subscribers' PLIs)
        rather than wait for each decoder to give up. Not when a keyframe newer than the
        lost packet has arrived already (it repaired the picture)."""
        if self.kind != "video" or not self._subscribers:
            return
        key = self._keyframe_seq
        if key is not None and seq_newer(key, seq):
            return
        self.hopeless_keyframe_requests += 1
        self.keyframes.request()

    def _recover_from_red(self, packet: MediaPacket) -> None:
        """Rebuild the packets lost just before ``packet`` from its redundant blocks, for the
        subscribers that do not take RED (those that do recover them themselves).

        A RED sender (libwebrtc's) puts the payloads of the packets just before this one,
        oldest first: the newest redundant block is ``seq - 1``, the one before ``seq - 2``.
        """
        high = self._high_seq
        if high is not None and not seq_newer(packet.seq, high):
            return  # late: what it could repair was repaired, or has been received
        self._high_seq = packet.seq
        if high is None:
            return
        missing = (packet.seq - high - 1) & 0xFFFF
        plain = [s for s in self._subscribers if not s.receives_red]
        if not missing or missing > RED_MAX_BLOCKS or not plain:
            return
        blocks = red_blocks(packet.payload)
        if blocks is None:
            return
        redundant = blocks[:-1]
        packet.stamp()
        usable, previous_offset = 0, 0
        for block in reversed(redundant):
            if usable == missing or block.timestamp_offset <= previous_offset:
                break  # older blocks must be older: else not one packet per block
            usable, previous_offset = usable + 1, block.timestamp_offset
        for j in range(usable, 0, -1):  # oldest first
            block = redundant[-j]
            seq = (packet.seq - j) & 0xFFFF
            slot = seq % SEEN_PACKETS
            if self._seen[slot] == seq:
                continue
            self._seen[slot] = seq
            rebuilt = MediaPacket(
                block.data,
                seq,
                (packet.timestamp - block.timestamp_offset) & 0xFFFFFFFF,
                False,
                keyframe=True,
                frame_end=True,
                arrival=packet.arrival,
            )
            rebuilt.ntp, rebuilt.abs_send_time = packet.ntp, packet.abs_send_time
            self.recovered += 1
            for sub in plain:
                sub.forward(rebuilt)

    def on_frame(self, frame: EncodedFrame) -> None:
        """Whole frames (assembled only while there are taps): to every tap."""
        if self._time_base is None:
            self._time_base = Fraction(1, frame.codec.clockRate)
        if self.kind == "audio" and self._muted:
            return
        packet = av.Packet(frame.data)
        packet.pts = self._unwrap(frame.timestamp)
        packet.time_base = self._time_base
        for tap in list(self.taps):
            tap(frame, packet)

    def send_frame(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        """A frame encoded here (a rendition's output, VP8): packetized once, fanned out."""
        if self._packetizer is None:
            self._packetizer = Vp8Packetizer(random.getrandbits(15))
        payloads = self._packetizer.packetize(data)
        packets = vp8_media_packets(payloads, self._next_seq, timestamp, keyframe, time.monotonic())
        self._next_seq = (self._next_seq + len(packets)) & 0xFFFF
        for packet in packets:
            self.on_packet(packet)

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
        for callback in self.on_close:
            callback()
        self.on_close.clear()
        self.keyframes.close()
        for sub in list(self._pending):
            sub.pending = None
        self._pending.clear()
        for sub in list(self._subscribers):
            sub.set_source(None)
        self._subscribers.clear()
