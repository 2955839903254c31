"""Two meetingd nodes on one PostgreSQL database and one Redis: a broadcast made on one
node reaches the members connected to the other, written encode-once on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from meetingd.demo import DEMO_PASSWORD
from signaling.fanout import RedisFanout
from tests.support.postgres import PostgresCluster
from tests.support.redis_server import RedisServer

from .conftest import Member, Server, start_server, wait_for


@pytest.fixture
async def two_nodes(
    tmp_path: Path, postgres_cluster: PostgresCluster, redis_server: RedisServer
) -> AsyncIterator[list[Server]]:
    url = postgres_cluster.create_database()
    nodes, runners = [], []
    for name in ("node-a", "node-b"):
        # one data_dir: the nodes share the server secret and the minutes key (deploy.md)
        srv, runner = await start_server(
            tmp_path, database={"url": url}, cluster={"redis_url": redis_server.url, "node_id": name}
        )
        nodes.append(srv)
        runners.append(runner)
    yield nodes
    for runner in runners:
        await runner.cleanup()


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
        assert (await on_b.join())["ok"]
        # node b's roster broadcast reached the member connected to node a
        await wait_for(
            lambda: any(d["participant"]["member_id"] == "C1-002" for d in on_a.seen("participant_joined")),
            timeout=10,
        )
        assert managers[0].fast_deliveries > before  # delivered on a by the encode-once path
        assert managers[1].published > 0
        assert managers[0].slow_deliveries == managers[1].slow_deliveries == 0
    finally:
        for m in opened:
            await m.close()
