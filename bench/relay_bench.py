"""Relay benchmark: 1 publisher (640x480 30 fps VP8 + Opus) -> N subscribers, 6 x 6 and 10 x 30.

Targets, interleaved per case in the same run: meetingd's Sfu (packet forwarding),
``before`` (another checkout given with ``--before DIR``, e.g. the previous commit, run
by the same harness), aiortc's MediaRelay (decode once, re-encode per subscriber), each
in its own process (bench/relay_server.py), and Janus VideoRoom (bench/relay_janus.py,
Debian's ``janus``; skipped with a message when it is not installed). Publishers and
subscribers are aiortc peers counting frames per m-line without decoding. Relay CPU is
the relay process's utime+stime over the window; RSS at the end of it.

Cases of 36 streams or more (6 x 6, 10 x 30) put the subscribers in ``--procs`` child
processes (every ``procs + 1``-th stays here): one process receiving 36 streams took ~0.6-0.95
of a core and, near saturation, lost frames and inflated everyone's figures. Cases above 36
streams (10 x 30), unless ``--full-clients``, use subscribers that
count frames from the clear RTP header (marker bit per SSRC) without decrypting: 300
full aiortc receivers need more CPU than this 2-core machine has, and the relay's cost
does not depend on what the client does with the packets (but no receiver reports,
NACKs or PLIs come back from those subscribers). ``--low N``: 1 x N with profile
``low_video`` against 1 x N full: the shared low rendition's CPU per publisher.
``--repeat R``: every case R times, interleaved; medians with the range.

Runs inside a private network namespace: re-runs itself under ``unshare -n``
unless already in one (``./dev bench``). Janus never offers a loopback
candidate, so there a veth pair with 10.200.0.1 (an address that exists only in
the namespace) is created for it; everything else uses 127.0.0.1. Every client socket
gets a 4 MB receive buffer (the kernel's 208 kB default overflows when several
publishers' keyframes arrive at once, and the losses snowball).

    python bench/relay_bench.py [--ns 1,2,4,8,16,32] [--window 4] [--multi 6x6,10x30]
                                [--targets meetingd,mediarelay,janus] [--before DIR]
                                [--repeat 1] [--low 2] [--procs 3] [--full-clients]

Latency: each publisher sends a pre-encoded loop of frames and notes when each
one leaves its track; a subscriber looks the received frame's bytes up in the
loop of the publisher of that m-line. Possible when the relay forwards the bytes
unchanged (meetingd, Janus); "n/a" for MediaRelay, which re-encodes, and for
header-counting subscribers.

Marginal CPU per subscriber: least-squares slope of relay CPU over N over the
unsaturated cases only (median delivered fps >= 28); RSS per subscriber: the slope of
RSS over N.
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
from typing import Any, ClassVar

import av
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from aiortc.sdp import SessionDescription

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))

import relay_janus  # noqa: E402

from media import aiortc_hooks  # noqa: E402

LOOPBACK = ["127.0.0.1"]
WIDTH, HEIGHT, FPS = 640, 480, 30
LOOP_FRAMES = 150
CLIENT_RECEIVE_BUFFER = 4 << 20
CACHE = Path("/tmp/meetingd-bench-vp8-640x480.json")


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
        luma = b"".join(row[shift + (y // 16) % 32 : shift + (y // 16) % 32 + WIDTH] for y in range(HEIGHT))
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

    async def recv(self) -> av.Packet[Any]:
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
    """Counts frames per video m-line without decoding; latency by matching frame bytes.

    ``light``: RTP is counted from its clear header (marker bit per SSRC) as it comes off
    the socket and never decrypted or handed to aiortc (no latency, no receiver
    reports, NACKs or PLIs from this subscriber): for cases with more streams than
    full aiortc clients can take on this machine. DTLS, STUN and RTCP still flow.
    """

    def __init__(self, pid: str, addresses: list[str], light: bool = False) -> None:
        self.pid = pid
        self.addresses = addresses
        self.light = light
        self._video_ssrcs: dict[int, str] = {}
        # max-bundle, like browsers and the server: with aiortc's default (balanced)
        # policy the second and later video m-lines of one offer get transports that
        # BUNDLE then drops, and their RTP lands on the first video receiver.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.sources: dict[str, PreEncodedVideoTrack] = {}  # video mid -> publisher's track
        self.video_frames: dict[str, int] = {}
        self.audio_frames = 0
        self.latencies: list[float] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: Any) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        mid = str(transceiver.mid)
        if track.kind == "video":
            self.video_frames.setdefault(mid, 0)
        aiortc_hooks.install_frame_sink(transceiver.receiver, track.kind, self._sink_for(track.kind, mid))

    def _sink_for(self, kind: str, mid: str) -> Any:
        def sink(frame: aiortc_hooks.EncodedFrame) -> None:
            if kind == "audio":
                self.audio_frames += 1
                return
            self.video_frames[mid] += 1
            source = self.sources.get(mid)
            if source is not None:
                index = source.index_of.get(frame.data)
                if index is not None:
                    self.latencies.append(time.monotonic() - source.sent_at[index])

        return sink

    async def answer(self, offer_sdp: str, sources: dict[str, PreEncodedVideoTrack]) -> str:
        self.sources = sources
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        aiortc_hooks.announce_host_candidates(self.pc, self.addresses)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        if self.light:
            self._count_in_the_clear(offer_sdp)
        # A browser-sized socket buffer: the kernel default (208 kB) overflows when several
        # publishers' keyframes arrive at once on loopback, and the losses snowball into
        # keyframe requests (every target is measured with the same clients).
        aiortc_hooks.set_receive_buffer(self.pc, CLIENT_RECEIVE_BUFFER)
        return str(self.pc.localDescription.sdp)

    def receiving(self, streams: int) -> bool:
        return len(self.video_frames) >= streams and all(self.video_frames.values())

    def _count_in_the_clear(self, offer_sdp: str) -> None:
        for media in SessionDescription.parse(offer_sdp).media:
            if media.kind == "video" and media.rtp.muxId:
                self.video_frames.setdefault(media.rtp.muxId, 0)
                for info in media.ssrc:
                    self._video_ssrcs[info.ssrc] = media.rtp.muxId
        frames = self.video_frames
        ssrcs = self._video_ssrcs
        connections = {
            id(c): c
            for t in self.pc.getTransceivers()
            for c in [t.receiver.transport.transport.iceGatherer._connection]
        }
        for connection in connections.values():
            if getattr(connection, "_bench_light", False):
                continue
            original = connection.data_received

            def data_received(data: bytes, component: int, _original: Any = original) -> None:
                # RTP (not RTCP: payload types 64-95 with the marker bit are RTCP's 192-223)
                if len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224:
                    mid = ssrcs.get(int.from_bytes(data[8:12], "big"))
                    if mid is not None and data[1] & 0x80:
                        frames[mid] += 1
                    return
                _original(data, component)

            connection.data_received = data_received
            connection._bench_light = True


class Publisher:
    def __init__(self, pid: str, frames: list[bytes], addresses: list[str]) -> None:
        self.pid = pid
        self.video = PreEncodedVideoTrack(frames)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(AudioStreamTrack())
        sender = self.pc.addTrack(self.video)
        sender._send_keyframe = self.video.restart_at_keyframe  # type: ignore[method-assign]
        self.addresses = addresses

    async def offer(self) -> str:
        aiortc_hooks.announce_host_candidates(self.pc, self.addresses)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)


class ServerTarget:
    """meetingd's Sfu or aiortc's MediaRelay in bench/relay_server.py (its own process)."""

    addresses: ClassVar[list[str]] = ["127.0.0.1"]

    def __init__(self, name: str, port: int, root: Path = ROOT, profile: str | None = None) -> None:
        self.name, self.port = name, port
        self.root, self.profile = root, profile
        self.proc: subprocess.Popen[bytes] | None = None
        self.relay: RelayConnection | None = None
        self.publishers: dict[str, Publisher] = {}
        # MediaSettings overrides passed to relay_server.py (RELAY_BENCH_MEDIA)
        self.media: dict[str, Any] = {}

    async def start(self) -> None:
        kind = "mediarelay" if self.name == "mediarelay" else "meetingd"
        env = {**os.environ, "PYTHONPATH": str(self.root)}
        if self.media:
            env["RELAY_BENCH_MEDIA"] = json.dumps(self.media)
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                str(ROOT / "bench" / "relay_server.py"),
                *("--target", kind, "--port", str(self.port)),
            ],
            stdout=subprocess.PIPE,
            cwd=self.root,
            env=env,
        )
        assert self.proc.stdout is not None
        await asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline)
        self.relay = RelayConnection(*await asyncio.open_connection("127.0.0.1", self.port))

    async def publish(self, pub: Publisher) -> None:
        assert self.relay is not None
        self.publishers[pub.pid] = pub
        await self.relay.call(op="open", id=pub.pid)
        answer = await self.relay.call(op="offer", id=pub.pid, sdp=await pub.offer())
        await pub.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def subscribe(self, sub: Subscriber) -> None:
        assert self.relay is not None
        queue = self.relay.offer_queue(sub.pid)
        await self.relay.call(op="open", id=sub.pid)
        if self.profile is not None:
            await self.relay.call(op="profile", id=sub.pid, profile=self.profile)
        offer = await asyncio.wait_for(queue.get(), 30)
        sources = {
            str(s["mid"]): self.publishers[s["participant_id"]].video
            for s in offer.get("streams", [])
            if s.get("kind") == "video" and s.get("participant_id") in self.publishers
        }
        await self.relay.call(op="answer", id=sub.pid, sdp=await sub.answer(offer["sdp"], sources))

    async def stats(self) -> dict[str, float]:
        assert self.relay is not None
        return await self.relay.call(op="stats")

    async def stop(self) -> None:
        if self.relay is not None:
            self.relay.writer.close()
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)


class JanusTarget:
    """Janus VideoRoom (bench/relay_janus.py), reached at the namespace-only veth address."""

    addresses: ClassVar[list[str]] = [relay_janus.VETH_ADDRESS]

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.janus = relay_janus.JanusRelay(port)
        self.feeds: dict[int, Publisher] = {}

    async def start(self) -> None:
        await self.janus.start()

    async def publish(self, pub: Publisher) -> None:
        feed, answer = await self.janus.publish(pub.pid, await pub.offer())
        self.feeds[feed] = pub
        await pub.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def subscribe(self, sub: Subscriber) -> None:
        handle, offer, mids = await self.janus.subscribe(list(self.feeds))
        sources = {mid: self.feeds[feed].video for mid, feed in mids.items() if feed in self.feeds}
        await self.janus.start_subscriber(handle, await sub.answer(offer, sources))

    async def stats(self) -> dict[str, float]:
        return self.janus.stats()

    async def stop(self) -> None:
        await self.janus.stop()


def make_target(name: str, port: int, profile: str | None = None) -> ServerTarget | JanusTarget:
    """``janus``, ``mediarelay``, ``meetingd`` (this checkout) or ``before`` (``--before DIR``)."""
    if name == "janus":
        return JanusTarget(name, port)
    root = BEFORE_ROOT if name == "before" and BEFORE_ROOT is not None else ROOT
    return ServerTarget(name, port, root, profile)


BEFORE_ROOT: Path | None = None


class Worker:
    """A child process holding some of the subscribers (``--worker``), so the client is not the limit."""

    def __init__(self, addresses: list[str], light: bool = False) -> None:
        self.addresses = addresses
        self.light = light
        self.proc: asyncio.subprocess.Process | None = None
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            ",".join(self.addresses),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )

    async def call(self, **msg: Any) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        async with self.lock:
            self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
            await self.proc.stdin.drain()
            line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("bench worker exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def stop(self) -> None:
        if self.proc is None:
            return
        try:
            await self.call(op="close")
        except (RuntimeError, ConnectionError, TimeoutError):
            pass
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()


class RemoteSubscriber:
    """A subscriber living in a :class:`Worker`; frame counts refreshed with :func:`refresh`."""

    def __init__(self, worker: Worker, pid: str) -> None:
        self.worker, self.pid = worker, pid
        self.video_frames: dict[str, int] = {}
        self.latencies: list[float] = []  # measured in this process only

    async def answer(self, offer_sdp: str, sources: dict[str, PreEncodedVideoTrack]) -> str:
        reply = await self.worker.call(op="answer", pid=self.pid, sdp=offer_sdp)
        return str(reply["sdp"])

    def receiving(self, streams: int) -> bool:
        return len(self.video_frames) >= streams and all(self.video_frames.values())


async def refresh(workers: list[Worker], subs: list[Any]) -> dict[Worker, float]:
    """Fetch the workers' frame counts into their RemoteSubscribers; return each worker's CPU seconds."""
    cpu: dict[Worker, float] = {}
    by_pid = {s.pid: s for s in subs if isinstance(s, RemoteSubscriber)}
    for worker in workers:
        reply = await worker.call(op="counts")
        cpu[worker] = reply["cpu"]
        for pid, counts in reply["video"].items():
            by_pid[pid].video_frames = counts
    return cpu


async def worker_main(addresses: list[str], light: bool) -> None:
    """``--worker``: subscribers driven over stdin/stdout JSON lines by the bench."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    subs: dict[str, Subscriber] = {}

    def reply(msg: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        msg = json.loads(line)
        if msg["op"] == "answer":
            sub = subs.get(msg["pid"])
            if sub is None:
                sub = subs[msg["pid"]] = Subscriber(msg["pid"], addresses, light)
            reply({"sdp": await sub.answer(msg["sdp"], {})})
        elif msg["op"] == "counts":
            t = os.times()
            reply({"video": {p: s.video_frames for p, s in subs.items()}, "cpu": t.user + t.system})
        elif msg["op"] == "close":
            for sub in subs.values():
                await sub.pc.close()
            reply({"ok": True})
            return


async def run_case(
    target_name: str,
    n_pub: int,
    n_sub: int,
    window: float,
    frames: list[bytes],
    port: int,
    *,
    procs: int = 0,
    profile: str | None = None,
    light: bool = False,
) -> dict[str, Any]:
    """One measurement. ``procs`` > 0: that many child processes hold all subscribers but
    every ``procs + 1``-th, which stays here (latency is measured on those)."""
    target = make_target(target_name, port, profile)
    if light and isinstance(target, ServerTarget):
        # Light subscribers send no RTCP feedback, so their bandwidth estimate never rises
        # and the weak-link profile would (rightly) send them sound only: measure the
        # forwarding of video instead, as Janus does for them.
        target.media = {"weak_link_audio_only": False}
    pcs: list[RTCPeerConnection] = []
    workers = [Worker(target.addresses, light) for _ in range(procs)]
    try:
        await target.start()
        for worker in workers:
            await worker.start()
        pubs = [Publisher(f"pub{i}", frames, target.addresses) for i in range(n_pub)]
        pcs += [p.pc for p in pubs]
        for pub in pubs:
            await target.publish(pub)
        await asyncio.sleep(1.0)
        subs: list[Any] = []
        for i in range(n_sub):
            if procs and i % (procs + 1):
                subs.append(RemoteSubscriber(workers[i % (procs + 1) - 1], f"sub{i}"))
            else:
                local = Subscriber(f"sub{i}", target.addresses, light)
                pcs.append(local.pc)
                subs.append(local)
        for s in subs:
            await target.subscribe(s)
        deadline = time.monotonic() + 60
        await refresh(workers, subs)
        while not all(s.receiving(n_pub) for s in subs) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            await refresh(workers, subs)
        await asyncio.sleep(2.0)  # warm up
        if os.environ.get("MEETINGD_BENCH_DEBUG") and isinstance(target, ServerTarget) and target.relay:
            print("relay debug", await target.relay.call(op="debug"), flush=True)
            print("client counts", {s.pid: s.video_frames for s in subs}, flush=True)
        before = await target.stats()
        client0 = os.times()
        workers0 = await refresh(workers, subs)
        t0 = time.monotonic()
        counts0 = [dict(s.video_frames) for s in subs]
        lat0 = [len(s.latencies) for s in subs]
        await asyncio.sleep(window)
        after = await target.stats()
        client1 = os.times()
        workers1 = await refresh(workers, subs)
        wall = time.monotonic() - t0
        fps = sorted(
            (count - c0.get(mid, 0)) / wall
            for s, c0 in zip(subs, counts0, strict=True)
            for mid, count in s.video_frames.items()
        )
        fps += [0.0] * max(0, n_pub * n_sub - len(fps))  # streams that never arrived
        fps.sort()
        lat = sorted(x for s, k in zip(subs, lat0, strict=True) for x in s.latencies[k:])
        client_cpu = [(client1.user + client1.system - client0.user - client0.system) / wall]
        client_cpu += [(workers1[w] - workers0[w]) / wall for w in workers]
        return {
            "target": target_name,
            "case": f"{n_pub}x{n_sub}" + (f" {profile}" if profile else "") + (" light" if light else ""),
            "n": n_sub,
            "streams": n_pub * n_sub,
            "cpu": (after["cpu"] - before["cpu"]) / wall,
            "rss_mb": after["rss"] / 2**20,
            "fps_min": fps[0],
            "fps_median": statistics.median(fps),
            "lat_p50": lat[len(lat) // 2] * 1000 if lat else None,
            "lat_p95": lat[int(len(lat) * 0.95)] * 1000 if lat else None,
            # the client processes (publishers and subscribers): if one nears 1 core, the
            # client, not the relay, limits the delivered fps
            "client_cpu": max(client_cpu),
            "client_cpu_total": sum(client_cpu),
        }
    finally:
        for worker in workers:
            await worker.stop()
        for pc in pcs:
            await pc.close()
        await target.stop()


UNSATURATED_FPS = 28.0


def marginal(rows: list[dict[str, Any]]) -> tuple[float | None, list[int]]:
    """Least-squares slope of relay CPU (cores) over N, unsaturated cases only (median >= 28 fps)."""
    rows = [r for r in rows if r["fps_median"] >= UNSATURATED_FPS]
    ns = [r["n"] for r in rows]
    if len(rows) < 2:
        return None, ns
    xs, ys = ns, [r["cpu"] for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else None), ns


def packets_per_second(frames: list[bytes]) -> float:
    """RTP packets one subscriber receives per second: the VP8 loop as aiortc packs it + 50/s Opus."""
    from aiortc.codecs.vpx import PACKET_MAX

    per_frame = statistics.fmean(-(-len(f) // (PACKET_MAX - 4)) for f in frames)
    return per_frame * FPS + 50


def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def row_line(row: dict[str, Any]) -> str:
    return (
        f"| {row['target']:10} | {row['case']:>5} | {row['cpu']:.3f} | {row['rss_mb']:.0f} | "
        f"{row['fps_min']:.1f} / {row['fps_median']:.1f} | "
        f"{fmt(row['lat_p50'], '.1f')} / {fmt(row['lat_p95'], '.1f')} |"
    )


HEADER = (
    "| target     |  case | relay CPU (cores) | RSS (MB) | fps min / median | latency p50 / p95 (ms) |\n"
    "|------------|------:|------------------:|---------:|-----------------:|-----------------------:|"
)


def janus_available() -> str | None:
    """Why Janus cannot be measured here, or None."""
    if relay_janus.janus_binary() is None:
        return "janus is not installed (apt-get install janus); skipping the Janus target"
    problem = relay_janus.ensure_veth()
    if problem is not None:
        return f"cannot create the namespace-only veth for Janus ({problem}); skipping the Janus target"
    return None


def spread(values: list[float], spec: str = ".3f") -> str:
    """Median with the range of the repeats."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return format(values[0], spec)
    low, high = format(min(values), spec), format(max(values), spec)
    return f"{format(statistics.median(values), spec)} ({low}-{high})"


def rss_slope(rows: list[dict[str, Any]]) -> float | None:
    """MB of relay RSS per added subscriber (least squares over every N)."""
    if len({r["n"] for r in rows}) < 2:
        return None
    xs, ys = [r["n"] for r in rows], [r["rss_mb"] for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope: float = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return slope


async def main(args: argparse.Namespace) -> None:
    frames = encode_loop()
    pps = packets_per_second(frames)
    mbps = sum(map(len, frames)) * FPS * 8 / len(frames) / 1e6
    print(
        f"publisher loop: {len(frames)} frames, {mbps:.2f} Mbit/s, "
        f"~{pps:.0f} RTP packets/s per subscriber (video + audio)"
    )
    targets = args.targets.split(",")
    if "before" in targets and BEFORE_ROOT is None:
        print("no --before checkout given; skipping the 'before' target")
        targets.remove("before")
    if "janus" in targets:
        why = janus_available()
        if why is not None:
            print(why)
            targets.remove("janus")
    ports = itertools.count(20000)
    # results[target][repeat] = rows of the 1 x N cases
    results: dict[str, list[list[dict[str, Any]]]] = {t: [] for t in targets}
    multi: dict[tuple[str, str], list[dict[str, Any]]] = {}
    low: dict[str, list[tuple[float, float]]] = {}
    ns = [int(x) for x in args.ns.split(",") if x.strip()]
    print(HEADER, flush=True)
    for repeat in range(args.repeat):
        saturated: set[str] = set()
        for target in targets:
            results[target].append([])
        # Interleave the targets per case so that background load hits them alike.
        for n in ns:
            for target in targets:
                if target in saturated:
                    continue
                row = await run_case(target, 1, n, args.window, frames, next(ports))
                results[target][repeat].append(row)
                print(row_line(row), flush=True)
                if row["fps_median"] < args.stop_below:
                    print(f"{target}: saturated at N={n} (median {row['fps_median']:.1f} fps), stopping it")
                    saturated.add(target)
        for case in [c for c in args.multi.split(",") if c.strip()]:
            n_pub, n_sub = (int(x) for x in case.split("x"))
            procs = args.procs if n_pub * n_sub >= 36 else 0
            for target in targets:
                if target == "mediarelay":
                    continue  # one publisher only in relay_server.py's MediaRelay target
                row = await run_case(
                    target,
                    n_pub,
                    n_sub,
                    args.window,
                    frames,
                    next(ports),
                    procs=procs,
                    light=not args.full_clients and n_pub * n_sub > 36,
                )
                multi.setdefault((case, target), []).append(row)
                print(row_line(row), flush=True)
                print(
                    f"  ({row['case']} {target}: busiest client process {row['client_cpu']:.2f} cores, "
                    f"{procs + 1} client processes {row['client_cpu_total']:.2f} cores)",
                    flush=True,
                )
        if args.low:
            for target in [t for t in targets if t in ("meetingd", "before")]:
                full = await run_case(target, 1, args.low, args.window, frames, next(ports))
                print(row_line(full), flush=True)
                lowrow = await run_case(
                    target, 1, args.low, args.window, frames, next(ports), profile="low_video"
                )
                print(row_line(lowrow), flush=True)
                low.setdefault(target, []).append((full["cpu"], lowrow["cpu"]))
    print()
    slopes: dict[str, list[float]] = {}
    for target, repeats in results.items():
        for rows in repeats:
            slope, _used = marginal(rows)
            if slope is not None:
                slopes.setdefault(target, []).append(slope)
        per_packet = [x / pps * 1e6 for x in slopes.get(target, [])]
        print(
            f"marginal CPU per subscriber, {target}: "
            f"{spread([x * 1000 for x in slopes.get(target, [])], '.1f')} millicores "
            f"(~{spread(per_packet, '.0f')} µs per packet)"
        )
    janus = slopes.get("janus")
    for target in ("meetingd", "before"):
        mine = slopes.get(target)
        if mine and janus:
            ratios = [m / j for m, j in zip(mine, janus, strict=False)]
            print(f"ratio {target} / janus, marginal CPU per subscriber: {spread(ratios)} (target <= 0.8)")
        theirs = slopes.get("mediarelay")
        if mine and theirs:
            ratios = [m / t for m, t in zip(mine, theirs, strict=False)]
            print(f"ratio {target} / mediarelay: {spread(ratios)}")
    for target, repeats in results.items():
        at32 = [r["rss_mb"] for rows in repeats for r in rows if r["n"] == max(ns)]
        per_sub = [x for rows in repeats if (x := rss_slope(rows)) is not None]
        if at32:
            print(
                f"RSS {target}: {spread(at32, '.0f')} MB at N={max(ns)}, "
                f"{spread([x * 1024 for x in per_sub], '.0f')} kB per added subscriber"
            )
    if "janus" in results:
        for target in ("meetingd", "before"):
            deltas: dict[int, list[float]] = {}
            for mine_rows, janus_rows in zip(results.get(target, []), results["janus"], strict=False):
                by_n = {r["n"]: r for r in janus_rows}
                for r in mine_rows:
                    j = by_n.get(r["n"])
                    if j and r["lat_p50"] is not None and j["lat_p50"] is not None:
                        deltas.setdefault(r["n"], []).append(r["lat_p50"] - j["lat_p50"])
            if deltas:
                worst = max(deltas, key=lambda n: statistics.median(deltas[n]))
                print(
                    f"latency p50 {target} - janus: worst median {spread(deltas[worst], '+.1f')} ms "
                    f"at N={worst} (target <= +2 ms); by N: "
                    + ", ".join(f"{n}: {statistics.median(d):+.1f}" for n, d in sorted(deltas.items()))
                )
    for (case, target), rows in sorted(multi.items()):
        anchor = multi.get((case, "janus"))
        line = f"{case} {target}: relay CPU {spread([r['cpu'] for r in rows])} cores"
        line += f", fps median {spread([r['fps_median'] for r in rows], '.1f')}"
        if anchor and target != "janus":
            ratios = [r["cpu"] / x["cpu"] for r, x in zip(rows, anchor, strict=False)]
            line += f"; / janus {spread(ratios)} (target <= 1.0)"
        print(line)
    for target, pairs in low.items():
        costs = [lo - full for full, lo in pairs]
        print(
            f"low rendition, {target}: {spread(costs)} cores per publisher "
            f"(1 x {args.low} low_video minus 1 x {args.low} full)"
        )


NAMESPACE_LINKS = {"lo", relay_janus.VETH, relay_janus.VETH_PEER}


def in_private_namespace() -> bool:
    """Already in a private namespace: ours (env), or ``./dev bench``'s (only lo, maybe our veth)."""
    if os.environ.get("MEETINGD_BENCH_NETNS") == "1":
        return True
    try:
        links = set(os.listdir("/sys/class/net"))
    except OSError:
        return False
    return links <= NAMESPACE_LINKS


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ns", default="1,2,4,8,16,32")
    parser.add_argument("--window", type=float, default=4.0)
    parser.add_argument("--targets", default="meetingd,mediarelay,janus")
    parser.add_argument(
        "--multi", default="6x6,10x30", help="publishers x subscribers cases, comma-separated ('' to skip)"
    )
    parser.add_argument(
        "--procs", type=int, default=3, help="client processes for the cases of 36 streams or more"
    )
    parser.add_argument("--repeat", type=int, default=1, help="repeat every case, interleaved; medians")
    parser.add_argument(
        "--stop-below", type=float, default=10.0, help="1 x N: stop a target whose median fps falls below"
    )
    parser.add_argument("--low", type=int, default=2, help="subscribers of the low-rendition case (0: skip)")
    parser.add_argument("--before", default="", help="another checkout measured as target 'before'")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    parser.add_argument(
        "--full-clients",
        action="store_true",
        help="cases above 36 streams: full aiortc subscribers instead of header-counting ones",
    )
    parser.add_argument("--light", action="store_true", help=argparse.SUPPRESS)  # worker mode
    args = parser.parse_args()
    if os.environ.get("MEETINGD_BENCH_DEBUG"):
        import logging

        logging.basicConfig(
            level=logging.WARNING, format=f"{'worker' if args.worker else 'bench'} %(name)s %(message)s"
        )
        logging.getLogger("aioice.ice").setLevel(logging.INFO)
    if args.worker:
        asyncio.run(worker_main(args.worker.split(","), args.light))
        sys.exit(0)
    if args.before:
        BEFORE_ROOT = Path(args.before).resolve()
    if not in_private_namespace():
        quoted = " ".join(f"'{a}'" for a in sys.argv[1:])
        cmd = f"ip link set lo up && exec {sys.executable} {Path(__file__).resolve()} {quoted}"
        env = {**os.environ, "MEETINGD_BENCH_NETNS": "1"}
        sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", cmd], env=env))
    asyncio.run(main(args))
