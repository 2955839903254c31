"""A synthetic organisation with a year of closed meetings, for the benchmark and tests.

Every meeting's minutes are a real signed log: entries in the shapes the daemon records,
appended to a :class:`recorder.minutes_log.MinutesLog` under the meeting's origin and
signed with the server's minutes key (``journal.signer``), then stored in bulk exactly
where the journal stores them. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from meeting.clock import iso
from recorder.minutes_log import MinutesLog
from voting.ballot_box import BallotBox, BallotCast, VoterMarked
from voting.poll import BallotKind, Poll, PollConfig
from voting.rules import Counts

from ..services import CoreServices
from ..storage.models import Cell, Meeting, Member, MinutesCheckpoint, MinutesEntry, Participant
from ..storage.org_models import CellCommittee, CommitteeOfficer, CommitteeRow

MODES = ("main_room", "main_room", "main_room", "remote", "remote", "sub_site")


def _poll_fields(d: dict[str, Any], poll_id: int) -> dict[str, Any]:
    """A voting event as the daemon records it (integer poll id, no ``type``)."""
    return {**{k: v for k, v in d.items() if k != "type"}, "poll_id": poll_id}


def _opened(poll: Poll, now: datetime, quorate: bool) -> dict[str, Any]:
    """Open a poll (without quorum the chair overrides, as in a real meeting)."""
    return poll.open(now, quorate, override=not quorate).to_dict()


@dataclass(frozen=True)
class SyntheticOrg:
    committee_id: int
    committee_code: str
    cell_ids: list[int]
    meeting_ids: list[int]
    members: int
    entries: int


def meeting_entries(
    rng: random.Random,
    meeting_id: int,
    cell: str,
    people: list[tuple[str, str]],
    opened: datetime,
    *,
    attend_rate: float,
    skip: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One meeting's minutes entries (without seq): people[0] chairs, people[1] takes notes."""
    out: list[dict[str, Any]] = []
    t = opened

    def tick() -> datetime:
        nonlocal t
        t += timedelta(seconds=rng.randint(1, 40))
        return t

    def add(type: str, **fields: Any) -> None:
        out.append({"at": iso(tick()), **fields, "type": type, "meeting_id": meeting_id})

    roles = ["chair", "secretary"] + ["member"] * (len(people) - 2)
    add(
        "meeting_opened",
        by=people[0][0],
        title="Monthly cell meeting",
        cell=cell,
        place="Hall",
        scheduled_for=iso(opened),
        agenda=[{"position": 1, "title": "Report"}, {"position": 2, "title": "Decisions"}],
        sites=[{"id": 1, "name": "Post"}],
        participants=[
            {"member_id": m, "full_name": n, "role": r} for (m, n), r in zip(people, roles, strict=True)
        ],
    )
    present = [
        m for i, (m, _) in enumerate(people) if i < 2 or (m not in skip and rng.random() < attend_rate)
    ]
    for m in present:
        mode = rng.choice(MODES)
        add(
            "member_checked_in" if mode != "remote" else "member_joined",
            member_id=m,
            attendance=mode,
            **({"site": "Post"} if mode == "sub_site" else {}),
        )
    if len(present) * 2 > len(people):
        add(
            "quorum_reached",
            present=len(present),
            entitled=len(people),
            required=len(people) // 2 + 1,
            rule="more than half",
        )
    for pos in (1, 2):
        add("agenda_item_started", position=pos, title="Report" if pos == 1 else "Decisions")
        for m in rng.sample(present, min(len(present), rng.randint(1, 4))):
            add("floor_given", member_id=m)
            add("speech_ended", member_id=m, duration_ms=rng.randint(20_000, 240_000))
    # Open polls only: a secret poll takes encrypted ballots, which need trustees' keys
    # (voting.e2e); its participation figure (the fact of voting) is tested with real ones.
    for n, kind in enumerate((BallotKind.OPEN, BallotKind.OPEN), start=1):
        poll_id = meeting_id * 10 + n
        poll = Poll(str(poll_id), PollConfig.motion(f"Motion {n}", kind=kind))
        box = BallotBox(poll, token=rng.randbytes)
        add(
            "poll_opened",
            **_poll_fields(_opened(poll, tick(), len(present) * 2 > len(people)), poll_id),
            by=people[0][0],
        )
        for m in present:
            if rng.random() < 0.9:
                cast = box.cast(m, f"{m}-{poll_id:08d}-ballot", [rng.randint(0, 2)], tick(), True)
                for ev in cast.events:
                    if isinstance(ev, BallotCast):
                        add("ballot_cast", **_poll_fields(ev.to_dict(), poll_id))
                    elif isinstance(ev, VoterMarked):
                        add("voter_marked", poll_id=poll_id, voter_id=ev.voter_id)
        add("poll_closed", **_poll_fields(poll.close(tick()).to_dict(), poll_id), by=people[0][0])
        result = box.result(Counts(entitled=len(people), present=len(present)))
        add(
            "poll_result",
            **_poll_fields(result.to_dict(), poll_id),
            counts={"entitled": len(people), "present": len(present)},
        )
    for m in present:
        add("member_left", member_id=m, reason="meeting_closed")
    add("meeting_closed", by=people[0][0])
    return out


