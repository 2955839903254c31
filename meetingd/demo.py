"""The demo organisation: one cell, its officers and members, an island post, a meeting.

With ``committee=True`` (``meetingd serve --demo``; not the tests' fixture) also the
committee above the cell, its officer, and six monthly meetings already held, each with
its signed minutes, so the committee page shows real figures."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from .committee.synthetic import add_closed_meeting
from .passwords import hash_password
from .services import Services
from .storage.models import Cell, Member, Site
from .storage.org_models import CellCommittee, CommitteeOfficer, CommitteeRow

DEMO_PASSWORD = "demo-meeting-2026"  # noqa: S105 - public by design: printed for the demo data
DEMO_CELL = "Cell 1 - Harbour Ward"  # the English demo's cell (CONTENT names each language's)

PEOPLE: list[tuple[str, str, str]] = [
    ("C1-CHAIR", "Nguyễn Văn An", "chair"),
    ("C1-SEC", "Trần Thị Bình", "secretary"),
    ("C1-001", "Lê Minh Châu", "member"),
    ("C1-002", "Phạm Quốc Dũng", "member"),
    ("C1-003", "Hoàng Thu Hà", "member"),
    ("C1-004", "Vũ Đức Hải", "member"),
    ("C1-005", "Đặng Thị Lan", "member"),
    ("C1-006", "Bùi Văn Long", "member"),
    ("C1-007", "Đỗ Thị Mai", "member"),
    ("C1-008", "Ngô Thanh Nam", "member"),
    ("C1-ISL-OP", "Lý Văn Phúc", "operator"),
]
OBSERVER = ("G-OBS1", "Dương Thị Quyên")
COMMITTEE_OFFICER = ("K1-SEC", "Trịnh Minh Sơn")
DEMO_COMMITTEE = "K-DEMO"
HISTORY_MONTHS = 6
AGENDA = [
    "Opening and approval of the agenda",
    "Report on the quarter's activities",
    "Budget for the island post's new equipment",
    "Election of the delegate to the district conference",
    "Any other business",
]

# The demo meeting's content in each language the client speaks (``--demo-lang``).
CONTENT: dict[str, dict[str, Any]] = {
    "en": {
        "cell": DEMO_CELL,
        "guests": "Guests",
        "title": "Monthly cell meeting",
        "place": "Ward hall, room 2",
        "site": "Island post",
        "agenda": AGENDA,
        "committee": "Harbour district committee",
    },
    "vi": {
        "cell": "Chi bộ 1 - Phường Bến Cảng",
        "guests": "Khách mời",
        "title": "Họp chi bộ thường kỳ tháng",
        "place": "Hội trường phường, phòng 2",
        "site": "Đảo Xanh",
        "agenda": [
            "Khai mạc và thông qua chương trình",
            "Báo cáo hoạt động quý",
            "Ngân sách trang bị mới cho điểm đảo",
            "Bầu đại biểu dự đại hội cấp quận",
            "Các vấn đề khác",
        ],
        "committee": "Đảng ủy phường Cảng",
    },
}


async def seed_demo(
    svc: Services, lang: str = "en", reset: bool = False, committee: bool = False
) -> tuple[bool, list[str]]:
    """Create the demo data unless it exists. Returns (created, banner lines).

    ``lang`` ("en" or "vi") is the language of the meeting's content and of the
    members' saved language. ``reset`` starts the demo anew on existing data: a new
    scheduled demo meeting (the old one, closed or not, and its signed minutes stay).
    """
    content = CONTENT[lang]
    created = False
    async with svc.db() as s:
        # the demo's cell, whichever language seeded it
        cell = await s.scalar(select(Cell).where(Cell.name.in_([c["cell"] for c in CONTENT.values()])))
    if cell is not None and reset:
        async with svc.db() as s:
            site_id = await s.scalar(select(Site.id).where(Site.cell_id == cell.id))
            guest = await s.scalar(select(Member.member_id).where(Member.member_id == OBSERVER[0]))
        start = (svc.clock() + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        await svc.meetings.create(
            {
                "title": content["title"],
                "cell_id": cell.id,
                "place": content["place"],
                "starts_at": start,
                "agenda": content["agenda"],
                "chair": "C1-CHAIR",
                "secretary": "C1-SEC",
                "guests": [guest] if guest else [],
                "sites": [site_id] if site_id else [],
            }
        )
        created = True
    if cell is None:
        created = True
        now = svc.clock()
        async with svc.db() as s, s.begin():
            cell = Cell(name=content["cell"])
            guests = Cell(name=content["guests"])
            s.add_all([cell, guests])
            await s.flush()
            rows = {}
            for mid, name, role in PEOPLE:
                rows[mid] = Member(
                    member_id=mid,
                    full_name=name,
                    cell_id=cell.id,
                    contact=f"{mid.lower()}@example.org",
                    status="active",
                    is_admin=role == "chair",
                    language=lang,
                    created_at=now,
                )
            rows[OBSERVER[0]] = Member(
                member_id=OBSERVER[0],
                full_name=OBSERVER[1],
                cell_id=guests.id,
                contact="",
                status="active",
                is_admin=False,
                language=lang,
                created_at=now,
            )
            s.add_all(rows.values())
            await s.flush()
            island = Site(cell_id=cell.id, name=content["site"], operator_id=rows["C1-ISL-OP"].id)
            s.add(island)
            await s.flush()
            island_id = island.id
        # One Argon2id hash for every demo account: the demo password is public anyway,
        # and hashing it a dozen times makes every start (and every test) slower.
        hashed = hash_password(DEMO_PASSWORD)
        async with svc.db() as s, s.begin():
            await s.execute(
                update(Member)
                .where(Member.id.in_([m.id for m in rows.values()]))
                .values(password_hash=hashed)
            )
        start = (now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        await svc.meetings.create(
            {
                "title": content["title"],
                "cell_id": cell.id,
                "place": content["place"],
                "starts_at": start,
                "agenda": content["agenda"],
                "chair": "C1-CHAIR",
                "secretary": "C1-SEC",
                "guests": [OBSERVER[0]],
                "sites": [island_id],
            }
        )
    banner = [
        f"Demo meeting ready. Sign in with any of these member ids, password '{DEMO_PASSWORD}':",
        "  C1-CHAIR (chair, administrator), C1-SEC (secretary), C1-001 .. C1-008 (members),",
        "  C1-ISL-OP (Island post operator), G-OBS1 (observer)",
    ]
    if committee:
        created = await seed_demo_committee(svc, lang) or created
        banner.append(
            f"  {COMMITTEE_OFFICER[0]} (committee officer: Organisation, then the committee's page)"
        )
    return created, banner


def _months_back(now: datetime, k: int) -> datetime:
    """The 10th of the month ``k`` months before ``now``, 08:00 UTC."""
    n = now.year * 12 + now.month - 1 - k
    return datetime(n // 12, n % 12 + 1, 10, 8, 0, tzinfo=UTC)


async def seed_demo_committee(svc: Services, lang: str = "en") -> bool:
    """The committee over the demo cell, its officer and the cell's last months of meetings,
    held and closed with signed minutes (once: nothing is added if the committee exists)."""
    async with svc.db() as s:
        if await s.scalar(select(CommitteeRow.id).where(CommitteeRow.code == DEMO_COMMITTEE)) is not None:
            return False
        cell = await s.scalar(select(Cell).where(Cell.name == DEMO_CELL))
        guests = await s.scalar(select(Cell.id).where(Cell.name == "Guests"))
        voters = [mid for mid, _, role in PEOPLE if role in ("chair", "secretary", "member")]
        rows = {m.member_id: m for m in await s.scalars(select(Member).where(Member.member_id.in_(voters)))}
        hashed = await s.scalar(select(Member.password_hash).where(Member.member_id == voters[0]))
    if cell is None or guests is None:
        return False
    now = svc.clock()
    async with svc.db() as s, s.begin():
        com = CommitteeRow(code=DEMO_COMMITTEE, name=CONTENT[lang]["committee"])
        officer = Member(
            member_id=COMMITTEE_OFFICER[0],
            full_name=COMMITTEE_OFFICER[1],
            cell_id=guests,
            contact=f"{COMMITTEE_OFFICER[0].lower()}@example.org",
            status="active",
            is_admin=False,
            language=lang,
            created_at=now,
            password_hash=hashed,
        )
        s.add_all([com, officer])
        await s.flush()
        s.add_all(
            [
                CellCommittee(cell_id=cell.id, committee_id=com.id),
                CommitteeOfficer(committee_id=com.id, member_pk=officer.id, title="committee secretary"),
            ]
        )
    people = [(mid, rows[mid].full_name, rows[mid].id) for mid in voters]
    rng = random.Random(2026)  # noqa: S311 - demo data, the same every time
    for k in range(HISTORY_MONTHS, 0, -1):
        await add_closed_meeting(
            svc,
            rng,
            cell.id,
            DEMO_CELL,
            people,
            _months_back(now, k),
            title=CONTENT[lang]["title"],
            attend_rate=0.8,
        )
    return True
