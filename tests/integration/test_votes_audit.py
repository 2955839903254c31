"""The minutes of a meeting with votes verify, tallies included; participation figures."""

from __future__ import annotations

import json

import pytest

from recorder.verifier import verify_bundle
from voting.audit import tally_checker

from .procedure_helpers import MOTION, ballot_id, open_poll, quorate_meeting, seen

pytestmark = pytest.mark.both_stores


async def _bundle(server, chair) -> str:
    """Close the meeting and export its sealed bundle."""
    assert (await chair.call("POST", "/api/meetings/1/close"))[0] == 200
    bundle, _warnings = await server.svc.minutes.export(1)
    return bundle.to_json()


async def test_minutes_with_polls_verify_and_tamper_is_found(sign_in, server) -> None:
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

    secret_id = await open_poll(
        chair, {"question": "Delegate?", "options": ["Ana", "Bo", "Cy"], "max_choices": 2, "kind": "secret"}
    )
    for i, m in enumerate(members):
        await m.emit(
            "cast_ballot",
            {"poll_id": secret_id, "ballot_id": ballot_id(), "choices": [[0], [0, 1], [], [2]][i % 4]},
        )
    secret_hands = await sec.emit("record_hand_count", {"poll_id": secret_id, "counts": [0, 0, 0]})
    assert secret_hands["error"] == "hand_count_secret"
    await chair.emit("close_poll", {"poll_id": secret_id})
    await seen(chair, "poll_result", lambda d: d["poll_id"] == secret_id)

    bundle = await _bundle(server, chair)
    report = verify_bundle(bundle, tally_checker=tally_checker)
    assert report.ok, report.summary()
    entries = [json.loads(e) if isinstance(e, str) else e for e in json.loads(bundle)["entries"]]
    assert list(tally_checker(entries)) == []
    for e in entries:
        if e["type"] == "poll_result" and e["poll_id"] == open_id:
            e["tally"]["counts"] = [5, 2, 1]
    findings = list(tally_checker(entries))
    assert findings and "does not match" in findings[0].message

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
