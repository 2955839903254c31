"""RTP on the wire, for packet-level forwarding: no aiortc here, only bytes.

A :class:`MediaPacket` is one publisher packet as the relay keeps it: its payload
(VP8 payload descriptor included) exactly as received, built once and shared by
every subscriber. Per subscriber only the 12-byte header and the header
extensions are written (:class:`HeaderWriter`), and for VP8 after a source switch
the picture id (:func:`with_picture_id`).

Audio may arrive as RFC 2198 redundancy (RED): the primary Opus payload behind copies
of the previous ones. :func:`red_blocks` parses it; subscribers that negotiated RED get
the packet as it came (block payload types renumbered if theirs differ,
:func:`red_with_block_type`), the others only the primary (:attr:`MediaPacket.primary`).

RFC 3550 (header), RFC 8285 (one-byte header extensions), RFC 7741 (VP8 payload
descriptor), RFC 6184 (H.264 NAL unit types), RFC 4588 (RTX), RFC 2198 (RED).
"""

from __future__ import annotations

import struct
import time

_HEADER = struct.Struct("!BBHII")
_SEQ = struct.Struct("!H")
NTP_EPOCH = 2_208_988_800  # 1900-01-01 -> 1970-01-01, seconds
VP8_MAX_PAYLOAD = 1200  # bytes of VP8 data per packet (payload descriptor not included)


class MediaPacket:
    """One RTP packet of a published track, shared (never modified) by every subscriber.

    ``keyframe`` marks the first packet of a frame that decodes on its own (a
    subscriber waiting for a keyframe starts there); ``frame_end`` the last packet
    of a frame (the marker bit for video, every packet for audio).
    ``picture_id`` is the VP8 picture id (-1 without one) at byte
    ``picture_id_at`` of the payload, ``picture_id_len`` bytes long.
    """

    __slots__ = (
        "_primary",
        "_red_renumbered",
        "abs_send_time",
        "arrival",
        "audio_level",
        "frame_end",
        "keyframe",
        "marker",
        "ntp",
        "payload",
        "picture_id",
        "picture_id_at",
        "picture_id_len",
        "red",
        "seq",
        "timestamp",
    )

    def __init__(
        self,
        payload: bytes,
        seq: int,
        timestamp: int,
        marker: bool,
        *,
        keyframe: bool = False,
        frame_end: bool = True,
        audio_level: int | None = None,
        picture_id: int = -1,
        picture_id_at: int = 0,
        picture_id_len: int = 0,
        arrival: float = 0.0,
        red: bool = False,
    ) -> None:
        self.payload = payload
        self.seq = seq
        self.timestamp = timestamp
        self.marker = marker
        self.keyframe = keyframe
        self.frame_end = frame_end
        self.audio_level = audio_level  # the ssrc-audio-level byte: V bit | -dBov
        self.picture_id = picture_id
        self.picture_id_at = picture_id_at
        self.picture_id_len = picture_id_len
        self.arrival = arrival
        self.red = red  # an RFC 2198 payload (audio/red): blocks of Opus
        self._primary: bytes | None = None
        self._red_renumbered: tuple[int, bytes] | None = None
        self.ntp = 0  # wall-clock send time (64-bit NTP), set once when fanned out
        self.abs_send_time = b"\x00\x00\x00"  # abs-send-time extension value (6.18 s)

    def stamp(self, now: float | None = None) -> None:
        """Note the send time once, for every subscriber's abs-send-time and sender report."""
        ntp_seconds = (time.time() if now is None else now) + NTP_EPOCH
        self.ntp = int(ntp_seconds * 4294967296.0)
        self.abs_send_time = ((self.ntp >> 14) & 0xFFFFFF).to_bytes(3, "big")

    @property
    def primary(self) -> bytes | None:
        """The payload without redundancy (RED: its primary block, once; None if malformed)."""
        if not self.red:
            return self.payload
        if self._primary is None:
            blocks = red_blocks(self.payload)
            if blocks is None:
                return None
            self._primary = blocks[-1].data
        return self._primary

    def red_payload(self, block_type: int) -> bytes | None:
        """The RED payload with every block's payload type ``block_type`` (built once per type)."""
        cached = self._red_renumbered
        if cached is not None and cached[0] == block_type:
            return cached[1]
        payload = red_with_block_type(self.payload, block_type)
        if payload is not None:
            self._red_renumbered = (block_type, payload)
        return payload


