"""The rendered minutes: pure, deterministic, complete, escaped, in English and Vietnamese."""

from __future__ import annotations

import re
from typing import Any

import pytest

from recorder.facts import read_facts
from recorder.i18n import CATALOGS
from recorder.render import OfficerSignature, SignatureInfo, render_minutes

AT = "2026-03-01T08:{:02d}:00Z"


def _entries() -> list[dict[str, Any]]:
    raw: list[dict[str, Any]] = [
        {
            "type": "meeting_opened",
            "title": "Monthly <meeting>",
            "cell": "Cell 1",
            "place": "Hall",
            "agenda": [{"position": 1, "title": "Budget"}],
            "sites": [{"id": 1, "name": "Island post"}],
            "participants": [
                {"member_id": "C1-CHAIR", "full_name": "Nguyễn Văn An", "role": "chair"},
                {"member_id": "C1-SEC", "full_name": "Trần Thị Bình", "role": "secretary"},
                {"member_id": "C1-001", "full_name": "Lê Minh Châu", "role": "member"},
                {"member_id": "C1-002", "full_name": "Phạm Quốc Dũng", "role": "member"},
                {"member_id": "C1-003", "full_name": "Hoàng Thu Hà", "role": "member"},
                {"member_id": "C1-OP", "full_name": "Lý Văn Phúc", "role": "operator"},
                {"member_id": "G-1", "full_name": "Guest", "role": "observer"},
            ],
        },
        {"type": "member_checked_in", "member_id": "C1-CHAIR", "attendance": "main_room"},
        {"type": "member_checked_in", "member_id": "C1-SEC", "attendance": "main_room"},
        {"type": "member_joined", "member_id": "C1-001", "attendance": "remote"},
        {"type": "member_checked_in", "member_id": "C1-OP", "attendance": "sub_site", "site": "Island post"},
        {"type": "member_excused", "member_id": "C1-002", "reason": "ill"},
        {"type": "quorum_reached", "quorum": {"present": 4, "required": 4, "rule": "2/3"}},
        {"type": "agenda_item_started", "position": 1, "title": "Budget"},
        {"type": "floor_given", "member_id": "C1-001"},
        {"type": "speech_ended", "member_id": "C1-001", "duration_ms": 61_000},
        {"type": "secretary_note", "text": "Agreed <b>quickly</b>"},
        {"type": "motion_added", "motion_id": 1, "text": "Buy a radio"},
        {
            "type": "poll_opened",
            "poll_id": 7,
            "quorate": True,
            "config": {
                "question": "Buy a radio?",
                "type": "motion",
                "options": ["yes", "no", "abstain"],
                "kind": "secret",
                "max_choices": 1,
                "rule": {"description": "more than 1/2 of votes cast"},
            },
        },
        {"type": "voter_marked", "poll_id": 7, "voter_id": "C1-001"},
        {"type": "secret_ballot_stored", "poll_id": 7, "receipt": "AAAA-BBBB", "choices": [0]},
        {"type": "poll_closed", "poll_id": 7, "reason": "manual"},
        {
            "type": "poll_result",
            "poll_id": 7,
            "tally": {
                "options": ["yes", "no", "abstain"],
                "counts": [3, 1, 0],
                "voters": 4,
                "valid": 4,
                "abstentions": 0,
                "electronic": {"counts": [1, 0, 0]},
                "hand": {"counts": [2, 1, 0]},
            },
            "outcome": {
                "decision": "adopted",
                "in_favour": 3,
                "against": 1,
                "abstentions": 0,
                "base": 4,
                "required": 3,
            },
            "receipts": [{"receipt": "AAAA-BBBB", "choices": [0]}],
        },
        {
            "type": "recording_stopped",
            "files": [{"name": "C1-001-1.webm", "sha256": "ab" * 32, "bytes": 1234}],
        },
        {"type": "mystery_fact", "x": "<script>"},
        {"type": "meeting_closed"},
    ]
    return [{**e, "seq": i, "at": AT.format(i)} for i, e in enumerate(raw)]


