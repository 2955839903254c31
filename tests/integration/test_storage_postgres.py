"""PostgreSQL as a store: the schema is made once by nodes starting together, the minutes
journal of a meeting has one writer at a time across processes (advisory lock), a stale
in-memory tree catches up from the database instead of forking the log, and group commit
holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from meetingd.journal import Journal
from meetingd.storage.db import SCHEMA_VERSION, create_engine, sessionmaker, upgrade_schema
from meetingd.storage.models import Cell, Meeting, MinutesEntry
from recorder.verifier import verify_bundle
from tests.support.postgres import PostgresCluster

from .conftest import Server
from .procedure_helpers import ballot_id, open_poll, quorate_meeting, seen

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.fixture
async def pg_engines(postgres_cluster: PostgresCluster) -> AsyncIterator[list[AsyncEngine]]:
    """Two engines on one fresh database: what two meetingd nodes hold."""
    url = postgres_cluster.create_database()
    engines = [create_engine(url), create_engine(url)]
    yield engines
    for e in engines:
        await e.dispose()


async def _seed_meeting(engine: AsyncEngine) -> int:
    async with sessionmaker(engine)() as s, s.begin():
        cell = Cell(name="Cell 9")
        s.add(cell)
        await s.flush()
        meeting = Meeting(title="t", cell_id=cell.id, place="", starts_at=NOW, state="open")
        s.add(meeting)
        await s.flush()
        return meeting.id


async def test_two_nodes_starting_together_create_the_schema_once(pg_engines) -> None:
    results = await asyncio.gather(*(upgrade_schema(e) for e in pg_engines))
    assert sorted(results) == [(0, SCHEMA_VERSION), (SCHEMA_VERSION, SCHEMA_VERSION)]


async def test_journal_appends_from_two_nodes_are_serialised_and_stay_one_log(pg_engines) -> None:
    await upgrade_schema(pg_engines[0])
    meeting_id = await _seed_meeting(pg_engines[0])
    key = Ed25519PrivateKey.generate()  # the nodes share the server key
    a, b = (Journal(sessionmaker(e), key, "meetingd.test/minutes", clock) for e in pg_engines)
    async with a.transaction(meeting_id) as tx:
        tx.record("secretary_note", text="from a")
    assert (await b.log(meeting_id)).size == 1  # b loads the log as a restart would

    holding, release = asyncio.Event(), asyncio.Event()

    async def a_holds_the_lock() -> None:
        async with a.transaction(meeting_id) as tx:
            tx.record("secretary_note", text="a, slowly")
            holding.set()
            await release.wait()

    async def b_appends() -> dict[str, Any]:
        async with b.transaction(meeting_id) as tx:
            return tx.record("secretary_note", text="from b")

    slow = asyncio.ensure_future(a_holds_the_lock())
    await asyncio.wait_for(holding.wait(), 5)
    waiting = asyncio.ensure_future(b_appends())
    async with sessionmaker(pg_engines[0])() as s:  # b is queued on the advisory lock
        for _ in range(250):
            n = await s.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            )
            if n:
                break
            await asyncio.sleep(0.02)
        assert n == 1
    assert not waiting.done()
    release.set()
    await slow
    entry = await waiting  # b's tree had 1 entry, the database 2: caught up under the lock
    assert entry["seq"] == 2 and (await b.log(meeting_id)).size == 3

    async with sessionmaker(pg_engines[0])() as s:
        seqs = (
            await s.scalars(
                select(MinutesEntry.seq)
                .where(MinutesEntry.meeting_id == meeting_id)
                .order_by(MinutesEntry.seq)
            )
        ).all()
    assert seqs == [0, 1, 2]
    note = await b.checkpoint_now(meeting_id)
    assert note is not None and "\n3\n" in note
    log = await b.log(meeting_id)
    report = verify_bundle(log.export(b.signer(meeting_id).verifier_key).to_json())
    # one consistent signed log; only the seal is missing (the meeting is still open)
    assert set(report.locations()) == {"seal"} and not report.closed, report.summary()


@pytest.fixture(params=["sqlite", "postgresql"])
async def any_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database()
    engine = create_engine(url)
    await upgrade_schema(engine)
    yield engine
    await engine.dispose()


async def test_the_database_refuses_a_second_entry_at_the_same_seq(any_engine) -> None:
    meeting_id = await _seed_meeting(any_engine)
    db = sessionmaker(any_engine)
    async with db() as s, s.begin():
        s.add(MinutesEntry(meeting_id=meeting_id, seq=0, type="x", canonical="{}"))
    with pytest.raises(IntegrityError):
        async with db() as s, s.begin():
            s.add(MinutesEntry(meeting_id=meeting_id, seq=0, type="y", canonical="{}"))


@pytest.mark.both_stores
async def test_server_runs_on_the_configured_store(server: Server, store) -> None:
    expected = "postgresql" if store else "sqlite"
    assert server.svc.engine.dialect.name == expected


@pytest.mark.both_stores
async def test_ballots_cast_at_once_share_commits_and_all_count(sign_in, server: Server) -> None:
    chair, members = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    ballots = server.svc.procedure.ballots
    before = ballots.commits
    acks = await asyncio.gather(
        *(
            m.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [i % 2]})
            for i, m in enumerate(members)
        )
    )
    assert all(a["ok"] for a in acks), acks
    assert ballots.commits - before < len(members)  # group commit: fewer commits than ballots
    update = await seen(chair, "tally_updated", lambda d: d["voted"] == 6)
    assert update["tally"]["counts"] == [3, 3, 0]
