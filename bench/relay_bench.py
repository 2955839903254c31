"""Relay benchmark: 1 publisher (640x480 30 fps VP8 + Opus) -> N subscribers.

Targets, in the same run: meetingd's Sfu (forwards encoded frames) and aiortc's
MediaRelay (decode once, re-encode per subscriber). The relay runs in its own
process (bench/relay_server.py) so its CPU time and RSS are its own; publisher
and subscribers are aiortc peers in this process, counting frames without
decoding. Re-runs itself inside a private network namespace (``unshare -n``,
as root) so nothing leaves the machine.

    python bench/relay_bench.py [--ns 1,2,4,8,16,32] [--window 5] [--targets meetingd,mediarelay]

Latency: the publisher sends a pre-encoded loop of frames and notes when each
one leaves its track; a subscriber looks the received frame's bytes up in that
loop. Only possible when the relay forwards bytes unchanged (meetingd), so it
reads "n/a" for MediaRelay, which re-encodes.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media import aiortc_hooks  # noqa: E402

LOOPBACK = ["127.0.0.1"]
WIDTH, HEIGHT, FPS = 640, 480, 30
LOOP_FRAMES = 150
CACHE = Path("/tmp/meetingd-bench-vp8-640x480.json")  # noqa: S108


def encode_loop() -> list[bytes]:
    """A 5 s loop of moving 640x480 VP8 at ~1 Mbit/s, keyframe first."""
    if CACHE.exists():
        return [bytes.fromhex(h) for h in json.loads(CACHE.read_text())]
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = 1_000_000
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = 10_000
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    row = bytes((x * 7) % 256 for x in range(WIDTH * 3))
    frames: list[bytes] = []
    for i in range(LOOP_FRAMES):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        shift = (i * 4) % WIDTH
        luma = b"".join(
            row[shift + (y // 16) % 32 : shift + (y // 16) % 32 + WIDTH] for y in range(HEIGHT)
        )
        frame.planes[0].update(luma)
        chroma = bytes([(i * 3) % 256]) * (WIDTH * HEIGHT // 4)
        frame.planes[1].update(chroma)
        frame.planes[2].update(chroma)
        frame.pts = i
        data = b"".join(bytes(p) for p in codec.encode(frame))
        frames.append(data)
    CACHE.write_text(json.dumps([f.hex() for f in frames]))
    return frames


class PreEncodedVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__()
        self.frames = frames
        self.index_of = {data: i for i, data in enumerate(frames)}
        self.sent_at: list[float] = [0.0] * len(frames)
        self._n = 0
        self._pos = 0
        self._start: float | None = None

    def restart_at_keyframe(self) -> None:
        self._pos = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._n / FPS - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        data = self.frames[self._pos]
        packet = av.Packet(data)
        packet.pts = self._n * (90000 // FPS)
        packet.time_base = fractions.Fraction(1, 90000)
        self.sent_at[self._pos] = time.monotonic()
        self._n += 1
        self._pos = (self._pos + 1) % len(self.frames)
        return packet


class RelayConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.rids = itertools.count()
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.offers: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        while line := await self.reader.readline():
            msg = json.loads(line)
            if msg["op"] == "reply":
                self.replies.pop(msg["rid"]).set_result(msg)
            elif msg["op"] == "sub_offer":
                self.offers.setdefault(msg["id"], asyncio.Queue()).put_nowait(msg)

    async def call(self, **msg: Any) -> dict[str, Any]:
        rid = next(self.rids)
        fut = self.replies[rid] = asyncio.get_running_loop().create_future()
        self.writer.write(json.dumps({**msg, "rid": rid}).encode() + b"\n")
        return await asyncio.wait_for(fut, 30)

    def offer_queue(self, pid: str) -> asyncio.Queue[dict[str, Any]]:
        return self.offers.setdefault(pid, asyncio.Queue())


class Subscriber:
    def __init__(self, pid: str, video: PreEncodedVideoTrack) -> None:
        self.pid = pid
        self.video = video
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.video_frames = 0
        self.audio_frames = 0
        self.latencies: list[float] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        aiortc_hooks.install_frame_sink(receiver, track.kind, self._sink_for(track.kind))

    def _sink_for(self, kind: str) -> Any:
        def sink(frame: aiortc_hooks.EncodedFrame) -> None:
            if kind == "audio":
                self.audio_frames += 1
                return
            self.video_frames += 1
            index = self.video.index_of.get(frame.data)
            if index is not None:
                self.latencies.append(time.monotonic() - self.video.sent_at[index])

        return sink

    async def join(self, relay: RelayConnection) -> None:
        queue = relay.offer_queue(self.pid)
        await relay.call(op="open", id=self.pid)
        offer = await asyncio.wait_for(queue.get(), 30)
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        aiortc_hooks.announce_host_candidates(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await relay.call(op="answer", id=self.pid, sdp=self.pc.localDescription.sdp)


async def run_case(target: str, n: int, window: float, frames: list[bytes]) -> dict[str, Any]:
    port = 20000 + n + (0 if target == "meetingd" else 100)
    proc = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, str(ROOT / "bench" / "relay_server.py"), "--target", target, "--port", str(port)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pcs: list[RTCPeerConnection] = []
    try:
        assert proc.stdout is not None
        await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)
        relay = RelayConnection(*await asyncio.open_connection("127.0.0.1", port))
        video = PreEncodedVideoTrack(frames)
        pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pub)
        pub.addTrack(AudioStreamTrack())
        sender = pub.addTrack(video)
        sender._send_keyframe = video.restart_at_keyframe  # type: ignore[method-assign]
        await relay.call(op="open", id="pub")
        aiortc_hooks.announce_host_candidates(pub, LOOPBACK)
        await pub.setLocalDescription(await pub.createOffer())
        answer = await relay.call(op="offer", id="pub", sdp=pub.localDescription.sdp)
        await pub.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.sleep(1.0)
        subs = [Subscriber(f"sub{i}", video) for i in range(n)]
        pcs += [s.pc for s in subs]
        for s in subs:
            await s.join(relay)
        deadline = time.monotonic() + 30
        while any(s.video_frames == 0 for s in subs) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.0)  # warm up
        before = await relay.call(op="stats")
        t0 = time.monotonic()
        counts0 = [s.video_frames for s in subs]
        lat0 = [len(s.latencies) for s in subs]
        await asyncio.sleep(window)
        after = await relay.call(op="stats")
        wall = time.monotonic() - t0
        fps = sorted((s.video_frames - c) / wall for s, c in zip(subs, counts0, strict=True))
        lat = sorted(x for s, k in zip(subs, lat0, strict=True) for x in s.latencies[k:])
        relay.writer.close()
        return {
            "target": target,
            "n": n,
            "cpu": (after["cpu"] - before["cpu"]) / wall,
            "rss_mb": after["rss"] / 2**20,
            "fps_min": fps[0],
            "fps_median": statistics.median(fps),
            "lat_p50": lat[len(lat) // 2] * 1000 if lat else None,
            "lat_p95": lat[int(len(lat) * 0.95)] * 1000 if lat else None,
        }
    finally:
        for pc in pcs:
            await pc.close()
        proc.terminate()
        proc.wait(10)


def marginal(rows: list[dict[str, Any]]) -> float | None:
    """Least-squares slope of relay CPU (cores) over N, where the relay keeps up (>= 28 fps)."""
    rows = [r for r in rows if r["fps_median"] >= 28]
    if len(rows) < 2:
        return None
    xs, ys = [r["n"] for r in rows], [r["cpu"] for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


async def main(args: argparse.Namespace) -> None:
    frames = encode_loop()
    print(f"publisher loop: {len(frames)} frames, {sum(map(len, frames)) * FPS * 8 / len(frames) / 1e6:.2f} Mbit/s")
    results: dict[str, list[dict[str, Any]]] = {}
    for target in args.targets.split(","):
        results[target] = []
        for n in [int(x) for x in args.ns.split(",")]:
            row = await run_case(target, n, args.window, frames)
            results[target].append(row)
            print(
                f"{target:10} N={n:3}  cpu={row['cpu']:.3f} cores  rss={row['rss_mb']:.0f} MB  "
                f"fps min/med={row['fps_min']:.1f}/{row['fps_median']:.1f}  "
                f"latency p50/p95={fmt(row['lat_p50'], '.1f')}/{fmt(row['lat_p95'], '.1f')} ms",
                flush=True,
            )
            if row["fps_median"] < 10:
                print(f"{target}: saturated at N={n}, stopping")
                break
    print()
    slopes = {t: marginal(rows) for t, rows in results.items()}
    for target, slope in slopes.items():
        print(f"marginal CPU per subscriber, {target}: {fmt(None if slope is None else slope * 1000, '.1f')} millicores")
    if slopes.get("meetingd") and slopes.get("mediarelay"):
        print(f"ratio mediarelay / meetingd: {slopes['mediarelay'] / slopes['meetingd']:.1f}x")
    print("janus: not measured in this run (see docs/media.md)")


def in_private_namespace() -> bool:
    return os.environ.get("MEETINGD_BENCH_NETNS") == "1"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ns", default="1,2,4,8,16,32")
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--targets", default="meetingd,mediarelay")
    args = parser.parse_args()
    if not in_private_namespace():
        quoted = " ".join(f"'{a}'" for a in sys.argv[1:])
        cmd = f"ip link set lo up && exec {sys.executable} {Path(__file__).resolve()} {quoted}"
        env = {**os.environ, "MEETINGD_BENCH_NETNS": "1"}
        sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", cmd], env=env))
    asyncio.run(main(args))
