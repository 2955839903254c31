"""Fan-out, keyframe gating, slow subscribers, keyframe-request coalescing, profiles."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media.aiortc_hooks import EncodedFrame
from media.forwarding import ForwardingTrack, KeyframeRequester, PublishedTrack
from media.profiles import ReceiveProfile, SpeakerRanking
from media.settings import MediaSettings
from meeting.errors import InvalidInput
from tests.support.polling import wait_for

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def _frame(ts: int, key: bool) -> EncodedFrame:
    return EncodedFrame(data=b"\x00" if key else b"\x01", timestamp=ts, keyframe=key, codec=VP8, arrival=0.0)


class Publisher:
    def __init__(self) -> None:
        self.requests = 0

    async def request(self) -> bool:
        self.requests += 1
        return True


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _reading(track: ForwardingTrack) -> asyncio.Task[object]:
    task = asyncio.get_running_loop().create_task(track.recv())
    await _settle()
    return task


async def test_new_subscriber_waits_for_a_keyframe_and_asks_for_one_at_once() -> None:
    pub = Publisher()
    source = PublishedTrack("alice", "video", pub.request, keyframe_interval=10.0)
    track = ForwardingTrack("video", max_queue=4)
    track.set_source(source)
    first = await _reading(track)
    assert pub.requests == 1
    source.on_frame(_frame(3000, key=False))
    await _settle()
    assert not first.done()
    source.on_frame(_frame(6000, key=True))
    packet = await asyncio.wait_for(first, 1)
    assert bytes(packet) == b"\x00" and packet.pts == 6000  # type: ignore[attr-defined]
    track.stop()


async def test_a_slow_subscriber_drops_to_the_next_keyframe_without_blocking_others() -> None:
    pub = Publisher()
    source = PublishedTrack("alice", "video", pub.request, keyframe_interval=10.0)
    slow, fast = ForwardingTrack("video", 3), ForwardingTrack("video", 3)
    for t in (slow, fast):
        t.set_source(source)
        (await _reading(t)).cancel()
    source.on_frame(_frame(0, key=True))
    received = []
    for i in range(1, 10):
        source.on_frame(_frame(i * 3000, key=False))
        received.append(await asyncio.wait_for(fast.recv(), 1))
    assert len(received) == 9  # the fast one got every frame
    assert slow.needs_keyframe and slow.dropped >= 3
    source.on_frame(_frame(99 * 3000, key=True))
    assert not slow.needs_keyframe
    assert (await asyncio.wait_for(slow.recv(), 1)).pts == 99 * 3000  # type: ignore[attr-defined]


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


async def test_muted_audio_is_not_forwarded() -> None:
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    pub = Publisher()
    source = PublishedTrack("alice", "audio", pub.request, keyframe_interval=1.0)
    track = ForwardingTrack("audio", 8)
    track.set_source(source)
    (await _reading(track)).cancel()
    source.muted = True
    source.on_frame(EncodedFrame(b"a", 960, True, opus, 0.0))
    assert track.forwarded == 0 and not track._queue
    source.muted = False
    source.on_frame(EncodedFrame(b"b", 1920, True, opus, 0.0))
    assert bytes(await asyncio.wait_for(track.recv(), 1)) == b"b"


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
