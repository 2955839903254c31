"""The demo seeding: a reset adds a new scheduled demo meeting; ``vi`` content is Vietnamese."""

from __future__ import annotations

from sqlalchemy import func, select

from meetingd.app import services_key
from meetingd.demo import COMMITTEE_OFFICER, CONTENT, DEMO_CELL, DEMO_COMMITTEE, HISTORY_MONTHS, seed_demo
from meetingd.storage.models import Meeting
from meetingd.storage.participation_models import MeetingSummaryRow
from tests.integration.conftest import Server


async def test_demo_reset_adds_a_new_meeting_and_vi_content_is_vietnamese(server: Server) -> None:
    svc = server.app[services_key]
    async with svc.db() as s:
        before = list(await s.scalars(select(Meeting).order_by(Meeting.id)))
    created, _banner = await seed_demo(svc)  # already seeded: nothing new
    assert not created
    created, _banner = await seed_demo(svc, lang="vi", reset=True)
    assert created
    async with svc.db() as s:
        after = list(await s.scalars(select(Meeting).order_by(Meeting.id)))
    assert len(after) == len(before) + 1
    fresh = after[-1]
    assert fresh.title == CONTENT["vi"]["title"] == "Họp chi bộ thường kỳ tháng"
    assert fresh.place == CONTENT["vi"]["place"]
    assert fresh.state == "scheduled"


async def test_the_demo_committee_has_six_months_of_signed_meetings_on_its_page(
    sign_in, server: Server
) -> None:
    svc = server.svc
    created, banner = await seed_demo(svc, committee=True)
    assert created and any(COMMITTEE_OFFICER[0] in line for line in banner)
    async with svc.db() as s:
        first = await s.get(Meeting, 1)
        assert first is not None and first.state == "scheduled"  # the demo meeting keeps its id
        held = (await s.scalars(select(Meeting).where(Meeting.state == "closed"))).all()
        summaries = await s.scalar(select(func.count()).select_from(MeetingSummaryRow))
    assert len(held) == HISTORY_MONTHS == summaries  # each summary stored as its minutes were signed
    officer = await sign_in(COMMITTEE_OFFICER[0])
    status, body = await officer.call("GET", "/api/org")
    assert status == 200 and [c["code"] for c in body["tree"]["committees"]] == [DEMO_COMMITTEE]
    cid = body["tree"]["committees"][0]["id"]
    status, body = await officer.call("GET", f"/api/committees/{cid}/figures")
    assert status == 200, body
    report = body["report"]
    assert report["cells"] == [DEMO_CELL] and report["bundles_count"] == HISTORY_MONTHS
    totals = report["figures"]["totals"]
    assert totals["held"] == HISTORY_MONTHS and totals["entitled"] == 10 * HISTORY_MONTHS
    assert 0.5 < totals["attendance_rate"] < 1 and totals["polls"] == 2 * HISTORY_MONTHS
    again, _banner = await seed_demo(svc, committee=True)
    assert not again  # seeded once
