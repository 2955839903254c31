"""Encrypted secret polls over real Socket.IO: trustees' keys, encrypted casts checked
before the ack, the board and sums at close, partial decryptions from the trustees, the
published result, and the refusals with their codes."""

from __future__ import annotations

import copy
import json
import sqlite3
from typing import Any

from voting.e2e import tally

from .conftest import Member
from .e2e_helpers import Trustee, encrypt, marks_for, poll_context
from .procedure_helpers import MOTION, ballot_id, open_poll, quorate_meeting, seen

SECRET = {**MOTION, "kind": "secret", "allow_change": True}


async def _trustees(sign_in: Any, chair: Member) -> tuple[Trustee, Trustee]:
    sec = await sign_in("C1-SEC")
    assert (await sec.join())["ok"]
    t_chair, t_sec = Trustee(chair), Trustee(sec)
    assert (await t_chair.post_key())["ok"]
    ack = await t_sec.post_key()
    assert ack["ok"] and ack["public_key"], ack
    return t_chair, t_sec


async def test_an_encrypted_poll_is_decrypted_by_both_trustees_and_published(sign_in, server) -> None:
    chair, members = await quorate_meeting(sign_in)
    t_chair, t_sec = await _trustees(sign_in, chair)
    poll_id = await open_poll(chair, SECRET)
    ctx = await poll_context(members[0], poll_id)
    trackers = {}
    for i, m in enumerate(members):
        bid = ballot_id()
        ack = await m.emit(
            "cast_encrypted_ballot",
            {"poll_id": poll_id, "ballot_id": bid, "ballot": encrypt(ctx, marks_for(i % 3))},
        )
        assert ack["ok"] and len(ack["tracker"]) == 64, ack
        trackers[m.member_id] = (ack["tracker"], bid)
    # a retry returns the same tracker and counts nothing twice
    first = members[0]
    ack = await first.emit(
        "cast_encrypted_ballot",
        {"poll_id": poll_id, "ballot_id": trackers[first.member_id][1], "ballot": encrypt(ctx, marks_for(0))},
    )
    assert ack == {"ok": False, "error": "ballot_id_reused", "message": ack["message"]}
    # a change replaces the earlier ballot (named by its ballot id)
    ack = await first.emit(
        "cast_encrypted_ballot",
        {
            "poll_id": poll_id,
            "ballot_id": ballot_id(),
            "ballot": encrypt(ctx, marks_for(1)),
            "replaces": trackers[first.member_id][1],
        },
    )
    assert ack["ok"] and ack["replaced"], ack
    old_tracker, trackers[first.member_id] = trackers[first.member_id][0], (ack["tracker"], "")
    live = await seen(chair, "tally_updated", lambda d: d["poll_id"] == poll_id and d["voted"] == 6)
    assert "tally" not in live
    assert (await first.emit("get_poll_state", {"poll_id": poll_id}))["you"] == {"has_voted": True}

    await chair.emit("close_poll", {"poll_id": poll_id})
    published = await seen(t_sec.member, "e2e_board_published", lambda d: d["poll_id"] == poll_id)
    assert published["counted"] == 6 and published["waiting_for"] == ["C1-CHAIR", "C1-SEC"]
    state = await members[2].emit("get_e2e", {"poll_id": poll_id, "board": True})
    board = {e["tracker"]: e["superseded"] for e in state["board"]}
    assert board[old_tracker] is True and all(board[t] is False for t, _ in trackers.values())
    assert state["poll"]["waiting_for"] == ["C1-CHAIR", "C1-SEC"]

    ack = await t_chair.decrypt(poll_id)
    assert ack["ok"] and ack["waiting_for"] == ["C1-SEC"] and ack["result"] is None, ack
    waiting = await chair.emit("get_poll_state", {"poll_id": poll_id})
    assert waiting["poll"]["e2e"]["waiting_for"] == ["C1-SEC"] and waiting["poll"]["result"] is None
    ack = await t_sec.decrypt(poll_id)
    assert ack["ok"] and ack["waiting_for"] == [], ack
    result = await seen(members[0], "poll_result", lambda d: d["poll_id"] == poll_id)
    # members 0..5 chose 0,1,2,0,1,2; member 0 changed to 1
    assert result["tally"]["counts"] == [1, 3, 2]
    assert result["e2e"] == {"counts": [1, 3, 2], "counted": 6, "decrypted_by": ["C1-CHAIR", "C1-SEC"]}
    assert result["outcome"]["decision"] in ("rejected", "adopted", "tied")
    assert result["receipts"] == []


