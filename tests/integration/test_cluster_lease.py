"""Owner leases on a real PostgreSQL: one owner at a time, visible to every node, gone
the moment the owner's process is killed, and a node that loses its lease connection
is told which meetings it no longer owns."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text

from meetingd.cluster.lease import LeaseHolder
from meetingd.storage.db import create_engine
from tests.support.postgres import PostgresCluster

from .conftest import wait_for

HOLDER_SCRIPT = """
import asyncio, sys
from meetingd.cluster.lease import LeaseHolder

async def main():
    holder = LeaseHolder(sys.argv[1], "node-doomed")
    await holder.start()
    assert await holder.acquire(7)
    print("held", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


@pytest.fixture
async def holders(postgres_cluster: PostgresCluster) -> AsyncIterator[Callable[..., LeaseHolder]]:
    url = postgres_cluster.create_database()
    made: list[LeaseHolder] = []

    def make(node_id: str, **kw: object) -> LeaseHolder:
        h = LeaseHolder(url, node_id, check_seconds=0.2, **kw)  # type: ignore[arg-type]
        made.append(h)
        return h

    make.url = url  # type: ignore[attr-defined]
    yield make
    for h in made:
        await h.stop()


async def test_a_meeting_has_one_owner_and_every_node_sees_which(holders) -> None:
    a, b = holders("node-a"), holders("node-b")
    await a.start()
    await b.start()
    assert await a.acquire(1) is True
    assert await a.acquire(1) is True  # idempotent for the owner
    assert await b.acquire(1) is False
    assert await b.owner_of(1) == "node-a" and await a.owner_of(1) == "node-a"
    assert await b.owner_of(2) is None
    assert await b.acquire(2) is True
    assert await a.owners() == {1: "node-a", 2: "node-b"}
    await a.release(1)
    assert await b.acquire(1) is True and b.held == {1, 2}


async def test_kill_9_of_the_owner_frees_its_lease_at_once(holders) -> None:
    url = holders.url
    proc = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-c", HOLDER_SCRIPT, url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
        assert line.strip() == "held"
        standby = holders("node-standby")
        await standby.start()
        assert await standby.acquire(7) is False
        assert await standby.owner_of(7) == "node-doomed"
        killed = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        for _ in range(250):
            if await standby.acquire(7):
                break
            await asyncio.sleep(0.02)
        taken = time.monotonic() - killed
        assert standby.holds(7), "lease not free 5 s after kill -9"
        assert taken < 5.0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


async def test_a_node_whose_lease_connection_dies_is_told_what_it_lost(holders) -> None:
    lost: list[set[int]] = []

    async def on_lost(meetings: set[int]) -> None:
        lost.append(meetings)

    a = holders("node-a", on_lost=on_lost)
    b = holders("node-b")
    await a.start()
    await b.start()
    assert await a.acquire(3) and await a.acquire(4)
    engine = create_engine(holders.url)
    try:
        async with engine.begin() as conn:  # an operator (or a PostgreSQL restart) ends it
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'meetingd-lease:node-a'"
                )
            )
    finally:
        await engine.dispose()
    await wait_for(lambda: bool(lost), seconds=5)
    assert lost == [{3, 4}] and not a.held
    assert await b.acquire(3)  # another node can take over
    await wait_for(lambda: a.connected, seconds=5)  # a reconnects, owning nothing
    assert await a.acquire(3) is False and await a.acquire(5) is True


async def test_stop_ends_even_when_closing_the_session_never_does(holders, monkeypatch) -> None:
    """A shutdown must end: a close that hangs (a connection the server ended) is left after
    STOP_STEP_SECONDS, and the node still forgets what it held."""
    from meetingd.cluster import lease

    monkeypatch.setattr(lease, "STOP_STEP_SECONDS", 0.5)
    a = holders("node-a")
    await a.start()
    assert await a.acquire(7)
    conn = a._conn
    assert conn is not None
    hang = asyncio.Event()
    from sqlalchemy.ext.asyncio import AsyncConnection

    real_close = AsyncConnection.close

    async def close_for_ever(self: AsyncConnection) -> None:
        await hang.wait()

    monkeypatch.setattr(AsyncConnection, "close", close_for_ever)
    started = asyncio.get_running_loop().time()
    await a.stop()
    assert asyncio.get_running_loop().time() - started < 3.0
    assert not a.held and not a.connected
    monkeypatch.undo()
    await real_close(conn)
