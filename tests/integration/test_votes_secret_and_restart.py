"""Secret ballots leave no member-choice link in the database or the logs; a restart in
the middle of a poll loses nothing."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3

import aiohttp
import pytest

from meetingd.demo import DEMO_PASSWORD

from .conftest import Member, start_server, wait_for
from .procedure_helpers import MOTION, ballot_id, open_poll, quorate_meeting, seen

SECRET = {**MOTION, "kind": "secret", "allow_change": True}


async def test_secret_ballot_leaves_no_link_in_database_or_logs(sign_in, server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    chair, members = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair, SECRET)
    cast: dict[str, tuple[str, list[int], str]] = {}
    for i, m in enumerate(members):
        bid, choices = ballot_id(), [i % 3]
        ack = await m.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": choices})
        assert ack["ok"], ack
        cast[m.member_id] = (ack["receipt"], choices, bid)
    # one member changes their secret ballot (naming the ballot it replaces)
    first = members[0].member_id
    new_bid = ballot_id()
    ack = await members[0].emit(
        "cast_ballot", {"poll_id": poll_id, "ballot_id": new_bid, "choices": [2], "replaces": cast[first][2]}
    )
    assert ack["ok"] and ack["replaced"], ack
    cast[first] = (ack["receipt"], [2], new_bid)
    live = await seen(chair, "tally_updated", lambda d: d["voted"] == 6)
    assert "tally" not in live  # only "x of y have voted" while open
    state = await members[1].emit("get_poll_state", {"poll_id": poll_id})
    assert state["you"] == {"has_voted": True} and state["poll"]["tally"] is None
    await chair.emit("close_poll", {"poll_id": poll_id})
    result = await seen(members[0], "poll_result")
    published = {r["receipt"]: r["choices"] for r in result["receipts"]}
    assert all("voter_id" not in r for r in result["receipts"])
    for receipt, choices, _ in cast.values():
        assert published[receipt] == choices  # each voter's ballot counted as cast
    assert len(published) == 6

    db = sqlite3.connect(server.data_dir / "meetingd.db")
    members_ids = {mid for mid in cast} | {"C1-CHAIR"}
    pks = {
        pk
        for (pk,) in db.execute(
            f"SELECT id FROM members WHERE member_id IN ({','.join('?' * len(members_ids))})",
            sorted(members_ids),
        )
    }
    receipts = {r for r, _, _ in cast.values()}
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    holding_choices = []
    for table in tables:
        cols = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
        for row in db.execute(f"SELECT * FROM {table}"):
            text = json.dumps(row, default=str)
            if not any(r in text for r in receipts):
                continue
            holding_choices.append(table)
            if table == "minutes_entries":  # only the published result, at close
                entry = json.loads(row[cols.index("canonical")])
                assert entry["type"] == "poll_result", entry
                assert "voter_id" not in json.dumps(entry["receipts"])
                continue
            if table == "polls":  # the published result, written at close
                assert row[cols.index("state")] == "closed"
                assert "voter_id" not in row[cols.index("result")]
                continue
            assert not any(
                c in cols for c in ("member_pk", "voter_id", "member_id", "at", "created_at", "id")
            ), (table, cols)
            assert not any(mid in text for mid in members_ids), (table, row)
    assert "secret_ballots" in set(holding_choices)
    # the ballots table has no rowid (no insertion order) and lists ballots in key order
    for table in ("secret_ballots", "poll_voters", "superseded_ballots"):
        try:
            db.execute(f"SELECT rowid FROM {table}")
            raise AssertionError(f"{table} has a rowid")
        except sqlite3.OperationalError:
            pass
    keys = [k for (k,) in db.execute("SELECT ballot_key FROM secret_ballots")]
    assert keys == sorted(keys)
    voters = db.execute("SELECT * FROM poll_voters WHERE poll_id=?", (poll_id,)).fetchall()
    assert [c[1] for c in db.execute("PRAGMA table_info(poll_voters)")] == ["poll_id", "member_pk"]
    assert {pk for _, pk in voters} <= pks and len(voters) == 6
    # minutes: voter_marked names who voted, never what or a receipt
    for (canonical,) in db.execute("SELECT canonical FROM minutes_entries WHERE type='voter_marked'"):
        entry = json.loads(canonical)
        assert set(entry) == {"type", "seq", "at", "meeting_id", "poll_id", "voter_id"}
    db.close()
    # the logs: no receipt, no ballot id, no ballot key
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for receipt, _, bid in cast.values():
        assert receipt not in logged and bid not in logged


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
