"""The seal is final: after close, presence is not a minutes fact; after the seal, nothing
is appended to the meeting's log (a precise error and a log line, never a silent unseal)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from meetingd.http import http_status
from meetingd.journal import Journal, MinutesSealed
from meetingd.storage.models import MinutesEntry

from .conftest import Server, wait_for
from .procedure_helpers import quorate_meeting


async def _types(server: Server) -> list[str]:
    async with server.svc.db() as s:
        return list(
            (
                await s.scalars(
                    select(MinutesEntry.type).where(MinutesEntry.meeting_id == 1).order_by(MinutesEntry.seq)
                )
            ).all()
        )


async def test_members_leaving_after_the_seal_do_not_unseal_the_minutes(server, sign_in) -> None:
    chair, members = await quorate_meeting(sign_in)
    live = server.svc.procedure._lives[1]
    assert live.quorum.to_dict()["quorate"] is True
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    status, body = await chair.call("POST", "/api/meetings/1/minutes/seal", {"lang": "en"})
    assert status == 200 and body["minutes"]["sealed"] is not None, body
    sealed = await _types(server)
    assert sealed[-1] == "minutes_rendered"
    for m in members:  # members close their tabs; the grace period (1 s here) runs out
        assert m.sio is not None
        await m.sio.disconnect()
    await wait_for(lambda: live.quorum.to_dict()["quorate"] is False, seconds=10)
    state = server.svc.journal._states[1]
    async with state.lock:  # any write the quorum flip started has finished
        pass
    assert await _types(server) == sealed
    status, body = await chair.call("GET", "/api/meetings/1/minutes")
    assert body["minutes"]["sealed"] is not None and body["minutes"]["sealed"]["seq"] == len(sealed) - 1


async def test_the_journal_refuses_any_append_after_the_seal(server, sign_in, caplog) -> None:
    chair, _members = await quorate_meeting(sign_in)
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    assert (await chair.call("POST", "/api/meetings/1/minutes/seal", {"lang": "en"}))[0] == 200
    before = await _types(server)
    caplog.set_level(logging.ERROR, logger="meetingd.journal")
    with pytest.raises(MinutesSealed) as info:
        async with server.svc.journal.transaction(1) as tx:
            tx.record("secretary_note", text="a late note")
    assert info.value.code == "minutes_sealed" and http_status(info.value) == 409
    assert "meeting=1 refused minutes entry type=secretary_note" in caplog.text
    assert await _types(server) == before
    # a fresh journal over the same database (a restart) knows the seal from storage
    svc = server.svc
    fresh = Journal(svc.db, svc.journal.key, svc.config.minutes.origin_prefix, svc.clock)
    with pytest.raises(MinutesSealed):
        async with fresh.transaction(1) as tx:
            tx.record("meeting_closed", by="C1-CHAIR")
    async with svc.db() as s:
        assert await s.scalar(select(func.count()).select_from(MinutesEntry)) == len(before)


async def test_presence_after_close_is_not_recorded_before_the_seal(server, sign_in) -> None:
    chair, members = await quorate_meeting(sign_in)
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    closed = await _types(server)
    assert closed[-1] == "meeting_closed"
    with pytest.raises(Exception) as info:
        async with server.svc.journal.transaction(1) as tx:
            tx.record("quorum_lost", present=1, entitled=10, required=6, rule="")
    assert getattr(info.value, "code", None) == "meeting_closed"
    live = server.svc.procedure._lives[1]
    for m in members:
        assert m.sio is not None
        await m.sio.disconnect()
    await wait_for(lambda: live.quorum.to_dict()["quorate"] is False, seconds=10)
    async with server.svc.journal._states[1].lock:
        pass
    assert await _types(server) == closed
