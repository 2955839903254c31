"""Scale-out benchmark: the vote bench on one node (SQLite), one node (PostgreSQL) and two
nodes (PostgreSQL + Redis, voters split across the nodes so half the casts are forwarded
to the meeting's owner), in the same run; then the failover time (kill -9 of the owner ->
the other node owns the meeting and a client reconnected to it has its join answered)
over 5 runs.

Run: ``python bench/cluster_bench.py [--members 300] [--window 5] [--failovers 5]``.
Starts a throwaway PostgreSQL cluster (fsync on: acks mean durable) and a redis-server
on 127.0.0.1 (tests/support), the servers in subprocesses (uvloop). Prints one JSON line
per configuration, then ratios against one node on SQLite measured in the same run, then
the failover times. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
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


async def serve(data_dir: str, db_url: str, redis_url: str, node_id: str, members: int) -> None:
    from aiohttp import web
    from sqlalchemy import select

    from meetingd.app import build_app
    from meetingd.config import load_config
    from meetingd.demo import seed_demo
    from meetingd.services import services_key
    from meetingd.storage.models import Cell, Member, Participant

    overrides: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0, "data_dir": data_dir},
        "auth": {"socket_token_seconds": 3600},
        "logging": {"format": "text", "level": "warning"},
        "cluster": {"node_id": node_id, "lease_check_seconds": 0.5},
        # the bench's chair has no authenticator app: no second factor before open_poll
        "security": {"second_factor_required_for": []},
    }
    if db_url:
        overrides["database"] = {"url": db_url}
    if redis_url:
        overrides["cluster"]["redis_url"] = redis_url
    cfg = load_config(environ={}, overrides=overrides)
    app = build_app(cfg)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    svc = app[services_key]
    svc.public_url = url
    tokens: dict[str, list[str]] = {}
    if members:  # the first node seeds the organisation and mints everyone's tokens
        await seed_demo(svc)
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
        for mid in ["C1-CHAIR"] + [f"B-{i:05d}" for i in range(members)]:
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


async def start_node(
    data: str, db_url: str, redis_url: str, node_id: str, members: int
) -> tuple[Any, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        data,
        "--db",
        db_url,
        "--redis",
        redis_url,
        "--node-id",
        node_id,
        "--members",
        str(members),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        # every node opens the same minutes key with the same passphrase (docs/deploy.md)
        env={**os.environ, "MEETINGD_KEY_PASSPHRASE": "cluster bench passphrase"},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 120)
    return proc, json.loads(line)


async def wait_owner(url: str, meeting_id: int, within_s: float = 30.0) -> None:
    import aiohttp

    deadline = time.monotonic() + within_s
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url + "/healthz") as r:
                    if meeting_id in (await r.json()).get("meetings_owned", []):
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    raise RuntimeError(f"{url} did not own meeting {meeting_id}")


async def connect(url: str, token: str, on_result: Any = None) -> Any:
    import socketio

    c = socketio.AsyncClient(reconnection=False)
    if on_result is not None:
        c.on("poll_result", on_result, namespace="/meeting")
    await c.connect(
        url,
        namespaces=["/meeting"],
        transports=["websocket"],
        auth={"token": token},
        headers={"Origin": url},
        wait_timeout=60,
    )
    ack = await c.call("join", {"meeting_id": 1, "attendance": "remote"}, namespace="/meeting", timeout=120)
    if not ack.get("ok"):
        await c.disconnect()
        raise RuntimeError(f"join refused: {ack}")
    return c


async def vote_run(
    label: str, members: int, window: float, db_url: str, redis_url: str, nodes: int
) -> dict[str, Any]:
    data = tempfile.mkdtemp(prefix="cluster-bench-")
    procs = []
    try:
        proc, first = await start_node(data, db_url, redis_url, "node-a", members)
        procs.append(proc)
        infos = [first]
        if nodes == 2:
            await wait_owner(first["url"], 1)  # node a owns the meeting; node b forwards
            proc, second = await start_node(data, db_url, redis_url, "node-b", 0)
            procs.append(proc)
            infos.append(second)
        tokens = first["tokens"]
        results: dict[str, Any] = {}
        done = asyncio.Event()

        async def on_result(d: Any) -> None:
            results["result"] = d
            done.set()

        chair = await connect(infos[0]["url"], tokens["C1-CHAIR"][0], on_result)
        voters = [m for m in tokens if m != "C1-CHAIR"]
        clients: dict[str, Any] = {}
        sem = asyncio.Semaphore(8)

        async def join(i: int, mid: str) -> None:
            url = infos[i % len(infos)]["url"]  # split across the nodes
            async with sem:
                for attempt, token in enumerate(tokens[mid]):
                    try:
                        clients[mid] = await connect(url, token)
                        return
                    except Exception:
                        if attempt == len(tokens[mid]) - 1:
                            raise

        await asyncio.gather(*(join(i, m) for i, m in enumerate(voters)))
        ack = await chair.call(
            "create_poll",
            {"config": {"question": "Bench?", "options": "yes_no_abstain"}},
            namespace="/meeting",
            timeout=30,
        )
        poll_id = ack["poll"]["poll_id"]
        opened = await chair.call("open_poll", {"poll_id": poll_id}, namespace="/meeting", timeout=30)
        assert opened["ok"], (label, opened)
        latencies: list[float] = []
        accepted = [0, 0, 0]
        errors: dict[str, int] = {}

        async def vote(mid: str) -> None:
            await asyncio.sleep(random.uniform(0, window))
            choice = random.randrange(3)
            payload = {"poll_id": poll_id, "ballot_id": uuid.uuid4().hex, "choices": [choice]}
            start = time.perf_counter()
            ack = await clients[mid].call("cast_ballot", payload, namespace="/meeting", timeout=60)
            latencies.append(time.perf_counter() - start)
            if ack.get("ok"):
                accepted[choice] += 1
            else:
                errors[ack.get("error", "?")] = errors.get(ack.get("error", "?"), 0) + 1

        pids = [i["pid"] for i in infos]
        cpu0 = sum(cpu_seconds(p) for p in pids)
        w0 = time.perf_counter()
        await asyncio.gather(*(vote(m) for m in voters))
        wall = time.perf_counter() - w0
        cpu = sum(cpu_seconds(p) for p in pids) - cpu0
        await chair.call("close_poll", {"poll_id": poll_id}, namespace="/meeting", timeout=60)
        await asyncio.wait_for(done.wait(), 60)
        tally = results["result"]["tally"]
        ok = sum(accepted)
        lat = sorted(latencies)
        report = {
            "config": label,
            "nodes": nodes,
            "members": members,
            "acks": ok,
            "errors": errors,
            "acks_per_s": round(ok / wall, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1),
            "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
            "server_cpu_ms_per_ballot": round(cpu / max(ok, 1) * 1000, 3),
            "server_rss_mb": [round(rss_mb(p), 1) for p in pids],
            "tally_matches": tally["counts"] == accepted and tally["voters"] == ok,
        }
        await asyncio.gather(
            chair.disconnect(), *(c.disconnect() for c in clients.values()), return_exceptions=True
        )
        return report
    finally:
        for p in procs:
            if p.returncode is None:
                p.terminate()
                await asyncio.wait_for(p.wait(), 15)


async def failover_run(db_url: str, redis_url: str) -> float:
    """kill -9 of the owner -> the other node owns the meeting and answers a reconnected join."""
    data = tempfile.mkdtemp(prefix="cluster-failover-")
    a, first = await start_node(data, db_url, redis_url, "node-a", 20)
    b = None
    try:
        await wait_owner(first["url"], 1)
        b, second = await start_node(data, db_url, redis_url, "node-b", 0)
        client = await connect(first["url"], first["tokens"]["B-00000"][0])
        killed = time.monotonic()
        a.send_signal(signal.SIGKILL)
        await client.disconnect()
        await wait_owner(second["url"], 1)
        again = await connect(second["url"], first["tokens"]["B-00000"][1])  # the client reconnects
        took = time.monotonic() - killed
        await again.disconnect()
        return took
    finally:
        for p in (a, b):
            if p is not None and p.returncode is None:
                p.terminate()
                await asyncio.wait_for(p.wait(), 15)


async def main_async(args: argparse.Namespace) -> None:
    from tests.support.postgres import PostgresCluster
    from tests.support.redis_server import RedisServer

    pg = PostgresCluster(durable=True).start()
    redis = RedisServer().start()
    try:
        configs = [
            ("sqlite, 1 node", "", "", 1),
            ("postgresql, 1 node", pg.create_database(), "", 1),
            ("postgresql + redis, 2 nodes", pg.create_database(), redis.url, 2),
        ]
        reports = []
        for label, db_url, redis_url, nodes in configs:
            reports.append(await vote_run(label, args.members, args.window, db_url, redis_url, nodes))
            print(json.dumps(reports[-1]), flush=True)
        base = reports[0]
        for r in reports[1:]:
            p99 = r["p99_ms"] / max(base["p99_ms"], 0.001)
            cpu = r["server_cpu_ms_per_ballot"] / max(base["server_cpu_ms_per_ballot"], 0.001)
            print(
                f"{r['config']}: p99 {r['p99_ms']} ms ({p99:.2f}x sqlite), "
                f"CPU/ballot {r['server_cpu_ms_per_ballot']} ms ({cpu:.2f}x sqlite)"
            )
        two, one_pg = reports[2], reports[1]
        print(
            f"forwarding (half the casts through the non-owner): +"
            f"{two['server_cpu_ms_per_ballot'] - one_pg['server_cpu_ms_per_ballot']:.3f} ms CPU per ballot, "
            f"p99 {two['p99_ms'] - one_pg['p99_ms']:+.1f} ms vs one PostgreSQL node"
        )
        times = [await failover_run(pg.create_database(), redis.url) for _ in range(max(args.failovers, 1))]
        print(
            "failover (kill -9 -> new owner serving a reconnected client): "
            + ", ".join(f"{t:.2f}" for t in times)
            + f" s; median {statistics.median(times):.2f} s, max {max(times):.2f} s"
        )
    finally:
        redis.stop()
        pg.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    parser.add_argument("--redis", default="", help=argparse.SUPPRESS)
    parser.add_argument("--node-id", default="node-a", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    if args.serve:
        runner(serve(args.serve, args.db, args.redis, args.node_id, args.members))
        return
    runner(main_async(args))


if __name__ == "__main__":
    main()
