"""The low_video receive profile: one shared low rendition per publisher, real aiortc peers.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/integration/test_media_rendition.py -q'
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from media import aiortc_hooks, rendition
from media.events import SubscribeOffer
from media.sfu import Sfu
from tests.integration.test_media_sfu import MovingVideoTrack as SmallMovingVideoTrack
from tests.integration.test_media_sfu import running_sfu
from tests.support import polling

pytestmark = pytest.mark.media

LOOPBACK = ["127.0.0.1"]
WIDTH, HEIGHT = 320, 240


# Media under load on a shared machine: allow 15 s.
wait_for = functools.partial(polling.wait_for, seconds=15.0)


class MovingVideoTrack(SmallMovingVideoTrack):
    """The SFU tests' moving picture at the size this test publishes."""

    WIDTH, HEIGHT = WIDTH, HEIGHT


class Client:
    """Publishes, or receives and decodes video (widths of decoded frames, per publisher)."""

    def __init__(self, sfu: Sfu, participant_id: str) -> None:
        self.sfu = sfu
        self.id = participant_id
        self.pcs: list[RTCPeerConnection] = []
        self.subscribe_pc: RTCPeerConnection | None = None
        self.streams: dict[str, dict[str, Any]] = {}
        self.widths: list[int] = []
        self.audio_frames = 0
        self._lock = asyncio.Lock()

    def _pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        return pc

    async def publish(self) -> None:
        pc = self._pc()
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(MovingVideoTrack())
        aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createOffer())
        answer = await self.sfu.accept_offer(self.id, pc.localDescription.sdp, "offer")
        await pc.setRemoteDescription(RTCSessionDescription(**answer))

    async def on_offer(self, event: SubscribeOffer) -> None:
        async with self._lock:
            if event.new_connection or self.subscribe_pc is None:
                self.subscribe_pc = pc = self._pc()

                @pc.on("track")
                def on_track(track: Any) -> None:
                    for t in pc.getTransceivers():
                        if t.receiver.track is track:
                            self._sink(t.receiver, track.kind)

            pc = self.subscribe_pc
            self.streams = {s["mid"]: s for s in event.streams}
            await pc.setRemoteDescription(RTCSessionDescription(**event.description))
            aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
            await pc.setLocalDescription(await pc.createAnswer())
            await self.sfu.accept_answer(self.id, pc.localDescription.sdp)

    def _sink(self, receiver: Any, kind: str) -> None:
        decoder = av.CodecContext.create("vp8", "r")

        def sink(frame: aiortc_hooks.EncodedFrame) -> None:
            if kind == "audio":
                self.audio_frames += 1
                return
            try:
                for decoded in decoder.decode(av.Packet(frame.data)):
                    self.widths.append(decoded.width)
            except av.FFmpegError:
                pass  # a P-frame before the first keyframe

        aiortc_hooks.install_frame_sink(receiver, kind, sink)

    async def close(self) -> None:
        for pc in self.pcs:
            await pc.close()


@pytest.fixture
async def sfu() -> AsyncIterator[tuple[Sfu, Callable[..., Awaitable[Client]]]]:
    async with running_sfu(Client) as running:
        yield running


async def test_low_video_is_encoded_once_and_shared(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    full = await join("full")
    low1 = await join("low1", profile="low_video")
    low2 = await join("low2")
    await alice.publish()
    assert await server.set_receive_profile("low2", "low_video") == {"mode": "low_video"}

    for client in (full, low1, low2):
        await wait_for(lambda c=client: len(c.widths) >= 20, what=f"{client.id} video")
        await wait_for(lambda c=client: c.audio_frames >= 20, what=f"{client.id} audio")
    assert set(full.widths) == {WIDTH}
    for client in (low1, low2):
        tail = client.widths[-10:]
        assert tail and all(w < WIDTH for w in tail), client.widths
    assert min(low1.widths[-10:]) == 160  # half size

    # exactly one encoder for alice's video, shared by both low subscribers
    assert server.renditions_started == 1
    assert len(server.renditions) == 1
    (low,) = server.renditions.values()
    assert low.source.publisher_id == "alice" and low.running
    assert len(low.output.subscribers) == 2
    assert rendition.active_encoders == 1
    stats = await server.stats("low1")
    video = [t for t in stats["subscribe"]["tracks"] if t["kind"] == "video"]
    assert video[0]["publisher_id"] == "alice" and video[0]["enabled"]

    # both back to full: the rendition stops, its thread ends; original size again
    await server.set_receive_profile("low1", "full")
    assert len(server.renditions) == 1 and low.running  # low2 still reads it
    await server.set_receive_profile("low2", {"mode": "full"})
    assert server.renditions == {}
    await asyncio.wait_for(low.join(), 5)
    assert not low.running and rendition.active_encoders == 0
    for client in (low1, low2):
        before = len(client.widths)
        await wait_for(lambda c=client, n=before: len(c.widths) >= n + 10, what="full video")
        assert client.widths[-1] == WIDTH
    assert server.renditions_started == 1


async def test_rendition_stops_when_publisher_leaves(sfu: Any) -> None:
    server, join = sfu
    alice = await join("alice")
    low = await join("low", profile="low_video")
    await alice.publish()
    await wait_for(lambda: len(low.widths) >= 5, what="low video")
    (rend,) = server.renditions.values()
    await server.close_participant("alice")
    assert server.renditions == {}
    await asyncio.wait_for(rend.join(), 5)
    assert rendition.active_encoders == 0
