"""Casting ballots over real Socket.IO: every wrong cast gets a precise error, every
retry the same receipt, and the tally equals the accepted ballots."""

from __future__ import annotations

import pytest

from .procedure_helpers import MOTION, ballot_id, open_meeting, open_poll, quorate_meeting, seen

pytestmark = pytest.mark.both_stores


async def test_open_poll_cast_close_publishes_result(sign_in) -> None:
    chair, members = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    for i, m in enumerate(members):
        ack = await m.emit(
            "cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0 if i < 4 else 1]}
        )
        assert ack["ok"] and ack["duplicate"] is False and ack["receipt"], ack
    update = await seen(chair, "tally_updated", lambda d: d["voted"] == 6)
    assert update["tally"]["counts"] == [4, 2, 0]
    ack = await chair.emit("close_poll", {"poll_id": poll_id})
    assert ack["ok"] and ack["poll"]["state"] == "closed"
    result = await seen(members[0], "poll_result")
    assert result["poll_id"] == poll_id
    assert result["tally"]["counts"] == [4, 2, 0]
    assert result["outcome"]["decision"] == "adopted"
    assert {r["voter_id"] for r in result["receipts"]} == {m.member_id for m in members}


async def test_vote_after_close_is_refused(sign_in) -> None:
    chair, (a, _b, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    await chair.emit("close_poll", {"poll_id": poll_id})
    ack = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert ack["ok"] is False and ack["error"] == "poll_closed"


async def test_second_ballot_with_new_id_is_already_voted(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    first = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert first["ok"]
    again = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]})
    assert again["ok"] is False and again["error"] == "already_voted"


async def test_replayed_ballot_returns_same_receipt_and_counts_once(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    payload = {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1]}
    first = await a.emit("cast_ballot", payload)
    replay = await a.emit("cast_ballot", payload)
    assert replay["ok"] and replay["duplicate"] is True
    assert replay["receipt"] == first["receipt"]
    state = await a.emit("get_poll_state", {"poll_id": poll_id})
    assert state["poll"]["voted"] == 1 and state["poll"]["tally"]["counts"] == [0, 1, 0]
    assert state["you"] == {"has_voted": True, "receipt": first["receipt"], "choices": [1]}


async def test_tampered_replay_is_ballot_id_reused(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    bid = ballot_id()
    assert (await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": [0]}))["ok"]
    ack = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": bid, "choices": [1]})
    assert ack["ok"] is False and ack["error"] == "ballot_id_reused"


async def test_observer_and_operator_cannot_vote(sign_in) -> None:
    chair, _ = await quorate_meeting(sign_in)
    obs = await sign_in("G-OBS1")
    await obs.join()
    op = await sign_in("C1-ISL-OP")
    await op.join(attendance="sub_site")
    poll_id = await open_poll(chair)
    for who in (obs, op):
        ack = await who.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
        assert ack["ok"] is False and ack["error"] == "not_eligible", ack


async def test_payload_cannot_name_a_voter(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    ack = await a.emit(
        "cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0], "voter_id": "C1-002"}
    )
    assert ack["ok"] is False and ack["error"] == "invalid_input"
    assert ack["details"]["field"] == "voter_id"
    state = await a.emit("get_poll_state", {"poll_id": poll_id})
    assert state["poll"]["voted"] == 0


async def test_option_out_of_range_and_bad_choices(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    cases = [
        ([3], "option_out_of_range"),
        ([0, 1], "too_many_choices"),
        (["yes"], "invalid_input"),
        ([], "choice_required"),  # a motion takes exactly one
    ]
    for choices, code in cases:
        ack = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": choices})
        assert ack["ok"] is False and ack["error"] == code, (choices, ack)
    bad_id = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": "short", "choices": [0]})
    assert bad_id["error"] == "invalid_input" and bad_id["details"]["field"] == "ballot_id"
    unknown = await a.emit("cast_ballot", {"poll_id": 999, "ballot_id": ballot_id(), "choices": [0]})
    assert unknown["error"] == "not_found"


async def test_absent_member_cannot_vote(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair)
    assert (await a.emit("leave", {}))["ok"]
    assert (await a.join(attendance="remote"))["ok"]  # back: allowed again
    b = await sign_in("C1-008")
    await b.join()
    await b.emit("leave", {})
    # b's socket has left the meeting: events need join first
    ack = await b.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert ack["ok"] is False and ack["error"] == "invalid_state"


async def test_changed_vote_replaces_the_earlier_one(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    poll_id = await open_poll(chair, {**MOTION, "allow_change": True})
    first_id = ballot_id()
    first = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": first_id, "choices": [0]})
    second = await a.emit(
        "cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [1], "replaces": first_id}
    )
    assert second["ok"] and second["replaced"] is True, second
    late_retry = await a.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": first_id, "choices": [0]})
    assert late_retry["error"] == "ballot_superseded"
    state = await a.emit("get_poll_state", {"poll_id": poll_id})
    assert state["poll"]["tally"]["counts"] == [0, 1, 0] and first["receipt"]


async def test_role_checks_on_poll_commands(sign_in) -> None:
    chair, (a, *_) = await quorate_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    await sec.join()
    for who in (a, sec):
        ack = await who.emit("create_poll", {"config": MOTION})
        assert ack["error"] == "not_authorised", ack
    poll_id = await open_poll(chair)
    for event in ("open_poll", "close_poll"):
        ack = await a.emit(event, {"poll_id": poll_id})
        assert ack["error"] == "not_authorised"
    bad = await chair.emit("create_poll", {"config": {"question": "x", "options": "maybe"}})
    assert bad["error"] == "invalid_input" and bad["details"]["field"] == "options"


async def test_meeting_must_be_open_for_polls(sign_in) -> None:
    chair, _ = await open_meeting(sign_in)
    draft = (await chair.emit("create_poll", {"config": MOTION}))["poll"]["poll_id"]
    status, body = await chair.call("POST", "/api/meetings/1/close")
    assert status == 200, body
    # the chair's socket is still joined: its poll commands are refused, precisely
    ack = await chair.emit("create_poll", {"config": MOTION})
    assert ack["ok"] is False and ack["error"] == "meeting_not_open", ack
    ack = await chair.emit("open_poll", {"poll_id": draft})
    assert ack["ok"] is False and ack["error"] == "meeting_not_open", ack
    # and a fresh connection cannot join the closed meeting at all
    late = await sign_in("C1-001")
    ack = await late.join()
    assert ack["ok"] is False and ack["error"] == "meeting_closed", ack
