"""The chair's speaking-time limit: every screen gets it, over-time goes in the minutes."""

from __future__ import annotations

import asyncio
import json

from .procedure_helpers import open_meeting, seen


async def test_speaking_limit_reaches_everyone_and_over_time_is_in_the_minutes(sign_in, server) -> None:
    chair, (member,) = await open_meeting(sign_in, "C1-001")
    refused = await member.emit("set_speaking_limit", {"limit_s": 60})
    assert refused["error"] == "not_authorised"
    assert (await chair.emit("set_speaking_limit", {"limit_s": 5}))["error"] == "invalid_input"
    ack = await chair.emit("set_speaking_limit", {"limit_s": 10})
    assert ack["ok"] and ack["speakers"]["limit_s"] == 10, ack
    changed = await seen(member, "speakers_changed")
    assert changed["speakers"]["limit_s"] == 10

    assert (await chair.emit("give_floor", {"member_id": "C1-001"}))["ok"]
    given = await chair.emit("get_procedure", {})
    assert given["procedure"]["speakers"]["current"]["limit_s"] == 10
    await asyncio.sleep(10.6)  # the speech runs past its 10 s
    assert (await member.emit("end_speech", {}))["ok"]
    # a second speech within the limit writes no over-time
    assert (await chair.emit("give_floor", {"member_id": "C1-001"}))["ok"]
    assert (await chair.emit("end_speech", {}))["ok"]
    # lifting the limit
    lifted = await chair.emit("set_speaking_limit", {"limit_s": None})
    assert lifted["speakers"]["limit_s"] is None

    entries = [json.loads(e) for e in (await server.svc.journal.log(1)).entries]
    limits = [e["limit_s"] for e in entries if e["type"] == "speaking_limit_set"]
    assert limits == [10, None]
    over = [e for e in entries if e["type"] == "speech_overtime"]
    assert len(over) == 1, over
    assert over[0]["member_id"] == "C1-001" and over[0]["limit_s"] == 10
    assert over[0]["overtime_ms"] == over[0]["duration_ms"] - 10_000 > 0
    ended = [e for e in entries if e["type"] == "speech_ended"]
    assert entries.index(over[0]) == entries.index(ended[0]) + 1  # right after its speech_ended
