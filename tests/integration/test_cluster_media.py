"""Media across two nodes: a meeting's SFU runs at its owner. A member connected to the
other node has its media commands run at the owner, and its browser's ICE goes straight
to the owner's announced address (the owner writes the SDP); nothing is relayed twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from meetingd.demo import DEMO_PASSWORD
from tests.support.postgres import PostgresCluster
from tests.support.redis_server import RedisServer

from .conftest import Member, Server, wait_for
from .media_peers import LOOPBACK, Peer
from .test_cluster_nodes import cluster_nodes


@pytest.fixture
async def two_media_nodes(
    tmp_path: Path, postgres_cluster: PostgresCluster, redis_server: RedisServer
) -> AsyncIterator[list[Server]]:
    async with cluster_nodes(
        tmp_path,
        postgres_cluster.create_database(),
        redis_server.url,
        limits={"events_per_second": 200.0, "event_burst": 400},
        media={"announce_addresses": LOOPBACK},
    ) as nodes:
        yield nodes


async def _peer(node: Server, member_id: str, opened: list[Peer]) -> Peer:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    m = Member(node, http, member_id)
    status, body = await m.call("POST", "/api/login", {"member_id": member_id, "password": DEMO_PASSWORD})
    assert status == 200, body
    p = Peer(m)
    opened.append(p)
    return p


async def test_members_on_two_nodes_see_and_hear_each_other_through_the_owners_sfu(
    two_media_nodes: list[Server],
) -> None:
    a, b = two_media_nodes
    opened: list[Peer] = []
    try:
        chair = await _peer(a, "C1-CHAIR", opened)
        assert (await chair.m.call("POST", "/api/meetings/1/open"))[0] == 200
        await chair.join(open_media=False)  # one of the nodes owns meeting 1 now
        assert a.svc.cluster is not None and b.svc.cluster is not None
        owner, other = (a, b) if a.svc.cluster.leases.holds(1) else (b, a)
        assert owner.svc.cluster is not None and owner.svc.cluster.leases.holds(1)
        alice = await _peer(owner, "C1-001", opened)
        await alice.join()
        await alice.publish()
        bob = await _peer(other, "C1-002", opened)  # signs in and connects through the other node
        opened_ack = await bob.join()
        assert opened_ack["participant_id"] == "C1-002"
        await bob.publish()
        await wait_for(lambda: bob.frames[("C1-001", "video")] >= 10, 20, "alice's video at bob")
        await wait_for(lambda: bob.frames[("C1-001", "audio")] >= 10, 20, "alice's audio at bob")
        await wait_for(lambda: alice.frames[("C1-002", "video")] >= 10, 20, "bob's video at alice")
        # one SFU, at the owner: bob's media connected straight to it
        assert 1 not in other.svc.media.sfus
        assert sorted(owner.svc.media.sfus[1].participant_ids) == ["C1-001", "C1-002"]
        # bob's node forwards his media commands; a bad one is still answered precisely
        bad = await bob.m.emit("set_receive_profile", {"profile": "nonsense"})
        assert bad["ok"] is False and bad["error"] not in ("internal", "owner_unreachable"), bad
        refused = await bob.m.emit("get_media_stats", {})  # checked again at the owner
        assert refused["ok"] is False and refused["error"] == "not_authorised", refused
        secretary = await _peer(other, "C1-SEC", opened)
        await secretary.join(open_media=False)
        stats = await secretary.m.emit("get_media_stats", {})
        assert stats["ok"], stats
        assert {p["participant_id"] for p in stats["participants"]} == {"C1-001", "C1-002"}
        # bob leaves at his node: the owner ends his media session
        assert (await bob.m.emit("leave", {}))["ok"]
        await wait_for(
            lambda: owner.svc.media.sfus[1].participant_ids == ["C1-001"], 10, "bob's session ended"
        )
    finally:
        for p in opened:
            await p.close()
            await p.m.close()
