"""Recording on a real server: the chair records, a member publishes with real aiortc
peers, the files are WebM that PyAV demuxes, their SHA-256 is in the signed minutes, and
``meetingd verify --recordings`` checks them. Plus the recorder's drop-to-keyframe path
and retention, without a network.

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/integration/test_recording.py -q -m media'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import pytest

from media import aiortc_hooks
from media.forwarding import PublishedTrack
from media.recording import MeetingRecorder, vp8_size
from meetingd.app import recording_key
from meetingd.recording import prune_recordings
from tests.integration.conftest import Server, wait_for
from tests.integration.media_peers import Peer, peer, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.media


def meetingd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    return subprocess.run(
        [sys.executable, "-m", "meetingd", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


async def _entries(server: Server) -> list[dict[str, Any]]:
    log = await server.svc.journal.log(1)
    return [json.loads(e) for e in log.entries]


def _probe(path: Path) -> Counter[str]:
    """Demux every packet (no decoding needed), then decode a few as a sanity check."""
    counts: Counter[str] = Counter()
    with av.open(str(path)) as container:
        assert container.format.name.startswith("matroska")
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "vp8" and (video.width, video.height) == (160, 120)
        assert audio.codec_context.name == "opus" and audio.codec_context.sample_rate == 48000
        for packet in container.demux():
            if packet.size:
                counts[packet.stream.type] += 1
    with av.open(str(path)) as container:
        frames = [f for _, f in zip(range(5), container.decode(video=0), strict=False)]
        assert len(frames) == 5 and frames[0].width == 160
    return counts


async def test_chair_records_a_member_and_the_files_verify(server: Server, peer: Any, tmp_path: Path) -> None:
    chair, alice, bob = await peer("C1-CHAIR"), await peer("C1-001"), await peer("C1-002")
    assert (await chair.m.call("POST", "/api/meetings/1/open"))[0] == 200
    for p in (chair, alice, bob):
        await p.join(open_media=False)
    opened = await chair.media_open()
    assert opened["recording"] == {"recording": False, "started_at": None}

    # only the chair may record
    refused = await alice.m.emit("start_recording", {})
    assert not refused["ok"] and refused["error"] == "not_authorised", refused
    assert (await bob.m.emit("stop_recording", {}))["error"] == "not_authorised"
    assert (await chair.m.emit("stop_recording", {}))["error"] == "not_recording"
    assert (await chair.m.emit("start_recording", {"x": 1}))["error"] == "invalid_input"

    started = await chair.m.emit("start_recording", {})
    assert started["ok"] and started["recording"] is True and started["started_at"], started
    assert (await chair.m.emit("start_recording", {}))["error"] == "already_recording"
    for p in (chair, alice, bob):  # everyone sees the indicator
        await wait_for(lambda p=p: any(d["recording"] for d in p.m.seen("recording_changed")), 5)
    assert (await alice.media_open())["recording"]["recording"] is True

    # alice publishes for ~2 s, reconnects (a new segment), publishes ~1 s more
    await alice.publish()
    await wait_for(lambda: chair.frames[("C1-001", "video")] >= 60, 20)
    await wait_for(lambda: chair.frames[("C1-001", "audio")] >= 100, 20)
    await alice.m.emit("media_close", {})
    await alice.close()
    await alice.media_open()
    await alice.publish()
    before = chair.frames[("C1-001", "video")]
    await wait_for(lambda: chair.frames[("C1-001", "video")] >= before + 30, 20)

    stopped = await chair.m.emit("stop_recording", {})
    assert stopped["ok"] and stopped["recording"] is False, stopped
    for p in (chair, alice, bob):
        await wait_for(lambda p=p: p.m.seen("recording_changed")[-1]["recording"] is False, 5)
    entries = await _entries(server)
    assert next(e for e in entries if e["type"] == "recording_started")["by"] == "C1-CHAIR"
    entry = next(e for e in entries if e["type"] == "recording_stopped")
    assert entry["by"] == "C1-CHAIR" and entry["reason"] == "chair"
    files = entry["files"]
    assert [(f["member_id"], f["segment"], f["kind"]) for f in files] == [
        ("C1-001", 1, "audio+video"),
        ("C1-001", 2, "audio+video"),
    ], files
    folder = server.data_dir / "recordings" / "1"
    for f in files:
        path = folder / f["name"]
        data = path.read_bytes()
        assert f["name"].endswith(".webm") and f["bytes"] == len(data)
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        assert f["started_at"] < f["ended_at"]
        counts = _probe(path)
        assert counts["video"] > 0 and counts["audio"] > 0, counts
    first = _probe(folder / files[0]["name"])
    assert first["video"] >= 45 and first["audio"] >= 75, first  # ~2 s of each

    # record again and close the meeting: stopped (and logged) before meeting_closed
    assert (await chair.m.emit("start_recording", {}))["ok"]
    before = chair.frames[("C1-001", "video")]
    await wait_for(lambda: chair.frames[("C1-001", "video")] >= before + 20, 20)
    assert (await chair.m.call("POST", "/api/meetings/1/close"))[0] == 200
    types = [e["type"] for e in await _entries(server)]
    assert types.index("meeting_closed") > len(types) - 1 - types[::-1].index("recording_stopped")
    last = [e for e in await _entries(server) if e["type"] == "recording_stopped"][-1]
    assert last["reason"] == "meeting_closed" and len(last["files"]) == 1
    assert not server.app[recording_key].is_recording(1)

    # the exported bundle verifies with the files, and not once a byte is flipped
    bundle = tmp_path / "bundle.json"
    done = meetingd("minutes", "export", "1", "--data-dir", str(server.data_dir), "-o", str(bundle))
    assert done.returncode == 0, done.stderr
    ok = meetingd("verify", str(bundle), "--recordings", str(folder))
    assert ok.returncode == 3 and ok.stdout.startswith("VALID BUT UNPINNED"), ok.stdout + ok.stderr
    assert "ERROR" not in ok.stdout and "WARNING" not in ok.stdout  # no finding about any file
    elsewhere = tmp_path / "not-the-recordings"
    elsewhere.mkdir()
    missing = meetingd("verify", str(bundle), "--recordings", str(elsewhere))
    assert missing.returncode == 1, missing.stdout
    assert "ERROR entries[" in missing.stdout and "is listed in the minutes but missing" in missing.stdout
    victim = folder / files[0]["name"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    bad = meetingd("verify", str(bundle), "--recordings", str(folder))
    assert bad.returncode == 1, bad.stdout
    assert f"recording {files[0]['name']!r} does not match its SHA-256" in bad.stdout


# -- the recorder alone: a slow writer drops to the next keyframe --------------------------


def _vp8(key: bool) -> bytes:
    # a keyframe tag, start code and 160x120; a P-frame tag. Not decodable, only muxable.
    return (b"\x10\x02\x00\x9d\x01\x2a\xa0\x00\x78\x00" if key else b"\x31\x02\x00") + b"\0" * 40


async def test_a_full_writer_queue_drops_video_until_the_next_keyframe(tmp_path: Path) -> None:
    assert vp8_size(_vp8(True)) == (160, 120) and vp8_size(_vp8(False)) is None
    requests: list[int] = []

    async def request() -> bool:
        requests.append(1)
        return True

    track = PublishedTrack("P1", "video", request, keyframe_interval=0.01)
    sfu = SimpleNamespace(observers=[], published_tracks=lambda: [track])
    recorder = MeetingRecorder(lambda pid, n: tmp_path / f"{pid}-s{n}", queue_frames=10)
    recorder.attach(sfu)
    await asyncio.sleep(0)  # the segment starts on the next loop step
    assert len(track.taps) == 1
    codec = SimpleNamespace(mimeType="video/VP8", clockRate=90000)
    ts = 0

    def frame(key: bool) -> None:
        nonlocal ts
        ts += 3000
        track.on_frame(aiortc_hooks.EncodedFrame(_vp8(key), ts, key, codec, time.monotonic()))

    frame(False)  # before the first keyframe: dropped at the tap
    tap = track.taps[0]
    assert tap.slot.dropped == 1
    recorder._writer._frames = recorder._writer._max  # the queue is full
    frame(True)
    assert tap.slot.waiting and tap.slot.dropped == 2
    recorder._writer._frames = 0  # drained
    frame(False)  # still waiting for a keyframe
    assert tap.slot.dropped == 3
    frame(True)
    frame(False)
    assert not tap.slot.waiting and tap.slot.dropped == 3
    await asyncio.sleep(0.05)
    assert requests  # a keyframe was asked for (at start and after the drop)
    files = await recorder.stop()
    assert not track.taps and sfu.observers == []
    assert len(files) == 1 and files[0].frames == 2 and files[0].dropped == 3
    with av.open(str(files[0].path)) as c:
        assert sum(1 for p in c.demux() if p.size) == 2
    track.close()


def test_retention_deletes_old_recordings_only(tmp_path: Path) -> None:
    folder = tmp_path / "7"
    folder.mkdir()
    old, new, other = folder / "a.webm", folder / "b.webm", folder / "notes.txt"
    for p in (old, new, other):
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 3 * 86400, time.time() - 3 * 86400))
    assert prune_recordings(tmp_path, 2) == [old]
    assert new.exists() and other.exists() and not old.exists()
