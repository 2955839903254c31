"""A finished secret poll leaves no plaintext choice in the data directory or the logs; a
restart in the middle of a poll (open or encrypted) loses nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3

import aiohttp
import pytest

from meetingd.demo import DEMO_PASSWORD
from voting.e2e import ballot as eb
from voting.e2e import group

from .conftest import Member, start_server, wait_for
from .e2e_helpers import DkgTrustee, Trustee, marks_for, poll_context
from .procedure_helpers import MOTION, ballot_id, open_poll, quorate_meeting, seen

SECRET = {**MOTION, "kind": "secret", "allow_change": True}


async def test_a_finished_secret_poll_leaves_no_plaintext_choice_in_the_data_directory(
    sign_in, server, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    chair, members = await quorate_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    assert (await sec.join())["ok"]
    trustees = [Trustee(chair), Trustee(sec)]
    for t in trustees:
        assert (await t.post_key())["ok"]
    poll_id = await open_poll(chair, SECRET)
    ctx = await poll_context(members[0], poll_id)
    secrets: list[int] = [t.secret for t in trustees]
    cast: dict[str, tuple[str, str]] = {}
    for i, m in enumerate(members):
        ballot, randomness = eb.encrypt_ballot(ctx, marks_for(i % 3))
        secrets += randomness
        bid = ballot_id()
        ack = await m.emit(
            "cast_encrypted_ballot", {"poll_id": poll_id, "ballot_id": bid, "ballot": ballot.to_dict()}
        )
        assert ack["ok"], ack
        cast[m.member_id] = (ack["tracker"], bid)
    await chair.emit("close_poll", {"poll_id": poll_id})
    await seen(sec, "e2e_board_published")
    for t in trustees:
        assert (await t.decrypt(poll_id))["ok"]
    result = await seen(members[0], "poll_result", lambda d: d["poll_id"] == poll_id)
    assert result["tally"]["counts"] == [2, 2, 2]

    # every file of the data directory: no trustee secret, no ballot's randomness
    # (either would open a ballot), as hex or as raw bytes
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files) or files
    raw = b"".join(p.read_bytes() for p in files)
    for k in secrets:
        le = group.scalar_bytes(k)
        assert le not in raw and le.hex().encode() not in raw and le[::-1] not in raw

    db = sqlite3.connect(server.data_dir / "meetingd.db")
    assert db.execute("SELECT count(*) FROM secret_ballots").fetchone() == (0,)
    cols = [c[1] for c in db.execute("PRAGMA table_info(e2e_ballots)")]
    assert cols == ["ballot_key", "poll_id", "tracker", "ballot", "superseded"]
    for table in ("e2e_ballots", "poll_voters"):
        try:
            db.execute(f"SELECT rowid FROM {table}")
            raise AssertionError(f"{table} has a rowid")
        except sqlite3.OperationalError:
            pass
    entries = [json.loads(c) for (c,) in db.execute("SELECT canonical FROM minutes_entries ORDER BY seq")]
    closed_seq = next(e["seq"] for e in entries if e["type"] == "poll_closed" and e["poll_id"] == poll_id)
    marks = [e for e in entries if e["type"] == "voter_marked" and e["poll_id"] == poll_id]
    # who voted: published at close in voter order, so neither time nor place says when
    assert [e["voter_id"] for e in marks] == sorted(cast) and all(e["seq"] > closed_seq for e in marks)
    assert all(set(e) == {"type", "seq", "at", "meeting_id", "poll_id", "voter_id"} for e in marks)
    board = [e for e in entries if e["type"] == "e2e_ballot"]
    assert all(e["seq"] > closed_seq for e in board)  # the board is published at close only
    assert [e["tracker"] for e in board] == sorted(e["tracker"] for e in board)
    assert {e["tracker"] for e in board} == {t for t, _ in cast.values()}
    assert not any("choices" in e or "marks" in e for e in entries if e.get("poll_id") == poll_id)
    db.close()
    # the logs: no tracker, no ballot id
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for tracker, bid in cast.values():
        assert tracker not in logged and bid not in logged


async def _sign_in(url: str, member_id: str, srv) -> Member:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    m = Member(srv, http, member_id)
    status, body = await m.call("POST", "/api/login", {"member_id": member_id, "password": DEMO_PASSWORD})
    assert status == 200, body
    return m


@pytest.mark.both_stores
async def test_cast_during_server_restart_loses_nothing(tmp_path, store) -> None:
    srv, runner = await start_server(tmp_path, **store)
    people: list[Member] = []
    try:
        chair = await _sign_in(srv.url, "C1-CHAIR", srv)
        people.append(chair)
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        await chair.join()
        voters = []
        for mid in ("C1-001", "C1-002", "C1-003", "C1-004", "C1-005", "C1-006"):
            m = await _sign_in(srv.url, mid, srv)
            people.append(m)
            await m.join()
            voters.append(m)
        poll_id = await open_poll(chair, {**MOTION, "time_limit_s": 600})
        acked = await voters[0].emit(
            "cast_ballot", {"poll_id": poll_id, "ballot_id": (b0 := ballot_id()), "choices": [0]}
        )
        assert acked["ok"]
        # a cast in flight while the server goes down
        payload = {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]}
        assert voters[1].sio is not None
        in_flight = asyncio.ensure_future(
            voters[1].sio.call("cast_ballot", payload, namespace="/meeting", timeout=5)
        )
        await asyncio.sleep(0)
        await runner.cleanup()
        try:
            first_answer = await in_flight
        except Exception:
            first_answer = None  # no ack: the client will retry
        for m in people:
            await m.close()
        people.clear()

        srv, runner = await start_server(tmp_path, **store)
        chair = await _sign_in(srv.url, "C1-CHAIR", srv)
        people.append(chair)
        await chair.join()
        a = await _sign_in(srv.url, "C1-001", srv)
        b = await _sign_in(srv.url, "C1-002", srv)
        people += [a, b]
        join = await a.join()
        assert join["procedure"]["my_votes"][str(poll_id)] == {
            "has_voted": True,
            "receipt": acked["receipt"],
            "choices": [0],
        }
        poll = next(p for p in join["procedure"]["polls"] if p["poll_id"] == poll_id)
        assert poll["state"] == "open" and poll["expires_at"]
        await b.join()
        retry = await b.emit("cast_ballot", payload)  # the client retries until acked
        assert retry["ok"], retry
        if first_answer is not None and first_answer.get("ok"):
            assert retry["duplicate"] is True and retry["receipt"] == first_answer["receipt"]
        again = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": b0, "choices": [0]})
        assert again["duplicate"] is True and again["receipt"] == acked["receipt"]
        state = await b.emit("get_poll_state", {"poll_id": poll_id})
        assert state["poll"]["voted"] == 2 and state["poll"]["tally"]["counts"] == [1, 1, 0]
        assert state["you"]["has_voted"] is True
        await chair.emit("close_poll", {"poll_id": poll_id})
        await wait_for(lambda: bool(a.seen("poll_result")))
        assert a.seen("poll_result")[-1]["tally"]["voters"] == 2
    finally:
        for m in people:
            await m.close()
        await runner.cleanup()


@pytest.mark.both_stores
async def test_time_limit_closes_the_poll(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair, {**MOTION, "time_limit_s": 1})
    closed = await seen(a, "poll_closed", seconds=5)
    assert closed["poll"]["poll_id"] == poll_id and closed["poll"]["close_reason"] == "time_limit"
    late = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert late["error"] == "poll_closed"


async def test_an_encrypted_poll_survives_restarts_during_the_vote_and_the_decryption(tmp_path) -> None:
    srv, runner = await start_server(tmp_path)
    people: list[Member] = []

    async def enter(*ids: str) -> list[Member]:
        out = []
        for mid in ids:
            m = await _sign_in(srv.url, mid, srv)
            people.append(m)
            assert (await m.join())["ok"]
            out.append(m)
        return out

    async def restart() -> None:
        nonlocal srv, runner
        for m in people:
            await m.close()
        people.clear()
        await runner.cleanup()
        srv, runner = await start_server(tmp_path)

    try:
        chair, sec = await enter("C1-CHAIR", "C1-SEC")
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        await chair.join()
        await sec.join()
        voters = await enter(*[f"C1-00{i}" for i in range(1, 7)])
        trustees = [Trustee(chair), Trustee(sec)]
        for t in trustees:
            assert (await t.post_key())["ok"]
        poll_id = await open_poll(chair, SECRET)
        ctx = await poll_context(voters[0], poll_id)
        first = {
            "poll_id": poll_id,
            "ballot_id": ballot_id(),
            "ballot": eb.encrypt_ballot(ctx, [1, 0, 0])[0].to_dict(),
        }
        acked = await voters[0].emit("cast_encrypted_ballot", first)
        assert acked["ok"]
        second = {
            "poll_id": poll_id,
            "ballot_id": ballot_id(),
            "ballot": eb.encrypt_ballot(ctx, [0, 0, 1])[0].to_dict(),
        }
        assert (await voters[1].emit("cast_encrypted_ballot", second))["ok"]

        await restart()
        chair, sec, a, b = await enter("C1-CHAIR", "C1-SEC", "C1-001", "C1-002")
        again = await a.emit("cast_encrypted_ballot", first)  # a retry after the restart
        assert again["ok"] and again["duplicate"] and again["tracker"] == acked["tracker"], again
        state = await b.emit("get_poll_state", {"poll_id": poll_id})
        assert state["poll"]["voted"] == 2 and state["you"] == {"has_voted": True}
        await chair.emit("close_poll", {"poll_id": poll_id})
        trustees[0].member = chair
        assert (await trustees[0].decrypt(poll_id))["ok"]

        await restart()
        chair, sec, a = await enter("C1-CHAIR", "C1-SEC", "C1-001")
        waiting = await chair.emit("get_e2e", {"poll_id": poll_id})
        assert waiting["poll"]["waiting_for"] == ["C1-SEC"]
        trustees[1].member = sec
        ack = await trustees[1].decrypt(poll_id)
        assert ack["ok"] and ack["result"]["tally"]["counts"] == [1, 0, 1], ack
        await wait_for(lambda: bool(a.seen("poll_result")))
    finally:
        for m in people:
            await m.close()
        await runner.cleanup()


async def test_threshold_key_generation_and_tally_survive_restarts(tmp_path) -> None:
    srv, runner = await start_server(tmp_path)
    people: list[Member] = []

    async def enter(*ids: str) -> list[Member]:
        out = []
        for mid in ids:
            m = await _sign_in(srv.url, mid, srv)
            people.append(m)
            assert (await m.join())["ok"]
            out.append(m)
        return out

    async def restart() -> None:
        nonlocal srv, runner
        for m in people:
            await m.close()
        people.clear()
        await runner.cleanup()
        srv, runner = await start_server(tmp_path)

    try:
        chair, sec = await enter("C1-CHAIR", "C1-SEC")
        assert (await chair.call("POST", "/api/meetings/1/open"))[0] == 200
        await chair.join()
        voters = await enter(*[f"C1-00{i}" for i in range(1, 7)])
        assert (await chair.emit("name_deputy_trustee", {"member_id": "C1-001"}))["ok"]
        trustees = [DkgTrustee(chair), DkgTrustee(sec), DkgTrustee(voters[0])]
        for t in trustees:
            assert (await t.post_key())["ok"]
        await restart()  # between the keys and the dealings
        chair, sec, deputy, b, c, *_rest = await enter(
            "C1-CHAIR", "C1-SEC", *[f"C1-00{i}" for i in range(1, 7)]
        )
        for t, m in zip(trustees, (chair, sec, deputy), strict=True):
            t.member = m
        for t in trustees:
            assert (await t.deal())["ok"]
        for t in trustees:
            assert (await t.confirm())["ok"]
        poll_id = await open_poll(chair, SECRET)
        ctx = await poll_context(b, poll_id)
        for m, option in ((b, 0), (c, 2), (deputy, 0)):
            ballot = eb.encrypt_ballot(ctx, marks_for(option))[0].to_dict()
            assert (
                await m.emit(
                    "cast_encrypted_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "ballot": ballot}
                )
            )["ok"]
        await chair.emit("close_poll", {"poll_id": poll_id})
        assert (await trustees[1].decrypt(poll_id))["ok"]

        await restart()  # one of the two partial decryptions is in
        chair, deputy = await enter("C1-CHAIR", "C1-001")
        state = await chair.emit("get_e2e", {"poll_id": poll_id})
        assert state["poll"]["threshold"] == 2 and state["poll"]["waiting_for"] == ["C1-001", "C1-CHAIR"]
        assert state["dkg"]["phase"] == "complete" and state["poll_dkg"]["round"] == 1
        trustees[2].member = deputy
        ack = await trustees[2].decrypt(poll_id)
        assert ack["ok"] and ack["result"]["e2e"]["counts"] == [2, 0, 1], ack
    finally:
        for m in people:
            await m.close()
        await runner.cleanup()
