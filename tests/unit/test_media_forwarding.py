"""Packet fan-out: keyframe gating, per-subscriber headers, source switches, NACKs, mute,
keyframe-request coalescing, profiles."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from media import profiles
from media.forwarding import ForwardingTrack, KeyframeRequester, PublishedTrack
from media.profiles import ReceiveProfile, SpeakerRanking, WeakLink
from media.rtpwire import MediaPacket, Vp8Packetizer, parse_vp8, vp8_media_packets
from media.settings import MediaSettings
from media.twcc import TRANSPORT_CC_URI
from meeting.errors import InvalidInput
from tests.support.polling import wait_for

MID_ID, ABS_ID, LEVEL_ID, TWCC_ID = 1, 3, 2, 5


@dataclass
class WireLink:
    """A started sender's wire, recording the packets written to it (stands in for the socket)."""

    ssrc: int
    payload_type: int = 97
    red_payload_type: int | None = None
    clock_rate: int = 90000
    rtx_ssrc: int = 777
    rtx_payload_type: int | None = 98
    mid: str | None = "1"
    mid_id: int = MID_ID
    abs_send_time_id: int = ABS_ID
    audio_level_id: int = LEVEL_ID
    sent: list[bytes] = field(default_factory=list)
    resent: list[bytes] = field(default_factory=list)
    refuse: int = 0  # refuse this many sends (the transport is not writable)
    transport_cc_id: int = 0
    # the connection's transport-wide counter (shared by the links of one connection)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    transport_seqs: list[int] = field(default_factory=list)

    def next_transport_seq(self) -> int:
        return next(self.counter) & 0xFFFF if self.transport_cc_id else -1

    def send(self, header: bytes, payload: bytes, timestamp: int, ntp: int, transport_seq: int = -1) -> bool:
        if self.refuse:
            self.refuse -= 1
            return False
        self.sent.append(header + payload)
        self.transport_seqs.append(transport_seq)
        return True

    def resend(self, header: bytes, payload: bytes, transport_seq: int = -1) -> bool:
        self.resent.append(header + payload)
        return True

    def packets(self) -> list[RtpPacket]:
        return [_parse(d) for d in self.sent]


def _parse(data: bytes) -> RtpPacket:
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=MID_ID, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
                RTCRtpHeaderExtensionParameters(
                    id=ABS_ID, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                ),
                RTCRtpHeaderExtensionParameters(
                    id=LEVEL_ID, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"
                ),
                RTCRtpHeaderExtensionParameters(id=TWCC_ID, uri=TRANSPORT_CC_URI),
            ]
        )
    )
    return RtpPacket.parse(data, extensions)


def _vp8(
    seq: int, ts: int, *, key: bool = False, start: bool = True, marker: bool = True, pid: int = 100
) -> MediaPacket:
    descriptor = bytes((0x90 if start else 0x80, 0x80, 0x80 | (pid >> 8), pid & 0xFF))
    payload = descriptor + (b"\x00key" if key else b"\x01delta")
    _start, keyframe, picture_id, at, length = parse_vp8(payload)
    return MediaPacket(
        payload,
        seq & 0xFFFF,
        ts,
        marker,
        keyframe=keyframe,
        frame_end=marker,
        picture_id=picture_id,
        picture_id_at=at,
        picture_id_len=length,
        arrival=ts / 90000,
    )


def _opus(seq: int, ts: int, level: int | None = 0x80 | 30) -> MediaPacket:
    return MediaPacket(b"opus%d" % seq, seq, ts, False, keyframe=True, audio_level=level)


class Publisher:
    def __init__(self) -> None:
        self.requests = 0

    async def request(self) -> bool:
        self.requests += 1
        return True


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _started(
    kind: str, ssrc: int, source: PublishedTrack | None = None, **link: object
) -> tuple[ForwardingTrack, WireLink]:
    track = ForwardingTrack(kind)
    if source is not None:
        track.set_source(source)
    wire = WireLink(ssrc, **link)  # type: ignore[arg-type]
    track.on_started(wire)
    return track, wire


def _contiguous(seqs: list[int]) -> bool:
    return all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))