async def seed_organisation(
    svc: CoreServices,
    *,
    cells: int = 200,
    members_per_cell: int = 50,
    months: int = 12,
    seed: int = 14,
    year: int = 2025,
    first_month: int = 1,
    code: str = "K-SYN",
) -> SyntheticOrg:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by design
    now = svc.clock()
    async with svc.db() as s, s.begin():
        com = CommitteeRow(code=code, name="Synthetic committee")
        s.add(com)
        await s.flush()
        cell_rows = [Cell(name=f"{code} cell {i:03d}") for i in range(cells)]
        s.add_all(cell_rows)
        await s.flush()
        s.add_all([CellCommittee(cell_id=c.id, committee_id=com.id) for c in cell_rows])
        committee_id, cell_ids = com.id, [c.id for c in cell_rows]
    people: dict[int, list[tuple[str, str]]] = {}
    member_rows = []
    for ci, cell_id in enumerate(cell_ids):
        people[cell_id] = [(f"{code}-{ci:03d}-{j:03d}", f"Member {ci}.{j}") for j in range(members_per_cell)]
        member_rows += [
            {
                "member_id": mid,
                "full_name": name,
                "cell_id": cell_id,
                "contact": "",
                "status": "active",
                "is_admin": False,
                "language": "en",
                "created_at": now,
            }
            for mid, name in people[cell_id]
        ]
    async with svc.db() as s, s.begin():
        await s.execute(insert(Member), member_rows)
    async with svc.db() as s:
        pks = dict(
            (
                await s.execute(select(Member.member_id, Member.id).where(Member.member_id.like(f"{code}-%")))
            ).all()
        )
    async with svc.db() as s, s.begin():
        s.add(
            CommitteeOfficer(
                committee_id=committee_id,
                member_pk=pks[people[cell_ids[0]][0][0]],
                title="committee secretary",
            )
        )
    meeting_ids: list[int] = []
    total = 0
    for month in range(months):
        n = first_month - 1 + month
        opened_base = datetime(year + n // 12, n % 12 + 1, 10, 8, 0, tzinfo=UTC)
        batch_meetings, batch_parts, batch_entries, batch_cps = [], [], [], []
        plans = []
        for ci, cell_id in enumerate(cell_ids):
            opened = opened_base + timedelta(days=ci % 10, hours=ci % 5)
            did_meet = not (ci % 67 == 5 and month in (3, 4))  # a few cells skip a month or two
            plans.append((cell_id, ci, opened, did_meet))
            batch_meetings.append(
                {
                    "title": "Monthly cell meeting",
                    "cell_id": cell_id,
                    "place": "Hall",
                    "starts_at": opened,
                    "state": "closed" if did_meet else "scheduled",
                    "opened_at": opened if did_meet else None,
                    "closed_at": opened + timedelta(hours=2) if did_meet else None,
                }
            )
        async with svc.db() as s, s.begin():
            result = await s.execute(insert(Meeting).returning(Meeting.id), batch_meetings)
            ids = [r[0] for r in result.all()]
        for (cell_id, ci, opened, did_meet), mid in zip(plans, ids, strict=True):
            meeting_ids.append(mid)
            batch_parts += [
                {"meeting_id": mid, "member_pk": pks[m], "role": r, "site_id": None}
                for (m, _), r in zip(
                    people[cell_id], ["chair", "secretary"] + ["member"] * (members_per_cell - 2), strict=True
                )
            ]
            if not did_meet:
                continue
            rate = 0.45 if ci % 50 == 7 else 0.85  # a few cells rarely reach quorum
            skip = frozenset({people[cell_id][-1][0]}) if ci % 20 == 3 else frozenset()
            entries = meeting_entries(
                rng, mid, f"{code} cell {ci:03d}", people[cell_id], opened, attend_rate=rate, skip=skip
            )
            log = MinutesLog(svc.journal.origin(mid))
            for seq, e in enumerate(entries):
                e["seq"] = seq
                canonical = log.append(e).canonical.decode("utf-8")
                batch_entries.append(
                    {"meeting_id": mid, "seq": seq, "type": e["type"], "canonical": canonical}
                )
            note = log.checkpoint(svc.journal.signer(mid))
            batch_cps.append({"meeting_id": mid, "size": log.size, "note": note, "at": now})
            total += log.size
        async with svc.db() as s, s.begin():
            await s.execute(insert(Participant), batch_parts)
            await s.execute(insert(MinutesEntry), batch_entries)
            await s.execute(insert(MinutesCheckpoint), batch_cps)
    return SyntheticOrg(committee_id, code, cell_ids, meeting_ids, len(member_rows), total)


async def add_closed_meeting(
    svc: CoreServices,
    rng: random.Random,
    cell_id: int,
    cell: str,
    people: list[tuple[str, str, int]],
    opened: datetime,
    *,
    title: str = "Monthly cell meeting",
    attend_rate: float = 0.85,
) -> int:
    """One more closed meeting of ``cell`` with a real signed log (``people``: member id,
    name, member pk; the first chairs, the second takes notes), its checkpoint then handed
    to the committee's summaries as the journal hands a closing checkpoint."""
    async with svc.db() as s, s.begin():
        meeting = Meeting(
            title=title,
            cell_id=cell_id,
            place="Hall",
            starts_at=opened,
            state="closed",
            opened_at=opened,
            closed_at=opened + timedelta(hours=2),
        )
        s.add(meeting)
        await s.flush()
        mid = meeting.id
        roles = ["chair", "secretary"] + ["member"] * (len(people) - 2)
        s.add_all(
            [
                Participant(meeting_id=mid, member_pk=pk, role=r, site_id=None)
                for (_, _, pk), r in zip(people, roles, strict=True)
            ]
        )
        log = MinutesLog(svc.journal.origin(mid))
        entries = meeting_entries(
            rng, mid, cell, [(m, n) for m, n, _ in people], opened, attend_rate=attend_rate
        )
        for seq, e in enumerate(entries):
            e["seq"] = seq
            text = log.append(e).canonical.decode("utf-8")
            s.add(MinutesEntry(meeting_id=mid, seq=seq, type=e["type"], canonical=text))
        s.add(
            MinutesCheckpoint(
                meeting_id=mid, size=log.size, note=log.checkpoint(svc.journal.signer(mid)), at=svc.clock()
            )
        )
    await svc.committee.figures.summaries.meeting_signed(mid, log.size)
    return int(mid)
