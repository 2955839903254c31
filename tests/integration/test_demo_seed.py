"""The demo seeding: a reset adds a new scheduled demo meeting; ``vi`` content is Vietnamese."""

from __future__ import annotations

from sqlalchemy import select

from meetingd.app import services_key
from meetingd.demo import CONTENT, seed_demo
from meetingd.storage.models import Meeting
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
