"""Test peers for media over the real signaling: a member's browser as two aiortc
connections (publish: the client offers; subscribe: the server offers), counting the
encoded frames each publisher's stream delivers, without decoding.

The fixtures ``server`` (in-process meetingd announcing 127.0.0.1) and ``peer`` are
imported by the media test modules.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from media import aiortc_hooks
from tests.integration.conftest import Member, Server, start_server
from tests.integration.test_media_sfu import MovingVideoTrack

LOOPBACK = ["127.0.0.1"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    """The in-process server, announcing 127.0.0.1 for media."""
    srv, runner = await start_server(
        tmp_path,
        limits={"events_per_second": 200.0, "event_burst": 400},
        media={"announce_addresses": LOOPBACK},
    )
    yield srv
    await runner.cleanup()


class Peer:
    """A participant's browser: its signaling (a :class:`Member`) and two aiortc peers."""

    def __init__(self, member: Member) -> None:
        self.m = member
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.streams: dict[str, dict[str, Any]] = {}
        self.frames: Counter[tuple[str | None, str]] = Counter()
        self.mid_frames: Counter[str] = Counter()  # by m-line (a sharer's camera and screen apart)
        self.answer_errors: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._hooked = False

    async def join(
        self, attendance: str = "remote", *, open_media: bool = True, **media: Any
    ) -> dict[str, Any]:
        """Join meeting 1 and (by default) open the media session."""
        ack = await self.m.join(1, attendance)
        assert ack["ok"], ack
        return await self.media_open(**media) if open_media else ack

    async def media_open(self, **media: Any) -> dict[str, Any]:
        assert self.m.sio is not None
        if not self._hooked:
            self._hooked = True

            @self.m.sio.on("subscribe_offer", namespace="/meeting")
            async def on_offer(data: dict[str, Any]) -> None:
                task = asyncio.get_running_loop().create_task(self._answer(data))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        opened = await self.m.emit("media_open", media)
        assert opened["ok"], opened
        return opened

    async def publish(self, audio: bool = True, video: bool = True) -> dict[str, Any]:
        if self.publish_pc is not None:  # a re-publish after a reconnect: a new connection
            await self.publish_pc.close()
        pc = self.publish_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if audio:
            pc.addTrack(AudioStreamTrack())
        if video:
            pc.addTrack(MovingVideoTrack())
        aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createOffer())
        ack = await self.m.emit("publish_offer", {"sdp": pc.localDescription.sdp, "type": "offer"})
        assert ack["ok"], ack
        await pc.setRemoteDescription(RTCSessionDescription(**ack["answer"]))
        return ack

    async def _answer(self, offer: dict[str, Any]) -> None:
        async with self._lock:
            if offer["new_connection"] or self.subscribe_pc is None:
                if self.subscribe_pc is not None:
                    await self.subscribe_pc.close()
                # max-bundle, like browsers: aiortc's balanced policy loses the second
                # video m-line of an initial offer (see media/settings.py)
                self.subscribe_pc = pc = RTCPeerConnection(
                    RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
                )

                @pc.on("track")
                def on_track(track: Any) -> None:
                    for t in pc.getTransceivers():
                        if t.receiver.track is track:
                            self._count(t.mid, t.receiver, track.kind)

            pc = self.subscribe_pc
            self.streams = {s["mid"]: s for s in offer["streams"]}
            await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
            aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
            await pc.setLocalDescription(await pc.createAnswer())
            ack = await self.m.emit("subscribe_answer", {"sdp": pc.localDescription.sdp, "type": "answer"})
            if not ack["ok"]:
                self.answer_errors.append(ack)

    def _count(self, mid: str, receiver: Any, kind: str) -> None:
        def sink(frame: aiortc_hooks.EncodedFrame) -> None:
            publisher = self.streams.get(mid, {}).get("participant_id")
            self.frames[(publisher, kind)] += 1
            self.mid_frames[mid] += 1

        aiortc_hooks.install_frame_sink(receiver, kind, sink)

    async def close(self) -> None:
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        self.publish_pc = self.subscribe_pc = None
        for task in list(self._tasks):
            task.cancel()


@pytest.fixture
async def peer(
    sign_in: Callable[[str], Awaitable[Member]],
) -> AsyncIterator[Callable[[str], Awaitable[Peer]]]:
    peers: list[Peer] = []

    async def make(member_id: str) -> Peer:
        p = Peer(await sign_in(member_id))
        peers.append(p)
        return p

    yield make
    for p in peers:
        await p.close()
