"""Every kind of bad input gets a precise error in one shape, and others keep being served."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

ERROR_KEYS = {"ok", "error", "message"}


def assert_error(body: dict, code: str) -> None:
    assert body["ok"] is False, body
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) - {"details"} == ERROR_KEYS


async def test_error_shape_is_the_same_for_http_and_socket(sign_in, server) -> None:
    a = await sign_in("C1-001")
    status, http_body = await a.call("GET", "/api/meetings/999")
    assert status == 404
    assert http_body == {"ok": False, "error": "not_found", "message": "no meeting 999"}
    await a.connect()
    sock_body = await a.emit("join", {"meeting_id": 999, "attendance": "remote"})
    assert sock_body == http_body


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"meeting_id": "1", "attendance": "remote"}, "meeting_id"),
        ({"meeting_id": 1, "attendance": "balcony"}, "attendance"),
        ({"attendance": "remote"}, "meeting_id"),
        ({"meeting_id": 1, "attendance": "remote", "admin": True}, "admin"),
        ({"meeting_id": True, "attendance": "remote"}, "meeting_id"),
    ],
)
async def test_join_payload_errors_name_the_field(sign_in, payload, field) -> None:
    a = await sign_in("C1-001")
    await a.connect()
    body = await a.emit("join", payload)
    assert_error(body, "invalid_input")
    assert body["details"]["field"] == field


async def test_non_object_payload_is_invalid_input(sign_in) -> None:
    a = await sign_in("C1-001")
    await a.connect()
    assert_error(await a.emit("join", ["meeting", 1]), "invalid_input")
    assert_error(await a.emit("join", "x"), "invalid_input")


async def test_event_before_join_is_invalid_state(sign_in) -> None:
    a = await sign_in("C1-001")
    await a.connect()
    body = await a.emit("send_chat", {"text": "hello"})
    assert_error(body, "invalid_state")
    assert body["details"] == {"hint": "join first"}


async def test_wrong_role_and_unknown_meeting(sign_in, server) -> None:
    outsider = await sign_in("G-OBS1")  # observer of meeting 1, so it may join...
    ack = await outsider.join()
    assert ack["me"]["role"] == "observer"
    # ...but is no administrator
    status, body = await outsider.call("GET", "/api/admin/members")
    assert status == 403
    assert_error(body, "not_authorised")
    status, body = await outsider.call("POST", "/api/meetings/1/open")
    assert status == 403


async def test_oversized_payloads_are_refused(sign_in, server) -> None:
    a = await sign_in("C1-001")
    await a.join()
    body = await a.emit("send_chat", {"text": "x" * 70_000})
    assert_error(body, "payload_too_large")
    status, body = await a.call("POST", "/api/login", {"member_id": "A" * 70_000, "password": ""})
    assert status == 413
    assert_error(body, "payload_too_large")
    ok = await a.emit("send_chat", {"text": "still here"})
    assert ok["ok"] is True


async def test_chat_text_limits(sign_in) -> None:
    a = await sign_in("C1-001")
    await a.join()
    assert_error(await a.emit("send_chat", {"text": "   "}), "invalid_input")
    assert_error(await a.emit("send_chat", {"text": "x" * 2001}), "invalid_input")
    assert_error(await a.emit("send_chat", {"text": 5}), "invalid_input")
    assert_error(await a.emit("send_chat", {}), "invalid_input")


async def test_flood_is_rate_limited_and_others_keep_going(sign_in) -> None:
    flooder = await sign_in("C1-001")
    other = await sign_in("C1-002")
    await flooder.join()
    await other.join()
    results = await asyncio.gather(*[flooder.emit("send_chat", {"text": f"spam {i}"}) for i in range(60)])
    limited = [r for r in results if not r["ok"]]
    assert limited and all(r["error"] == "rate_limited" for r in limited)
    assert all(r["details"]["retry_after"] > 0 for r in limited)
    ack = await other.emit("send_chat", {"text": "I can still talk"})
    assert ack["ok"] is True


async def test_http_bad_json_unknown_route_and_wrong_method(server) -> None:
    async with aiohttp.ClientSession() as http:
        h = {"Origin": server.url, "Content-Type": "application/json"}
        async with http.post(server.url + "/api/login", data="{not json", headers=h) as r:
            assert r.status == 400
            assert_error(await r.json(), "invalid_input")
        async with http.get(server.url + "/api/nothing-here") as r:
            assert r.status == 404
            assert_error(await r.json(), "not_found")
        async with http.get(server.url + "/api/me") as r:
            assert r.status == 401
            assert_error(await r.json(), "not_authenticated")
        async with http.post(
            server.url + "/api/login", json={"member_id": 1, "password": 2}, headers={"Origin": server.url}
        ) as r:
            assert r.status == 400


async def test_cross_origin_writes_and_sockets_are_refused(sign_in, server) -> None:
    import socketio

    a = await sign_in("C1-001")
    async with a.http.post(server.url + "/api/socket-token", headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403
        assert_error(await r.json(), "not_authorised")
    sio = socketio.AsyncClient(reconnection=False)
    refused: list = []
    sio.on("connect_error", refused.append, namespace="/meeting")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url,
            namespaces=["/meeting"],
            transports=["websocket"],
            auth={"token": await a.token()},
            headers={"Origin": "http://evil.example"},
        )
    assert refused and refused[0]["data"]["error"] == "not_authorised"


async def test_socket_without_token_is_refused(server) -> None:
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    refused: list = []
    sio.on("connect_error", refused.append, namespace="/meeting")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url, namespaces=["/meeting"], transports=["websocket"], headers={"Origin": server.url}
        )
    assert refused[0]["data"]["error"] == "not_authenticated"
