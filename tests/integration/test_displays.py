"""Paired main-room displays: a one-time code from an officer, a read-only socket that
is never in the roster or the quorum, revocable (real server, real Socket.IO clients)."""

from __future__ import annotations

from typing import Any

import aiohttp
import socketio

from tests.integration.conftest import Server, wait_for


async def _display_socket(server: Server, cookies: Any) -> tuple[socketio.AsyncClient, list[str]]:
    async with aiohttp.ClientSession(cookie_jar=cookies) as http:
        async with http.post(f"{server.url}/api/displays/socket-token", headers={"Origin": server.url}) as r:
            token = (await r.json())["token"]
    sio = socketio.AsyncClient(reconnection=False)
    events: list[str] = []
    sio.on("disconnect", lambda *a: events.append("disconnect"), namespace="/meeting")
    sio.on("display_revoked", lambda *a: events.append("display_revoked"), namespace="/meeting")
    sio.on("roster_changed", lambda d: events.append("roster_changed"), namespace="/meeting")
    await sio.connect(
        server.url,
        namespaces=["/meeting"],
        auth={"display_token": token},
        headers={"Origin": server.url},
        transports=["websocket"],
    )
    return sio, events


async def test_a_paired_display_watches_without_being_a_participant(server: Server, sign_in: Any) -> None:
    chair = await sign_in("C1-CHAIR")
    member = await sign_in("C1-001")
    # only an officer creates a pairing code
    _, refused = await member.call("POST", "/api/meetings/1/displays", {})
    assert refused["error"] == "not_authorised"
    _, created = await chair.call("POST", "/api/meetings/1/displays", {})
    code = created["display"]["code"]
    assert created["display"]["state"] == "waiting" and len(code) == 9

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        headers = {"Origin": server.url}
        async with http.post(f"{server.url}/api/displays/pair", json={"code": "nope"}, headers=headers) as r:
            assert (await r.json())["error"] == "invalid_input"
        async with http.post(
            f"{server.url}/api/displays/pair", json={"code": code.lower()}, headers=headers
        ) as r:
            paired = await r.json()
        assert paired["ok"] and paired["display"]["state"] == "paired"
        # single use
        async with http.post(f"{server.url}/api/displays/pair", json={"code": code}, headers=headers) as r:
            assert (await r.json())["error"] == "not_authenticated"

    await chair.join(1, "main_room")
    sio, events = await _display_socket(server, jar)
    joined = await sio.call("join_display", {"meeting_id": 1}, namespace="/meeting")
    assert joined["ok"], joined
    assert all(not p["member_id"].startswith("display") for p in joined["roster"])
    counts_before = joined["procedure"]["attendance"]["present"]
    assert joined["procedure"]["attendance"]["members"] == []
    # it hears the meeting's facts
    await member.join(1, "remote")
    await wait_for(lambda: "roster_changed" in events)
    # never in the roster or the register: the present count is the members' only
    proc = await sio.call("get_procedure", {}, namespace="/meeting")
    assert proc["procedure"]["attendance"]["present"] == counts_before + 1
    ack = await chair.emit("get_procedure", {})
    assert all(not m["member_id"].startswith("display") for m in ack["procedure"]["attendance"]["members"])
    # read-only: it takes no part
    for event, payload in (
        ("send_chat", {"text": "hello"}),
        ("raise_hand", {}),
        ("join", {"meeting_id": 1, "attendance": "main_room"}),
    ):
        answer = await sio.call(event, payload, namespace="/meeting")
        assert answer["error"] == "not_authorised", (event, answer)
    # its media session receives only
    opened = await sio.call("media_open", {}, namespace="/meeting")
    assert opened["error"] == "not_authorised"
    opened = await sio.call("media_open", {"display": True}, namespace="/meeting")
    assert opened["ok"] and opened["display"] is True

    # the chair lists and revokes it: its socket is dropped and its session refused
    _, listed = await chair.call("GET", "/api/meetings/1/displays")
    assert [d["state"] for d in listed["displays"]] == ["paired"]
    _, revoked = await chair.call("DELETE", f"/api/meetings/1/displays/{paired['display']['id']}")
    assert revoked["display"]["state"] == "revoked"
    await wait_for(lambda: "disconnect" in events)
    assert events.index("display_revoked") < events.index("disconnect")  # told why, first
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{server.url}/api/displays/me") as r:
            assert (await r.json())["error"] == "not_authenticated"
    await sio.disconnect()
