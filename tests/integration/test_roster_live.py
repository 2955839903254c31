"""Sign in, connect with the token, join, see others arrive and leave, resume, chat."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
import socketio

from .conftest import wait_for


async def test_member_sees_another_join_and_leave(sign_in) -> None:
    a = await sign_in("C1-001")
    b = await sign_in("C1-002")
    ack = await a.join(attendance="main_room")
    assert ack["ok"] is True
    assert ack["me"]["member_id"] == "C1-001" and ack["me"]["attendance"] == "main_room"
    assert ack["meeting"]["title"] == "Monthly cell meeting"

    ack_b = await b.join(attendance="remote")
    # the roster as of the last tick (A, perhaps not yet B), and B itself as "me"
    assert {p["member_id"] for p in ack_b["roster"]} | {ack_b["me"]["member_id"]} == {"C1-001", "C1-002"}
    await wait_for(lambda: any(d["participant"]["member_id"] == "C1-002" for d in a.roster_changes("joined")))

    assert (await b.emit("leave", {}))["ok"] is True
    await wait_for(
        lambda: any(
            d["participant"]["member_id"] == "C1-002" and d["participant"]["state"] == "left"
            for d in a.roster_changes("left")
        )
    )


async def test_sub_site_attendance_and_operator_site(sign_in, server) -> None:
    op = await sign_in("C1-ISL-OP")
    ack = await op.join(attendance="sub_site")
    assert ack["me"]["role"] == "operator"
    assert ack["me"]["site"]["name"] == "Island post"
    m = await sign_in("C1-003")
    site_id = ack["me"]["site"]["id"]
    ack = await m.join(attendance="sub_site", site_id=site_id)
    assert ack["me"]["site"] == {"id": site_id, "name": "Island post"}
    bad = await (await sign_in("C1-004")).join(attendance="sub_site", site_id=999)
    assert bad["error"] == "invalid_input" and bad["details"]["field"] == "site_id"


async def test_dropped_member_is_reconnecting_then_resumes_same_seat(sign_in) -> None:
    a = await sign_in("C1-001")
    b = await sign_in("C1-002")
    await a.join()
    first = await b.join(attendance="main_room")
    assert b.sio is not None
    await b.sio.disconnect()  # the network drops
    await wait_for(
        lambda: any(
            d["participant"]["member_id"] == "C1-002" and d["participant"]["state"] == "reconnecting"
            # "joined" when the join and the drop fell in one 0.2 s interval (merged)
            for d in a.roster_changes("updated") + a.roster_changes("joined")
        )
    )
    b.sio = None
    again = await b.join(attendance="main_room")  # fresh token, same member
    assert again["me"]["state"] == "online"
    assert again["me"]["joined_at"] == first["me"]["joined_at"]  # the same seat, resumed
    seats = [p for p in again["roster"] if p["member_id"] == "C1-002"]
    assert len(seats) == 1


async def test_dropped_member_leaves_after_grace(sign_in, server) -> None:
    a = await sign_in("C1-001")
    b = await sign_in("C1-002")
    await a.join()
    await b.join()
    assert b.sio is not None
    await b.sio.disconnect()
    await wait_for(
        lambda: any(d["participant"]["member_id"] == "C1-002" for d in a.roster_changes("left")), seconds=5
    )


async def test_chat_is_stored_and_replayed_on_join(sign_in) -> None:
    a = await sign_in("C1-001")
    b = await sign_in("C1-002")
    await a.join()
    await b.join()
    ack = await a.emit("send_chat", {"text": "  Xin chào mọi người  "})
    assert ack["ok"] and ack["message"]["text"] == "Xin chào mọi người"
    await wait_for(lambda: any(d["message"]["text"] == "Xin chào mọi người" for d in b.seen("chat_posted")))
    c = await sign_in("C1-003")
    history = (await c.join())["chat"]
    assert [m["text"] for m in history] == ["Xin chào mọi người"]
    assert history[0]["member_id"] == "C1-001"


async def test_meeting_open_and_close_are_broadcast_and_enforced(sign_in) -> None:
    chair = await sign_in("C1-CHAIR")
    member = await sign_in("C1-001")
    await member.join()
    status, body = await member.call("POST", "/api/meetings/1/open")
    assert status == 403 and body["error"] == "not_authorised"
    status, body = await chair.call("POST", "/api/meetings/1/open")
    assert status == 200 and body["meeting"]["state"] == "open"
    await wait_for(lambda: any(d["meeting"]["state"] == "open" for d in member.seen("meeting_state_changed")))
    status, body = await chair.call("POST", "/api/meetings/1/open")
    assert status == 409 and body["error"] == "invalid_state"
    status, body = await chair.call("POST", "/api/meetings/1/close")
    assert body["meeting"]["state"] == "closed"
    late = await sign_in("C1-005")
    ack = await late.join()
    assert ack["ok"] is False and ack["error"] == "meeting_closed"


async def test_attendance_intervals_are_recorded(sign_in, server) -> None:
    from sqlalchemy import select

    from meetingd.storage.models import AttendanceInterval

    a = await sign_in("C1-001")
    await a.join(attendance="main_room")
    await a.emit("leave", {})
    async with server.svc.db() as s:
        rows = (await s.scalars(select(AttendanceInterval))).all()
    assert len(rows) == 1 and rows[0].attendance == "main_room" and rows[0].left_at is not None


async def test_socket_token_is_single_use(sign_in, server) -> None:
    a = await sign_in("C1-001")
    token = await a.token()
    first = socketio.AsyncClient(reconnection=False)
    origin = {"Origin": server.url}
    await first.connect(
        server.url, namespaces=["/meeting"], auth={"token": token}, transports=["websocket"], headers=origin
    )
    await first.disconnect()
    second = socketio.AsyncClient(reconnection=False)
    refused: list[object] = []
    second.on("connect_error", refused.append, namespace="/meeting")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await second.connect(
            server.url,
            namespaces=["/meeting"],
            auth={"token": token},
            transports=["websocket"],
            headers=origin,
        )
    message = "connect token is invalid, used or expired; get a new one"
    assert refused == [
        {"message": message, "data": {"ok": False, "error": "not_authenticated", "message": message}}
    ]


async def test_a_join_storm_reaches_each_member_as_a_few_merged_messages(sign_in) -> None:
    """Nine members joining at once: the observer gets each of them once, in at most a few
    ``roster_changed`` messages (one per 0.2 s tick), not one message per join."""
    import asyncio

    watcher = await sign_in("C1-001")
    await watcher.join()
    members = [await sign_in(f"C1-{n:03d}") for n in range(2, 9)] + [
        await sign_in(m) for m in ("C1-SEC", "C1-CHAIR")
    ]
    await asyncio.gather(*(m.join() for m in members))
    wanted = {m.member_id for m in members}
    await wait_for(
        lambda: wanted <= {c["participant"]["member_id"] for c in watcher.roster_changes("joined")}
    )
    messages = watcher.seen("roster_changed")
    announced = [
        c["participant"]["member_id"]
        for d in messages
        for c in d["changes"]
        if c["participant"]["member_id"] != "C1-001"
    ]
    assert sorted(announced) == sorted(wanted), announced  # each once
    assert len(messages) <= 4, [len(d["changes"]) for d in messages]


async def test_members_joining_at_once_each_end_with_the_whole_roster(sign_in) -> None:
    """A join ack's roster is shared by every join of one roster tick, so it may lack the
    joins of that tick: each member's ack, followed by the roster changes it receives after
    it, must still add up to everyone (nobody missing, nobody twice, every state right)."""
    ids = ["C1-CHAIR", "C1-SEC"] + [f"C1-{i:03d}" for i in range(1, 9)]
    members = [await sign_in(mid) for mid in ids]
    for m in members:
        await m.connect()
    acks: dict[str, tuple[int, dict[str, Any]]] = {}
    rng = random.Random(5)

    async def join(m: Any) -> None:
        await asyncio.sleep(rng.uniform(0, 1.0))  # spread over ~5 roster ticks
        done = asyncio.get_running_loop().create_future()

        def answered(ack: dict[str, Any]) -> None:  # runs in arrival order with the events
            acks[m.member_id] = (len(m.events), ack)
            done.set_result(None)

        join = {"meeting_id": 1, "attendance": "remote"}
        await m.sio.emit("join", join, namespace="/meeting", callback=answered)
        await done

    await asyncio.gather(*(join(m) for m in members))

    def rebuilt(m: Any) -> dict[str, str]:
        position, ack = acks[m.member_id]
        assert ack["ok"], ack
        seats = {p["member_id"]: p["state"] for p in ack["roster"]}
        seats[ack["me"]["member_id"]] = ack["me"]["state"]
        for event, data in m.events[position:]:
            if event == "roster_changed":
                for change in data["changes"]:
                    seats[change["participant"]["member_id"]] = change["participant"]["state"]
        return seats

    everyone = dict.fromkeys(ids, "online")
    await wait_for(lambda: all(rebuilt(m) == everyone for m in members), seconds=5)