async def test_new_subscriber_waits_for_a_keyframe_and_asks_for_one_when_its_sender_starts() -> None:
    pub = Publisher()
    source = PublishedTrack("alice", "video", pub.request, keyframe_interval=10.0)
    track = ForwardingTrack("video")
    track.set_source(source)
    source.on_packet(_vp8(1, 0, key=True))
    await _settle()
    assert pub.requests == 0  # not started: nothing is sent, nothing asked
    wire = WireLink(ssrc=1111)
    track.on_started(wire)
    await _settle()
    assert pub.requests == 1
    source.on_packet(_vp8(2, 3000))
    assert wire.sent == [] and track.needs_keyframe
    source.on_packet(_vp8(3, 6000, key=True, marker=False))
    source.on_packet(_vp8(4, 6000, start=False))
    sent = wire.packets()
    assert [p.payload for p in sent] == [_vp8(3, 6000, key=True).payload, _vp8(4, 6000, start=False).payload]
    assert _contiguous([p.sequence_number for p in sent]) and sent[0].timestamp == sent[1].timestamp
    assert [p.marker for p in sent] == [0, 1] and track.forwarded == 1
    track.stop()


async def test_each_subscriber_gets_the_shared_payload_under_its_own_header() -> None:
    source = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    a, wire_a = _started("video", 1111, source)
    b, wire_b = _started("video", 2222, source, payload_type=120, abs_send_time_id=0)
    packets = [_vp8(65534 + i, 3000 * i, key=i == 0) for i in range(4)]  # wraps at 65535
    for p in packets:
        source.on_packet(p)
    got_a, got_b = wire_a.packets(), wire_b.packets()
    assert [p.payload for p in got_a] == [p.payload for p in got_b] == [p.payload for p in packets]
    assert {p.ssrc for p in got_a} == {1111} and {p.ssrc for p in got_b} == {2222}
    assert {p.payload_type for p in got_a} == {97} and {p.payload_type for p in got_b} == {120}
    assert _contiguous([p.sequence_number for p in got_a]) and _contiguous([p.sequence_number for p in got_b])
    assert all(p.extensions.mid == "1" for p in got_a + got_b)
    assert all(p.extensions.abs_send_time is not None for p in got_a)
    assert all(p.extensions.abs_send_time is None for p in got_b)
    assert [(p.timestamp - got_a[0].timestamp) & 0xFFFFFFFF for p in got_a] == [0, 3000, 6000, 9000]
    source.on_packet(packets[2])  # a duplicate (a second retransmission upstream) is not sent again
    assert len(wire_a.sent) == 4 and source.duplicates == 1
    a.stop()
    b.stop()


async def test_a_source_switch_continues_sequence_timestamp_and_picture_id_from_a_keyframe() -> None:
    first = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    second = PublishedTrack("bob", "video", Publisher().request, keyframe_interval=10.0)
    track, wire = _started("video", 1111, first)
    for i in range(3):
        first.on_packet(_vp8(100 + i, 9000 + 3000 * i, key=i == 0, pid=10 + i))
    track.set_source(second)
    assert track.needs_keyframe and track in second.subscribers and track not in first.subscribers
    second.on_packet(_vp8(5000, 50_000, pid=7000))  # not a keyframe: waits
    second.on_packet(_vp8(5001, 53_000, key=True, pid=7001))
    second.on_packet(_vp8(5002, 56_000, pid=7002))
    got = wire.packets()
    assert len(got) == 5 and _contiguous([p.sequence_number for p in got])
    assert [parse_vp8(p.payload)[2] for p in got] == [10, 11, 12, 13, 14]
    assert parse_vp8(got[3].payload)[1]  # still the keyframe, only its picture id rewritten
    assert got[3].payload[4:] == b"\x00key"
    jump = (got[3].timestamp - got[2].timestamp) & 0xFFFFFFFF
    assert 0 < jump < 0x80000000 and (got[4].timestamp - got[3].timestamp) & 0xFFFFFFFF == 3000
    track.stop()


async def test_a_keyframe_that_could_not_be_sent_makes_the_track_wait_for_the_next_one() -> None:
    source = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    track, wire = _started("video", 1111, source, refuse=1)
    source.on_packet(_vp8(1, 0, key=True))  # refused
    source.on_packet(_vp8(2, 3000))  # a delta frame would not decode without it
    assert wire.sent == [] and track.needs_keyframe
    source.on_packet(_vp8(3, 6000, key=True))
    assert [p.payload for p in wire.packets()] == [_vp8(3, 6000, key=True).payload]
    track.stop()


