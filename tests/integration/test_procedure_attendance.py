"""Attendance register, quorum, agenda and speakers over real Socket.IO."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from meetingd.storage.models import MinutesEntry

from .procedure_helpers import MOTION, open_meeting, open_poll, seen

pytestmark = pytest.mark.both_stores


async def minutes(server, kind: str) -> list[dict]:
    async with server.svc.db() as s:
        rows = (
            await s.scalars(
                select(MinutesEntry.canonical).where(MinutesEntry.meeting_id == 1, MinutesEntry.type == kind)
            )
        ).all()
    return [json.loads(r) for r in rows]


async def test_secretary_checks_in_and_counts_are_broadcast(sign_in, server) -> None:
    chair, _ = await open_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    ack = await sec.join(attendance="main_room")
    before = ack["procedure"]["attendance"]
    assert before["entitled"] == 10 and before["present"] == 2  # chair, secretary online
    ack = await sec.emit("check_in", {"member_id": "C1-007"})
    assert ack["ok"], ack
    entry = ack["entry"]
    assert entry["present"] and entry["online"] is False
    assert entry["checked_in"]["by"] == "C1-SEC" and entry["attendance"] == "main_room"
    update = await seen(chair, "attendance_changed", lambda d: d["attendance"]["present"] == 3)
    assert any(e["member_id"] == "C1-007" for e in update["changed"])
    assert (await minutes(server, "member_checked_in"))[0]["member_id"] == "C1-007"
    again = await sec.emit("check_in", {"member_id": "C1-007"})
    assert again["ok"]  # idempotent
    assert len(await minutes(server, "member_checked_in")) == 1
    out = await sec.emit("check_out", {"member_id": "C1-007"})
    assert out["ok"] and out["entry"]["present"] is False
    member = await sign_in("C1-001")
    await member.join()
    refused = await member.emit("check_in", {"member_id": "C1-002"})
    assert refused["error"] == "not_authorised"
    unknown = await sec.emit("check_in", {"member_id": "NOBODY"})
    assert unknown["error"] == "not_found"


async def test_self_check_in_with_room_code(sign_in, server) -> None:
    chair, (member,) = await open_meeting(sign_in, "C1-003")
    refused = await member.emit("get_room_code", {})
    assert refused["error"] == "not_authorised"
    code = await chair.emit("get_room_code", {})
    assert code["ok"] and len(code["code"]) == 6
    wrong = await member.emit(
        "check_in_with_code", {"code": "ZZZZZZ" if code["code"] != "ZZZZZZ" else "YYYYYY"}
    )
    assert wrong["error"] == "invalid_room_code"
    ack = await member.emit("check_in_with_code", {"code": code["code"].lower()})
    assert ack["ok"] and ack["entry"]["checked_in"]["attendance"] == "main_room"
    [entry] = await minutes(server, "member_checked_in")
    assert entry["method"] == "room_code" and entry["by"] == "C1-003"


async def test_operator_checks_in_only_at_their_site(sign_in, server) -> None:
    _, _ = await open_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    await sec.join()
    op = await sign_in("C1-ISL-OP")
    await op.join(attendance="sub_site")
    ack = await op.emit("check_in", {"member_id": "C1-008"})
    assert ack["ok"] and ack["entry"]["site"]["name"] == "Island post"
    assert ack["entry"]["attendance"] == "sub_site"
    assert (await sec.emit("check_in", {"member_id": "C1-005"}))["ok"]
    elsewhere = await op.emit("check_in", {"member_id": "C1-005"})
    assert elsewhere["error"] == "checked_in_elsewhere"
    not_mine = await op.emit("check_out", {"member_id": "C1-005"})
    assert not_mine["error"] == "not_authorised"
    assert (await op.emit("check_out", {"member_id": "C1-008"}))["ok"]
    excuse = await op.emit("excuse", {"member_id": "C1-004", "reason": "ill"})
    assert excuse["error"] == "not_authorised"


async def test_excused_absence_is_recorded(sign_in, server) -> None:
    _chair, _ = await open_meeting(sign_in)
    sec = await sign_in("C1-SEC")
    await sec.join()
    ack = await sec.emit("excuse", {"member_id": "C1-004", "reason": "at sea"})
    assert ack["ok"] and ack["entry"]["excused"]["reason"] == "at sea"
    present = await sec.emit("excuse", {"member_id": "C1-CHAIR", "reason": "x"})
    assert present["error"] == "member_present"
    [entry] = await minutes(server, "member_excused")
    assert entry["member_id"] == "C1-004" and entry["by"] == "C1-SEC"
    bad = await sec.emit("excuse", {"member_id": "C1-004"})
    assert bad["error"] == "invalid_input" and bad["details"]["field"] == "reason"


async def test_procedure_needs_an_open_meeting(sign_in) -> None:
    sec = await sign_in("C1-SEC")
    await sec.join()
    ack = await sec.emit("check_in", {"member_id": "C1-001"})
    assert ack["error"] == "meeting_not_open"


async def test_quorum_refusal_and_override(sign_in, server) -> None:
    chair, _members = await open_meeting(sign_in, "C1-001", "C1-002")
    snapshot = (await chair.emit("get_procedure", {}))["procedure"]["quorum"]
    assert snapshot["quorate"] is False and snapshot["required"] == 6
    ack = await chair.emit("create_poll", {"config": MOTION})
    poll_id = ack["poll"]["poll_id"]
    refused = await chair.emit("open_poll", {"poll_id": poll_id})
    assert refused["error"] == "no_quorum"
    ack = await chair.emit("open_poll", {"poll_id": poll_id, "override_quorum": True})
    assert ack["ok"] and ack["poll"]["quorum_override"] is True
    [opened] = await minutes(server, "poll_opened")
    assert opened["quorum_override"] is True and opened["by"] == "C1-CHAIR"
    locked = await chair.emit("set_quorum_rule", {"rule": {"members": 2}})
    assert locked["error"] == "quorum_rule_locked"


async def test_quorum_rule_reached_and_lost_during_a_poll(sign_in, server) -> None:
    chair, members = await open_meeting(sign_in, "C1-001", "C1-002")
    not_chair = await members[0].emit("set_quorum_rule", {"rule": {"members": 3}})
    assert not_chair["error"] == "not_authorised"
    ack = await chair.emit("set_quorum_rule", {"rule": {"numerator": 1, "denominator": 4}})
    assert ack["ok"] and ack["quorum"]["quorate"] is True and ack["quorum"]["required"] == 3
    await seen(members[0], "quorum_changed", lambda d: d["quorum"]["quorate"])
    poll_id = await open_poll(chair)
    assert (await members[1].emit("leave", {}))["ok"]
    lost = await seen(chair, "poll_quorum_changed", lambda d: d["quorate"] is False)
    assert lost["poll_id"] == poll_id
    kinds = [e["type"] for e in await minutes(server, "quorum_lost")]
    assert kinds == ["quorum_lost"]
    assert (await minutes(server, "poll_quorum_changed"))[0]["quorate"] is False
    assert await minutes(server, "quorum_reached")


async def test_agenda_and_motions(sign_in, server) -> None:
    chair, (member,) = await open_meeting(sign_in, "C1-001")
    sec = await sign_in("C1-SEC")
    await sec.join()
    early = await sec.emit("add_motion", {"text": "Buy a radio"})
    assert early["error"] == "no_current_item"
    assert (await member.emit("set_agenda_item", {"position": 3}))["error"] == "not_authorised"
    ack = await chair.emit("set_agenda_item", {"position": 3})
    assert ack["ok"] and ack["item"]["title"].startswith("Budget")
    await seen(member, "agenda_item_started", lambda d: d["item"]["position"] == 3)
    ack = await sec.emit("add_motion", {"text": "  Buy a radio for the island post ", "proposer": "C1-001"})
    motion = ack["motion"]
    assert motion["text"] == "Buy a radio for the island post" and motion["proposer"] == "C1-001"
    assert motion["position"] == 3
    await seen(member, "motion_added")
    assert (await member.emit("add_motion", {"text": "x"}))["error"] == "not_authorised"
    poll = await chair.emit("create_poll", {"config": MOTION, "motion_id": motion["id"]})
    assert poll["poll"]["motion_id"] == motion["id"]
    missing = await chair.emit("set_agenda_item", {"position": 99})
    assert missing["error"] == "not_found"
    [entry] = await minutes(server, "motion_added")
    assert entry["proposer"] == "C1-001" and entry["by"] == "C1-SEC"


async def test_list_of_speakers(sign_in, server) -> None:
    chair, (a, b) = await open_meeting(sign_in, "C1-001", "C1-002")
    op = await sign_in("C1-ISL-OP")
    await op.join(attendance="sub_site")
    obs = await sign_in("G-OBS1")
    await obs.join()
    assert (await obs.emit("raise_hand", {}))["error"] == "not_authorised"
    assert (await a.emit("raise_hand", {}))["ok"]
    assert (await b.emit("raise_hand", {}))["ok"]
    ack = await op.emit("raise_hand", {})
    queue = [e["entry_id"] for e in ack["speakers"]["queue"]]
    site_entry = queue[2]
    assert queue[:2] == ["member:C1-001", "member:C1-002"] and site_entry.startswith("site:")
    await seen(chair, "speakers_changed", lambda d: len(d["speakers"]["queue"]) == 3)
    assert (await a.emit("reorder_queue", {"order": queue}))["error"] == "not_authorised"
    bad = await chair.emit("reorder_queue", {"order": queue[:2]})
    assert bad["error"] == "invalid_input"
    ack = await chair.emit("reorder_queue", {"order": [site_entry, *queue[:2]]})
    assert ack["speakers"]["queue"][0]["kind"] == "site"
    assert (await b.emit("lower_hand", {}))["ok"]
    assert (await a.emit("give_floor", {"member_id": "C1-001"}))["error"] == "not_authorised"
    ack = await chair.emit("give_floor", {"member_id": "C1-001"})
    assert ack["speakers"]["current"]["member_id"] == "C1-001"
    assert [e["kind"] for e in ack["speakers"]["queue"]] == ["site"]
    assert (await b.emit("end_speech", {}))["error"] == "not_authorised"
    ack = await a.emit("end_speech", {})  # the speaker ends their own speech
    assert ack["ok"] and ack["speakers"]["current"] is None
    ack = await chair.emit("give_floor", {"site_id": int(site_entry.split(":")[1])})
    assert ack["speakers"]["current"]["kind"] == "site"
    assert (await chair.emit("end_speech", {}))["ok"]
    assert (await chair.emit("end_speech", {}))["error"] == "no_speech"
    ended = await minutes(server, "speech_ended")
    assert [e["member_id"] for e in ended] == ["C1-001", None]
    assert all(isinstance(e["duration_ms"], int) for e in ended)
    assert len(await minutes(server, "floor_given")) == 2
