"""Simulcast: what the relay reads of an offer and writes in its answer, how it tells the
layers apart (SSRC by rid, RTX by repaired rid), which layer each subscriber gets, and a
layer switch that the subscriber sees as one continuous stream."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from aiortc.rtp import RtpPacket

from media.aiortc_hooks import NackRetrier, PacketTap, SimulcastTap
from media.bwe import (
    LAYER_UP_FAILED,
    LAYER_UP_HOLD,
    LAYER_UP_HOLD_MAX,
    LayerDemand,
    best_allowed,
    choose_layers,
    next_up_hold,
)
from media.forwarding import PublishedTrack
from media.negotiation import REPAIRED_RID_URI, RID_URI, answer_simulcast, simulcast_offered
from media.rtpwire import MediaPacket, parse_vp8
from media.sfu import _upstream_retrier
from tests.unit.test_media_forwarding import Publisher, _contiguous, _settle, _started, _vp8

CHROME_VIDEO = f"""v=0\r
o=- 1 2 IN IP4 127.0.0.1\r
s=-\r
t=0 0\r
a=group:BUNDLE 0 1\r
m=audio 9 UDP/TLS/RTP/SAVPF 111\r
a=mid:0\r
a=sendonly\r
a=rtpmap:111 opus/48000/2\r
m=video 9 UDP/TLS/RTP/SAVPF 96 97\r
a=mid:1\r
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r
a=extmap:10 {RID_URI}\r
a=extmap:11 {REPAIRED_RID_URI}\r
a=sendonly\r
a=rtpmap:96 VP8/90000\r
a=rtpmap:97 rtx/90000\r
a=fmtp:97 apt=96\r
a=rid:h send\r
a=rid:m send\r
a=rid:l send\r
a=simulcast:send h;m;~l\r
"""


def test_an_offer_with_rids_and_the_rid_extension_is_read_as_simulcast_paused_layers_left_out() -> None:
    offers = simulcast_offered(CHROME_VIDEO)
    assert list(offers) == ["1"]
    offer = offers["1"]
    assert offer.rids == ("h", "m") and offer.ranked == ("h", "m")
    assert (offer.rid_ext_id, offer.repaired_rid_ext_id) == (10, 11)


def test_no_simulcast_without_the_rid_extension_or_with_one_layer() -> None:
    assert simulcast_offered(CHROME_VIDEO.replace(f"a=extmap:10 {RID_URI}\r\n", "")) == {}
    assert simulcast_offered(CHROME_VIDEO.replace("a=simulcast:send h;m;~l", "a=simulcast:send h")) == {}
    # a rid in a=simulcast that no a=rid line declares is not a layer
    assert simulcast_offered(CHROME_VIDEO.replace("a=rid:m send\r\n", "")) == {}


def test_layers_rank_by_known_names_else_the_offer_order_is_taken_as_lowest_first() -> None:
    quarter = CHROME_VIDEO.replace(
        "a=rid:h send\r\na=rid:m send\r\na=rid:l send", "a=rid:q send\r\na=rid:f send"
    )
    quarter = quarter.replace("h;m;~l", "q;f")
    assert simulcast_offered(quarter)["1"].ranked == ("f", "q")
    other = CHROME_VIDEO.replace(
        "a=rid:h send\r\na=rid:m send\r\na=rid:l send", "a=rid:0 send\r\na=rid:1 send"
    )
    other = other.replace("h;m;~l", "0;1")
    assert simulcast_offered(other)["1"].ranked == ("1", "0")


def test_the_answer_receives_the_offered_rids_in_the_offered_order_on_its_video_m_line_only() -> None:
    answer = CHROME_VIDEO.replace("a=sendonly", "a=recvonly").split("a=rid:h")[0]
    rewritten = answer_simulcast(answer, simulcast_offered(CHROME_VIDEO))
    audio, video = rewritten.split("m=video")
    assert "a=rid" not in audio and "a=simulcast" not in audio
    assert video.endswith("a=rid:h recv\r\na=rid:m recv\r\na=simulcast:recv h;m\r\n")
    assert answer_simulcast(answer, {}) == answer


def _rtp(
    ssrc: int, seq: int, *, rid: str | None = None, repaired: str | None = None, pt: int = 96
) -> RtpPacket:
    packet = RtpPacket(payload_type=pt, sequence_number=seq, timestamp=seq * 3000, ssrc=ssrc)
    packet.payload = bytes((0x90, 0x80, 0x80, seq & 0x7F)) + b"\x01delta"
    packet.extensions.rtp_stream_id = rid
    packet.extensions.repaired_rtp_stream_id = repaired
    return packet


def test_a_simulcast_tap_binds_each_ssrc_to_its_layer_by_rid_and_each_rtx_ssrc_to_its_media_ssrc() -> None:
    got: dict[str, list[MediaPacket]] = {"h": [], "m": []}

    def sink(rid: str) -> Callable[[MediaPacket], bool]:
        def take(packet: MediaPacket) -> bool:
            got[rid].append(packet)
            return False

        return take

    codecs: dict[int, object] = {}
    layers = [PacketTap("video", codecs, sink(r), lambda f: None) for r in ("h", "m")]  # type: ignore[arg-type]
    for layer in layers:
        layer.nacks = NackRetrier()
    rtx: dict[int, int] = {}
    tap = SimulcastTap("video", ("h", "m"), layers, rtx)
    unknown = _rtp(5, 1)  # no rid yet: not bound, dropped
    tap.learn(unknown)
    assert tap.add(unknown) == (False, None) and tap.unbound == 1
    for ssrc, rid, seq in ((1, "h", 10), (2, "m", 500), (1, None, 11), (2, None, 501)):
        packet = _rtp(ssrc, seq, rid=rid)
        tap.learn(packet)
        tap.add(packet)
    assert [p.seq for p in got["h"]] == [10, 11] and [p.seq for p in got["m"]] == [500, 501]
    assert tap.layer_of(1) is layers[0] and tap.layer_of(2) is layers[1]
    tap.learn(_rtp(7, 1, repaired="m", pt=97))  # the retransmissions of m
    assert rtx == {7: 2}


async def test_a_layer_switch_waits_for_the_keyframe_of_the_target_and_is_one_stream_to_the_subscriber() -> (
    None
):
    high_pub, low_pub = Publisher(), Publisher()
    high = PublishedTrack("alice", "video", high_pub.request, keyframe_interval=0.0)
    low = PublishedTrack("alice", "video", low_pub.request, keyframe_interval=0.0)
    high.layers, low.origin = (high, low), high
    track, wire = _started("video", 1111, high)
    for i in range(3):  # the top layer flows
        high.on_packet(_vp8(100 + i, 9000 + 3000 * i, key=i == 0, pid=10 + i))
    track.switch_layer(low)
    await _settle()
    assert low_pub.requests == 1  # a PLI on the target layer only
    assert track.source is high and track.pending is low
    low.on_packet(_vp8(7000, 500_000, pid=300))  # not a keyframe: the top layer goes on
    high.on_packet(_vp8(103, 18000, pid=13))
    low.on_packet(_vp8(7001, 503_000, key=True, pid=301))  # the switch
    high.on_packet(_vp8(104, 21000, pid=14))  # no longer forwarded
    low.on_packet(_vp8(7002, 506_000, pid=302))
    got = wire.packets()
    assert track.source is low and track.pending is None and track.layer_switches == 1
    assert track not in high.subscribers and track in low.subscribers
    assert len(got) == 6 and _contiguous([p.sequence_number for p in got])
    assert {p.ssrc for p in got} == {1111}
    assert [parse_vp8(p.payload)[2] for p in got] == [10, 11, 12, 13, 14, 15]
    assert parse_vp8(got[4].payload)[1]  # the keyframe of the low layer
    # timestamps go on rising by the time between the packets, then at the low layer's pace
    assert all(0 < (b.timestamp - a.timestamp) & 0xFFFFFFFF < 0x80000000 for a, b in itertools.pairwise(got))
    assert (got[5].timestamp - got[4].timestamp) & 0xFFFFFFFF == 3000
    # a NACK for a packet sent before the switch is answered from the subscriber's ring
    track.retransmit(got[2].sequence_number)
    assert len(wire.resent) == 1
    track.stop()


async def test_switching_back_before_the_keyframe_cancels_the_pending_layer() -> None:
    high = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=0.0)
    low = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=0.0)
    track, wire = _started("video", 1111, high)
    high.on_packet(_vp8(1, 0, key=True))
    track.switch_layer(low)
    track.switch_layer(high)
    assert track.pending is None
    low.on_packet(_vp8(50, 90_000, key=True))
    assert track.source is high and len(wire.sent) == 1
    track.stop()


def test_layer_choice_without_an_estimate_takes_the_best_the_profile_allows() -> None:
    demands = [
        LayerDemand(rates=(600_000, 150_000, 50_000)),
        LayerDemand(rates=(600_000, 150_000, 50_000), cap=2),
    ]
    assert choose_layers(0.0, None, 0, demands) == [0, 2]


def test_layer_choice_serves_the_priority_subscription_first_and_never_picks_a_layer_not_sent() -> None:
    rates = (600_000, 150_000, 0)  # the browser sends two layers
    speaker = LayerDemand(rates=rates, priority=True)
    other = LayerDemand(rates=rates)
    # 1 Mbit/s less 60 of audio and 2 x 150: the speaker's top layer fits with headroom (720
    # for 600), the other's no longer
    assert choose_layers(0.0, 1_000_000, 60_000, [other, speaker]) == [1, 0]
    # a very weak link: both at the lowest layer sent, not the one that is not sent
    assert choose_layers(0.0, 100_000, 60_000, [other, speaker]) == [1, 1]
    assert choose_layers(0.0, 2_000_000, 60_000, [other, speaker]) == [0, 0]


def test_layer_choice_goes_up_only_with_headroom_and_not_soon_after_going_down() -> None:
    rates = (600_000, 150_000, 50_000)
    staying = LayerDemand(rates=rates, current=0)
    assert choose_layers(0.0, 620_000, 0, [staying]) == [0]  # keeps what it has without headroom
    rising = LayerDemand(rates=rates, current=1)
    assert choose_layers(0.0, 620_000, 0, [rising]) == [1]  # going up needs 1.2 x 600
    assert choose_layers(0.0, 800_000, 0, [rising]) == [0]
    held = LayerDemand(rates=rates, current=1, down_at=0.0)
    assert choose_layers(LAYER_UP_HOLD / 2, 2_000_000, 0, [held]) == [1]
    assert choose_layers(LAYER_UP_HOLD + 1, 2_000_000, 0, [held]) == [0]
    longer = LayerDemand(rates=rates, current=1, down_at=0.0, hold=4 * LAYER_UP_HOLD)
    assert choose_layers(LAYER_UP_HOLD + 1, 2_000_000, 0, [longer]) == [1]
    assert choose_layers(4 * LAYER_UP_HOLD + 1, 2_000_000, 0, [longer]) == [0]


def test_a_move_up_the_link_takes_back_soon_doubles_the_next_hold_and_a_lasting_one_resets_it() -> None:
    hold = next_up_hold(LAYER_UP_HOLD, None, 100.0)
    assert hold == LAYER_UP_HOLD  # a first move down
    went_up = 100.0 + hold
    hold = next_up_hold(hold, went_up, went_up + 1.0)  # back down a second later: it failed
    assert hold == 2 * LAYER_UP_HOLD
    for _ in range(5):
        hold = next_up_hold(hold, went_up, went_up + 1.0)
    assert hold == LAYER_UP_HOLD_MAX
    assert next_up_hold(hold, went_up, went_up + LAYER_UP_FAILED + 1) == LAYER_UP_HOLD  # it held


def test_the_best_layer_a_profile_allows_is_the_lowest_sent_when_its_cap_is_not_sent() -> None:
    assert best_allowed(LayerDemand(rates=(600_000, 150_000, 0), cap=2)) == 1
    assert best_allowed(LayerDemand(rates=(600_000, 150_000, 50_000), cap=1)) == 1
    assert best_allowed(LayerDemand(rates=(0, 150_000, 50_000))) == 1


def _two_layers() -> tuple[PublishedTrack, PublishedTrack, Publisher]:
    low_pub = Publisher()
    high = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=0.0)
    low = PublishedTrack("alice", "video", low_pub.request, keyframe_interval=0.0)
    high.layers, low.origin = (high, low), high
    for layer in high.layers:
        layer.set_layers(high.layers)
    high.rid, low.rid = "h", "m"
    return high, low, low_pub


async def test_a_layer_that_stops_while_a_worse_one_flows_moves_its_subscribers_at_once_and_is_held() -> None:
    high, low, low_pub = _two_layers()
    track, wire = _started("video", 1111, high)
    for i in range(10):  # both layers flow at 30 fps (arrival = timestamp / 90 kHz)
        high.on_packet(_vp8(100 + i, 3000 * i, key=i == 0, pid=10 + i))
        low.on_packet(_vp8(500 + i, 3000 * i, key=i == 0, pid=300 + i))
    # the top layer stops (its publisher's encoder dropped it); the low one goes on
    for i in range(10, 22):  # 12 frames: 0.4 s after the last top-layer packet
        low.on_packet(_vp8(500 + i, 3000 * i, pid=300 + i))
    await _settle()
    assert track.pending is None and high.stalls == 0 and not high.held(22 * 3000 / 90000)
    low.on_packet(_vp8(522, 3000 * 22, pid=322))  # 0.433 s: stopped
    await _settle()
    assert track.pending is low and low_pub.requests == 1  # a PLI on the low layer, now
    assert high.stalls == 1 and high.held(0.8)
    low.on_packet(_vp8(523, 3000 * 23, key=True, pid=323))
    assert track.source is low and track.layer_switches == 1
    for i in range(24, 60):  # the low layer goes on: nothing more to move, nothing asked
        low.on_packet(_vp8(500 + i, 3000 * i, pid=300 + i))
    await _settle()
    assert low_pub.requests == 1 and high.stalls == 1
    # the top layer comes back at 2 s: held for 8 s from then, then free
    high.on_packet(_vp8(110, 3000 * 60, key=True, pid=20))
    assert high.held(2.0 + 7.9) and not high.held(2.0 + 8.1)
    # it stops again within a minute: the hold doubles
    for i in range(60, 90):
        low.on_packet(_vp8(500 + i, 3000 * i, pid=300 + i))
    assert high.stalls == 2 and high.held(2.5)
    high.on_packet(_vp8(111, 3000 * 90, pid=21))  # back at 3 s
    assert high.held(3.0 + 15.9) and not high.held(3.0 + 16.1)
    assert len(wire.packets()) >= 10
    track.stop()


async def test_an_outage_of_the_whole_uplink_is_not_a_layer_stop() -> None:
    high, low, low_pub = _two_layers()
    track, _wire = _started("video", 1111, high)
    for i in range(5):
        high.on_packet(_vp8(100 + i, 3000 * i, key=i == 0, pid=10 + i))
        low.on_packet(_vp8(500 + i, 3000 * i, key=i == 0, pid=300 + i))
    for i in range(60, 65):  # both come back after 1.9 s of nothing, the low layer first
        low.on_packet(_vp8(500 + i, 3000 * i, pid=300 + i))
        high.on_packet(_vp8(100 + i, 3000 * i, pid=10 + i))
    await _settle()
    assert high.stalls == 0 and not high.held(3.0)
    assert track.source is high and track.pending is None and low_pub.requests == 0
    track.stop()


async def test_a_stop_with_nobody_on_the_layer_still_holds_it_when_it_comes_back() -> None:
    high, low, low_pub = _two_layers()
    for i in range(5):
        high.on_packet(_vp8(100 + i, 3000 * i, key=i == 0, pid=10 + i))
        low.on_packet(_vp8(500 + i, 3000 * i, key=i == 0, pid=300 + i))
    for i in range(5, 40):  # the top layer stops, the low one goes on; nobody to move
        low.on_packet(_vp8(500 + i, 3000 * i, pid=300 + i))
    await _settle()
    assert high.stalls == 1 and low_pub.requests == 0
    high.on_packet(_vp8(105, 3000 * 40, key=True, pid=15))
    back = 3000 * 40 / 90000
    assert high.held(back + 7.9) and not high.held(back + 8.1)


async def test_the_playout_delay_of_a_layer_subscriber_weighs_that_layers_upstream_losses() -> None:
    """A subscriber of the middle layer waits for that layer's retransmissions from the
    publisher, not the top layer's (which may not be flowing at all behind a capped uplink)."""
    high, low, _pub = _two_layers()
    high.nack_stats, low.nack_stats = "top retrier", "low retrier"
    assert _upstream_retrier(low) == "low retrier" and _upstream_retrier(high) == "top retrier"
    rendition = PublishedTrack("alice", "video", Publisher().request, keyframe_interval=0.0)
    rendition.origin = high  # a low rendition's output: its publisher's track retries
    assert _upstream_retrier(rendition) == "top retrier" and _upstream_retrier(None) is None
