"""The SFU with real aiortc peers over loopback.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/integration -q -m media'
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import VideoFrame

from media import aiortc_hooks
from media.events import MediaEvent, SubscribeOffer
from media.settings import MediaSettings
from media.sfu import MAX_OFFERS_PER_10S, Sfu
from meeting.errors import InvalidInput, InvalidState, NotFound, RateLimited
from tests.support import polling
from tests.support.media_counters import assert_not_forwarded

pytestmark = pytest.mark.media

LOOPBACK = ["127.0.0.1"]


# Media under load on a shared machine: allow 15 s.
wait_for = functools.partial(polling.wait_for, seconds=15.0)


class MovingVideoTrack(VideoStreamTrack):
    """A small moving gradient, so the encoder produces real P-frames."""

    WIDTH, HEIGHT = 160, 120

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        row = bytes((x * 2) % 256 for x in range(self.WIDTH * 3))
        self._rows = row

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.counter += 1
        frame = VideoFrame(self.WIDTH, self.HEIGHT, "yuv420p")
        shift = (self.counter * 3) % self.WIDTH
        luma = b"".join(
            self._rows[shift + (y // 8) % 16 : shift + (y // 8) % 16 + self.WIDTH] for y in range(self.HEIGHT)
        )
        frame.planes[0].update(luma)
        chroma = bytes([(self.counter * 5) % 256]) * (self.WIDTH * self.HEIGHT // 4)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts, frame.time_base = pts, time_base
        return frame


class Client:
    """A participant's browser, played by two aiortc peer connections."""

    def __init__(self, sfu: Sfu, participant_id: str) -> None:
        self.sfu = sfu
        self.id = participant_id
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.streams: dict[str, dict[str, Any]] = {}
        self.frames: Counter[tuple[str | None, str]] = Counter()
        self.keyframes: Counter[str | None] = Counter()
        self.keyframe_requests_received = 0
        self.audio_levels: dict[str | None, list[int | None]] = {}
        self.offers = 0
        self.answer_errors: list[Exception] = []
        self._lock = asyncio.Lock()

    def _pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def publish(self, audio: bool = True, video: bool = True) -> None:
        pc = self.publish_pc = self._pc()
        if audio:
            pc.addTrack(AudioStreamTrack())
        if video:
            sender = pc.addTrack(MovingVideoTrack())
            original = sender._send_keyframe

            def on_keyframe_request() -> None:
                self.keyframe_requests_received += 1
                original()

            sender._send_keyframe = on_keyframe_request  # type: ignore[method-assign]
        aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createOffer())
        answer = await self.sfu.accept_offer(self.id, pc.localDescription.sdp, "offer")
        await pc.setRemoteDescription(RTCSessionDescription(**answer))

    async def on_offer(self, event: SubscribeOffer) -> None:
        async with self._lock:
            self.offers += 1
            if event.new_connection or self.subscribe_pc is None:
                if self.subscribe_pc is not None:
                    await self.subscribe_pc.close()
                self.subscribe_pc = pc = self._pc()

                @pc.on("track")
                def on_track(track: Any) -> None:
                    for t in pc.getTransceivers():
                        if t.receiver.track is track:
                            self._count(t.mid, t.receiver, track.kind)

            pc = self.subscribe_pc
            self.streams = {s["mid"]: s for s in event.streams}
            await pc.setRemoteDescription(RTCSessionDescription(**event.description))
            aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
            await pc.setLocalDescription(await pc.createAnswer())
            try:
                await self.sfu.accept_answer(self.id, pc.localDescription.sdp)
            except Exception as exc:  # recorded for the test to assert on
                self.answer_errors.append(exc)

    def _count(self, mid: str, receiver: Any, kind: str) -> None:
        def sink(frame: aiortc_hooks.EncodedFrame) -> None:
            publisher = self.streams.get(mid, {}).get("participant_id")
            self.frames[(publisher, kind)] += 1
            if kind == "video" and frame.keyframe:
                self.keyframes[publisher] += 1
            if kind == "audio":
                self.audio_levels.setdefault(publisher, []).append(frame.audio_level)

        aiortc_hooks.install_frame_sink(receiver, kind, sink)

    async def close(self) -> None:
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()