async def test_nacks_are_answered_from_the_ring_as_rtx_and_unknown_ones_are_not() -> None:
    source = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    track, wire = _started("video", 1111, source)
    for i in range(5):
        source.on_packet(_vp8(10 + i, 3000 * i, key=i == 0))
    sent = wire.packets()
    lost = sent[2]
    track.retransmit(lost.sequence_number)
    track.retransmit((sent[-1].sequence_number + 50) & 0xFFFF)  # never sent
    assert len(wire.resent) == 1 and track.nacks == 2 and track.retransmitted == 1
    rtx = _parse(wire.resent[0])
    assert rtx.ssrc == 777 and rtx.payload_type == 98 and rtx.timestamp == lost.timestamp
    assert rtx.payload == lost.sequence_number.to_bytes(2, "big") + lost.payload
    plain, plain_wire = _started("video", 2222, source, rtx_payload_type=None)
    source.on_packet(_vp8(20, 90_000, key=True))
    plain.retransmit(plain_wire.packets()[0].sequence_number)
    assert _parse(plain_wire.resent[0]).sequence_number == plain_wire.packets()[0].sequence_number
    track.stop()
    plain.stop()


async def test_a_late_packet_from_before_the_start_is_dropped() -> None:
    source = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    track, wire = _started("video", 1111, source)
    source.on_packet(_vp8(50, 0, key=True))
    source.on_packet(_vp8(49, 0, marker=False))  # reordered, from before the keyframe
    source.on_packet(_vp8(52, 3000))  # 51 lost upstream: the gap stays visible downstream
    seqs = [p.sequence_number for p in wire.packets()]
    assert len(seqs) == 2 and (seqs[1] - seqs[0]) & 0xFFFF == 2
    source.on_packet(_vp8(51, 3000, start=False, marker=False))  # its retransmission fills it
    assert (wire.packets()[2].sequence_number - seqs[0]) & 0xFFFF == 1
    track.stop()


async def test_muted_audio_is_not_forwarded_and_unmuting_leaves_no_sequence_gap() -> None:
    levels: list[tuple[str, int]] = []
    source = PublishedTrack(
        "alice",
        "audio",
        Publisher().request,
        keyframe_interval=1.0,
        on_audio_level=lambda pid, level: levels.append((pid, level)),
    )
    track, wire = _started("audio", 1111, source, clock_rate=48000)
    source.on_packet(_opus(1, 960))
    source.muted = True
    for i in range(2, 10):
        source.on_packet(_opus(i, 960 * i))
    assert len(wire.sent) == 1 and track.forwarded == 1
    source.muted = False
    source.on_packet(_opus(10, 9600, level=None))
    got = wire.packets()
    assert [p.payload for p in got] == [b"opus1", b"opus10"] and _contiguous([p.sequence_number for p in got])
    # the audio level goes on to the subscriber (last-N ranks speakers from it) and to the ranking
    assert got[0].extensions.audio_level == (True, 30) and got[1].extensions.audio_level is None
    assert levels[0] == ("alice", 30)
    track.stop()


async def test_keyframe_requests_are_coalesced_and_rate_limited() -> None:
    pub = Publisher()
    requester = KeyframeRequester(pub.request, min_interval=0.2)
    for _ in range(10):
        requester.request()
    await _settle()
    assert pub.requests == 1
    for _ in range(10):
        requester.request()
    await _settle()
    assert pub.requests == 1  # held back by the rate limit, one is pending
    await wait_for(lambda: pub.requests >= 2, seconds=2, what="the held-back request")
    assert pub.requests == 2
    requester.close()


async def test_a_keyframe_request_before_the_publishers_first_packet_is_retried() -> None:
    answers = [False, False, True]

    async def send() -> bool:
        return answers.pop(0)

    requester = KeyframeRequester(send, min_interval=0.01)
    requester.request()
    await wait_for(lambda: requester.sent >= 1, seconds=2, what="the retried request")
    assert requester.sent == 1 and answers == []
    requester.close()


def test_vp8_packetizer_splits_a_frame_under_one_picture_id() -> None:
    frame = b"\x00" + bytes(range(256)) * 10
    payloads = Vp8Packetizer(picture_id=0x7FFF).packetize(frame)
    assert len(payloads) == 3 and all(len(p) <= 1204 for p in payloads)
    parsed = [parse_vp8(p) for p in payloads]
    assert parsed[0][:3] == (True, True, 0x7FFF) and all(not p[0] for p in parsed[1:])
    assert b"".join(p[4:] for p in payloads) == frame
    packets = vp8_media_packets(payloads, 65535, 1234, True, 0.0)
    assert [p.seq for p in packets] == [65535, 0, 1] and [p.marker for p in packets] == [False, False, True]
    assert packets[0].keyframe and not packets[1].keyframe


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("full", ReceiveProfile("full")),
        ("audio_only", ReceiveProfile("audio_only")),
        ("last_n(3)", ReceiveProfile("last_n", 3)),
        ("last_n:2", ReceiveProfile("last_n", 2)),
        ({"mode": "main_room_only"}, ReceiveProfile("main_room_only")),
    ],
)
def test_profiles_parse(value: object, expected: ReceiveProfile) -> None:
    assert ReceiveProfile.parse(value) == expected


