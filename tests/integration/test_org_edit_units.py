"""Committees and a cell's sub-sites changed row by row over HTTP, by those above each row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from meetingd.storage.models import Cell, Meeting, MeetingSite, Member, Participant, Site
from meetingd.storage.org_models import CommitteeRow
from meetingd.storage.security_models import SecurityEvent

from .conftest import Server
from .test_committee_access import log_entries, setup_org

WHY = {"reason": "the district was reorganised"}


async def _changes(server: Server) -> list[tuple[Any, ...]]:
    return [(e["change"], e["by"]) for e in await log_entries(server) if e["type"] == "org_changed"]


async def _refused(server: Server) -> list[tuple[Any, ...]]:
    return [(e["by"], e["change"]) for e in await log_entries(server) if e["type"] == "org_change_refused"]


async def test_committees_are_added_renamed_and_moved_by_those_above_them_and_logged(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    ids = await setup_org(server, admin)
    d1 = await sign_in("C1-001")  # an officer of K-D1 (under K-PROV)
    before = len(await _changes(server))

    # the district officer adds a committee under their own; it is in their tree at once
    status, body = await d1.call(
        "POST", "/api/org/committees", {"code": "K-D1-W", "name": "Ward 1", "parent_id": ids["K-D1"], **WHY}
    )
    assert status == 201, body
    ward = body["committee"]["id"]
    assert body["committee"] == {"id": ward, "code": "K-D1-W", "name": "Ward 1", "parent_id": ids["K-D1"]}
    status, body = await d1.call("GET", "/api/org")
    (top,) = body["tree"]["committees"]
    assert top["code"] == "K-D1" and [c["code"] for c in top["committees"]] == ["K-D1-W"]
    assert body["manage"]["change_committees"] == [ward] and body["manage"]["add_top"] is False
    # ... renames it (a committee below theirs)
    status, body = await d1.call("PATCH", f"/api/org/committees/{ward}", {"name": "Ward One", **WHY})
    assert status == 200 and body["committee"]["name"] == "Ward One"

    # outside their tree: not found; inside but not theirs to change: refused and recorded
    for method, path, payload in (
        ("POST", "/api/org/committees", {"code": "K-X", "name": "X", "parent_id": ids["K-D2"], **WHY}),
        ("PATCH", f"/api/org/committees/{ids['K-D2']}", {"name": "Mine", **WHY}),
        ("PATCH", f"/api/org/committees/{ward}", {"parent_id": ids["K-D2"], **WHY}),
        ("PATCH", "/api/org/committees/9999", {"name": "Y", **WHY}),
    ):
        status, body = await d1.call(method, path, payload)
        assert (status, body["error"]) == (404, "not_found"), (method, path, body)
    for method, path, payload in (
        ("POST", "/api/org/committees", {"code": "K-TOP2", "name": "Top", **WHY}),  # the top: admins only
        ("PATCH", f"/api/org/committees/{ids['K-D1']}", {"name": "Our district", **WHY}),  # their own
        ("PATCH", f"/api/org/committees/{ward}", {"parent_id": None, **WHY}),  # to the top
    ):
        status, body = await d1.call(method, path, payload)
        assert (status, body["error"]) == (403, "not_authorised"), (method, path, body)
    assert await _refused(server) == [
        ("C1-001", "committee_added"),
        ("C1-001", "committee_renamed"),
        ("C1-001", "committee_moved"),
    ]
    async with server.svc.db() as s:
        recorded = (
            await s.scalars(select(SecurityEvent.kind).where(SecurityEvent.kind == "org_change_refused"))
        ).all()
    assert len(recorded) == 3

    # a cycle is refused precisely, naming the chain; nothing moves
    status, body = await admin.call(
        "PATCH", f"/api/org/committees/{ids['K-PROV']}", {"parent_id": ward, **WHY}
    )
    assert (status, body["error"]) == (409, "committee_cycle"), body
    assert body["message"] == "K-PROV cannot go under K-D1-W: K-D1-W is below it (K-D1-W < K-D1 < K-PROV)"
    status, body = await admin.call("PATCH", f"/api/org/committees/{ward}", {"parent_id": ward, **WHY})
    assert (status, body["error"]) == (409, "committee_cycle")
    assert body["message"] == "K-D1-W cannot go under itself"
    async with server.svc.db() as s:
        assert await s.scalar(select(CommitteeRow.parent_id).where(CommitteeRow.id == ids["K-PROV"])) is None

    # bad input names the field; a taken code is a conflict
    for payload, field in (
        ({"code": "k-lower", "name": "x", **WHY}, "code"),
        ({"code": "K-OK", "name": "", **WHY}, "name"),
        ({"code": "K-OK", "name": "x", "parent_id": "K-D1", **WHY}, "parent_id"),
        ({"code": "K-OK", "name": "x"}, "reason"),
    ):
        status, body = await admin.call("POST", "/api/org/committees", payload)
        assert (status, body["error"], body["details"]["field"]) == (400, "invalid_input", field), body
    status, body = await admin.call("POST", "/api/org/committees", {"code": "K-D2", "name": "Again", **WHY})
    assert (status, body["error"]) == (409, "conflict")
    status, body = await admin.call("PATCH", f"/api/org/committees/{ward}", {"code": "K-NEW", **WHY})
    assert (status, body["error"]) == (400, "invalid_input")  # a code never changes

    # the administrator moves the ward to the other district, then to the top, and adds a top committee
    status, body = await admin.call("PATCH", f"/api/org/committees/{ward}", {"parent_id": ids["K-D2"], **WHY})
    assert status == 200 and body["committee"]["parent_id"] == ids["K-D2"]
    status, body = await d1.call("PATCH", f"/api/org/committees/{ward}", {"name": "Back", **WHY})
    assert (status, body["error"]) == (404, "not_found")  # no longer in their tree
    status, body = await admin.call(
        "PATCH", f"/api/org/committees/{ward}", {"parent_id": None, "name": "Ward (independent)", **WHY}
    )
    assert status == 200 and body["committee"]["parent_id"] is None
    status, body = await admin.call("POST", "/api/org/committees", {"code": "K-CITY", "name": "City", **WHY})
    assert status == 201 and body["committee"]["parent_id"] is None

    entries = [e for e in await log_entries(server) if e["type"] == "org_changed"][before:]
    assert [(e["change"], e["by"]) for e in entries] == [
        ("committee_added", "C1-001"),
        ("committee_renamed", "C1-001"),
        ("committee_moved", "C1-CHAIR"),
        ("committee_changed", "C1-CHAIR"),
        ("committee_added", "C1-CHAIR"),
    ]
    assert (entries[2]["from_parent"], entries[2]["parent"], entries[2]["reason"]) == (
        "K-D1",
        "K-D2",
        WHY["reason"],
    )
    assert (entries[3]["old_name"], entries[3]["name"], entries[3]["parent"]) == (
        "Ward One",
        "Ward (independent)",
        None,
    )


async def _meeting(server: Server, cell_id: int, site_id: int, state: str, *, attended: bool) -> int:
    async with server.svc.db() as s, s.begin():
        m = Meeting(
            title=f"{state} meeting", cell_id=cell_id, starts_at=datetime(2026, 1, 5, tzinfo=UTC), state=state
        )
        s.add(m)
        await s.flush()
        if attended:  # a participant took part from the site: the minutes name it
            pk = await s.scalar(select(Member.id).where(Member.cell_id == cell_id))
            s.add(Participant(meeting_id=m.id, member_pk=pk, role="member", site_id=site_id))
        else:
            s.add(MeetingSite(meeting_id=m.id, site_id=site_id))
        return m.id


async def test_a_cells_sub_sites_are_added_renamed_and_removed_and_one_in_use_or_with_history_stays(
    sign_in, server
) -> None:
    admin = await sign_in("C1-CHAIR")
    await setup_org(server, admin)
    d1, cell_officer = await sign_in("C1-001"), await sign_in("C1-SEC")
    async with server.svc.db() as s:
        harbour = int(await s.scalar(select(Cell.id).where(Cell.name == "Cell 1 - Harbour Ward")) or 0)
        hill = int(await s.scalar(select(Cell.id).where(Cell.name == "Cell 2 - Hill")) or 0)
        hill_post = int(await s.scalar(select(Site.id).where(Site.name == "Hill post")) or 0)
    base = f"/api/org/cells/{harbour}/sites"

    status, body = await d1.call("POST", base, {"name": "Quarry post", **WHY})
    assert status == 201, body
    island = body["site"]["id"]
    assert body["site"] == {"id": island, "cell_id": harbour, "name": "Quarry post"}
    status, body = await d1.call("POST", base, {"name": "Quarry post", **WHY})
    assert (status, body["error"]) == (409, "conflict")
    status, body = await d1.call("PATCH", f"{base}/{island}", {"name": "Quarry post (north)", **WHY})
    assert status == 200 and body["site"]["name"] == "Quarry post (north)"
    status, body = await d1.call("GET", "/api/org")
    (cell,) = [c for c in body["tree"]["committees"][0]["cells"] if c["id"] == harbour]
    assert dict(zip(cell["site_ids"], cell["sites"], strict=True))[island] == "Quarry post (north)"

    # another cell's site, or a cell outside the tree: not found; the cell's own officer: refused
    for method, path, payload in (
        ("PATCH", f"{base}/{hill_post}", {"name": "Taken", **WHY}),
        ("DELETE", f"{base}/{hill_post}", WHY),
        ("POST", f"/api/org/cells/{hill}/sites", {"name": "Mine", **WHY}),
        ("DELETE", f"{base}/99999", WHY),
    ):
        status, body = await d1.call(method, path, payload)
        assert (status, body["error"]) == (404, "not_found"), (method, path, body)
    status, body = await cell_officer.call("POST", base, {"name": "Own post", **WHY})
    assert (status, body["error"]) == (403, "not_authorised")
    status, body = await cell_officer.call("DELETE", f"{base}/{island}", WHY)
    assert (status, body["error"]) == (403, "not_authorised")
    assert await _refused(server) == [("C1-SEC", "site_added"), ("C1-SEC", "site_removed")]

    # a site a scheduled meeting uses, or one with attendance in a closed meeting's minutes, stays
    factory = (await d1.call("POST", base, {"name": "Factory", **WHY}))[1]["site"]["id"]
    scheduled = await _meeting(server, harbour, island, "scheduled", attended=False)
    status, body = await d1.call("DELETE", f"{base}/{island}", WHY)
    assert (status, body["error"]) == (409, "site_in_use"), body
    assert f"meeting(s) {scheduled}" in body["message"]
    await _meeting(server, harbour, factory, "closed", attended=True)
    status, body = await d1.call("DELETE", f"{base}/{factory}", WHY)
    assert (status, body["error"]) == (409, "site_has_history"), body
    assert "1 closed meeting(s)" in body["message"]
    status, body = await d1.call("PATCH", f"{base}/{factory}", {"name": "Factory (old)", **WHY})
    assert status == 200  # renaming it is the way

    spare = (await d1.call("POST", base, {"name": "Spare", **WHY}))[1]["site"]["id"]
    status, body = await d1.call("DELETE", f"{base}/{spare}", WHY)
    assert status == 200 and body["site"]["name"] == "Spare"
    async with server.svc.db() as s:
        left = set((await s.scalars(select(Site.name).where(Site.cell_id == harbour))).all())
    assert {"Factory (old)", "Quarry post (north)"} <= left and "Spare" not in left

    entries = [e for e in await log_entries(server) if e["type"] == "org_changed"]
    assert [(e["change"], e.get("site"), e.get("old_name")) for e in entries] == [
        ("site_added", "Quarry post", None),
        ("site_renamed", "Quarry post (north)", "Quarry post"),
        ("site_added", "Factory", None),
        ("site_renamed", "Factory (old)", "Factory"),
        ("site_added", "Spare", None),
        ("site_removed", "Spare", None),
    ]
    assert all(e["by"] == "C1-001" and e["cell"] == "Cell 1 - Harbour Ward" for e in entries)