@contextlib.asynccontextmanager
async def running_sfu(
    client_cls: Callable[[Sfu, str], Any] | None = None,
) -> AsyncIterator[tuple[Sfu, Callable[..., Awaitable[Any]]]]:
    """An Sfu announcing 127.0.0.1 and a ``join(pid, **open_kwargs)`` that makes a client
    (``Client`` unless another class is given) whose subscribe offers are answered."""
    make = client_cls or Client
    clients: dict[str, Any] = {}
    tasks: set[asyncio.Task[None]] = set()

    def on_event(event: MediaEvent) -> None:
        if isinstance(event, SubscribeOffer) and event.participant_id in clients:
            task = asyncio.get_running_loop().create_task(clients[event.participant_id].on_offer(event))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = Sfu(MediaSettings(announce_addresses=("127.0.0.1",)), on_event)

    async def join(participant_id: str, **kwargs: Any) -> Any:
        client = make(server, participant_id)
        clients[participant_id] = client
        await server.open_participant(participant_id, **kwargs)
        return client

    try:
        yield server, join
    finally:
        await server.close()
        for client in clients.values():
            await client.close()
        for task in list(tasks):
            task.cancel()


@pytest.fixture
async def sfu() -> AsyncIterator[tuple[Sfu, Callable[..., Awaitable[Client]]]]:
    async with running_sfu() as running:
        yield running


