"""Redis down: each node keeps serving the meetings it owns and says so in /healthz; a
command that needs the other node gets a precise error; all of it works again when Redis
is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.postgres import PostgresCluster
from tests.support.redis_server import RedisServer, find_redis

from .conftest import Member, Server
from .procedure_helpers import MOTION, ballot_id, seen
from .test_cluster_nodes import _member, cluster_nodes


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    if find_redis() is None:
        pytest.skip("redis-server not installed")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
async def nodes(
    tmp_path: Path, postgres_cluster: PostgresCluster, own_redis: RedisServer
) -> AsyncIterator[list[Server]]:
    async with cluster_nodes(tmp_path, postgres_cluster.create_database(), own_redis.url) as made:
        yield made


async def health(node: Server) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(node.url + "/healthz") as r:
        return r.status, await r.json()


async def test_redis_down_owner_keeps_serving_others_get_precise_errors(
    nodes, own_redis: RedisServer
) -> None:
    a, b = nodes
    opened: list[Member] = []
    try:
        chair = await _member(a, "C1-CHAIR", opened)
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        assert (await chair.join())["ok"]  # one of the nodes owns meeting 1 now
        assert a.svc.cluster is not None and b.svc.cluster is not None
        owner, other = (a, b) if a.svc.cluster.leases.holds(1) else (b, a)
        assert owner.svc.cluster is not None and owner.svc.cluster.leases.holds(1)
        local = [await _member(owner, f"C1-00{i}", opened) for i in range(1, 7)]
        for m in local:
            assert (await m.join())["ok"]
        remote = await _member(other, "C1-007", opened)
        assert (await remote.join())["ok"]
        poll = await chair.emit("create_poll", {"config": MOTION})
        poll_id = poll["poll"]["poll_id"]
        assert (await chair.emit("open_poll", {"poll_id": poll_id}))["ok"]

        own_redis.kill()
        status, body = await health(owner)
        assert status == 200 and body["redis"] == "error" and body["status"] == "degraded", body
        # the owner's own clients are served: their ballots are committed and acknowledged
        for m in local[:3]:
            ack = await m.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
            assert ack["ok"], ack
        # broadcasts still reach the owner's own clients (delivered here before publishing)
        said = await local[1].emit("send_chat", {"text": "still here"})
        assert said["ok"], said
        assert await seen(local[2], "chat_posted", lambda d: d["message"]["text"] == "still here")
        # a client of the other node gets a precise error, not a silent loss
        pending = {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]}
        refused = await remote.emit("cast_ballot", pending)
        assert refused["ok"] is False and refused["error"] == "owner_unreachable", refused

        own_redis.start()  # same port
        retry: dict[str, object] = {}
        for _ in range(150):  # the client retries until the forwarding channel is back (bounded)
            retry = await remote.emit("cast_ballot", pending)
            if retry.get("ok"):
                break
            assert retry["error"] in ("owner_unreachable", "owner_timeout"), retry
            await asyncio.sleep(0.1)
        # ok; "duplicate" if an earlier attempt reached the owner but its answer was lost
        # (owner_timeout while the channel came back): counted once either way (below)
        assert retry["ok"], retry
        status, body = await health(owner)
        assert status == 200 and body["redis"] == "ok" and body["status"] == "ok", body
        state = await local[0].emit("get_poll_state", {"poll_id": poll_id})
        assert state["poll"]["voted"] == 4
        # everyone, on both nodes, is told to read the state again (the chat above never
        # reached the other node's client): no silent loss
        assert await seen(remote, "resync", seconds=15)
        assert await seen(local[0], "resync", seconds=15)
        assert not any(d["message"]["text"] == "still here" for d in remote.seen("chat_posted"))
    finally:
        for m in opened:
            await m.close()
