"""Every input is answered precisely, over HTTP and Socket.IO alike: deep nesting,
lone UTF-16 surrogates, huge integers, NaN and floats where integers are meant get
``invalid_input`` naming the field; what a decoder would drop gets an answer; a
state-changing request or a socket without ``Origin`` is refused unless it carries an
explicit token."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
import socketio

from tests.support.raw_socketio import RawSocket

from .conftest import Member, Server
from .procedure_helpers import ballot_id, open_poll, quorate_meeting

DEEP = 20_000


def assert_invalid(body: dict[str, Any], field: str | None) -> None:
    assert body["ok"] is False and body["error"] == "invalid_input", body
    if field is not None:
        assert body["details"]["field"] == field, body


async def _post_raw(server: Server, path: str, text: str) -> tuple[int, dict[str, Any]]:
    headers = {"Origin": server.url, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http, http.post(server.url + path, data=text, headers=headers) as r:
        return r.status, await r.json()


# -- HTTP ---------------------------------------------------------------------------------


async def test_http_deeply_nested_body_is_invalid_input_not_a_500(server: Server) -> None:
    status, body = await _post_raw(server, "/api/login", '{"member_id": ' + "[" * DEEP + "]" * DEEP + "}")
    assert status == 400
    assert_invalid(body, None)
    status, body = await _post_raw(server, "/api/login", '{"member_id": ' + "[" * 40 + "]" * 40 + "}")
    assert status == 400
    assert_invalid(body, "member_id")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ('"C1-\\ud800"', "member_id"),  # a lone surrogate
        ("1" + "0" * 400, "member_id"),  # 10**400
        ("NaN", "member_id"),
        ("Infinity", "member_id"),
    ],
)
async def test_http_values_no_payload_may_hold_are_invalid_input_naming_the_field(
    server: Server, value: str, field: str
) -> None:
    status, body = await _post_raw(server, "/api/login", f'{{"member_id": {value}, "password": "x"}}')
    assert status == 400
    assert_invalid(body, field)


async def test_http_lone_surrogate_in_a_password_is_invalid_input(server: Server) -> None:
    status, body = await _post_raw(server, "/api/login", '{"member_id": "C1-001", "password": "pa\\udc00ss"}')
    assert status == 400
    assert_invalid(body, "password")


# -- Socket.IO ------------------------------------------------------------------------------


async def test_socket_huge_integers_floats_and_nan_are_invalid_input_naming_the_field(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    for bad in (10**400, 2**53, 1.0, 1.5, float("nan"), float("inf"), True):
        ack = await a.emit("cast_ballot", {"poll_id": bad, "ballot_id": ballot_id(), "choices": [0]})
        assert_invalid(ack, "poll_id")
    for bad_choice in (0.0, float("nan"), 10**400):
        ack = await a.emit(
            "cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [bad_choice]}
        )
        assert_invalid(ack, "choices")
    ack = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert ack["ok"], ack  # and the member can still vote


async def test_socket_lone_surrogate_in_a_chat_message_is_invalid_input(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    raw = await RawSocket.connect(a.server.url, await a.token(), a.server.url)
    try:
        await raw.call_raw("join", json.dumps({"meeting_id": 1, "attendance": "remote"}))
        ack = await raw.call_raw("send_chat", '{"text": "hello \\ud83d"}')
        assert_invalid(ack, "text")
        ack = await raw.call_raw("send_chat", '{"text": "hello \\ud83d\\ude00"}')  # a paired one is fine
        assert ack["ok"], ack
    finally:
        await raw.close()
    del chair


async def test_socket_20000_deep_payload_gets_an_ack(sign_in) -> None:
    a: Member = await sign_in("C1-001")
    raw = await RawSocket.connect(a.server.url, await a.token(), a.server.url)
    try:
        ack = await raw.call_raw("join", "[" * DEEP + "]" * DEEP)
        assert_invalid(ack, None)
        assert "nested" in ack["message"]
        ack = await raw.call_raw("join", '{"meeting_id": ' + "[" * 40 + "]" * 40 + "}")
        assert_invalid(ack, "meeting_id")
        ack = await raw.call_raw("join", '{"meeting_id": 1, "attendance": "remote"}')  # still served
        assert ack["ok"], ack
    finally:
        await raw.close()


async def test_socket_unknown_event_and_unreadable_packet_are_answered(sign_in) -> None:
    a: Member = await sign_in("C1-001")
    await a.connect()
    ack = await a.emit("vote_twice", {"poll_id": 1})
    assert ack["ok"] is False and ack["error"] == "unknown_event", ack
    raw = await RawSocket.connect(a.server.url, await a.token(), a.server.url)
    try:
        await raw.send_packet("42/meeting,7{not json at all")
        event = json.loads((await raw.receive('42/meeting,["protocol_error"'))[len("42/meeting,") :])
        assert event[0] == "protocol_error" and "could not read" in event[1]["message"]
        ack = await raw.call_raw("join", '{"meeting_id": 1, "attendance": "remote"}')  # still served
        assert ack["ok"], ack
    finally:
        await raw.close()


# -- Origin ---------------------------------------------------------------------------------


async def test_state_changing_request_without_origin_is_refused_unless_it_carries_a_bearer_token(
    sign_in, server: Server
) -> None:
    a: Member = await sign_in("C1-001")
    cookie = next(c.value for c in a.http.cookie_jar if c.key == "meetingd_session")
    async with aiohttp.ClientSession() as bare:  # no cookie, no Origin
        async with bare.post(server.url + "/api/login", json={"member_id": "C1-001", "password": "x"}) as r:
            assert r.status == 403
            assert (await r.json())["error"] == "origin_required"
    async with a.http.post(server.url + "/api/socket-token") as r:  # the cookie, but no Origin
        assert r.status == 403
        body = await r.json()
        assert body["error"] == "origin_required" and "Bearer" in body["message"]
    async with aiohttp.ClientSession() as api:  # an API client: an explicit token, no Origin
        headers = {"Authorization": f"Bearer {cookie}"}
        async with api.post(server.url + "/api/socket-token", headers=headers) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["token"]
        async with api.post(
            server.url + "/api/socket-token", headers={"Authorization": "Bearer nonsense"}
        ) as r:
            assert r.status == 401


async def test_socket_connect_without_origin_is_refused(sign_in, server: Server) -> None:
    a: Member = await sign_in("C1-001")
    sio = socketio.AsyncClient(reconnection=False)
    refused: list[Any] = []
    sio.on("connect_error", refused.append, namespace="/meeting")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(
            server.url, namespaces=["/meeting"], transports=["websocket"], auth={"token": await a.token()}
        )
    assert refused and refused[0]["data"]["error"] == "origin_required"
