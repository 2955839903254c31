"""PostgreSQL down mid-poll: nothing is acknowledged that is not committed (the client is
told ``server_busy``), and casting resumes when the database is back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.postgres import PostgresCluster, find_pg_bin

from .conftest import Server
from .procedure_helpers import ballot_id, open_poll, quorate_meeting, seen


@pytest.fixture
async def own_cluster() -> AsyncIterator[PostgresCluster]:
    """A cluster of this test's own: it is crashed and restarted."""
    if find_pg_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def store(own_cluster: PostgresCluster) -> dict[str, dict[str, str]]:
    return {"database": {"url": own_cluster.create_database()}}


async def test_database_down_means_server_busy_and_no_ack_then_resumes(
    sign_in, server: Server, own_cluster: PostgresCluster
) -> None:
    chair, members = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    first = await members[0].emit(
        "cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]}
    )
    assert first["ok"], first
    own_cluster.crash()
    try:
        pending = {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]}
        busy = await members[1].emit("cast_ballot", pending)
        assert busy["ok"] is False and busy["error"] == "server_busy", busy
        again = await members[2].emit(
            "cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]}
        )
        assert again["error"] == "server_busy", again  # still down: still no ack
    finally:
        own_cluster.resume()
    retry = await members[1].emit("cast_ballot", pending)  # the client retries the same ballot
    assert retry["ok"] and retry["duplicate"] is False, retry  # it was never recorded before
    assert (await chair.emit("close_poll", {"poll_id": poll_id}))["ok"]
    result = await seen(members[0], "poll_result")
    assert result["tally"]["counts"] == [1, 1, 0] and result["tally"]["voters"] == 2


async def test_a_join_while_the_database_is_down_is_server_busy_never_internal(
    sign_in, server: Server, own_cluster: PostgresCluster
) -> None:
    chair, _members = await quorate_meeting(sign_in)
    late = await sign_in("C1-008")
    await late.connect()  # signed in and connected; its join needs the database
    own_cluster.crash()
    try:
        busy = await late.emit("join", {"meeting_id": 1, "attendance": "remote"})
        assert busy["ok"] is False and busy["error"] == "server_busy", busy
        assert busy["details"]["retry_after"] > 0, busy
    finally:
        own_cluster.resume()
    # the server kept serving: the retry joins
    retry = await late.emit("join", {"meeting_id": 1, "attendance": "remote"})
    assert retry["ok"], retry
    assert (await chair.emit("get_procedure"))["ok"]
