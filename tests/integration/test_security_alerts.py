"""The security log and its alerts, raised by scripted attacks against a real server,
seen live by an administrator's socket; sessions ended by their owner or an admin."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import socketio
from sqlalchemy import text

from meetingd.demo import DEMO_PASSWORD

from .conftest import Member, Server, start_server, wait_for


def alerts_seen(admin: Member, rule: str) -> list[dict]:
    return [d["alert"] for d in admin.seen("security_alert") if d["alert"]["rule"] == rule]


async def test_a_password_spray_raises_an_alert_seen_live_by_admins(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    await admin.connect()  # an admin's socket, in no meeting
    attacker = await sign_in("C1-008")
    for victim in ("C1-001", "C1-002", "C1-003", "C1-004", "C1-005"):
        status, _ = await attacker.call(
            "POST", "/api/login", {"member_id": victim, "password": "Winter2026!"}
        )
        assert status == 401
    await wait_for(lambda: bool(alerts_seen(admin, "password_spray")))
    alert = alerts_seen(admin, "password_spray")[-1]
    assert alert["severity"] == "high" and alert["state"] == "new"
    assert alert["address"] == "127.0.0.1"
    assert alert["details"]["accounts"] == ["C1-001", "C1-002", "C1-003", "C1-004", "C1-005"]
    status, body = await admin.call("GET", "/api/admin/security/alerts")
    assert [a["rule"] for a in body["alerts"]] == ["password_spray"]
    status, body = await admin.call("GET", "/api/admin/security/events?kind=sign_in_failed")
    assert len(body["events"]) == 5
    # a member is not shown the alerts
    status, body = await attacker.call("GET", "/api/admin/security/alerts")
    assert status == 403


async def test_alert_state_is_kept_with_who_handled_it(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    attacker = await sign_in("C1-008")
    for _ in range(5):
        await attacker.call("POST", "/api/login", {"member_id": "C1-SEC", "password": "guess-1234"})
    status, body = await admin.call("GET", "/api/admin/security/alerts")
    alert = next(a for a in body["alerts"] if a["rule"] == "sign_in_failures")
    assert alert["member_id"] == "C1-SEC" and alert["count"] == 1
    status, body = await admin.call(
        "POST", f"/api/admin/security/alerts/{alert['id']}", {"state": "acknowledged"}
    )
    assert status == 200 and body["alert"]["acknowledged_by"] == "C1-CHAIR"
    status, body = await admin.call(
        "POST", f"/api/admin/security/alerts/{alert['id']}", {"state": "resolved"}
    )
    assert body["alert"]["state"] == "resolved" and body["alert"]["resolved_by"] == "C1-CHAIR"
    status, body = await admin.call(
        "POST", f"/api/admin/security/alerts/{alert['id']}", {"state": "acknowledged"}
    )
    assert (status, body["error"]) == (409, "alert_state")
    status, body = await admin.call("POST", f"/api/admin/security/alerts/{alert['id']}", {"state": "new"})
    assert (status, body["error"], body["details"]["field"]) == (400, "invalid_input", "state")
    status, body = await admin.call("GET", "/api/admin/security/alerts?state=all")
    assert any(a["id"] == alert["id"] and a["state"] == "resolved" for a in body["alerts"])


async def test_a_replayed_socket_token_is_refused_and_raises_an_alert(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    await admin.connect()
    victim = await sign_in("C1-002")
    token = await victim.token()
    first = socketio.AsyncClient(reconnection=False)
    await first.connect(
        server.url,
        namespaces=["/meeting"],
        transports=["websocket"],
        auth={"token": token},
        headers={"Origin": server.url},
    )
    replay = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await replay.connect(
            server.url,
            namespaces=["/meeting"],
            transports=["websocket"],
            auth={"token": token},
            headers={"Origin": server.url},
        )
    await first.disconnect()
    await replay.disconnect()
    await wait_for(lambda: bool(alerts_seen(admin, "token_reuse")))
    assert alerts_seen(admin, "token_reuse")[-1]["member_id"] == "C1-002"


async def test_one_member_live_from_two_addresses_raises_an_alert(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    await admin.connect()
    here = await sign_in("C1-003")
    await here.join()
    there_http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    there = Member(server, there_http, "C1-003")
    try:
        status, _ = await there.call("POST", "/api/login", {"member_id": "C1-003", "password": DEMO_PASSWORD})
        assert status == 200
        sio = socketio.AsyncClient(reconnection=False, http_session=there_http)
        await sio.connect(
            server.url,
            namespaces=["/meeting"],
            transports=["websocket"],
            auth={"token": await there.token()},
            headers={"Origin": server.url},
        )
        await wait_for(lambda: bool(alerts_seen(admin, "member_in_two_places")))
        alert = alerts_seen(admin, "member_in_two_places")[-1]
        assert alert["member_id"] == "C1-003"
        assert alert["details"]["addresses"] == ["127.0.0.1", "127.0.0.2"]
        await sio.disconnect()
    finally:
        await there_http.close()


async def test_a_suspended_member_trying_to_connect_raises_an_alert(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    await admin.connect()
    m = await sign_in("C1-005")
    token = await m.token()
    status, _ = await admin.call("PATCH", "/api/admin/members/C1-005", {"status": "suspended"})
    assert status == 200
    sio = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url,
            namespaces=["/meeting"],
            transports=["websocket"],
            auth={"token": token},
            headers={"Origin": server.url},
        )
    await sio.disconnect()
    status, _ = await m.call("POST", "/api/login", {"member_id": "C1-005", "password": DEMO_PASSWORD})
    assert status == 401  # the same refusal as a wrong password
    await wait_for(lambda: len(alerts_seen(admin, "suspended_account")) >= 2)
    assert {a["member_id"] for a in alerts_seen(admin, "suspended_account")} == {"C1-005"}


async def test_bulk_admin_changes_raise_an_alert(tmp_path) -> None:
    srv, runner = await start_server(tmp_path, security={"alert_bulk_admin_changes": 3})
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    admin = Member(srv, http, "C1-CHAIR")
    try:
        await admin.call("POST", "/api/login", {"member_id": "C1-CHAIR", "password": DEMO_PASSWORD})
        for mid in ("C1-001", "C1-002", "C1-003"):
            status, _ = await admin.call("PATCH", f"/api/admin/members/{mid}", {"contact": "x@y.z"})
            assert status == 200
        alerts = await srv.svc.security.log.alerts()
        assert [(a["rule"], a["member_id"]) for a in alerts] == [("bulk_admin_changes", "C1-CHAIR")]
    finally:
        await http.close()
        await runner.cleanup()


async def test_the_security_log_cannot_be_rewritten(server: Server, sign_in) -> None:
    m = await sign_in("C1-001")
    await m.call("POST", "/api/login", {"member_id": "C1-002", "password": "wrong-guess-1"})
    async with server.svc.db() as s:
        for sql in ("UPDATE security_events SET kind = 'nothing'", "DELETE FROM security_events"):
            with pytest.raises(Exception, match="append-only"):
                await s.execute(text(sql))
            await s.rollback()


async def test_ending_a_session_signs_it_out_and_closes_its_sockets(sign_in, server) -> None:
    phone = await sign_in("C1-006")
    laptop = await sign_in("C1-006")
    await laptop.join()
    status, body = await phone.call("GET", "/api/me/sessions")
    sessions = body["sessions"]
    assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
    assert {s["factor"] for s in sessions} == {"password"}
    assert all(s["address"] == "127.0.0.1" and s["device"] for s in sessions)
    other = next(s for s in sessions if not s["current"])
    status, _ = await phone.call("POST", f"/api/me/sessions/{other['id']}/end")
    assert status == 200
    assert (await laptop.call("GET", "/api/me"))[0] == 401
    await wait_for(lambda: laptop.sio is not None and not laptop.sio.connected)
    assert laptop.seen("session_ended")
    status, body = await phone.call("POST", "/api/me/sessions/AAAAAAAAAAAAAAAA/end")
    assert status == 404
    events = await server.svc.security.log.events(kind="session_ended")
    assert events[0]["details"]["by"] == "C1-006"


async def test_an_admin_ends_a_members_sessions(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    m = await sign_in("C1-007")
    await sign_in("C1-007")
    status, body = await admin.call("GET", "/api/admin/members/C1-007/sessions")
    assert len(body["sessions"]) == 2
    status, body = await admin.call("POST", "/api/admin/members/C1-007/sessions/end")
    assert status == 200 and body["ended"] == 2
    assert (await m.call("GET", "/api/me"))[0] == 401
    status, body = await m.call("GET", "/api/admin/members/C1-006/sessions")
    assert status == 401
    events = await server.svc.security.log.events(kind="session_ended")
    assert events[0]["member_id"] == "C1-007" and events[0]["details"]["by"] == "C1-CHAIR"


async def test_a_flood_of_socket_events_is_recorded_and_raises_an_alert(tmp_path) -> None:
    srv, runner = await start_server(
        tmp_path, security={"alert_rate_limit_hits": 1}, limits={"event_burst": 5, "events_per_second": 1.0}
    )
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    m = Member(srv, http, "C1-004")
    try:
        await m.call("POST", "/api/login", {"member_id": "C1-004", "password": DEMO_PASSWORD})
        await m.join()
        acks = [await m.emit("send_chat", {"text": f"spam {i}"}) for i in range(8)]
        assert acks[-1]["error"] == "rate_limited"
        alerts: list[dict] = []
        for _ in range(250):  # bounded poll: the event and its alert are written in the background
            alerts = await srv.svc.security.log.alerts()
            if alerts:
                break
            await asyncio.sleep(0.02)
        events = await srv.svc.security.log.events(kind="rate_limited")
        assert events and events[0]["details"]["limit"] == "socket_events"
        assert events[0]["member_id"] == "C1-004" and events[0]["meeting_id"] == 1
        assert [a["rule"] for a in alerts] == ["rate_limit_hits"]
    finally:
        await m.close()
        await runner.cleanup()


async def test_the_chair_is_told_when_a_member_of_their_meeting_is_in_two_places(sign_in, server) -> None:
    await server.svc.directory.update("C1-CHAIR", {"is_admin": False})  # the chair alone, no admin
    chair = await sign_in("C1-CHAIR")
    assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
    await chair.join()
    here = await sign_in("C1-003")
    await here.join()
    there_http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0)), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    there = Member(server, there_http, "C1-003")
    try:
        await there.call("POST", "/api/login", {"member_id": "C1-003", "password": DEMO_PASSWORD})
        sio = socketio.AsyncClient(reconnection=False, http_session=there_http)
        there.sio = sio
        await sio.connect(
            server.url,
            namespaces=["/meeting"],
            transports=["websocket"],
            auth={"token": await there.token()},
            headers={"Origin": server.url},
        )
        assert (await there.emit("join", {"meeting_id": 1, "attendance": "remote"}))["ok"]
        await wait_for(lambda: bool(alerts_seen(chair, "member_in_two_places")))
        alert = alerts_seen(chair, "member_in_two_places")[-1]
        assert alert["meeting_id"] == 1 and alert["member_id"] == "C1-003"
        # another member of the meeting is not told
        assert not here.seen("security_alert")
        await sio.disconnect()
    finally:
        await there_http.close()


async def test_a_key_used_from_a_new_device_raises_an_alert(sign_in, server) -> None:
    m = await sign_in("C1-SEC")
    device = [c for c in m.http.cookie_jar if c.key == "meetingd_device"]
    assert device and device[0]["httponly"], "sign-in gives the browser its device cookie"
    member = await server.svc.directory.get("C1-SEC")
    devices = server.svc.security.devices
    assert await devices.key_used(member, "laptop", "127.0.0.1", "officer_key", 1) is False  # first ever
    assert await devices.key_used(member, "laptop", "127.0.0.1", "officer_key", 1) is False
    assert await devices.key_used(member, "stranger", "10.9.9.9", "officer_key", 1) is True
    alerts = await server.svc.security.log.alerts()
    assert [(a["rule"], a["member_id"], a["meeting_id"]) for a in alerts] == [("new_device", "C1-SEC", 1)]


async def test_a_socket_connect_moves_its_sessions_last_seen_time_on(sign_in, server) -> None:
    """The connect waits only for the lookup of its session; the last-seen write follows."""
    laptop = await sign_in("C1-006")

    async def last_seen() -> str:
        status, body = await laptop.call("GET", "/api/me/sessions")
        assert status == 200, body
        (mine,) = [s for s in body["sessions"] if s["current"]]
        return str(mine["last_seen_at"])

    before = await last_seen()
    await asyncio.sleep(1.1)  # the times are kept to the second
    await laptop.connect()
    seen: list[str] = []

    async def moved() -> bool:
        seen.append(await last_seen())
        return seen[-1] > before

    for _ in range(50):
        if await moved():
            break
        await asyncio.sleep(0.1)
    assert seen[-1] > before, (before, seen[-3:])