# --- VP8 (RFC 7741) -------------------------------------------------------------------


def parse_vp8(payload: bytes) -> tuple[bool, bool, int, int, int]:
    """``(frame_start, keyframe, picture_id, picture_id_at, picture_id_len)`` of a VP8 packet.

    ``frame_start``: S bit set and partition 0; ``keyframe``: that and the VP8
    frame tag's inverse key frame bit is 0. ``picture_id`` is -1 when absent.
    """
    n = len(payload)
    if n < 1:
        return False, False, -1, 0, 0
    first = payload[0]
    pos = 1
    picture_id, picture_id_at, picture_id_len = -1, 0, 0
    if first & 0x80:  # X: extension byte
        if n < 2:
            return False, False, -1, 0, 0
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id
            if pos >= n:
                return False, False, -1, 0, 0
            picture_id_at = pos
            if payload[pos] & 0x80:  # M: 15 bits
                if pos + 1 >= n:
                    return False, False, -1, 0, 0
                picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                picture_id_len = 2
            else:
                picture_id = payload[pos]
                picture_id_len = 1
            pos += picture_id_len
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    start = bool(first & 0x10) and first & 0x0F == 0
    keyframe = start and pos < n and payload[pos] & 0x01 == 0
    return start, keyframe, picture_id, picture_id_at, picture_id_len


def with_picture_id(packet: MediaPacket, picture_id: int) -> bytes:
    """``packet``'s payload with its VP8 picture id replaced by ``picture_id`` (15 bits)."""
    at = packet.picture_id_at
    payload = packet.payload
    value = bytes(((picture_id >> 8) & 0x7F | 0x80, picture_id & 0xFF))
    return payload[:at] + value + payload[at + packet.picture_id_len :]


class Vp8Packetizer:
    """Splits encoded VP8 frames into RTP payloads (15-bit picture id), for a re-encoded track."""

    def __init__(self, picture_id: int = 0) -> None:
        self.picture_id = picture_id & 0x7FFF

    def packetize(self, frame: bytes) -> list[bytes]:
        pid = self.picture_id
        self.picture_id = (pid + 1) & 0x7FFF
        tail = bytes((0x80, 0x80 | (pid >> 8), pid & 0xFF))  # I; M + 15-bit picture id
        payloads = []
        for offset in range(0, max(len(frame), 1), VP8_MAX_PAYLOAD):
            first = 0x90 if offset == 0 else 0x80  # X (+ S on the first)
            payloads.append(bytes((first,)) + tail + frame[offset : offset + VP8_MAX_PAYLOAD])
        return payloads


def vp8_media_packets(
    payloads: list[bytes], first_seq: int, timestamp: int, keyframe: bool, arrival: float
) -> list[MediaPacket]:
    """The packets of one frame from :meth:`Vp8Packetizer.packetize`."""
    last = len(payloads) - 1
    packets = []
    for i, payload in enumerate(payloads):
        pid = ((payload[2] & 0x7F) << 8) | payload[3]
        packets.append(
            MediaPacket(
                payload,
                (first_seq + i) & 0xFFFF,
                timestamp & 0xFFFFFFFF,
                i == last,
                keyframe=keyframe and i == 0,
                frame_end=i == last,
                picture_id=pid,
                picture_id_at=2,
                picture_id_len=2,
                arrival=arrival,
            )
        )
    return packets


# --- H.264 (RFC 6184) -----------------------------------------------------------------


def h264_starts_keyframe(payload: bytes) -> bool:
    """Whether an H.264 packet begins an IDR access unit (SPS, or an IDR slice start)."""
    if not payload:
        return False
    nal = payload[0] & 0x1F
    if nal in (5, 7):
        return True
    if nal == 24:  # STAP-A: aggregated NAL units, each after a 16-bit size
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            if payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal == 28 and len(payload) > 1:  # FU-A: start bit and the fragmented type
        return bool(payload[1] & 0x80) and payload[1] & 0x1F in (5, 7)
    return False


# --- RED (RFC 2198) -------------------------------------------------------------------


