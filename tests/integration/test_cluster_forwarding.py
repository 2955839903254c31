"""The forwarding channel and the broadcast manager under a burst, on a real Redis: every
request is answered and every broadcast published. redis-py's default pool refuses the
101st concurrent command ("Too many connections"), which a vote with 150 voters on the
other node reached: a third of the casts came back ``owner_unreachable`` and waited a
second for their retry."""

from __future__ import annotations

import asyncio
from typing import Any

from meetingd.cluster.forward import Forwarder
from signaling.fanout import REDIS_POOL_SIZE, RedisFanout
from tests.support.redis_server import RedisServer

BURST = 300


async def test_a_burst_of_forwarded_requests_is_answered_in_full(redis_server: RedisServer) -> None:
    owner, other = Forwarder(redis_server.url, "node-a"), Forwarder(redis_server.url, "node-b")

    async def serve(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0.02)  # a command that takes a while: the requests pile up
        return {"kind": kind, "n": payload["n"]}

    await owner.start(serve)
    await other.start(serve)
    try:
        replies = await asyncio.gather(
            *(other.call("node-a", "command", {"n": n}) for n in range(BURST)), return_exceptions=True
        )
        failed = [r for r in replies if isinstance(r, BaseException)]
        assert not failed, f"{len(failed)} of {BURST} failed, e.g. {failed[0]!r}"
        assert sorted(r["n"] for r in replies if isinstance(r, dict)) == list(range(BURST))
        assert owner.served == BURST
    finally:
        await other.stop()
        await owner.stop()


async def test_a_burst_of_broadcasts_is_published_without_a_gap(redis_server: RedisServer) -> None:
    manager = RedisFanout(redis_server.url)
    try:
        message = {"method": "emit", "event": "tally_updated", "data": [{}], "namespace": "/meeting"}
        results = await asyncio.gather(*(manager._publish(message) for _ in range(BURST)))
        assert all(r is not None for r in results), sum(r is None for r in results)
        assert manager.gaps == 0 and not manager._in_gap
        assert manager.redis.connection_pool.max_connections == REDIS_POOL_SIZE
    finally:
        await manager.close()
