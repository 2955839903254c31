"""Two real meetingd processes on one PostgreSQL and one Redis: ``kill -9`` of the node
that owns a meeting in the middle of a poll. The other node takes the lease within a few
seconds and restores the meeting from the database; every acknowledged ballot (cast at
the owner, or at the other node and forwarded) is kept, retries return the same receipts,
and the exported minutes verify."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from tests.support.postgres import PostgresCluster
from tests.support.redis_server import RedisServer
from tests.support.server import DEMO_PASSWORD, start_meetingd, stop_meetingd

from .conftest import Member
from .procedure_helpers import MOTION, ballot_id, seen

pytestmark = pytest.mark.slow


def health(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as e:
        return dict(json.loads(e.read()))


async def wait_owner(url: str, meeting_id: int, within_s: float = 15.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        if meeting_id in (await asyncio.to_thread(health, url)).get("meetings_owned", []):
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not take meeting {meeting_id} in {within_s} s")


async def sign_in(url: str, member_id: str, opened: list[Member]) -> Member:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    m = Member(SimpleNamespace(url=url), http, member_id)  # type: ignore[arg-type]
    opened.append(m)
    status, body = await m.call("POST", "/api/login", {"member_id": member_id, "password": DEMO_PASSWORD})
    assert status == 200, body
    return m


async def test_kill_9_of_the_owner_mid_poll_keeps_every_acked_ballot(
    tmp_path: Path, postgres_cluster: PostgresCluster, redis_server: RedisServer
) -> None:
    env = {
        "MEETINGD_DATABASE_URL": postgres_cluster.create_database(),
        "MEETINGD_CLUSTER_REDIS_URL": redis_server.url,
        "MEETINGD_CLUSTER_LEASE_CHECK_SECONDS": "0.5",
    }
    # one data dir: both nodes read the same server secret and minutes key (docs/deploy.md)
    url_a, node_a = start_meetingd(tmp_path, env={**env, "MEETINGD_CLUSTER_NODE_ID": "node-a"})
    opened: list[Member] = []
    node_b = None
    try:
        chair = await sign_in(url_a, "C1-CHAIR", opened)
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        await wait_owner(url_a, 1)
        url_b, node_b = start_meetingd(tmp_path, env={**env, "MEETINGD_CLUSTER_NODE_ID": "node-b"})
        assert health(url_b)["meetings_owned"] == [] and health(url_b)["redis"] == "ok"

        assert (await chair.join())["ok"]
        voters = [await sign_in(url_a, f"C1-00{i}", opened) for i in range(1, 7)]
        for v in voters:
            assert (await v.join())["ok"]
        ack = await chair.emit("create_poll", {"config": {**MOTION, "time_limit_s": 600}})
        poll_id = ack["poll"]["poll_id"]
        assert (await chair.emit("open_poll", {"poll_id": poll_id}))["ok"]
        # a member connected to node b votes too: node b forwards the cast to the owner
        on_b = await sign_in(url_b, "C1-007", opened)
        assert (await on_b.join())["ok"]
        acked: dict[str, tuple[str, str, list[int]]] = {}
        bid = ballot_id()
        a = await on_b.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": [0]})
        assert a["ok"], a
        acked[on_b.member_id] = (bid, a["receipt"], [0])
        for i, v in enumerate(voters[:4]):
            bid, choices = ballot_id(), [i % 2]
            a = await v.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": choices})
            assert a["ok"], a
            acked[v.member_id] = (bid, a["receipt"], choices)

        killed = time.monotonic()
        os.kill(node_a.pid, signal.SIGKILL)
        node_a.wait(10)
        await wait_owner(url_b, 1)
        failover_s = time.monotonic() - killed
        print(f"failover: node b owned meeting 1 {failover_s:.2f} s after kill -9")
        assert failover_s < 10

        # everyone reconnects to node b (a reverse proxy would send them there)
        for m in opened:
            await m.close()
        opened.clear()
        chair = await sign_in(url_b, "C1-CHAIR", opened)
        join = await chair.join()
        poll = next(p for p in join["procedure"]["polls"] if p["poll_id"] == poll_id)
        assert poll["state"] == "open" and poll["voted"] == 5 and poll["expires_at"]
        voters = [await sign_in(url_b, f"C1-00{i}", opened) for i in range(1, 8)]
        for v in voters:
            assert (await v.join())["ok"]
        for v in voters[:4] + voters[6:]:  # the clients retry: same ballot id, same receipt, once
            bid, receipt, choices = acked[v.member_id]
            again = await v.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": choices})
            assert again["ok"] and again["duplicate"] is True and again["receipt"] == receipt
        for v in voters[4:6]:
            a = await v.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [2]})
            assert a["ok"], a
        assert (await chair.emit("close_poll", {"poll_id": poll_id}))["ok"]
        result = await seen(voters[0], "poll_result")
        assert result["tally"]["counts"] == [3, 2, 2] and result["tally"]["voters"] == 7
        published = {r["receipt"] for r in result["receipts"]}
        assert {receipt for _, receipt, _ in acked.values()} <= published
        assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
        status, view = await chair.call("GET", "/api/meetings/1/minutes")
        assert status == 200, view
        log_key = view["minutes"]["log_key"]  # the one key both nodes sign with
    finally:
        for m in opened:
            await m.close()
        if node_b is not None:
            stop_meetingd(node_b)
        if node_a.poll() is None:
            node_a.kill()
        stop_meetingd(node_a)

    out = tmp_path / "bundle.json"
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("MEETINGD_")}
    cli_env["MEETINGD_DATABASE_URL"] = env["MEETINGD_DATABASE_URL"]
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "meetingd",
            "minutes",
            "export",
            "1",
            "--data-dir",
            str(tmp_path / "data"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env,
    )
    assert done.returncode == 0, done.stderr
    verified = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "meetingd", "verify", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env,
    )
    # closed, sealed, never cosigned, no trust policy given: valid but unpinned (exit 3)
    assert verified.returncode == 3 and "error:" not in verified.stdout, verified.stdout + verified.stderr
    assert log_key.split("+")[-1] in json.dumps(json.loads(out.read_text()))  # signed by the shared key
    entries = [json.loads(e) if isinstance(e, str) else e for e in json.loads(out.read_text())["entries"]]
    assert [e["seq"] for e in entries] == list(range(len(entries)))  # one log, no gap, no fork
    assert sum(1 for e in entries if e["type"] == "ballot_cast") == 7  # each ballot once
