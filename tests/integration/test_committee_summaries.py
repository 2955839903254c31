"""Each closed meeting's participation summary is stored once, when its minutes are signed."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from meetingd.committee.summaries import Counted, MeetingSummaries
from meetingd.committee.synthetic import seed_organisation
from meetingd.demo import DEMO_CELL
from meetingd.storage.models import MinutesCheckpoint
from meetingd.storage.participation_models import MeetingSummaryRow
from recorder.participation import MeetingSummary

from .conftest import Server


async def _latest(server: Server, meeting_id: int) -> int:
    async with server.svc.db() as s:
        return int(
            await s.scalar(
                select(func.max(MinutesCheckpoint.size)).where(MinutesCheckpoint.meeting_id == meeting_id)
            )
            or 0
        )


async def _row(server: Server, meeting_id: int) -> MeetingSummaryRow | None:
    async with server.svc.db() as s:
        return await s.get(MeetingSummaryRow, meeting_id)


async def test_a_meeting_gets_its_summary_when_it_closes_and_its_seal_only_moves_it_forward(
    sign_in, server: Server
) -> None:
    svc = server.svc
    summaries = svc.committee.figures.summaries
    chair = await sign_in("C1-CHAIR")
    assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
    assert (await chair.join())["ok"]
    for mid in ("C1-001", "C1-002"):
        assert (await (await sign_in(mid)).join(attendance="remote"))["ok"]
    await svc.journal.checkpoint_now(1)
    assert await _row(server, 1) is None  # an open meeting has no summary, signed or not
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200

    closing = await _row(server, 1)  # written by the closing checkpoint, before any report
    assert closing is not None and closing.size == await _latest(server, 1)
    summary = MeetingSummary.from_dict(json.loads(closing.summary))
    assert summary.closed_at and sorted(summary.attended) == ["C1-001", "C1-002", "C1-CHAIR"]
    computed = summaries.computed

    await svc.minutes.seal(1, "en")
    sealed = await _row(server, 1)
    assert sealed is not None and sealed.size == await _latest(server, 1) == closing.size + 1
    assert sealed.root != closing.root and sealed.summary == closing.summary  # moved, not refolded
    assert summaries.computed == computed

    rep = await svc.committee.org.import_csv(
        f"kind,key,name,parent\ncommittee,K-S,Seal test,\ncell,{DEMO_CELL},,K-S\n", "test"
    )
    assert rep.cells == 1
    async with svc.db() as s:
        from meetingd.storage.org_models import CommitteeRow

        cid = int(await s.scalar(select(CommitteeRow.id).where(CommitteeRow.code == "K-S")) or 0)
    today = svc.clock().date()
    data = await svc.committee.figures.committee(None, cid, date(today.year - 1, 1, 1), today, 3)
    assert summaries.computed == computed  # the report aggregates stored summaries
    assert data["figures"]["totals"]["attended"] == 3
    assert data["bundles"] == [
        {"meeting_id": "1", "origin": svc.journal.origin(1), "size": sealed.size, "root": sealed.root}
    ]


def _by_meeting(counted: list[Counted]) -> dict[str, tuple[MeetingSummary, int, str]]:
    return {c.summary.meeting_id: (c.summary, c.size, c.root) for c in counted}


async def test_meetings_closed_before_get_their_summary_on_first_use_and_only_once(server: Server) -> None:
    svc = server.svc
    # written in bulk, as a database from before the summaries existed: no listener ran
    org = await seed_organisation(svc, cells=2, members_per_cell=5, months=2, code="K-B")
    async with svc.db() as s:
        assert await s.scalar(select(func.count()).select_from(MeetingSummaryRow)) == 0
    first = MeetingSummaries(svc.db, svc.journal, svc.clock)
    got = await first.of(org.meeting_ids)
    assert first.computed == len(got) == len(org.meeting_ids) == 4
    again = MeetingSummaries(svc.db, svc.journal, svc.clock)  # another process: from the rows
    assert _by_meeting(await again.of(org.meeting_ids)) == _by_meeting(got)
    assert again.computed == 0
    # a row gone (or of an older format) is computed again, alone
    async with svc.db() as s, s.begin():
        gone = await s.get(MeetingSummaryRow, org.meeting_ids[0])
        assert gone is not None
        await s.delete(gone)
        older = await s.get(MeetingSummaryRow, org.meeting_ids[1])
        assert older is not None
        older.format = "meetingd-meeting-summary/v1"
    third = MeetingSummaries(svc.db, svc.journal, svc.clock)
    assert _by_meeting(await third.of(org.meeting_ids)) == _by_meeting(got)
    assert third.computed == 2
