"""Each closed meeting's participation summary is stored once, when its minutes are signed."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime

from sqlalchemy import func, select, update

from meetingd.committee.figures import Figures
from meetingd.committee.summaries import Counted, MeetingSummaries
from meetingd.committee.synthetic import add_closed_meeting, seed_organisation
from meetingd.demo import DEMO_CELL
from meetingd.storage.fold_models import CommitteeFoldRow
from meetingd.storage.models import Cell, Meeting, Member, MinutesCheckpoint
from meetingd.storage.org_models import CommitteeRow
from meetingd.storage.participation_models import MeetingSummaryRow
from recorder.participation import MeetingSummary, committee_figures

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

    rep = await svc.committee.org.import_csv(
        f"kind,key,name,parent\ncommittee,K-S,Seal test,\ncell,{DEMO_CELL},,K-S\n", "test"
    )
    assert rep.cells == 1
    async with svc.db() as s:
        cid = int(await s.scalar(select(CommitteeRow.id).where(CommitteeRow.code == "K-S")) or 0)
    today = svc.clock().date()
    figures = svc.committee.figures
    closed = await figures.committee(None, cid, date(today.year - 1, 1, 1), today, 3)
    assert summaries.computed == computed  # the report aggregates stored summaries
    assert closed["figures"]["totals"]["attended"] == 3
    folds = figures.folds

    await svc.minutes.seal(1, "en")
    sealed = await _row(server, 1)
    assert sealed is not None and sealed.size == await _latest(server, 1) == closing.size + 1
    assert sealed.root != closing.root and sealed.summary == closing.summary  # moved, not refolded
    assert summaries.computed == computed

    data = await figures.committee(None, cid, date(today.year - 1, 1, 1), today, 3)
    assert data["bundles"] == [
        {"meeting_id": "1", "origin": svc.journal.origin(1), "size": sealed.size, "root": sealed.root}
    ]
    assert data["figures"] == closed["figures"] and figures.folds == folds  # same contents: not refolded


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


async def test_a_new_process_extends_the_stored_fold_with_only_the_meetings_closed_since(
    server: Server,
) -> None:
    svc = server.svc
    org = await seed_organisation(svc, cells=3, members_per_cell=5, months=4, code="K-F")
    start, end = date(2025, 1, 1), date(2025, 12, 31)

    def new_process() -> Figures:
        return Figures(svc.db, MeetingSummaries(svc.db, svc.journal, svc.clock))

    first = new_process()
    await first.committee(None, org.committee_id, start, end, 2)
    await first.flush()  # the fold is stored after the answer
    assert (first.folds, first.extended) == (1, 0)
    async with svc.db() as s:
        assert await s.scalar(select(func.count()).select_from(CommitteeFoldRow)) == 1

    # one more meeting closes, earlier than the cell's last one (a late close), while no process
    # has the fold in memory: the next process folds in that meeting and refolds only its people
    async with svc.db() as s:
        rows = await s.execute(
            select(Member.member_id, Member.full_name, Member.id)
            .where(Member.cell_id == org.cell_ids[1])
            .order_by(Member.member_id)
        )
        people = [(m, n, pk) for m, n, pk in rows.all()]
        cell = str(await s.scalar(select(Cell.name).where(Cell.id == org.cell_ids[1])))
    await add_closed_meeting(
        svc, random.Random(3), org.cell_ids[1], cell, people, datetime(2025, 2, 20, 9, tzinfo=UTC)
    )
    second = new_process()
    data = await second.committee(None, org.committee_id, start, end, 2)
    assert (second.folds, second.extended) == (0, 1)
    assert second.summaries.decoded < len(org.meeting_ids)  # the new one and its people's history only

    async with svc.db() as s:
        ids = list((await s.scalars(select(Meeting.id).where(Meeting.state == "closed"))).all())
    every = await MeetingSummaries(svc.db, svc.journal, svc.clock).of(ids)
    full = committee_figures(
        [c.summary for c in every],
        cells=data["cells"],
        scheduled=data["scheduled"],
        start=start.isoformat(),
        end=end.isoformat(),
        absent_run=2,
    )
    assert json.dumps(data["figures"]) == json.dumps(full)
    assert len(data["bundles"]) == data["figures"]["totals"]["held"] == len(org.meeting_ids) + 1

    # a seal moves one meeting's checkpoint: the fold is retagged, not changed; the page agrees
    await svc.minutes.seal(org.meeting_ids[0], "en")
    page = await second.committee(None, org.committee_id, start, end, 2, page=True)
    assert second.extended == 1 and page["figures"] == {
        k: v for k, v in full.items() if k not in ("members", "polls")
    }

    # a stored fold made by other code is not used: folded from nothing again
    await second.flush()
    async with svc.db() as s, s.begin():
        await s.execute(update(CommitteeFoldRow).values(state='{"v": "meetingd-committee-fold/v0"}'))
    third = new_process()
    again = await third.committee(None, org.committee_id, start, end, 2)
    assert third.folds == 1 and json.dumps(again["figures"]) == json.dumps(full)

    # another period (the page's default moves daily): the stored fold is moved to it, not refolded
    await third.flush()
    fourth = new_process()
    later = date(2025, 2, 1)
    moved = await fourth.committee(None, org.committee_id, later, end, 2)
    assert fourth.folds == 0  # the January meetings left it; nothing was folded from nothing
    want = committee_figures(
        [c.summary for c in every],
        cells=moved["cells"],
        scheduled=moved["scheduled"],
        start=later.isoformat(),
        end=end.isoformat(),
        absent_run=2,
    )
    assert json.dumps(moved["figures"]) == json.dumps(want)