class RedBlock:
    """One block of a RED payload: its payload type, how much older than the packet's
    timestamp it is (0 for the primary), and its data."""

    __slots__ = ("data", "payload_type", "timestamp_offset")

    def __init__(self, payload_type: int, timestamp_offset: int, data: bytes) -> None:
        self.payload_type = payload_type
        self.timestamp_offset = timestamp_offset
        self.data = data

    def __repr__(self) -> str:
        return f"RedBlock(pt={self.payload_type}, offset={self.timestamp_offset}, {len(self.data)} bytes)"


# Block headers a RED payload may carry before we call it malformed (Chrome sends 1-2).
RED_MAX_BLOCKS = 16


def red_blocks(payload: bytes) -> list[RedBlock] | None:
    """The blocks of a RED payload, oldest first, the primary last; None if malformed.

    RFC 2198 section 3: each redundant block has a 4-byte header (F=1, block payload
    type, 14-bit timestamp offset, 10-bit length), the primary a 1-byte one (F=0, type);
    the blocks' data follow the headers in the same order, the primary's to the end.
    """
    n = len(payload)
    pos = 0
    headers: list[tuple[int, int, int]] = []
    while True:
        if pos >= n or len(headers) > RED_MAX_BLOCKS:
            return None
        first = payload[pos]
        if not first & 0x80:
            primary_type = first & 0x7F
            pos += 1
            break
        if pos + 4 > n:
            return None
        word = int.from_bytes(payload[pos + 1 : pos + 4], "big")
        headers.append((first & 0x7F, word >> 10, word & 0x3FF))
        pos += 4
    blocks = []
    for block_type, offset, length in headers:
        if pos + length > n:
            return None
        blocks.append(RedBlock(block_type, offset, payload[pos : pos + length]))
        pos += length
    blocks.append(RedBlock(primary_type, 0, payload[pos:]))
    return blocks


def red_with_block_type(payload: bytes, block_type: int) -> bytes | None:
    """``payload`` (RED) with each block header's payload type set to ``block_type``."""
    out = bytearray(payload)
    pos = 0
    n = len(out)
    for _ in range(RED_MAX_BLOCKS + 1):
        if pos >= n:
            return None
        if not out[pos] & 0x80:
            out[pos] = block_type & 0x7F
            return bytes(out)
        if pos + 4 > n:
            return None
        out[pos] = 0x80 | (block_type & 0x7F)
        pos += 4
    return None


def red_payload(blocks: list[RedBlock]) -> bytes:
    """A RED payload of ``blocks`` (oldest first, the primary last): the inverse of :func:`red_blocks`."""
    *redundant, primary = blocks
    head = bytearray()
    for block in redundant:
        if not 0 <= block.timestamp_offset < 1 << 14 or len(block.data) >= 1 << 10:
            raise ValueError("a redundant block's offset or length does not fit its header")
        word = (block.timestamp_offset << 10) | len(block.data)
        head += bytes((0x80 | block.payload_type,)) + word.to_bytes(3, "big")
    head.append(primary.payload_type & 0x7F)
    return bytes(head) + b"".join(b.data for b in redundant) + primary.data


# --- headers ------------------------------------------------------------------------


