"""Recording's added relay CPU: 1 publisher (640x480 30 fps VP8 + Opus) -> N subscribers,
meetingd's Sfu with and without every stream recorded (issue 5 target: <= 10% more).

Reuses bench/relay_bench.py (peers, pre-encoded loop, one case's measurement) and
bench/relay_server.py (the relay process) unchanged: the relay process here is
relay_server's, with its ``MeetingdTarget`` swapped for one that also attaches a
:class:`media.recording.MeetingRecorder` (a WebM file per publisher, written by its
writer thread, in a temporary directory). Cases alternate (plain, recorded, plain, ...)
so drift affects both alike; the figure is the median over ``--rounds``.

    python bench/recording_bench.py [--subs 8] [--window 6] [--rounds 3]

Re-runs itself under ``unshare -n`` unless already in a private network namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import relay_bench  # noqa: E402

SCRIPT = Path(__file__).resolve()


# -- the relay process ----------------------------------------------------------------


def serve(port: int, record_dir: str | None) -> None:
    import relay_server

    from media.recording import MeetingRecorder

    class RecordingTarget(relay_server.MeetingdTarget):  # type: ignore[misc,name-defined]
        def __init__(self, push: Any) -> None:
            super().__init__(push)
            assert record_dir is not None
            folder = Path(record_dir)
            self.recorder = MeetingRecorder(lambda pid, n: folder / f"{pid}-s{n}")
            self.recorder.attach(self.sfu)

    if record_dir:
        relay_server.MeetingdTarget = RecordingTarget
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(relay_server.serve("meetingd", port))


# -- the client -------------------------------------------------------------------------


class Target(relay_bench.ServerTarget):  # type: ignore[misc]
    """relay_bench's server target, started as this script's relay (recording or not)."""

    record_dir: str | None = None

    async def start(self) -> None:
        cmd = [sys.executable, str(SCRIPT), "--serve", "--port", str(self.port)]
        if self.record_dir:
            cmd += ["--record", self.record_dir]
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            cmd, stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        assert self.proc.stdout is not None
        await asyncio.get_running_loop().run_in_executor(None, self.proc.stdout.readline)
        self.relay = relay_bench.RelayConnection(*await asyncio.open_connection("127.0.0.1", self.port))


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


async def main(args: argparse.Namespace) -> None:
    frames = relay_bench.encode_loop()
    port = 47100
    results: dict[str, list[dict[str, Any]]] = {"plain": [], "recorded": []}
    written: list[int] = []
    print(
        f"1 publisher x {args.subs} subscribers, 640x480 30 fps VP8 + Opus, "
        f"window {args.window:.0f} s, {args.rounds} rounds"
    )
    for r in range(args.rounds):
        for mode in ("plain", "recorded"):
            with tempfile.TemporaryDirectory(prefix="meetingd-rec-bench-") as tmp:
                Target.record_dir = tmp if mode == "recorded" else None
                relay_bench.make_target = lambda name, p: Target(name, p)
                port += 1
                row = await relay_bench.run_case("meetingd", 1, args.subs, args.window, frames, port)
                if mode == "recorded":
                    written.append(folder_bytes(tmp))
            results[mode].append(row)
            print(
                f"  round {r + 1} {mode:8s} relay cpu {row['cpu'] * 100:6.1f}% of a core  "
                f"fps median {row['fps_median']:5.1f}  rss {row['rss_mb']:.0f} MB"
            )
    plain = statistics.median(x["cpu"] for x in results["plain"])
    recorded = statistics.median(x["cpu"] for x in results["recorded"])
    added = (recorded - plain) / plain * 100
    print(
        f"relay CPU without recording {plain * 100:.1f}% of a core, with {recorded * 100:.1f}%"
        f" -> recording adds {recorded * 100 - plain * 100:+.1f} points = {added:+.1f}% "
        f"(target <= 10%) {'OK' if added <= 10 else 'OVER TARGET'}"
    )
    print(f"recorded bytes per run (window + warm-up): {', '.join(f'{b / 1e6:.1f} MB' for b in written)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subs", type=int, default=8)
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.record)
        sys.exit(0)
    if not relay_bench.in_private_namespace():
        quoted = " ".join(f"'{a}'" for a in sys.argv[1:])
        cmd = f"ip link set lo up && exec {sys.executable} {Path(__file__).resolve()} {quoted}"
        env = {**os.environ, "MEETINGD_BENCH_NETNS": "1"}
        sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", cmd], env=env))
    asyncio.run(main(args))