async def test_bad_encrypted_ballots_get_precise_codes_and_never_count(sign_in, server) -> None:
    chair, members = await quorate_meeting(sign_in)
    await _trustees(sign_in, chair)
    poll_id = await open_poll(chair, SECRET)
    other_id = await open_poll(chair, SECRET)
    ctx = await poll_context(members[0], poll_id)
    good = encrypt(ctx, marks_for(0))
    m = members[0]

    async def cast(ballot: Any, pid: int = poll_id) -> dict[str, Any]:
        return await m.emit(
            "cast_encrypted_ballot", {"poll_id": pid, "ballot_id": ballot_id(), "ballot": ballot}
        )

    non_canonical = copy.deepcopy(good)
    non_canonical["ciphertexts"][0]["alpha"] = "ff" * 31 + "7f"
    identity = copy.deepcopy(good)
    identity["ciphertexts"][1]["beta"] = "00" * 32
    big_scalar = copy.deepcopy(good)
    big_scalar["proofs"][0][0]["s"] = "ff" * 32
    bad_proof = copy.deepcopy(good)
    bad_proof["proofs"][0][0], bad_proof["proofs"][0][1] = (
        bad_proof["proofs"][0][1],
        bad_proof["proofs"][0][0],
    )
    short = copy.deepcopy(good)
    short["ciphertexts"], short["proofs"] = short["ciphertexts"][:2], short["proofs"][:2]
    two_marks = encrypt(ctx.__class__(ctx.meeting_id, ctx.poll_id, ctx.public_key, 3, 0, 3), [1, 1, 0])
    cases = [
        (non_canonical, poll_id, "non_canonical_point", "ballot.ciphertexts[0].alpha"),
        (identity, poll_id, "identity_point", "ballot.ciphertexts[1].beta"),
        (big_scalar, poll_id, "scalar_out_of_range", "ballot.proofs[0][0].s"),
        (bad_proof, poll_id, "invalid_proof", "ballot.proofs[0]"),
        (short, poll_id, "wrong_option_count", "ballot.ciphertexts"),
        (two_marks, poll_id, "invalid_proof", "ballot.proofs[0]"),
        (good, other_id, "ballot_for_another_poll", "ballot.poll_id"),
        ({**good, "extra": 1}, poll_id, "invalid_input", "ballot.extra"),
    ]
    for ballot, pid, code, field in cases:
        ack = await cast(ballot, pid)
        assert (ack["ok"], ack["error"]) == (False, code), (code, ack)
        assert field in ack["message"] or code in (
            "invalid_proof",
            "wrong_option_count",
            "ballot_for_another_poll",
            "invalid_input",
        ), ack
    ack = await m.emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert ack["error"] == "encrypted_ballot_required"
    assert (await cast(good))["ok"]
    copied = await members[1].emit(
        "cast_encrypted_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "ballot": good}
    )
    assert copied["error"] == "duplicate_ballot"
    state = await chair.emit("get_poll_state", {"poll_id": poll_id})
    assert state["poll"]["voted"] == 1


