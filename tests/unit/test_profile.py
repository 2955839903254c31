"""Member e-profiles: changes are checked events, corrections are new events, rights are enforced."""

from __future__ import annotations

from typing import Any

import pytest

from meeting.errors import InvalidInput, NotAuthorised
from meeting.organisation import CellNode, Committee, OrgTree, Viewer
from meeting.profile import Profile, check_edit, fold_profile, may_read, parse_change


def entry(seq: int, kind: str, data: dict[str, Any], member: str = "M-1") -> dict[str, Any]:
    return {
        "type": "profile_change",
        "seq": seq,
        "at": f"2026-01-0{seq % 9 + 1}T00:00:00Z",
        "member_id": member,
        "by": "ADMIN",
        "reason": "because",
        "kind": kind,
        "data": data,
    }


def profile(*entries: dict[str, Any]) -> Profile:
    return fold_profile("M-1", list(entries))


def test_a_position_overlapping_another_in_the_same_unit_is_refused() -> None:
    p = profile(
        entry(
            0, "position", {"title": "Secretary", "unit": "Cell A", "from": "2024-01-01", "to": "2025-06-30"}
        )
    )
    with pytest.raises(InvalidInput, match="overlaps 'Secretary'") as exc:
        parse_change(p, "position", {"title": "Deputy", "unit": "Cell A", "from": "2025-06-01"})
    assert exc.value.details["field"] == "data.from"
    ok = parse_change(p, "position", {"title": "Deputy", "unit": "Cell A", "from": "2025-07-01"})
    assert ok["to"] == ""
    assert parse_change(p, "position", {"title": "Member", "unit": "District", "from": "2024-03-01"})


@pytest.mark.parametrize(
    "data",
    [
        {"course": "Basics", "from": "2025-13-01"},
        {"course": "Basics", "from": "1/2/2025"},
        {"course": "Basics", "from": "2025-02-01", "to": "2025-01-01"},
        {"course": "", "from": "2025-01-01"},
        {"course": "Basics", "from": "2025-01-01", "grade": "A"},
        {"course": 5, "from": "2025-01-01"},
    ],
)
def test_malformed_changes_name_the_field(data: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_change(profile(), "training", data)
    assert str(exc.value.details["field"]).startswith("data.")


def test_a_correction_is_a_new_event_and_the_history_keeps_both() -> None:
    p = profile(
        entry(0, "reward", {"title": "Medal", "date": "2025-01-01"}),
        entry(1, "correction", {"corrects": 0, "date": "2025-02-01"}),
        entry(2, "discipline", {"measure": "Warning", "date": "2025-03-01"}),
        entry(3, "correction", {"corrects": 2, "retract": True}),
    )
    assert [r.data["date"] for r in p.section("reward")] == ["2025-02-01"]
    assert p.section("discipline") == [] and p.records[2].retracted
    assert [h["seq"] for h in p.history] == [0, 1, 2, 3]
    assert p.records[0].corrected_by == [1]
    with pytest.raises(InvalidInput, match="retracted"):
        parse_change(p, "correction", {"corrects": 2, "date": "2025-03-02"})
    with pytest.raises(InvalidInput, match="not in this profile"):
        parse_change(p, "correction", {"corrects": 9, "retract": True})


def test_a_corrected_position_may_not_overlap_either() -> None:
    p = profile(
        entry(0, "position", {"title": "A", "unit": "", "from": "2024-01-01", "to": "2024-12-31"}),
        entry(1, "position", {"title": "B", "unit": "", "from": "2025-01-01", "to": ""}),
    )
    with pytest.raises(InvalidInput, match="overlaps 'A'"):
        parse_change(p, "correction", {"corrects": 1, "from": "2024-06-01"})


def tree() -> OrgTree:
    t = OrgTree()
    t.committees = {1: Committee(1, "K-1", "District")}
    t.cells = {10: CellNode(10, "A", 1), 11: CellNode(11, "B", 1), 12: CellNode(12, "C", None)}
    return t


def test_members_record_only_their_own_training() -> None:
    me = Viewer("M-1", 10)
    check_edit(tree(), me, "M-1", 10, "training")
    with pytest.raises(NotAuthorised, match="own profile"):
        check_edit(tree(), me, "M-1", 10, "discipline")
    with pytest.raises(NotAuthorised):
        check_edit(tree(), me, "M-1", 10, "correction", corrected_kind="discipline")
    with pytest.raises(NotAuthorised):
        check_edit(tree(), me, "M-2", 10, "training")


def test_officers_edit_within_their_tree_and_not_their_own_record() -> None:
    cell_officer = Viewer("O-1", 10, officer_of_cells=frozenset({10}))
    check_edit(tree(), cell_officer, "M-1", 10, "discipline")
    with pytest.raises(NotAuthorised):
        check_edit(tree(), cell_officer, "M-3", 11, "reward")  # another cell's member
    with pytest.raises(NotAuthorised):
        check_edit(tree(), cell_officer, "O-1", 10, "reward")
    committee_officer = Viewer("K-O", 12, officer_of_committees=frozenset({1}))
    check_edit(tree(), committee_officer, "M-3", 11, "reward")
    assert not may_read(tree(), committee_officer, "M-9", 12)
    assert may_read(tree(), Viewer("M-9", 12), "M-9", 12)
    check_edit(tree(), Viewer("ADM", 12, is_admin=True), "ADM", 12, "discipline")