class HeaderWriter:
    """The RTP header one subscriber's sender puts on forwarded packets.

    Header extensions (one-byte form): the m-line's ``mid`` (a constant),
    ``abs-send-time`` for video and ``ssrc-audio-level`` for audio, each only if
    the subscriber negotiated it (id > 0), and for video the ``playout-delay`` limits
    (``playout_delay``: id, minimum and maximum in ms; constant until the writer is
    replaced) when the subscriber negotiated it and the relay asks for a delay.
    """

    __slots__ = (
        "_abs",
        "_abs_element",
        "_first",
        "_fixed",
        "_level",
        "_level_element",
        "_plain",
        "_twcc",
        "payload_type",
        "ssrc",
    )

    def __init__(
        self,
        ssrc: int,
        payload_type: int,
        *,
        mid: str | None = None,
        mid_id: int = 0,
        abs_send_time_id: int = 0,
        audio_level_id: int = 0,
        playout_delay: tuple[int, int, int] | None = None,
        transport_cc_id: int = 0,
    ) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        fixed = b""
        if mid and mid_id:
            encoded = mid.encode()
            fixed = bytes(((mid_id << 4) | (len(encoded) - 1),)) + encoded
        if playout_delay is not None:
            fixed += playout_delay_element(*playout_delay)
        self._plain = _extension_block(fixed) if fixed else b""
        # (prefix, suffix) around the variable element's value
        self._abs = _split(fixed, abs_send_time_id, 3) if abs_send_time_id else None
        self._level = _split(fixed, audio_level_id, 1) if audio_level_id else None
        self._abs_element = bytes(((abs_send_time_id << 4) | 2,))
        self._level_element = bytes((audio_level_id << 4,))
        # version 2, and the extension bit unless there is never an extension
        self._first = 0x90 if fixed or abs_send_time_id or audio_level_id or transport_cc_id else 0x80
        # transport-wide sequence number: the element's first byte (id, length 2), else None
        self._fixed = fixed
        self._twcc = bytes(((transport_cc_id << 4) | 1,)) if transport_cc_id else None

    @property
    def transport_cc(self) -> bool:
        """Packets carry a transport-wide sequence number (pass ``transport_seq``)."""
        return self._twcc is not None

    def header(
        self,
        packet: MediaPacket,
        seq: int,
        timestamp: int,
        *,
        payload_type: int = -1,
        ssrc: int = -1,
        transport_seq: int = -1,
    ) -> bytes:
        """The header (with extensions) for ``packet`` sent as ``seq``/``timestamp`` (and, with
        transport-cc negotiated, ``transport_seq`` as its transport-wide sequence number)."""
        pt = self.payload_type if payload_type < 0 else payload_type
        if self._twcc is not None and transport_seq >= 0:
            head = _HEADER.pack(
                0x90, pt | 0x80 if packet.marker else pt, seq, timestamp, self.ssrc if ssrc < 0 else ssrc
            )
            elements = self._fixed
            if self._abs is not None:
                elements += self._abs_element + packet.abs_send_time
            elif self._level is not None and packet.audio_level is not None:
                elements += self._level_element + bytes((packet.audio_level,))
            return head + _extension_block(elements + self._twcc + _SEQ.pack(transport_seq))
        if self._level is not None and packet.audio_level is None and not self._plain:
            first = 0x80  # audio without a level and nothing else to say: no extension block
        else:
            first = self._first
        head = _HEADER.pack(
            first,
            pt | 0x80 if packet.marker else pt,
            seq,
            timestamp,
            self.ssrc if ssrc < 0 else ssrc,
        )
        if self._abs is not None:
            return head + self._abs[0] + packet.abs_send_time + self._abs[1]
        if self._level is not None and packet.audio_level is not None:
            return head + self._level[0] + bytes((packet.audio_level,)) + self._level[1]
        return head + self._plain

    @staticmethod
    def rtx_payload(seq: int, payload: bytes) -> bytes:
        """RFC 4588: the original (as sent) sequence number, then the original payload."""
        return _SEQ.pack(seq) + payload


# The playout-delay extension counts in 10 ms units, 12 bits each (at most 40.95 s).
PLAYOUT_DELAY_MAX_MS = 40950


def playout_delay_element(ext_id: int, min_ms: int, max_ms: int) -> bytes:
    """A one-byte ``playout-delay`` element (webrtc.org experiment): the receiver renders each
    frame at least ``min_ms`` and at most ``max_ms`` after its capture-time mapping."""
    low = min(PLAYOUT_DELAY_MAX_MS, max(0, min_ms)) // 10
    high = min(PLAYOUT_DELAY_MAX_MS, max(min_ms, max_ms)) // 10
    value = (low << 12) | high
    return bytes(((ext_id << 4) | 2,)) + value.to_bytes(3, "big")


def _extension_block(elements: bytes) -> bytes:
    """An RFC 8285 one-byte extension block (0xBEDE, length, elements, zero padding)."""
    padded = elements + b"\x00" * (-len(elements) % 4)
    return b"\xbe\xde" + _SEQ.pack(len(padded) // 4) + padded


def _split(fixed: bytes, ext_id: int, size: int) -> tuple[bytes, bytes]:
    elements = fixed + bytes(((ext_id << 4) | (size - 1),)) + b"\x00" * size
    block = _extension_block(elements)
    at = 4 + len(fixed) + 1
    return block[:at], block[at + size :]


def seq_newer(a: int, b: int) -> bool:
    """``a`` comes after ``b`` in 16-bit sequence order."""
    return a != b and (a - b) & 0xFFFF < 0x8000
