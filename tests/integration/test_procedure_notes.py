"""The secretary's minute notes: recorded under the current agenda item, in the minutes."""

from __future__ import annotations

import json

import pytest

from recorder.render import render_minutes

from .procedure_helpers import open_meeting, seen

pytestmark = pytest.mark.both_stores


async def test_secretary_note_is_filed_under_the_current_item(sign_in, server) -> None:
    chair, (member,) = await open_meeting(sign_in, "C1-001")
    sec = await sign_in("C1-SEC")
    await sec.join(attendance="main_room")
    assert (await chair.emit("set_agenda_item", {"position": 2}))["ok"]
    ack = await sec.emit("add_note", {"text": "Report accepted without objection."})
    assert ack["ok"], ack
    assert ack["note"]["position"] == 2 and ack["note"]["by"] == "C1-SEC"
    note = await seen(member, "note_added")
    assert note["note"]["text"] == "Report accepted without objection."

    refused = await member.emit("add_note", {"text": "I am not the secretary"})
    assert refused["error"] == "not_authorised"
    assert (await sec.emit("add_note", {"text": ""}))["error"] == "invalid_input"
    assert (await sec.emit("add_note", {"text": "x", "by": "C1-CHAIR"}))["error"] == "invalid_input"

    log = await server.svc.journal.log(1)
    entries = [json.loads(e) for e in log.entries]
    notes = [e for e in entries if e["type"] == "secretary_note"]
    assert [(n["text"], n["position"]) for n in notes] == [("Report accepted without objection.", 2)]
    html = render_minutes(entries, "en")
    assert "Report accepted without objection." in html