async def test_trustee_keys_and_decryptions_are_refused_from_the_wrong_people(sign_in, server) -> None:
    chair, members = await quorate_meeting(sign_in)
    # no secret poll opens before every trustee's key
    ack = await chair.emit("create_poll", {"config": SECRET})
    pending = ack["poll"]["poll_id"]
    refused = await chair.emit("open_poll", {"poll_id": pending})
    assert refused["error"] == "e2e_key_incomplete", refused
    stranger = Trustee(members[0])
    assert (await stranger.post_key())["error"] == "not_authorised"  # only the chair and the secretary may
    t_chair, t_sec = await _trustees(sign_in, chair)
    again = await t_chair.post_key()
    assert again["error"] == "trustee_key_exists"
    forged = Trustee(t_sec.member)
    forged.key = t_chair.key  # the chair's share under the secretary's name
    assert (
        await forged.member.emit(
            "post_trustee_key", {"key": {**t_chair.key.to_dict(), "trustee_id": "C1-SEC"}}
        )
    )["error"] in ("invalid_key_proof", "trustee_key_exists")
    assert (await chair.emit("open_poll", {"poll_id": pending}))["ok"]
    ctx = await poll_context(members[0], pending)
    assert (
        await members[0].emit(
            "cast_encrypted_ballot",
            {"poll_id": pending, "ballot_id": ballot_id(), "ballot": encrypt(ctx, marks_for(2))},
        )
    )["ok"]
    too_early = tally.partial_decrypt(ctx, "C1-CHAIR", t_chair.secret, tally.homomorphic_sums(ctx, []))
    early = await chair.emit(
        "post_partial_decryption", {"poll_id": pending, "decryption": too_early.to_dict()}
    )
    assert early["error"] == "poll_not_closed"
    await chair.emit("close_poll", {"poll_id": pending})
    # a member posting a decryption, and a trustee posting with the wrong key
    assert (await stranger.decrypt(pending))["error"] == "not_authorised"
    wrong = Trustee(t_sec.member)  # a fresh key the server never saw
    assert (await wrong.decrypt(pending))["error"] == "invalid_decryption_proof"
    assert (await t_chair.decrypt(pending))["ok"]
    assert (await t_chair.decrypt(pending))["error"] == "decryption_exists"
    assert (await t_sec.decrypt(pending))["ok"]
    result = await seen(members[1], "poll_result", lambda d: d["poll_id"] == pending)
    assert result["tally"]["counts"] == [0, 0, 1]
    db = sqlite3.connect(server.data_dir / "meetingd.db")
    facts = [
        json.loads(c)["type"] for (c,) in db.execute("SELECT canonical FROM minutes_entries ORDER BY seq")
    ]
    assert (
        facts.count("e2e_partial_decryption_refused") == 1
    )  # the wrong proof; a member is refused before (by role)
    assert facts.count("e2e_partial_decryption") == 2 and facts.count("e2e_trustee_key") == 2


async def test_trustees_follow_the_board_in_chunks_while_the_poll_is_open(sign_in, server) -> None:
    chair, members = await quorate_meeting(sign_in)
    t_chair, t_sec = await _trustees(sign_in, chair)
    poll_id = await open_poll(chair, SECRET)
    ctx = await poll_context(members[0], poll_id)
    state = await t_chair.follow(poll_id)
    assert state["live_board"] == {"entries": [], "next": 0}, state  # nothing cast yet
    # a voter is not a trustee; a cursor the server did not give is refused by name
    ack = await members[0].emit("get_e2e", {"poll_id": poll_id, "live_from": 0})
    assert ack["error"] == "not_a_trustee", ack
    ack = await chair.emit("get_e2e", {"poll_id": poll_id, "live_from": 7})
    assert ack["error"] == "invalid_input" and "live_from" in ack["message"], ack
    ack = await chair.emit("get_e2e", {"poll_id": poll_id, "live_from": "0"})
    assert ack["error"] == "invalid_input" and "live_from" in ack["message"], ack

    # 6 voters, each changing their ballot: 36 ballots stored, one full chunk of 32
    last: dict[str, tuple[str, int]] = {}
    for round_ in range(6):
        for i, m in enumerate(members):
            bid = ballot_id()
            choice = (i + round_) % 3
            payload: dict[str, Any] = {
                "poll_id": poll_id,
                "ballot_id": bid,
                "ballot": encrypt(ctx, marks_for(choice)),
            }
            if m.member_id in last:
                payload["replaces"] = last[m.member_id][0]
            ack = await m.emit("cast_encrypted_ballot", payload)
            assert ack["ok"], ack
            last[m.member_id] = (bid, choice)
    state = await t_chair.follow(poll_id)
    live = state["live_board"]
    assert live["next"] == 32 and len(live["entries"]) == 32, live["next"]
    assert [e["tracker"] for e in live["entries"]] == sorted(e["tracker"] for e in live["entries"])
    assert t_chair.followers[poll_id].checked == 32
    again = await t_chair.follow(poll_id)
    assert again["live_board"] == {"entries": [], "next": 32}

    await chair.emit("close_poll", {"poll_id": poll_id})
    await seen(t_sec.member, "e2e_board_published", lambda d: d["poll_id"] == poll_id)
    closed = await t_chair.follow(poll_id)  # once closed, the closed board is the answer
    assert closed["ok"] and "live_board" not in closed
    assert (await t_chair.decrypt(poll_id))["ok"]  # 32 checked live, 4 at close
    assert t_chair.followers[poll_id].checked == 36
    assert (await t_sec.decrypt(poll_id))["ok"]  # not followed: all 36 at close
    result = await seen(members[0], "poll_result", lambda d: d["poll_id"] == poll_id)
    expected = [0, 0, 0]
    for _, choice in last.values():
        expected[choice] += 1
    assert result["tally"]["counts"] == expected
