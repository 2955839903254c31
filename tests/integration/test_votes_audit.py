"""The minutes of a meeting with votes verify, tallies included; participation figures."""

from __future__ import annotations

import json

import pytest

from meetingd.verify_cli import entry_checks
from recorder.verifier import verify_bundle
from voting.audit import tally_checker
from voting.e2e.record import e2e_findings

from .e2e_helpers import Trustee, encrypt, poll_context
from .procedure_helpers import MOTION, ballot_id, open_poll, quorate_meeting, seen
from .test_minutes_cosign import meetingd


def _count(entries: list[dict], poll_id: int) -> list[dict]:
    for e in entries:
        if e["type"] == "poll_result" and e["poll_id"] == poll_id:
            e["e2e"]["counts"][0] += 1
    return entries


def _ciphertext(entries: list[dict], poll_id: int) -> list[dict]:
    board = [e for e in entries if e["type"] == "e2e_ballot" and e["poll_id"] == poll_id]
    a, b = board[0]["ballot"]["ciphertexts"], board[1]["ballot"]["ciphertexts"]
    a[0], b[0] = b[0], a[0]
    return entries


def _tracker(entries: list[dict], poll_id: int) -> list[dict]:
    board = [e for e in entries if e["type"] == "e2e_ballot" and e["poll_id"] == poll_id]
    board[0]["tracker"] = "0" * 64
    return entries


pytestmark = pytest.mark.both_stores


async def _bundle(server, chair) -> str:
    """Close the meeting and export its sealed bundle."""
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    bundle, _warnings = await server.svc.minutes.export(1)
    return bundle.to_json()


async def test_minutes_with_polls_verify_and_tamper_is_found(sign_in, server, tmp_path) -> None:
    chair, members = await quorate_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    await sec.join(attendance="main_room")
    assert (await sec.emit("check_in", {"member_id": "C1-007"}))["ok"]
    assert (await sec.emit("check_in", {"member_id": "C1-008"}))["ok"]
    open_id = await open_poll(chair)
    for i, m in enumerate(members):
        await m.emit("cast_ballot", {"poll_id": open_id, "ballot_id": ballot_id(), "choices": [i % 2]})
    too_many = await sec.emit("record_hand_count", {"poll_id": open_id, "counts": [2, 1, 0]})
    assert too_many["error"] == "too_many_hands"  # only C1-007 and C1-008 may vote by hand
    hands = await sec.emit("record_hand_count", {"poll_id": open_id, "counts": [1, 0, 1]})
    assert hands["ok"] and hands["hand_count"]["hand_eligible"] == 2, hands
    assert (await members[0].emit("record_hand_count", {"poll_id": open_id, "counts": [0, 0, 0]}))[
        "error"
    ] == "not_authorised"
    await chair.emit("close_poll", {"poll_id": open_id})
    result = await seen(chair, "poll_result", lambda d: d["poll_id"] == open_id)
    assert result["tally"]["counts"] == [4, 3, 1] and result["tally"]["hand"]["ballots"] == 2

    trustees = [Trustee(chair), Trustee(sec)]
    for t in trustees:
        assert (await t.post_key())["ok"]
    secret_id = await open_poll(
        chair, {"question": "Delegate?", "options": ["Ana", "Bo", "Cy"], "max_choices": 2, "kind": "secret"}
    )
    ctx = await poll_context(members[0], secret_id)
    trackers = []
    for i, m in enumerate(members):
        marks = [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]][i % 4]
        ack = await m.emit(
            "cast_encrypted_ballot",
            {"poll_id": secret_id, "ballot_id": ballot_id(), "ballot": encrypt(ctx, marks)},
        )
        assert ack["ok"], ack
        trackers.append(ack["tracker"])
    secret_hands = await sec.emit("record_hand_count", {"poll_id": secret_id, "counts": [0, 0, 0]})
    assert secret_hands["error"] == "hand_count_secret"
    await chair.emit("close_poll", {"poll_id": secret_id})
    for t in trustees:
        assert (await t.decrypt(secret_id))["ok"]
    secret_result = await seen(chair, "poll_result", lambda d: d["poll_id"] == secret_id)
    assert secret_result["tally"]["counts"] == [4, 3, 1]

    bundle = await _bundle(server, chair)
    report = verify_bundle(bundle, checks=entry_checks())
    assert report.ok, report.summary()
    entries = [json.loads(e) if isinstance(e, str) else e for e in json.loads(bundle)["entries"]]
    assert list(tally_checker(entries)) == []
    for e in entries:
        if e["type"] == "poll_result" and e["poll_id"] == open_id:
            e["tally"]["counts"] = [5, 2, 1]
    findings = list(tally_checker(entries))
    assert findings and "does not match" in findings[0].message
    # the encrypted poll: a changed count, a swapped ciphertext, a changed tracker are found
    for tamper, words in (
        (_count, "decrypted counts"),
        (_ciphertext, "does not verify"),
        (_tracker, "tracker"),
    ):
        altered = tamper(json.loads(json.dumps(entries)), secret_id)
        found = [f.message for f in e2e_findings(altered)]
        assert any(words in m for m in found), (tamper.__name__, found)
    # a voter finds their tracker offline; a made-up one is not on the board
    path = tmp_path / "bundle.json"
    path.write_text(bundle)
    ok = meetingd("verify", str(path), "--tracker", trackers[0], "--tracker", trackers[1][:16])
    assert ok.returncode == 3 and ok.stdout.startswith("VALID"), ok.stdout + ok.stderr  # 3: not pinned
    assert f"tracker {trackers[0]}: on the board of poll {secret_id}" in ok.stdout and "counted" in ok.stdout
    missing = meetingd("verify", str(path), "--tracker", "ab" * 32)
    assert missing.returncode == 1 and "NOT on any board" in missing.stdout

    status, body = await sec.call("GET", "/api/meetings/1/participation")
    assert status == 200, body
    fig = body["participation"]
    assert fig["entitled"] == 10
    polls = {p["poll_id"]: p for p in fig["polls"]}
    assert polls[open_id]["voters_electronic"] == 6 and polls[open_id]["hands"] == 2
    assert polls[open_id]["turnout"] == 0.8
    me = next(m for m in fig["members"] if m["member_id"] == "C1-001")
    assert me["votes_cast"] == 2 and me["attended"] is True
    status, body = await members[0].call("GET", "/api/meetings/1/participation")
    assert status == 403 and body["error"] == "not_authorised"


async def test_hand_counted_place_cannot_also_vote_electronically(sign_in) -> None:
    chair, members = await quorate_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    await sec.join(attendance="main_room")
    assert (await sec.emit("check_in", {"member_id": "C1-001"}))["ok"]
    poll_id = await open_poll(chair, MOTION)
    assert (await sec.emit("record_hand_count", {"poll_id": poll_id, "counts": [1, 0, 0]}))["ok"]
    ack = await members[0].emit("cast_ballot", {"poll_id": poll_id, "ballot_id": ballot_id(), "choices": [0]})
    assert ack["error"] == "hand_counted"
