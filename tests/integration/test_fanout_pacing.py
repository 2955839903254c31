"""Large-room broadcasts are written a slice at a time, as one frame built once where that
keeps each connection's order, and still arrive in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from aiohttp import web

from signaling import fanout
from tests.support.polling import wait_for

pytestmark = pytest.mark.asyncio


async def _room_of(
    n: int,
) -> tuple[socketio.AsyncServer, web.AppRunner, list[socketio.AsyncClient], list[list[Any]]]:
    fanout.remember_websockets()
    sio = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    sio.attach(app)

    @sio.on("connect", namespace="/t")  # type: ignore[misc]
    async def connect(sid: str, environ: Any) -> None:
        await sio.enter_room(sid, "room", namespace="/t")

    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    clients: list[socketio.AsyncClient] = []
    got: list[list[Any]] = []
    for _ in range(n):
        c = socketio.AsyncClient(reconnection=False)
        seen: list[Any] = []
        got.append(seen)
        c.on("m", seen.append, namespace="/t")
        await c.connect(url, namespaces=["/t"], transports=["websocket"])
        clients.append(c)
    return sio, runner, clients, got


async def _close(runner: web.AppRunner, clients: list[socketio.AsyncClient]) -> None:
    await asyncio.gather(*(c.disconnect() for c in clients))
    await runner.cleanup()


async def test_a_paced_broadcast_yields_between_slices_and_keeps_every_members_order(monkeypatch) -> None:
    monkeypatch.setattr(fanout, "BROADCAST_SLICE", 3)
    sio, runner, clients, got = await _room_of(10)
    try:
        ticks = 0
        stop = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        before = ticks
        # a slice-sized room writes in one go; 10 members with slices of 3 yield 3 times
        sent = await fanout.write_to_room(sio, "/t", "room", "m", 0)
        assert sent == 10 and ticks - before >= 3
        # broadcasts started together still arrive in the order they were sent, everywhere
        counts = await asyncio.gather(*(fanout.write_to_room(sio, "/t", "room", "m", i) for i in range(1, 8)))
        assert counts == [10] * 7
        stop.set()
        await t
        await wait_for(lambda: all(len(seen) >= 8 for seen in got), 10, "every member has all 8")
        assert all(seen == list(range(8)) for seen in got), got
        assert not fanout._pacing  # nothing left behind once the room is quiet
    finally:
        await _close(runner, clients)


async def test_a_small_broadcast_does_not_overtake_a_paced_one_in_flight(monkeypatch) -> None:
    sio, runner, clients, got = await _room_of(6)
    try:
        monkeypatch.setattr(fanout, "BROADCAST_SLICE", 2)
        big = asyncio.ensure_future(fanout.write_to_room(sio, "/t", "room", "m", "first"))
        await asyncio.sleep(0)  # the first slice is written, the rest waits
        monkeypatch.setattr(fanout, "BROADCAST_SLICE", 64)  # the room now fits one slice
        await fanout.write_to_room(sio, "/t", "room", "m", "second")
        await big
        await wait_for(lambda: all(len(seen) >= 2 for seen in got), 10, "every member has both")
        assert all(seen == ["first", "second"] for seen in got), got
    finally:
        await _close(runner, clients)


async def test_a_broadcast_goes_straight_to_idle_sockets_and_queues_behind_a_pending_message() -> None:
    sio, runner, clients, got = await _room_of(4)
    try:
        direct, queued = fanout.frames.direct, fanout.frames.queued
        big = "x" * 70_000  # a frame with a 64-bit length
        for value in ("small", "y" * 300, big):
            assert await fanout.write_to_room(sio, "/t", "room", "m", value) == 4
        assert fanout.frames.direct - direct == 12 and fanout.frames.queued == queued
        await wait_for(lambda: all(len(seen) >= 3 for seen in got), 10, "every member has all 3")
        assert all(seen == ["small", "y" * 300, big] for seen in got)
        # a message queued for one member (not yet written) keeps its place: the broadcast
        # after it goes through that member's queue too, the others' straight out
        first = next(iter(sio.manager.get_participants("/t", "room")))[0]
        await sio.emit("m", "to one", to=first, namespace="/t")
        direct, queued = fanout.frames.direct, fanout.frames.queued
        await fanout.write_to_room(sio, "/t", "room", "m", "after")
        assert fanout.frames.queued - queued == 1 and fanout.frames.direct - direct == 3
        await wait_for(lambda: sum(len(seen) for seen in got) >= 3 * 4 + 5, 10, "the last two")
        assert sorted(seen[3:] for seen in got) == sorted([["to one", "after"]] + [["after"]] * 3)
    finally:
        await _close(runner, clients)


async def test_a_browser_like_connection_that_compresses_with_context_takeover_decodes_everything() -> None:
    """Direct frames never desynchronise permessage-deflate: a small broadcast goes straight
    out uncompressed, a big one through the queue (aiohttp compresses it with the context
    it keeps), and both, and a message sent to the member alone after them, decode."""
    import aiohttp

    sio, runner, clients, _got = await _room_of(1)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/socket.io/?EIO=4&transport=websocket"
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(url, compress=15)
        assert ws.compress == 15  # negotiated, with context takeover both ways
        opened = await ws.receive_str()
        assert opened.startswith("0")
        await ws.send_str("40/t,")
        assert (await ws.receive_str()).startswith("40/t,")
        await wait_for(lambda: len(list(sio.manager.get_participants("/t", "room"))) == 2, 10, "in the room")
        member = [e for sid, e in sio.manager.get_participants("/t", "room") if e != clients[0].eio.sid]
        big = "member present " * 400
        direct = fanout.frames.direct
        for value in ("small", big, "small again"):
            await fanout.write_to_room(sio, "/t", "room", "m", value)
        assert fanout.frames.direct - direct >= 2  # the small ones, for both members
        sid = sio.manager.sid_from_eio_sid(member[0], "/t")
        await sio.emit("m", big + "!", to=sid, namespace="/t")
        texts = []
        while len(texts) < 4:
            msg = await ws.receive(timeout=10)
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith("42/t,"):
                texts.append(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2":  # engine.io ping
                await ws.send_str("3")
            else:
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
        import json

        assert [json.loads(t[len("42/t,") :])[1] for t in texts] == ["small", big, "small again", big + "!"]
        await ws.close()
    finally:
        await session.close()
        await _close(runner, clients)
