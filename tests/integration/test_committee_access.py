"""The committee's view over HTTP: organisation import, e-profiles and who may see and change what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select, update

from meeting.errors import InvalidInput, InvalidState
from meetingd.committee.org_log import OrgLog
from meetingd.storage.models import Cell
from meetingd.storage.org_models import CommitteeRow, OrgLogEntry
from meetingd.storage.security_models import SecurityEvent
from recorder.org_log import verify_org_log

from .conftest import Member, Server

ORG = """kind,key,name,parent,title
committee,K-PROV,Province,,
committee,K-D1,District 1,K-PROV,
committee,K-D2,District 2,K-PROV,
cell,Cell 1 - Harbour Ward,,K-D1,
cell,Cell 2 - Hill,,K-D2,
site,Hill post,,Cell 2 - Hill,
committee_officer,C1-001,,K-D1,committee secretary
cell_officer,C1-SEC,,Cell 1 - Harbour Ward,cell secretary
"""


async def setup_org(server: Server, admin: Member) -> dict[str, int]:
    status, body = await admin.call("POST", "/api/admin/org/import", {"csv": ORG})
    assert status == 200, body
    assert (body["committees"], body["cells"], body["sites"], body["officers"]) == (3, 2, 1, 2)
    async with server.svc.db() as s:
        cell2 = await s.scalar(select(Cell.id).where(Cell.name == "Cell 2 - Hill"))
        ids = dict((await s.execute(select(CommitteeRow.code, CommitteeRow.id))).all())
    await server.svc.directory.create({"member_id": "C2-001", "full_name": "Hill member", "cell_id": cell2})
    return ids


async def log_entries(server: Server) -> list[dict[str, Any]]:
    return [json.loads(e) for e in (await server.svc.committee.log.export())["entries"]]


async def test_an_import_with_bad_lines_names_them_and_imports_nothing(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    bad = (
        ORG.replace("cell,Cell 2 - Hill,,K-D2,", "cell,Cell 2 - Hill,,K-D9,").replace(
            "C1-SEC,,Cell 1", "NOBODY,,Cell 1"
        )
        + "committee,k-bad,Bad,,\n"
    )
    status, body = await admin.call("POST", "/api/admin/org/import", {"csv": bad})
    assert status == 400 and body["error"] == "invalid_input"
    errors = body["details"]["errors"]
    assert "line 6: unknown committee 'K-D9'" in errors
    assert "line 9: unknown member 'NOBODY'" in errors
    assert any(e.startswith("line 10: committee code 'k-bad'") for e in errors)
    async with server.svc.db() as s:
        assert (await s.scalars(select(CommitteeRow))).all() == []
    member = await sign_in("C1-002")
    status, body = await member.call("POST", "/api/admin/org/import", {"csv": ORG})
    assert status == 403 and body["error"] == "not_authorised"


async def test_each_level_sees_only_its_own_part_of_the_tree(sign_in, server) -> None:
    ids = await setup_org(server, await sign_in("C1-CHAIR"))
    committee_officer = await sign_in("C1-001")
    status, body = await committee_officer.call("GET", "/api/org")
    assert [c["code"] for c in body["tree"]["committees"]] == ["K-D1"]
    status, body = await committee_officer.call("GET", f"/api/committees/{ids['K-D1']}/figures")
    assert status == 200 and body["report"]["cells"] == ["Cell 1 - Harbour Ward"]
    for outside in (ids["K-D2"], ids["K-PROV"], 999):
        status, body = await committee_officer.call("GET", f"/api/committees/{outside}/figures")
        assert (status, body["error"]) == (404, "not_found"), outside
    status, body = await committee_officer.call("GET", "/api/profiles/C2-001")
    assert (status, body["error"]) == (404, "not_found")
    plain = await sign_in("C1-002")
    status, body = await plain.call("GET", "/api/org")
    assert body["tree"] == {"committees": [], "cells": []}
    status, body = await plain.call("GET", f"/api/committees/{ids['K-D1']}/figures")
    assert status == 404
    admin = await sign_in("C1-CHAIR")
    status, body = await admin.call("GET", f"/api/committees/{ids['K-PROV']}/figures")
    assert status == 200 and body["report"]["cells"] == ["Cell 1 - Harbour Ward", "Cell 2 - Hill"]


async def test_profiles_are_read_and_changed_by_the_right_people_and_all_of_it_is_logged(
    sign_in, server
) -> None:
    await setup_org(server, await sign_in("C1-CHAIR"))
    member, cell_officer = await sign_in("C1-003"), await sign_in("C1-SEC")
    status, own = await member.call("GET", "/api/profiles/C1-003")
    assert status == 200 and own["editable"] == ["training"]
    status, body = await member.call("GET", "/api/profiles/C1-004")
    assert (status, body["error"]) == (404, "not_found")

    # the cell officer records a discipline measure, with a reason
    change = {
        "kind": "discipline",
        "data": {"measure": "Reprimand", "date": "2026-03-01"},
        "reason": "missed three meetings without excuse",
    }
    status, body = await cell_officer.call("POST", "/api/profiles/C1-003/changes", change)
    assert status == 201, body
    seq = body["change"]["seq"]
    # the member may not touch their own discipline record, nor record anyone else's training
    status, body = await member.call(
        "POST",
        "/api/profiles/C1-003/changes",
        {"kind": "correction", "data": {"corrects": seq, "retract": True}, "reason": "not fair"},
    )
    assert (status, body["error"]) == (403, "not_authorised")
    status, body = await member.call(
        "POST",
        "/api/profiles/C1-004/changes",
        {"kind": "training", "data": {"course": "x", "from": "2026-01-01"}, "reason": "r"},
    )
    assert (status, body["error"]) == (403, "not_authorised")
    # another cell's member is outside the cell officer's rights
    status, body = await cell_officer.call(
        "POST",
        "/api/profiles/C2-001/changes",
        {"kind": "reward", "data": {"title": "Medal", "date": "2026-01-01"}, "reason": "r"},
    )
    assert (status, body["error"]) == (403, "not_authorised")
    # overlapping positions and malformed dates are refused, naming the field
    pos = {
        "kind": "position",
        "data": {"title": "Group leader", "unit": "Cell 1", "from": "2025-01-01", "to": "2025-12-31"},
        "reason": "elected",
    }
    assert (await cell_officer.call("POST", "/api/profiles/C1-003/changes", pos))[0] == 201
    pos["data"] = {"title": "Deputy", "unit": "Cell 1", "from": "2025-06-01"}
    status, body = await cell_officer.call("POST", "/api/profiles/C1-003/changes", pos)
    assert (status, body["error"], body["details"]["field"]) == (400, "invalid_input", "data.from")
    pos["data"] = {"title": "Deputy", "unit": "Cell 1", "from": "2026-02-30"}
    status, body = await cell_officer.call("POST", "/api/profiles/C1-003/changes", pos)
    assert (status, body["details"]["field"]) == (400, "data.from")

    # the officer's read is recorded and the member sees who read their profile
    status, read = await cell_officer.call("GET", "/api/profiles/C1-003")
    assert status == 200 and read["profile"]["discipline"][0]["measure"] == "Reprimand"
    status, own = await member.call("GET", "/api/profiles/C1-003")
    assert [r["by"] for r in own["reads"]] == ["C1-SEC"]
    assert [h["kind"] for h in own["profile"]["history"]] == ["discipline", "position"]

    kinds = [(e["type"], e.get("by"), e.get("member_id")) for e in await log_entries(server)]
    assert ("profile_change_refused", "C1-003", "C1-003") in kinds
    assert ("profile_change_refused", "C1-003", "C1-004") in kinds
    assert ("profile_change_refused", "C1-SEC", "C2-001") in kinds
    assert ("profile_read", "C1-SEC", "C1-003") in kinds
    assert ("profile_read", "C1-003", "C1-003") not in kinds  # reading one's own is not
    async with server.svc.db() as s:  # refusals also reach the security log, beside other security events
        refused = (
            await s.execute(
                select(SecurityEvent.member_id, SecurityEvent.details).where(
                    SecurityEvent.kind == "profile_change_refused"
                )
            )
        ).all()
    assert sorted(m for m, _ in refused) == ["C1-003", "C1-003", "C1-SEC"]
    assert {json.loads(d)["target"] for m, d in refused if m == "C1-SEC"} == {"C2-001"}


async def test_a_transfer_moves_the_member_and_a_correction_keeps_the_history(sign_in, server) -> None:
    await setup_org(server, await sign_in("C1-CHAIR"))
    admin = await sign_in("C1-CHAIR")
    status, body = await admin.call(
        "POST",
        "/api/profiles/C1-005/changes",
        {
            "kind": "transfer",
            "data": {"cell": "Cell 2 - Hill", "date": "2026-04-01"},
            "reason": "moved house",
        },
    )
    assert status == 201, body
    assert (await server.svc.directory.get("C1-005")).cell_id != (
        await server.svc.directory.get("C1-004")
    ).cell_id
    status, body = await admin.call(
        "POST",
        "/api/profiles/C1-005/changes",
        {"kind": "reward", "data": {"title": "Certificate", "date": "2026-01-01"}, "reason": "good work"},
    )
    seq = body["change"]["seq"]
    status, body = await admin.call(
        "POST",
        "/api/profiles/C1-005/changes",
        {"kind": "correction", "data": {"corrects": seq, "date": "2026-01-15"}, "reason": "wrong date"},
    )
    assert status == 201
    status, view = await admin.call("GET", "/api/profiles/C1-005")
    assert view["member"]["cell"] == "Cell 2 - Hill"
    assert view["profile"]["reward"][0]["date"] == "2026-01-15"
    assert view["profile"]["transfer"][0]["from_cell"] == "Cell 1 - Harbour Ward"
    assert [h["kind"] for h in view["profile"]["history"]] == ["transfer", "reward", "correction"]


async def test_the_organisation_log_is_tamper_evident(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    await setup_org(server, admin)
    await admin.call(
        "POST",
        "/api/profiles/C1-006/changes",
        {"kind": "discipline", "data": {"measure": "Warning", "date": "2026-02-01"}, "reason": "r"},
    )
    status, doc = await admin.call("GET", "/api/admin/org/log.json")
    assert status == 200
    assert verify_org_log(doc, trusted_log_key=doc["log_key"]).ok
    edited = dict(doc, entries=[e.replace("Warning", "Praise") for e in doc["entries"]])
    assert not verify_org_log(edited, trusted_log_key=doc["log_key"]).ok

    # someone edits the stored row: the server refuses to build on it
    async with server.svc.db() as s, s.begin():
        await s.execute(
            update(OrgLogEntry)
            .where(OrgLogEntry.type == "profile_change")
            .values(canonical=func.replace(OrgLogEntry.canonical, "Warning", "Praise"))
        )
    fresh = OrgLog(
        server.svc.db, server.svc.journal.signer_for(server.svc.committee.log.origin), server.svc.clock
    )
    with pytest.raises(InvalidState, match="contradicts its signed checkpoints"):
        await fresh.append("profile_read", member_id="C1-006", by="C1-CHAIR")


async def test_the_organisation_log_holds_only_its_declared_entry_types(server) -> None:
    with pytest.raises(InvalidInput, match="no entry type 'meeting_opened'"):
        await server.svc.committee.log.append("meeting_opened", member_id="C1-001")
    assert (await server.svc.committee.log.export())["entries"] == []


async def test_the_tree_is_changed_row_by_row_by_those_above_each_row_and_every_change_is_logged(
    sign_in, server
) -> None:
    ids = await setup_org(server, await sign_in("C1-CHAIR"))
    d1_officer, cell_officer, plain = (
        await sign_in("C1-001"),
        await sign_in("C1-SEC"),
        await sign_in("C1-002"),
    )
    status, body = await d1_officer.call("GET", "/api/org")
    assert body["manage"]["committees"] == [ids["K-D1"]] and body["manage"]["officers_of"] == []
    assert [o["member_id"] for o in body["cell_officers"]] == ["C1-SEC"]  # an officer sees their tree's

    # the district officer adds a cell under their committee, then renames it
    why = {"reason": "new ward after the boundary change"}
    status, body = await d1_officer.call(
        "POST", "/api/org/cells", {"name": "Cell 3 - Dock", "committee_id": ids["K-D1"], **why}
    )
    assert status == 201, body
    dock = body["cell"]["id"]
    status, body = await d1_officer.call("PATCH", f"/api/org/cells/{dock}", {"name": "Cell 3 - Docks", **why})
    assert status == 200 and body["cell"]["name"] == "Cell 3 - Docks"
    status, body = await d1_officer.call("GET", f"/api/committees/{ids['K-D1']}/figures")
    assert body["report"]["cells"] == ["Cell 1 - Harbour Ward", "Cell 3 - Docks"]
    # ... and appoints its secretary
    status, body = await d1_officer.call(
        "PUT", f"/api/org/cells/{dock}/officers/C1-004", {"title": "cell secretary", **why}
    )
    assert status == 200 and body["officer"]["title"] == "cell secretary"
    status, body = await (await sign_in("C1-004")).call("GET", "/api/org")
    assert body["tree"]["cells"] == [{"id": dock, "name": "Cell 3 - Docks", "sites": [], "site_ids": []}]

    # outside their tree: not found, never a hint; inside but not theirs to change: refused, recorded
    for method, path, payload in (
        ("POST", "/api/org/cells", {"name": "X", "committee_id": ids["K-D2"], **why}),
        ("PATCH", f"/api/org/cells/{dock}", {"committee_id": ids["K-D2"], **why}),
        ("PUT", f"/api/org/committees/{ids['K-D2']}/officers/C1-002", {"title": "x", **why}),
        ("PUT", f"/api/org/cells/{dock}/officers/C2-001", {"title": "x", **why}),  # a member they cannot see
        ("PATCH", "/api/org/cells/9999", {"name": "Y", **why}),
    ):
        status, body = await d1_officer.call(method, path, payload)
        assert (status, body["error"]) == (404, "not_found"), (method, path, body)
    async with server.svc.db() as s:
        harbour = await s.scalar(select(Cell.id).where(Cell.name == "Cell 1 - Harbour Ward"))
    refusals = [
        (d1_officer, "PUT", f"/api/org/committees/{ids['K-D1']}/officers/C1-002", {"title": "peer", **why}),
        (cell_officer, "PATCH", f"/api/org/cells/{harbour}", {"name": "Mine now", **why}),
        (cell_officer, "PUT", f"/api/org/cells/{harbour}/officers/C1-005", {"title": "deputy", **why}),
    ]
    for who, method, path, payload in refusals:
        status, body = await who.call(method, path, payload)
        assert (status, body["error"]) == (403, "not_authorised"), (path, body)
    status, body = await plain.call(
        "POST", "/api/org/cells", {"name": "Z", "committee_id": ids["K-D1"], **why}
    )
    assert (status, body["error"]) == (404, "not_found")

    # bad input names the field; a duplicate name is a conflict; nothing is changed by either
    status, body = await d1_officer.call("POST", "/api/org/cells", {"name": "Q", "committee_id": ids["K-D1"]})
    assert (status, body["error"]) == (400, "invalid_input")
    status, body = await d1_officer.call(
        "POST", "/api/org/cells", {"name": "Q", "committee_id": "one", "reason": "r", "extra": 1}
    )
    assert status == 400 and body["error"] == "invalid_input"
    status, body = await d1_officer.call(
        "POST", "/api/org/cells", {"name": "Cell 2 - Hill", "committee_id": ids["K-D1"], **why}
    )
    assert (status, body["error"]) == (409, "conflict")

    # the province (admin) moves the cell to the other district and appoints that district's officer
    admin = await sign_in("C1-CHAIR")
    status, body = await admin.call("PATCH", f"/api/org/cells/{dock}", {"committee_id": ids["K-D2"], **why})
    assert status == 200 and body["cell"]["committee_id"] == ids["K-D2"]
    status, body = await admin.call(
        "PUT", f"/api/org/committees/{ids['K-D2']}/officers/C2-001", {"title": "district secretary", **why}
    )
    assert status == 200
    status, body = await d1_officer.call("PATCH", f"/api/org/cells/{dock}", {"name": "Gone", **why})
    assert (status, body["error"]) == (404, "not_found")  # no longer in their tree
    status, body = await admin.call(
        "DELETE", f"/api/org/committees/{ids['K-D2']}/officers/C2-001", {"reason": "term ended"}
    )
    assert status == 200
    status, body = await admin.call("DELETE", f"/api/org/committees/{ids['K-D2']}/officers/C2-001", why)
    assert (status, body["error"]) == (404, "not_found")

    entries = await log_entries(server)
    changes = [(e["change"], e["by"]) for e in entries if e["type"] == "org_changed"]
    assert changes == [
        ("cell_added", "C1-001"),
        ("cell_renamed", "C1-001"),
        ("cell_officer_appointed", "C1-001"),
        ("cell_moved", "C1-CHAIR"),
        ("committee_officer_appointed", "C1-CHAIR"),
        ("committee_officer_removed", "C1-CHAIR"),
    ]
    moved = next(e for e in entries if e.get("change") == "cell_moved")
    assert (moved["from_committee"], moved["committee"], moved["reason"]) == ("K-D1", "K-D2", why["reason"])
    refused = [(e["by"], e["change"]) for e in entries if e["type"] == "org_change_refused"]
    assert refused == [
        ("C1-001", "committee_officer_appointed"),
        ("C1-SEC", "cell_renamed"),
        ("C1-SEC", "cell_officer_appointed"),
    ]
    async with server.svc.db() as s:
        kinds = (
            await s.scalars(select(SecurityEvent.kind).where(SecurityEvent.kind == "org_change_refused"))
        ).all()
    assert len(kinds) == 3
    doc = await server.svc.committee.log.export()
    assert verify_org_log(json.dumps(doc).encode(), trusted_log_key=doc["log_key"]).ok
