"""Meeting facts reach the signed minutes log in the same transaction, and it verifies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from meetingd.storage.models import AttendanceInterval, Member, MinutesCheckpoint, MinutesEntry, Participant
from recorder.verifier import verify_bundle

from .conftest import wait_for

pytestmark = pytest.mark.both_stores


async def test_meeting_facts_are_logged_checkpointed_and_verifiable(sign_in, server) -> None:
    chair = await sign_in("C1-CHAIR")
    member = await sign_in("C1-001")
    assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
    await member.join(attendance="main_room")
    await member.emit("leave", {})
    await wait_for(
        lambda: any(d["participant"]["state"] == "left" for d in chair.roster_changes("left")) or True
    )
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200

    async with server.svc.db() as s:
        rows = (
            await s.scalars(
                select(MinutesEntry).where(MinutesEntry.meeting_id == 1).order_by(MinutesEntry.seq)
            )
        ).all()
        checkpoints = (await s.scalars(select(MinutesCheckpoint))).all()
    types = [r.type for r in rows]
    assert types == ["meeting_opened", "member_joined", "member_left", "meeting_closed"]
    assert [r.seq for r in rows] == [0, 1, 2, 3]
    joined = json.loads(rows[1].canonical)
    assert joined["member_id"] == "C1-001" and joined["attendance"] == "main_room"
    assert joined["at"].endswith("Z")
    assert checkpoints and checkpoints[-1].size == 4  # signed at close

    journal = server.svc.journal
    log = await journal.log(1)
    bundle = log.export(journal.signer(1).verifier_key)
    report = verify_bundle(bundle.to_json())
    # closed but not sealed yet: everything checks out except the seal
    assert report.locations() == ["seal"] and report.closed and not report.sealed, report.summary()
    bundle, _warnings = await server.svc.minutes.export(1)
    report = verify_bundle(bundle.to_json())
    assert report.status == "valid-unpinned", report.summary()


async def test_journal_survives_a_restart(tmp_path, store) -> None:
    from .conftest import start_server

    srv, runner = await start_server(tmp_path, **store)
    async with srv.svc.journal.transaction(1) as tx:
        tx.record("secretary_note", text="first")
    await srv.svc.journal.checkpoint_now(1)
    async with srv.svc.journal.transaction(1) as tx:
        tx.record("secretary_note", text="second")
    await runner.cleanup()  # graceful: signs what is pending

    srv, runner = await start_server(tmp_path, **store)
    try:
        log = await srv.svc.journal.log(1)
        assert log.size == 2
        async with srv.svc.journal.transaction(1) as tx:
            entry = tx.record("secretary_note", text="third")
        assert entry["seq"] == 2
        note = await srv.svc.journal.checkpoint_now(1)
        assert note is not None and "\n3\n" in note
    finally:
        await runner.cleanup()


async def _participants(server) -> dict[str, int]:
    """Meeting 1's participants: member id → member pk."""
    async with server.svc.db() as s:
        rows = await s.execute(
            select(Member.member_id, Member.id)
            .join(Participant, Participant.member_pk == Member.id)
            .where(Participant.meeting_id == 1)
        )
        return dict(rows.all())


async def test_a_join_storm_shares_commits_and_records_every_join_once(sign_in, server) -> None:
    """Attendance changes arriving together go to the minutes in one transaction (group
    commit), each in order and exactly once, and a bad one fails alone."""
    pks = await _participants(server)
    meetings = server.svc.meetings
    before = meetings._attendance.batches
    at = datetime.now(UTC)
    results = await asyncio.gather(
        *(meetings.start_interval(1, pk, "remote", None, at) for pk in pks.values()),
        meetings.start_interval(1, 10**9, "remote", None, at),  # no such member: refused alone
        return_exceptions=True,
    )
    assert all(r is None for r in results[:-1]), results
    assert isinstance(results[-1], Exception)
    # one shared commit that failed (the bad one inside), then each alone: at most 2 + n + 1
    assert meetings._attendance.batches - before <= len(pks) + 3
    await asyncio.gather(*(meetings.end_interval(1, pk, at) for pk in list(pks.values())[:3]))

    async with server.svc.db() as s:
        entries = [
            json.loads(c)
            for c in (
                await s.scalars(
                    select(MinutesEntry.canonical)
                    .where(MinutesEntry.meeting_id == 1)
                    .order_by(MinutesEntry.seq)
                )
            ).all()
        ]
        open_rows = (
            await s.scalars(
                select(AttendanceInterval.member_pk).where(
                    AttendanceInterval.meeting_id == 1, AttendanceInterval.left_at.is_(None)
                )
            )
        ).all()
    joined = [e["member_id"] for e in entries if e["type"] == "member_joined"]
    left = [e["member_id"] for e in entries if e["type"] == "member_left"]
    assert sorted(joined) == sorted(pks), "every join once"
    assert sorted(left) == sorted(list(pks)[:3])
    assert sorted(open_rows) == sorted(list(pks.values())[3:])
    assert [e["seq"] for e in entries] == list(range(len(entries)))


async def test_joins_queued_together_share_one_commit(server) -> None:
    pks = list((await _participants(server)).values())
    meetings = server.svc.meetings
    before = meetings._attendance.batches
    at = datetime.now(UTC)
    await asyncio.gather(*(meetings.start_interval(1, pk, "remote", None, at) for pk in pks))
    assert len(pks) >= 5
    assert meetings._attendance.batches - before == 1, "all submitted in one turn of the loop: one commit"


async def test_one_member_joining_twice_in_a_batch_keeps_one_open_interval(server) -> None:
    """The second change of a member in the same shared transaction sees the first's row."""
    pk = next(iter((await _participants(server)).values()))
    at = datetime.now(UTC)
    meetings = server.svc.meetings
    await asyncio.gather(
        meetings.start_interval(1, pk, "remote", None, at),
        meetings.start_interval(1, pk, "main_room", None, at),
    )
    async with server.svc.db() as s:
        open_rows = (
            await s.scalars(
                select(AttendanceInterval.attendance).where(
                    AttendanceInterval.member_pk == pk, AttendanceInterval.left_at.is_(None)
                )
            )
        ).all()
    assert list(open_rows) == ["main_room"]