SIG = SignatureInfo(
    origin="m.example/minutes/1",
    log_key_fingerprint="f" * 64,
    size=22,
    root_hash="0" * 64,
    officers=(
        OfficerSignature("chair", "C1-CHAIR", "Nguyễn Văn An", "c" * 64),
        OfficerSignature("secretary", "C1-SEC", "Trần Thị Bình"),
    ),
)


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    en, vi = CATALOGS["en"], CATALOGS["vi"]
    assert set(en) == set(vi)
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", vi[key])), key


@pytest.mark.parametrize("lang", ["en", "vi"])
def test_rendering_is_deterministic_and_escapes_everything(lang: str) -> None:
    a = render_minutes(_entries(), lang, signatures=SIG)
    assert a == render_minutes(_entries(), lang, signatures=SIG)
    assert "<script>" not in a and "&lt;script&gt;" in a.replace("&quot;", '"')
    assert "Monthly &lt;meeting&gt;" in a and "Agreed &lt;b&gt;quickly&lt;/b&gt;" in a


def test_english_minutes_hold_every_section() -> None:
    html = render_minutes(_entries(), "en", signatures=SIG)
    for text in [
        "Cell 1",
        "Hall",
        "Nguyễn Văn An (C1-CHAIR)",
        "Trần Thị Bình (C1-SEC)",
        "In the meeting room",
        "At Island post",
        "Remote",
        "Excused: ill",
        "Attendance rate: 3 of 5 voting members (60.0%)",
        "quorum reached",
        "4 present, 4 required",
        "Item 1: Budget",
        "Lê Minh Châu (61 s)",
        "Buy a radio",
        "Vote 7: Buy a radio?",
        "secret ballot",
        "more than 1/2 of votes cast",
        "ADOPTED",
        "3 in favour, 1 against",
        "AAAA-BBBB",
        "C1-001-1.webm",
        "ab" * 32,
        "f" * 64,
        "c" * 64,
        "no cosigning key yet",
        "How to verify",
        "meetingd verify",
        "mystery_fact",
        "Turnout: 4 of 5",
    ]:
        assert text in html, text


def test_vietnamese_minutes_use_the_vietnamese_catalog() -> None:
    html = render_minutes(_entries(), "vi", signatures=SIG)
    for text in [
        "Biên bản",
        "Tại phòng họp",
        "Tại Island post",
        "Vắng có lý do: ill",
        "Tỷ lệ tham dự: 3/5",
        "THÔNG QUA",
        "Mã phiếu",
        "Cách kiểm tra",
        "Phụ lục",
    ]:
        assert text in html, text
    assert "Attendance" not in html and "ADOPTED" not in html


def test_unknown_and_malformed_entries_do_not_break_rendering() -> None:
    junk = [
        {"type": "poll_result", "poll_id": None, "tally": "nonsense"},
        {"type": "member_joined"},
        {"type": "speech_ended", "member_id": 3},
        {"type": 5},
        {"no_type": True},
    ]
    html = render_minutes(junk, "en")
    assert html.startswith("<!DOCTYPE html>")
    facts = read_facts(junk)
    assert [e.get("type") for e in facts.unknown] == [5, None]


def test_draft_and_translation_banners() -> None:
    assert "DRAFT" in render_minutes(_entries(), "en", draft=True)
    assert "DRAFT" not in render_minutes(_entries(), "en")
    assert "Bản dịch" in render_minutes(_entries(), "vi", translation_of="en")


def test_facts_count_attendance_speeches_and_votes() -> None:
    f = read_facts(_entries())
    # the operator runs the island post and does not vote (as the live quorum counts)
    assert [p.member_id for p in f.entitled if p.present] == ["C1-CHAIR", "C1-SEC", "C1-001"]
    assert f.people["C1-001"].speaking_seconds == 61 and f.people["C1-001"].speeches == 1
    assert f.polls["7"].voters == {"C1-001"} and f.polls["7"].secret
    assert f.people["C1-002"].excused == "ill" and not f.people["C1-002"].present
