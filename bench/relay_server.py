"""Relay process for bench/relay_bench.py: meetingd's Sfu or aiortc's MediaRelay.

Speaks JSON lines on 127.0.0.1 with the bench client:
  {"op": "open", "id": ...}                  -> {"ok": true}
  {"op": "offer", "id": ..., "sdp": ...}     -> {"sdp": ..., "type": "answer"}   (publish)
  {"op": "answer", "id": ..., "sdp": ...}    -> {"ok": true}                      (subscribe)
  {"op": "profile", "id": ..., "profile": p} -> {"ok": true}                      (meetingd only)
  {"op": "stats"}                            -> {"cpu": seconds, "rss": bytes}
and pushes {"op": "sub_offer", "id": ..., "sdp": ...} when a subscriber gets an offer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from media import aiortc_hooks
from media.events import MediaEvent, SubscribeOffer
from media.settings import MediaSettings
from media.sfu import Sfu

LOOPBACK = ("127.0.0.1",)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class MeetingdTarget:
    def __init__(self, push: Any) -> None:
        # RELAY_BENCH_MEDIA: JSON of MediaSettings fields to change (A/B runs of one setting)
        overrides = json.loads(os.environ.get("RELAY_BENCH_MEDIA", "{}"))
        self.sfu = Sfu(MediaSettings(announce_addresses=LOOPBACK, **overrides), self._on_event)
        self.push = push

    def _on_event(self, event: MediaEvent) -> None:
        if isinstance(event, SubscribeOffer):
            streams = event.streams
            self.push(
                {"op": "sub_offer", "id": event.participant_id, "streams": streams, **event.description}
            )

    async def open(self, pid: str) -> None:
        await self.sfu.open_participant(pid)

    async def offer(self, pid: str, sdp: str) -> dict[str, str]:
        return await self.sfu.accept_offer(pid, sdp, "offer")

    async def answer(self, pid: str, sdp: str) -> None:
        await self.sfu.accept_answer(pid, sdp)

    def debug(self) -> dict[str, Any]:
        """Per participant: subscribe connection state, started senders, packets sent."""
        out: dict[str, Any] = {}
        for pid in self.sfu.participant_ids:
            session = self.sfu._sessions[pid]
            subs = session.subscriptions
            pc = session.subscribe_pc
            publish = session.publish_pc
            out[pid] = [
                None if publish is None else publish.connectionState,
                [
                    (t.packets, t.keyframes_seen, t.keyframes.requested, t.keyframes.sent)
                    for t in session.published.values()
                ],
                None if pc is None else pc.connectionState,
                sum(1 for s in subs if s.track.started),
                sum(s.track.packets for s in subs),
                len(subs),
            ]
        return out

    async def profile(self, pid: str, profile: str) -> None:
        await self.sfu.set_receive_profile(pid, profile)


class MediaRelayTarget:
    """The naive baseline: decode once (MediaRelay), encode per subscriber."""

    def __init__(self, push: Any) -> None:
        self.push = push
        self.relay = MediaRelay()
        self.tracks: list[Any] = []
        self.pcs: dict[str, RTCPeerConnection] = {}

    def _pc(self) -> RTCPeerConnection:
        return RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def open(self, pid: str) -> None:
        if not self.tracks:
            return  # the publisher opens first
        pc = self.pcs[pid] = self._pc()
        for track in self.tracks:
            pc.addTrack(self.relay.subscribe(track))
        aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createOffer())
        self.push({"op": "sub_offer", "id": pid, "sdp": pc.localDescription.sdp, "type": "offer"})

    async def offer(self, pid: str, sdp: str) -> dict[str, str]:
        pc = self.pcs[pid] = self._pc()
        pc.on("track", self.tracks.append)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        aiortc_hooks.announce_host_candidates(pc, LOOPBACK)
        await pc.setLocalDescription(await pc.createAnswer())
        return {"sdp": pc.localDescription.sdp, "type": "answer"}

    async def answer(self, pid: str, sdp: str) -> None:
        await self.pcs[pid].setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))


async def serve(target_name: str, port: int) -> None:
    writers: list[asyncio.StreamWriter] = []

    def push(message: dict[str, Any]) -> None:
        for w in writers:
            w.write(json.dumps(message).encode() + b"\n")

    target: Any = MeetingdTarget(push) if target_name == "meetingd" else MediaRelayTarget(push)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        while line := await reader.readline():
            msg = json.loads(line)
            op, rid = msg["op"], msg.get("rid")
            reply: dict[str, Any] = {"ok": True}
            if op == "open":
                await target.open(msg["id"])
            elif op == "offer":
                reply = await target.offer(msg["id"], msg["sdp"])
            elif op == "answer":
                await target.answer(msg["id"], msg["sdp"])
            elif op == "debug":
                reply = {"debug": target.debug()}
            elif op == "profile":
                await target.profile(msg["id"], msg["profile"])
            elif op == "stats":
                t = os.times()
                reply = {"cpu": t.user + t.system, "rss": rss_bytes()}
            writer.write(json.dumps({"op": "reply", "rid": rid, **reply}).encode() + b"\n")
        writers.remove(writer)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", choices=["meetingd", "mediarelay"], required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if os.environ.get("MEETINGD_BENCH_DEBUG"):
        import logging

        logging.basicConfig(level=logging.WARNING, format="relay %(name)s %(message)s")
        logging.getLogger("aioice.ice").setLevel(logging.INFO)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.target, args.port))


if __name__ == "__main__":
    main()