@pytest.mark.parametrize(
    "value", ["loud", "last_n(0)", {"mode": "full", "n": 2}, {"mode": "full", "x": 1}, 3, None]
)
def test_bad_profiles_are_invalid_input(value: object) -> None:
    with pytest.raises(InvalidInput):
        ReceiveProfile.parse(value)


def test_last_n_follows_the_most_recent_speakers() -> None:
    changes = []
    ranking = SpeakerRanking(lambda: changes.append(1), clock=lambda: 0.0)
    for pid in ("a", "b", "c"):
        ranking.add(pid)
    ranking.on_audio_level("c", 20)
    ranking.on_audio_level("c", 20)  # already first: no change
    ranking.on_audio_level("b", 127)  # silence
    assert ranking.order == ["c", "a", "b"] and len(changes) == 1
    profile = ReceiveProfile.parse("last_n(1)")
    assert profile.wants_video("c", main_room=set(), recent_speakers=ranking.order)
    assert not profile.wants_video("a", main_room=set(), recent_speakers=ranking.order)


def test_settings_reject_bad_addresses_and_never_use_default_stun() -> None:
    with pytest.raises(InvalidInput):
        MediaSettings(announce_addresses=("not-an-ip",))
    with pytest.raises(InvalidInput):
        MediaSettings(udp_port_min=40000)
    assert MediaSettings().rtc_configuration().iceServers == []


async def test_a_nack_for_a_packet_never_received_goes_to_the_publisher_in_its_numbering() -> None:
    asked: list[int] = []
    source = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=1.0)
    source.upstream_nack = asked.append
    track, wire = _started("video", 1111, source)
    source.on_packet(_vp8(1000, 90000, key=True))
    source.on_packet(_vp8(1002, 93000))  # 1001 lost upstream
    sent = wire.packets()
    first = sent[0].sequence_number
    track.retransmit((first + 1) & 0xFFFF)  # the subscriber NACKs the hole
    assert asked == [1001] and track.nacks_forwarded == 1 and not wire.resent
    track.retransmit(first)  # one we have: answered from the ring, not forwarded
    assert len(wire.resent) == 1 and asked == [1001]
    track.stop()


def _playout_delay(data: bytes, ext_id: int) -> tuple[int, int] | None:
    """(min, max) ms of the playout-delay element in an RTP packet's one-byte extensions."""
    assert data[0] & 0x10, "no header extension"
    length = int.from_bytes(data[14:16], "big") * 4
    block, pos = data[16 : 16 + length], 0
    while pos < len(block):
        if block[pos] == 0:
            pos += 1
            continue
        ident, size = block[pos] >> 4, (block[pos] & 0x0F) + 1
        if ident == ext_id:
            value = int.from_bytes(block[pos + 1 : pos + 1 + size], "big")
            return (value >> 12) * 10, (value & 0xFFF) * 10
        pos += 1 + size
    return None


async def test_a_subscriber_that_accepted_playout_delay_gets_the_minimum_on_every_video_packet() -> None:
    source = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    track, wire = _started("video", 1111, source)
    source.on_packet(_vp8(1, 0, key=True))
    assert _playout_delay(wire.sent[-1], 6) is None  # not negotiated: never written
    track.set_playout_delay_id(6)
    track.set_playout_delay(437)
    source.on_packet(_vp8(2, 3000, marker=False))
    source.on_packet(_vp8(3, 3000, start=False))
    assert [_playout_delay(d, 6) for d in wire.sent[-2:]] == [(430, 10_000)] * 2
    parsed = wire.packets()[-1]  # the other extensions are still there, aiortc parses them
    assert parsed.extensions.mid == "1" and parsed.extensions.abs_send_time is not None
    track.set_playout_delay(0)
    source.on_packet(_vp8(4, 6000))
    assert _playout_delay(wire.sent[-1], 6) == (0, 10_000)  # told to stop delaying, not left at 430
    track.retransmit(wire.packets()[-1].sequence_number)
    assert _playout_delay(wire.resent[-1], 6) == (0, 10_000)
    track.stop()


