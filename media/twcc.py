"""Transport-wide congestion control feedback: the wire format, and what a receiver keeps.

draft-holmer-rmcat-transport-wide-cc-extensions-01: a sender numbers every RTP packet
of a transport with a 16-bit transport-wide sequence number (a header extension); the
receiver answers every 50-100 ms with an RTCP transport feedback (RTPFB, FMT 15) that
says, for each sequence number since the last one, whether it arrived and when, as
deltas in 250 µs units from a reference time counted in 64 ms.

Pure code: no aiortc, no I/O. :class:`ArrivalRecorder` is the receiving side (one per
DTLS transport; :mod:`media.aiortc_hooks` feeds it), :func:`build_feedback` /
:func:`parse_feedback` the packet format.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

RTCP_RTPFB = 205
FMT_TRANSPORT_FEEDBACK = 15

DELTA_US = 250  # one receive-delta tick
REFERENCE_US = 64_000  # one reference-time unit
TICKS_PER_REFERENCE = REFERENCE_US // DELTA_US  # 256

_NOT_RECEIVED, _SMALL, _LARGE = 0, 1, 2
_MAX_RUN = 0x1FFF  # 13-bit run length
# A feedback packet stays well under an MTU; the next one carries on where it stopped.
MAX_STATUSES = 1000
# An arrival more than this many sequence numbers behind the newest is forgotten.
MAX_PENDING = 4096

_HEAD = struct.Struct("!BBHLLHHL")  # RTCP header, sender, media, base, count, ref<<8|fb count


@dataclass(frozen=True, slots=True)
class Feedback:
    """One parsed transport feedback packet.

    ``arrivals`` pairs each sequence number from ``base_seq`` on (``status_count`` of
    them, 16-bit) with its arrival time in µs on the receiver's clock (reference time
    included, so comparable across packets of one receiver), or None when not received.
    """

    sender_ssrc: int
    media_ssrc: int
    base_seq: int
    feedback_count: int
    reference_us: int
    arrivals: list[tuple[int, int | None]]


def _chunks(symbols: list[int]) -> list[int]:
    """Encode status symbols as packet chunks: run length where it pays, else 2-bit vectors."""
    chunks: list[int] = []
    i, n = 0, len(symbols)
    while i < n:
        run = 1
        while i + run < n and symbols[i + run] == symbols[i] and run < _MAX_RUN:
            run += 1
        if run >= 7 or i + run == n:
            chunks.append((symbols[i] << 13) | run)  # run length chunk (bit 15 = 0)
            i += run
            continue
        window = symbols[i : i + 14]
        if len(window) == 14 and max(window) <= _SMALL:
            value = 0x8000  # status vector chunk, 1-bit symbols (14)
            for k, s in enumerate(window):
                value |= s << (13 - k)
            chunks.append(value)
            i += 14
            continue
        window = symbols[i : i + 7]
        value = 0xC000  # status vector chunk, 2-bit symbols (7); short tails pad with "not received"
        for k, s in enumerate(window):
            value |= s << (2 * (6 - k))
        chunks.append(value)
        i += 7
    return chunks


def build_feedback(
    sender_ssrc: int,
    media_ssrc: int,
    base_seq: int,
    reference_ticks: int,
    feedback_count: int,
    entries: list[int | None],
) -> bytes:
    """One feedback packet.

    ``entries[k]`` is the arrival of sequence number ``base_seq + k`` in 250 µs ticks (on
    any clock that started at or before ``reference_ticks``), or None if not received;
    ``reference_ticks`` must be a multiple of 256 (64 ms) at or before the first arrival.
    Every delta must fit a signed 16-bit tick count (the caller splits before one would
    not): :class:`ArrivalRecorder` does.
    """
    if not entries or len(entries) > 0xFFFF:
        raise ValueError("a feedback packet covers 1 to 65535 packets")
    if reference_ticks % TICKS_PER_REFERENCE:
        raise ValueError("reference time must be a multiple of 64 ms")
    symbols: list[int] = []
    deltas = bytearray()
    previous = reference_ticks
    for arrival in entries:
        if arrival is None:
            symbols.append(_NOT_RECEIVED)
            continue
        delta = arrival - previous
        previous = arrival
        if 0 <= delta <= 0xFF:
            symbols.append(_SMALL)
            deltas.append(delta)
        elif -0x8000 <= delta <= 0x7FFF:
            symbols.append(_LARGE)
            deltas += struct.pack("!h", delta)
        else:
            raise ValueError(f"receive delta {delta} ticks does not fit 16 bits")
    body = b"".join(struct.pack("!H", c) for c in _chunks(symbols)) + bytes(deltas)
    reference = (reference_ticks // TICKS_PER_REFERENCE) & 0xFFFFFF
    padding = -(len(body)) % 4
    length = (_HEAD.size + len(body) + padding) // 4 - 1
    first = 0xA0 if padding else 0x80  # V=2, P when padded
    head = _HEAD.pack(
        first | FMT_TRANSPORT_FEEDBACK,
        RTCP_RTPFB,
        length,
        sender_ssrc,
        media_ssrc,
        base_seq & 0xFFFF,
        len(entries),
        (reference << 8) | (feedback_count & 0xFF),
    )
    tail = b"\x00" * (padding - 1) + bytes((padding,)) if padding else b""
    return head + body + tail


def parse_feedback(packet: bytes) -> Feedback:
    """Parse one RTCP transport feedback packet (header included). ValueError if malformed."""
    if len(packet) < _HEAD.size:
        raise ValueError("transport feedback too short")
    first, pt, length, sender, media, base, count, ref = _HEAD.unpack_from(packet)
    if first >> 6 != 2 or pt != RTCP_RTPFB or first & 0x1F != FMT_TRANSPORT_FEEDBACK:
        raise ValueError("not a transport feedback packet")
    end = (length + 1) * 4
    if end > len(packet):
        raise ValueError("transport feedback length exceeds the packet")
    if first & 0x20:
        end -= packet[end - 1]
    reference = ref >> 8
    if reference & 0x800000:
        reference -= 0x1000000  # signed 24 bits
    symbols: list[int] = []
    pos = _HEAD.size
    while len(symbols) < count:
        if pos + 2 > end:
            raise ValueError("transport feedback: chunks run past the end")
        (chunk,) = struct.unpack_from("!H", packet, pos)
        pos += 2
        if not chunk & 0x8000:
            symbols += [(chunk >> 13) & 0x3] * (chunk & _MAX_RUN)
        elif not chunk & 0x4000:
            symbols += [(chunk >> (13 - k)) & 0x1 for k in range(14)]
        else:
            symbols += [(chunk >> (2 * (6 - k))) & 0x3 for k in range(7)]
    del symbols[count:]
    ticks = reference * TICKS_PER_REFERENCE
    arrivals: list[tuple[int, int | None]] = []
    for k, symbol in enumerate(symbols):
        seq = (base + k) & 0xFFFF
        if symbol == _NOT_RECEIVED:
            arrivals.append((seq, None))
            continue
        if symbol == _SMALL:
            if pos + 1 > end:
                raise ValueError("transport feedback: deltas run past the end")
            ticks += packet[pos]
            pos += 1
        elif symbol == _LARGE:
            if pos + 2 > end:
                raise ValueError("transport feedback: deltas run past the end")
            ticks += struct.unpack_from("!h", packet, pos)[0]
            pos += 2
        else:
            raise ValueError("transport feedback: reserved status symbol")
        arrivals.append((seq, ticks * DELTA_US))
    return Feedback(sender, media, base, ref & 0xFF, reference * REFERENCE_US, arrivals)


def split_compound(data: bytes) -> tuple[list[bytes], bytes]:
    """Split a compound RTCP packet: (its transport feedback packets, everything else)."""
    feedback: list[bytes] = []
    rest: list[bytes] = []
    pos = 0
    while pos + 4 <= len(data):
        end = pos + (struct.unpack_from("!H", data, pos + 2)[0] + 1) * 4
        if end > len(data):
            break
        part = data[pos:end]
        if data[pos + 1] == RTCP_RTPFB and data[pos] & 0x1F == FMT_TRANSPORT_FEEDBACK:
            feedback.append(part)
        else:
            rest.append(part)
        pos = end
    if pos < len(data):
        rest.append(data[pos:])  # let the normal parser judge what it cannot split
    return feedback, b"".join(rest)


class ArrivalRecorder:
    """What a receiver remembers of one transport's packets until its next feedback.

    :meth:`record` is the hot path (one dict write per packet). :meth:`feedback` builds the
    packets about everything from the last reported sequence number to the newest; a
    packet that arrives after its number was reported is not reported again.
    """

    def __init__(self, sender_ssrc: int = 0) -> None:
        self.sender_ssrc = sender_ssrc
        self.media_ssrc = 0
        self._arrivals: dict[int, int] = {}  # unwrapped seq -> arrival (µs)
        self._newest: int | None = None  # unwrapped
        self._next: int | None = None  # first unwrapped seq the next feedback reports
        self._count = 0
        self.packets = 0
        self.feedback_sent = 0

    def record(self, seq: int, arrival_us: int) -> None:
        newest = self._newest
        if newest is None:
            unwrapped = seq
            self._next = seq
        else:
            unwrapped = newest + ((seq - newest + 0x8000) & 0xFFFF) - 0x8000
        if newest is None or unwrapped > newest:
            self._newest = unwrapped
        self._arrivals[unwrapped] = arrival_us
        self.packets += 1

    @property
    def pending(self) -> bool:
        return bool(self._arrivals)

    def feedback(self) -> list[bytes]:
        """Feedback packets for everything not yet reported (empty when nothing arrived)."""
        if not self._arrivals or self._newest is None or self._next is None:
            return []
        arrivals = self._arrivals
        start = max(self._next, self._newest - MAX_PENDING + 1)
        out: list[bytes] = []
        while start <= self._newest:
            first = next((s for s in range(start, self._newest + 1) if s in arrivals), None)
            if first is None:
                break  # nothing received from here on: nothing to say yet
            first_ticks = arrivals[first] // DELTA_US
            reference = first_ticks - first_ticks % TICKS_PER_REFERENCE
            entries: list[int | None] = []
            previous = reference
            seq = start
            while seq <= self._newest and len(entries) < MAX_STATUSES:
                at = arrivals.get(seq)
                if at is not None:
                    ticks = at // DELTA_US
                    if not -0x8000 <= ticks - previous <= 0x7FFF:
                        break  # the next packet starts a new reference
                    previous = ticks
                    entries.append(ticks)
                else:
                    entries.append(None)
                seq += 1
            while entries and entries[-1] is None:
                entries.pop()
            out.append(
                build_feedback(self.sender_ssrc, self.media_ssrc, start, reference, self._count, entries)
            )
            self._count = (self._count + 1) & 0xFF
            start += len(entries)
        self._next = self._newest + 1
        arrivals.clear()
        self.feedback_sent += len(out)
        return out
