"""Vote benchmark: N Socket.IO members cast within a window against a real meetingd.

Run: ``python bench/vote_bench.py [--members 1000] [--window 10]``. Starts the server
in a subprocess (uvloop, SQLite under a temp dir, demo data + N extra members of
meeting 1, tokens minted through the accounts service), connects N python-socketio
AsyncClients (websocket transport, one asyncio process), opens a poll, lets everyone
cast once at a random instant of the window, closes the poll, and prints: acks/s, ack
latency p50/p99, server CPU and RSS, tally == accepted ballots, and the time from
close to the published result. Runs twice: with group commit, then without (baseline).
Not a test. Target: p99 <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# -- the server side (a subprocess) --------------------------------------------------------


async def serve(data_dir: str, members: int, group_commit: bool) -> None:
    from aiohttp import web
    from sqlalchemy import select

    from meetingd.app import build_app
    from meetingd.config import load_config
    from meetingd.demo import seed_demo
    from meetingd.services import services_key
    from meetingd.storage.models import Cell, Member, Participant

    cfg = load_config(
        environ={},
        overrides={
            "server": {"host": "127.0.0.1", "port": 0, "data_dir": data_dir},
            "auth": {"socket_token_seconds": 3600},
            "logging": {"format": "text", "level": "warning"},
        },
    )
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    svc = app[services_key]
    svc.public_url = url
    await seed_demo(svc)
    svc.procedure.ballots.group_commit = group_commit
    now = svc.clock()
    async with svc.db() as s, s.begin():
        cell = await s.scalar(select(Cell).where(Cell.name.like("Cell 1%")))
        assert cell is not None
        rows = [
            Member(
                member_id=f"B-{i:05d}",
                full_name=f"Bench member {i}",
                cell_id=cell.id,
                contact="",
                status="active",
                is_admin=False,
                language="en",
                created_at=now,
            )
            for i in range(members)
        ]
        s.add_all(rows)
        await s.flush()
        s.add_all([Participant(meeting_id=1, member_pk=m.id, role="member") for m in rows])
    async with svc.db() as s:
        everyone = {m.member_id: m for m in (await s.scalars(select(Member))).all()}
    chair = everyone["C1-CHAIR"]
    await svc.meetings.change_state(1, "open", chair)
    tokens = {"C1-CHAIR": [await svc.accounts.mint_socket_token(chair) for _ in range(3)]}
    for i in range(members):  # three single-use tokens each: a timed-out join retries
        mid = f"B-{i:05d}"
        tokens[mid] = [await svc.accounts.mint_socket_token(everyone[mid]) for _ in range(3)]
    print(json.dumps({"url": url, "pid": os.getpid(), "tokens": tokens}), flush=True)
    await asyncio.Event().wait()


# -- the client side ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(members: int, window: float, group_commit: bool) -> dict[str, Any]:
    import socketio

    data = tempfile.mkdtemp(prefix="vote-bench-")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        data,
        "--members",
        str(members),
        "--group-commit",
        "1" if group_commit else "0",
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(await proc.stdout.readline())
        url, pid, tokens = info["url"], info["pid"], info["tokens"]
        clients: dict[str, socketio.AsyncClient] = {}
        results: dict[str, Any] = {}
        done = asyncio.Event()

        async def connect(mid: str) -> None:
            for attempt, token in enumerate(tokens[mid]):
                try:
                    await connect_once(mid, token)
                    return
                except Exception:
                    if attempt == len(tokens[mid]) - 1:
                        raise
                    results["join_retries"] = results.get("join_retries", 0) + 1

        async def connect_once(mid: str, token: str) -> None:
            c = socketio.AsyncClient(reconnection=False)
            if mid == "C1-CHAIR":

                @c.on("poll_result", namespace="/meeting")
                async def on_result(data: Any) -> None:
                    results["result"] = data
                    results["result_at"] = time.perf_counter()
                    done.set()

            await c.connect(
                url,
                namespaces=["/meeting"],
                transports=["websocket"],
                auth={"token": token},
                headers={"Origin": url},
                wait_timeout=60,
            )
            try:
                ack = await c.call(
                    "join", {"meeting_id": 1, "attendance": "remote"}, namespace="/meeting", timeout=120
                )
                assert ack["ok"], ack
            except BaseException:
                await c.disconnect()
                raise
            clients[mid] = c

        t0 = time.perf_counter()
        await connect("C1-CHAIR")
        sem = asyncio.Semaphore(8)  # more concurrent joins hit SQLite "database is locked"

        async def bounded(mid: str) -> None:
            async with sem:
                await connect(mid)

        voters = [m for m in tokens if m != "C1-CHAIR"]
        await asyncio.gather(*(bounded(m) for m in voters))
        joined_s = time.perf_counter() - t0
        chair = clients["C1-CHAIR"]
        ack = await chair.call(
            "create_poll",
            {"config": {"question": "Bench?", "options": "yes_no_abstain"}},
            namespace="/meeting",
            timeout=30,
        )
        poll_id = ack["poll"]["poll_id"]
        ack = await chair.call("open_poll", {"poll_id": poll_id}, namespace="/meeting", timeout=30)
        assert ack["ok"], ack
        latencies: list[float] = []
        accepted = {0: 0, 1: 0, 2: 0}
        errors: dict[str, int] = {}

        async def vote(mid: str) -> None:
            await asyncio.sleep(random.uniform(0, window))
            choice = random.randrange(3)
            start = time.perf_counter()
            ack = await clients[mid].call(
                "cast_ballot",
                {"poll_id": poll_id, "ballot_id": uuid.uuid4().hex, "choices": [choice]},
                namespace="/meeting",
                timeout=60,
            )
            latencies.append(time.perf_counter() - start)
            if ack.get("ok"):
                accepted[choice] += 1
            else:
                errors[ack.get("error", "?")] = errors.get(ack.get("error", "?"), 0) + 1

        cpu0, w0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(vote(m) for m in voters), return_exceptions=False)
        wall = time.perf_counter() - w0
        cpu = cpu_seconds(pid) - cpu0
        closing = time.perf_counter()
        await chair.call("close_poll", {"poll_id": poll_id}, namespace="/meeting", timeout=60)
        await asyncio.wait_for(done.wait(), 60)
        close_to_result = results["result_at"] - closing
        tally = results["result"]["tally"]
        ok = sum(accepted.values())
        lat = sorted(latencies)
        out = {
            "group_commit": group_commit,
            "members": members,
            "joined_s": round(joined_s, 1),
            "join_retries": results.get("join_retries", 0),
            "acks": ok,
            "errors": errors,
            "wall_s": round(wall, 2),
            "acks_per_s": round(ok / wall, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
            "max_ms": round(lat[-1] * 1000, 1),
            "server_cpu_s": round(cpu, 2),
            "server_cpu_ms_per_ballot": round(cpu / ok * 1000, 3),
            "server_rss_mb": round(rss_mb(pid), 1),
            "tally_counts": tally["counts"],
            "accepted_counts": [accepted[i] for i in range(3)],
            "tally_matches": tally["counts"] == [accepted[i] for i in range(3)] and tally["voters"] == ok,
            "close_to_result_ms": round(close_to_result * 1000, 1),
        }
        await asyncio.gather(*(c.disconnect() for c in clients.values()), return_exceptions=True)
        return out
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--group-commit", default="1", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["group", "single"], help="run one mode only")
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    if args.serve:
        runner(serve(args.serve, args.members, args.group_commit == "1"))
        return
    modes = {"group": [True], "single": [False]}.get(args.only or "", [True, False])
    reports = []
    for mode in modes:
        report = runner(run(args.members, args.window, mode))
        reports.append(report)
        print(json.dumps(report), flush=True)
    if len(reports) == 2:
        g, b = reports
        print(
            f"group commit: p99 {g['p99_ms']} ms vs {b['p99_ms']} ms without "
            f"(ratio {b['p99_ms'] / max(g['p99_ms'], 0.001):.1f}x); CPU/ballot "
            f"{g['server_cpu_ms_per_ballot']} vs {b['server_cpu_ms_per_ballot']} ms"
        )


if __name__ == "__main__":
    main()