async def test_a_packet_given_up_upstream_asks_for_a_keyframe_unless_a_newer_one_came() -> None:
    pub = Publisher()
    source = PublishedTrack("alice", "video", pub.request, keyframe_interval=0.01)
    track, _wire = _started("video", 1111, source)
    await _settle()
    asked = pub.requests  # the subscriber's start
    source.on_packet(_vp8(10, 0, key=True))
    source.on_packet(_vp8(12, 3000))  # 11 lost
    source.recovery_hopeless(11)
    await wait_for(lambda: pub.requests > asked, seconds=2, what="the keyframe request")
    assert source.hopeless_keyframe_requests == 1
    source.on_packet(_vp8(20, 9000, key=True))  # a keyframe after the loss: nothing to repair
    source.recovery_hopeless(13)
    assert source.hopeless_keyframe_requests == 1
    track.stop()


def test_a_weak_link_goes_sound_only_after_a_while_and_recovers_later_each_time_it_flaps() -> None:
    link = WeakLink()
    assert not link.update(0.0, 0.3)  # one bad reading is not a weak link
    assert not link.update(2.0, 0.25)
    assert not link.update(3.0, None)  # no report: nothing learnt
    assert link.update(4.0, 0.3) and link.weak and link.sound_only and link.reason == "loss"
    assert not link.update(5.0, 0.02)  # good, but not for long enough
    assert not link.update(10.0, 0.08)  # bad again: the wait starts over
    assert not link.update(14.0, 0.0)
    assert not link.update(20.0, None)
    assert link.update(24.0, 0.01) and not link.weak and link.reason is None
    assert not link.update(25.0, 0.1)  # under the weak mark
    # weak again within a minute of recovering: twice the wait
    assert not link.update(30.0, 0.5)
    assert link.update(34.0, 0.4) and link.recover_after == 2 * profiles.RECOVER_MIN
    link.auto = False  # the member keeps video: still weak, no longer sound only
    assert link.weak and not link.sound_only


async def test_every_packet_to_a_transport_cc_subscriber_carries_one_connection_wide_sequence() -> None:
    video = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=10.0)
    audio = PublishedTrack("alice", "audio", Publisher().request, keyframe_interval=10.0)
    counter = itertools.count(65534)  # one counter for the connection: wraps at 65535
    v, wire_v = _started("video", 1111, video, transport_cc_id=TWCC_ID, counter=counter)
    a, wire_a = _started("audio", 2222, audio, transport_cc_id=TWCC_ID, counter=counter, payload_type=111)
    video.on_packet(_vp8(1, 0, key=True))
    audio.on_packet(_opus(1, 960))
    video.on_packet(_vp8(2, 3000))
    audio.on_packet(_opus(2, 1920, level=None))
    written = [p.extensions.transport_sequence_number for p in wire_v.packets() + wire_a.packets()]
    assert sorted(written, key=lambda s: (s + 2) & 0xFFFF) == [65534, 65535, 0, 1]
    assert wire_v.transport_seqs + wire_a.transport_seqs == written  # what the link records
    parsed = wire_v.packets()[0]  # the other extensions are still there
    assert parsed.extensions.mid == "1" and parsed.extensions.abs_send_time is not None
    assert wire_a.packets()[0].extensions.audio_level is not None
    v.retransmit(wire_v.packets()[-1].sequence_number)  # retransmissions are numbered too
    assert _parse(wire_v.resent[-1]).extensions.transport_sequence_number == 2
    plain, wire_p = _started("video", 3333, video)  # no transport-cc negotiated: none written
    video.on_packet(_vp8(3, 6000, key=True))
    assert wire_p.packets()[0].extensions.transport_sequence_number is None
    for t in (v, a, plain):
        t.stop()


def test_a_link_whose_estimate_cannot_carry_video_goes_sound_only_and_back_with_hysteresis() -> None:
    link = WeakLink()
    assert not link.update(0.0, None, 40_000)
    assert not link.update(2.0, 0.0, 45_000)  # no loss, but too narrow: still counting
    assert link.update(4.0, 0.0, 50_000) and link.sound_only and link.reason == "bandwidth"
    assert not link.update(5.0, 0.0, 80_000)  # above video's minimum, not yet the recovery mark
    assert not link.update(5.0 + profiles.RECOVER_MIN, 0.0, 80_000)
    assert not link.update(6.0, None, profiles.RECOVER_BPS)
    assert link.update(6.0 + profiles.RECOVER_MIN, 0.01, profiles.RECOVER_BPS) and not link.weak
    assert not link.update(20.0, None, None)  # neither reading: nothing learnt
