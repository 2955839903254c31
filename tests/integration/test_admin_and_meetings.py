"""The admin members API and meeting scheduling."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.both_stores


async def test_admin_adds_and_edits_a_member(sign_in) -> None:
    admin = await sign_in("C1-CHAIR")
    status, body = await admin.call("GET", "/api/admin/members")
    assert status == 200 and len(body["members"]) == 12
    cell_id = body["cells"][0]["id"]
    status, body = await admin.call(
        "POST", "/api/admin/members", {"member_id": "C1-009", "full_name": "Mạc Thị Oanh", "cell_id": cell_id}
    )
    assert status == 200 and body["member"]["has_password"] is False
    status, body = await admin.call(
        "POST", "/api/admin/members", {"member_id": "C1-009", "full_name": "Dup", "cell_id": cell_id}
    )
    assert status == 409 and body["error"] == "conflict"
    status, body = await admin.call("PATCH", "/api/admin/members/C1-009", {"status": "suspended"})
    assert body["member"]["status"] == "suspended"
    status, body = await admin.call("PATCH", "/api/admin/members/C1-009", {"status": "gone"})
    assert status == 400 and body["details"]["field"] == "status"
    status, body = await admin.call(
        "POST", "/api/admin/members", {"member_id": "bad id", "full_name": "x", "cell_id": cell_id}
    )
    assert status == 400 and body["details"]["field"] == "member_id"
    status, body = await admin.call("PATCH", "/api/admin/members/C1-CHAIR", {"is_admin": False})
    assert status == 400


async def test_suspended_member_cannot_sign_in(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    await admin.call("PATCH", "/api/admin/members/C1-006", {"status": "suspended"})
    import aiohttp

    from meetingd.demo import DEMO_PASSWORD

    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.url + "/api/login",
            json={"member_id": "C1-006", "password": DEMO_PASSWORD},
            headers={"Origin": server.url},
        ) as r,
    ):
        assert r.status == 401


async def test_admin_schedules_a_meeting_with_sites_and_guests(sign_in) -> None:
    admin = await sign_in("C1-CHAIR")
    _s, listing = await admin.call("GET", "/api/admin/members")
    cell_id = next(c["id"] for c in listing["cells"] if c["name"].startswith("Cell 1"))
    status, body = await admin.call(
        "POST",
        "/api/meetings",
        {
            "title": "Extraordinary meeting",
            "cell_id": cell_id,
            "place": "Hall",
            "starts_at": "2026-12-01T08:00:00Z",
            "agenda": ["Only item"],
            "chair": "C1-SEC",
            "secretary": "C1-001",
            "guests": ["G-OBS1"],
            "sites": [1],
        },
    )
    assert status == 200, body
    m = body["meeting"]
    roles = {p["member_id"]: p["role"] for p in m["participants"]}
    assert roles["C1-SEC"] == "chair" and roles["C1-001"] == "secretary"
    assert roles["G-OBS1"] == "observer" and roles["C1-ISL-OP"] == "operator"
    assert roles["C1-CHAIR"] == "member"
    assert [a["title"] for a in m["agenda"]] == ["Only item"]
    status, body = await admin.call(
        "POST",
        "/api/meetings",
        {"title": "x", "cell_id": cell_id, "starts_at": "tomorrow", "chair": "C1-SEC", "secretary": "C1-001"},
    )
    assert status == 400 and body["details"]["field"] == "starts_at"
    member = await sign_in("C1-002")
    status, body = await member.call("POST", "/api/meetings", {})
    assert status == 403


async def test_meetings_list_shows_only_mine(sign_in) -> None:
    obs = await sign_in("G-OBS1")
    _s, body = await obs.call("GET", "/api/meetings")
    assert [(m["id"], m["my_role"]) for m in body["meetings"]] == [(1, "observer")]


async def test_security_headers_are_set(server) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(server.url + "/healthz") as r:
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert (await r.json())["status"] == "ok"
