"""Two meetingd nodes on one PostgreSQL database and one Redis: a broadcast made on one
node reaches the members connected to the other, written encode-once on both; commands
for a meeting arriving at the node that does not own it are forwarded to the owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from meetingd.demo import DEMO_PASSWORD
from signaling.fanout import RedisFanout
from tests.support.postgres import PostgresCluster
from tests.support.redis_server import RedisServer

from .conftest import Member, Server, start_server, wait_for
from .procedure_helpers import MOTION, ballot_id, seen


@asynccontextmanager
async def cluster_nodes(
    tmp_path: Path, database_url: str, redis_url: str, **sections: dict[str, Any]
) -> AsyncIterator[list[Server]]:
    """Two in-process nodes, ``node-a`` and ``node-b``, on one database and one Redis.

    One data_dir: the nodes share the server secret and the minutes key (deploy.md)."""
    nodes, runners = [], []
    try:
        for name in ("node-a", "node-b"):
            srv, runner = await start_server(
                tmp_path,
                database={"url": database_url},
                cluster={"redis_url": redis_url, "node_id": name},
                **sections,
            )
            nodes.append(srv)
            runners.append(runner)
        yield nodes
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def two_nodes(
    tmp_path: Path, postgres_cluster: PostgresCluster, redis_server: RedisServer
) -> AsyncIterator[list[Server]]:
    async with cluster_nodes(tmp_path, postgres_cluster.create_database(), redis_server.url) as nodes:
        yield nodes


async def _member(node: Server, member_id: str, opened: list[Member]) -> Member:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    m = Member(node, http, member_id)
    opened.append(m)
    status, body = await m.call("POST", "/api/login", {"member_id": member_id, "password": DEMO_PASSWORD})
    assert status == 200, body
    return m


async def test_a_broadcast_on_one_node_reaches_members_on_the_other(two_nodes) -> None:
    a, b = two_nodes
    managers = [n.svc.namespace.sio.manager for n in two_nodes]
    assert all(isinstance(m, RedisFanout) for m in managers)
    opened: list[Member] = []
    try:
        chair = await _member(a, "C1-CHAIR", opened)
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        on_a = await _member(a, "C1-001", opened)
        assert (await on_a.join())["ok"]
        before = managers[0].fast_deliveries
        on_b = await _member(b, "C1-002", opened)  # signs in and connects through node b
        joined_b = await on_b.join()
        assert joined_b["ok"]
        # one roster across nodes: b's join ack lists the member connected to a
        assert {p["member_id"] for p in joined_b["roster"]} == {"C1-001", "C1-002"}, joined_b["roster"]
        # node b's roster broadcast reached the member connected to node a
        await wait_for(
            lambda: any(d["participant"]["member_id"] == "C1-002" for d in on_a.roster_changes("joined")),
            seconds=10,
        )
        assert managers[0].fast_deliveries > before  # delivered on a by the encode-once path
        assert managers[1].published > 0
        assert managers[0].slow_deliveries == managers[1].slow_deliveries == 0
        # and a later joiner at node a sees both, whichever node owns the meeting
        later = await _member(a, "C1-003", opened)
        joined_later = await later.join()
        assert {p["member_id"] for p in joined_later["roster"]} == {"C1-001", "C1-002", "C1-003"}
    finally:
        for m in opened:
            await m.close()


async def test_votes_cast_through_both_nodes_are_counted_once_at_the_owner(two_nodes) -> None:
    a, b = two_nodes
    opened: list[Member] = []
    try:
        chair = await _member(a, "C1-CHAIR", opened)
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        assert (await chair.join())["ok"]
        voters = [await _member(a if i % 2 else b, f"C1-00{i}", opened) for i in range(1, 7)]
        for v in voters:
            assert (await v.join())["ok"]
        owner, other = (a, b) if a.svc.cluster and a.svc.cluster.leases.holds(1) else (b, a)
        assert owner.svc.cluster is not None and owner.svc.cluster.leases.holds(1)
        assert other.svc.cluster is not None and not other.svc.cluster.leases.holds(1)
        # presence of members on the other node reached the owner: 7 of 10 present, quorate
        ack = await chair.emit("create_poll", {"config": MOTION})
        poll_id = ack["poll"]["poll_id"]
        opened_poll = await chair.emit("open_poll", {"poll_id": poll_id})
        assert opened_poll["ok"], opened_poll
        receipts = {}
        for i, v in enumerate(voters):
            bid = ballot_id()
            cast = await v.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": [i % 3]})
            assert cast["ok"], (v.member_id, cast)
            again = await v.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": [i % 3]})
            assert again["duplicate"] is True and again["receipt"] == cast["receipt"]
            receipts[v.member_id] = cast["receipt"]
        assert other.svc.cluster.forwarder.forwarded > 0  # the other node's voters went to the owner
        assert owner.svc.cluster.forwarder.served > 0
        async with aiohttp.ClientSession() as http, http.get(other.url + "/metrics") as r:
            text = await r.text()
        node = other.svc.config.node_id
        sent = other.svc.cluster.forwarder.forwarded
        assert f'meetingd_forwarded_commands_total{{direction="sent",node="{node}"}} {sent:.1f}' in text
        assert f'meetingd_meetings_owned{{node="{node}"}} 0.0' in text
        assert (await chair.emit("close_poll", {"poll_id": poll_id}))["ok"]
        result = await seen(voters[0], "poll_result")
        assert result["tally"]["counts"] == [2, 2, 2] and result["tally"]["voters"] == 6
        assert {r["receipt"] for r in result["receipts"]} == set(receipts.values())
    finally:
        for m in opened:
            await m.close()