async def test_publisher_frames_reach_two_subscribers_without_decoding(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    carol = await join("carol")
    await alice.publish()
    for sub in (bob, carol):
        await wait_for(lambda s=sub: s.frames[("alice", "video")] >= 30, what="video frames")
        await wait_for(lambda s=sub: s.frames[("alice", "audio")] >= 50, what="audio frames")
        assert sub.keyframes["alice"] >= 1
        assert not sub.answer_errors
    # the first frame each subscriber got was a keyframe (they wait for one)
    stats = await server.stats("bob")
    video = [t for t in stats["subscribe"]["tracks"] if t["kind"] == "video"]
    assert video and video[0]["publisher_id"] == "alice" and video[0]["forwarded"] >= 30
    published = await server.stats("alice")
    assert {t["codec"] for t in published["publish"]["tracks"]} == {"video/VP8", "audio/opus"}
    assert all(t["subscribers"] == 2 for t in published["publish"]["tracks"])
    # the media came in through the direct receive path, not aiortc's queue and coroutines
    # (those take DTLS, RTCP and a packet that finds others queued ahead of it)
    path = published["publish"]["receive_path"]
    received = sum(t["packets_received"] for t in published["publish"]["tracks"])
    assert path["direct"] >= 0.8 * received > 0, (path, received)


async def test_forwarded_packets_carry_the_audio_level_and_feed_the_rtcp_figures(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    await alice.publish()
    await wait_for(lambda: bob.frames[("alice", "audio")] >= 30, what="audio")
    # aiortc's silence is sent at level 127; the relay passes the header extension on
    assert set(bob.audio_levels["alice"][-20:]) == {127}
    # bob's receiver reports reach the server's senders: packets sent, loss, round trip
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        tracks = (await server.stats("bob"))["subscribe"]["tracks"]
        if all(t.get("round_trip_time") is not None for t in tracks):
            break
        assert asyncio.get_running_loop().time() < deadline, tracks
        await asyncio.sleep(0.2)
    for t in tracks:
        assert t["packets_sent"] >= t["packets"] > 0 and t["bytes_sent"] > 0
        assert t["packets_lost"] == 0 and 0 <= t["round_trip_time"] < 1.0
    # and they were handled in the socket callback, not by aiortc's receive task
    path = (await server.stats("bob"))["subscribe"]["receive_path"]
    assert path["rtcp_direct"] > 0, path


async def test_audio_only_profile_stops_video_while_audio_continues(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    await alice.publish()
    await wait_for(lambda: bob.frames[("alice", "video")] >= 10, what="video")
    assert await server.set_receive_profile("bob", "audio_only") == {"mode": "audio_only"}
    await assert_not_forwarded(server, "bob", "alice", "video")
    audio = bob.frames[("alice", "audio")]
    await wait_for(lambda: bob.frames[("alice", "audio")] >= audio + 50, what="audio to continue")
    video = bob.frames[("alice", "video")]
    await server.set_receive_profile("bob", {"mode": "full"})
    await wait_for(lambda: bob.frames[("alice", "video")] >= video + 10, what="video to resume")


async def test_main_room_only_and_last_n_profiles_select_publishers(sfu: Any) -> None:
    server, join = sfu
    room = await join("room", main_room=True)
    island = await join("island")
    viewer = await join("viewer", profile="main_room_only")
    await room.publish()
    await island.publish()
    await wait_for(lambda: viewer.frames[("room", "video")] >= 10, what="main-room video")
    await wait_for(lambda: viewer.frames[("island", "audio")] >= 20, what="island audio")
    assert viewer.frames[("island", "video")] == 0
    # last_n(1): only the most recent speaker's video
    server.ranking.on_audio_level("island", 10)
    await server.set_receive_profile("viewer", "last_n(1)")
    await wait_for(lambda: viewer.frames[("island", "video")] >= 10, what="speaker video")
    await assert_not_forwarded(server, "viewer", "room", "video")


async def test_keyframe_request_from_a_subscriber_reaches_the_publisher(sfu: Any) -> None:
    _server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    await alice.publish()
    await wait_for(lambda: bob.frames[("alice", "video")] >= 10, what="video")
    # the join itself asked the publisher for a keyframe (RTCP may trail the media)
    await wait_for(lambda: alice.keyframe_requests_received >= 1, what="join keyframe request")
    before = alice.keyframe_requests_received
    await asyncio.sleep(0.6)  # let the rate limiter's window pass
    assert bob.subscribe_pc is not None
    video_mid = next(m for m, s in bob.streams.items() if s["kind"] == "video")
    receiver = next(t.receiver for t in bob.subscribe_pc.getTransceivers() if t.mid == video_mid)
    keyframes = bob.keyframes["alice"]
    for _ in range(5):  # a burst is coalesced into one request
        await aiortc_hooks.request_keyframe(receiver)
    await wait_for(lambda: alice.keyframe_requests_received > before, what="PLI at publisher")
    await wait_for(lambda: bob.keyframes["alice"] > keyframes, what="a new keyframe")
    await asyncio.sleep(0.3)
    assert alice.keyframe_requests_received <= before + 2


async def test_closing_a_participant_frees_its_connections_and_tasks(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    await alice.publish()
    await wait_for(lambda: bob.frames[("alice", "video")] >= 5, what="video")
    baseline_tasks = 0
    for round_ in range(4):
        guest = await join(f"guest{round_}")
        await guest.publish()
        await wait_for(lambda g=guest: g.frames[("alice", "video")] >= 5, what="guest video")
        await wait_for(lambda g=guest: bob.frames[(g.id, "video")] >= 5, what="bob sees guest")
        await server.close_participant(guest.id)
        await guest.close()
        if round_ == 0:
            # steady state: bob keeps the guest's m-lines, idle, for the next publisher
            await wait_for(lambda: server.participant_ids == ["alice", "bob"], what="closed")
            await asyncio.sleep(0.5)
            baseline_tasks = len(asyncio.all_tasks())
    assert server.participant_ids == ["alice", "bob"]
    published = await server.stats("alice")
    assert all(t["subscribers"] == 1 for t in published["publish"]["tracks"])
    # bob's m-lines of the departed guests are idle and recycled, not piling up
    bob_stats = await server.stats("bob")
    assert len(bob_stats["subscribe"]["tracks"]) <= 4
    gc.collect()
    try:
        await wait_for(lambda: len(asyncio.all_tasks()) <= baseline_tasks + 2, what="tasks back to baseline")
    except AssertionError:
        for task in asyncio.all_tasks():
            print(task)
        raise
    video = bob.frames[("alice", "video")]
    await wait_for(lambda: bob.frames[("alice", "video")] >= video + 10, what="bob unaffected")


async def test_bad_input_gets_precise_errors_and_media_keeps_flowing(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    await alice.publish()
    await wait_for(lambda: bob.frames[("alice", "video")] >= 5, what="video")

    with pytest.raises(InvalidInput) as garbage:
        await server.accept_offer("bob", "this is not sdp", "offer")
    assert garbage.value.code == "invalid_sdp"

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(MovingVideoTrack())
    aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    no_common = pc.localDescription.sdp.replace("VP8/90000", "AV1X/90000").replace(
        "H264/90000", "H265X/90000"
    )
    with pytest.raises(InvalidInput) as no_codec:
        await server.accept_offer("bob", no_common, "offer")
    assert no_codec.value.code == "no_common_codec"

    with pytest.raises(NotFound):
        await server.accept_offer("mallory", pc.localDescription.sdp, "offer")
    with pytest.raises(NotFound):
        await server.add_ice_candidate(
            "mallory",
            {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
        )
    with pytest.raises(InvalidInput):
        await server.add_ice_candidate("bob", {"candidate": "garbage", "sdpMid": "0"})
    with pytest.raises(InvalidState):
        await server.accept_answer(
            "alice", pc.localDescription.sdp.replace("a=setup:actpass", "a=setup:active")
        )
    with pytest.raises(InvalidInput):
        await server.accept_offer("bob", pc.localDescription.sdp, "answer")
    with pytest.raises(InvalidInput):
        await server.set_receive_profile("bob", "last_n(0)")
    with pytest.raises(InvalidState):
        await server.open_participant("bob")
    await pc.close()

    video = bob.frames[("alice", "video")]
    await wait_for(lambda: bob.frames[("alice", "video")] >= video + 10, what="media still flows")


async def test_mute_stops_forwarding_audio(sfu: Any) -> None:
    server, join = sfu
    events: list[Any] = []
    alice = await join("alice")
    bob = await join("bob")
    server._on_event = _chain(server._on_event, events.append)
    await alice.publish()
    await wait_for(lambda: bob.frames[("alice", "audio")] >= 20, what="audio")
    await server.mute("alice", True)
    await assert_not_forwarded(server, "bob", "alice", "audio")
    audio = bob.frames[("alice", "audio")]
    assert any(getattr(e, "muted", None) is True for e in events)
    await server.mute("alice", False)
    await wait_for(lambda: bob.frames[("alice", "audio")] >= audio + 20, what="audio resumes")


def _chain(*handlers: Any) -> Callable[[MediaEvent], None]:
    def handle(event: MediaEvent) -> None:
        for handler in handlers:
            if handler is not None:
                handler(event)

    return handle


async def test_a_renegotiation_flood_is_rate_limited_and_others_keep_receiving(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    bob = await join("bob")
    mallory = await join("mallory")
    await alice.publish()
    await mallory.publish(video=False)
    await wait_for(lambda: bob.frames[("alice", "video")] >= 5, what="video")
    pc = mallory.publish_pc
    assert pc is not None
    with pytest.raises(RateLimited):
        for _ in range(MAX_OFFERS_PER_10S + 1):
            await pc.setLocalDescription(await pc.createOffer())
            answer = await server.accept_offer("mallory", pc.localDescription.sdp, "offer")
            await pc.setRemoteDescription(RTCSessionDescription(**answer))
    video = bob.frames[("alice", "video")]
    await wait_for(lambda: bob.frames[("alice", "video")] >= video + 10, what="media still flows")
    assert not bob.answer_errors
