"""Meeting facts reach the signed minutes log in the same transaction, and it verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from meetingd.storage.models import MinutesCheckpoint, MinutesEntry
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
