"""The organisation tree: who sees which cell, and the all-or-nothing CSV import check."""

from __future__ import annotations

import pytest

from meeting.errors import InvalidInput, InvalidState
from meeting.organisation import (
    CellNode,
    Committee,
    OrgSnapshot,
    OrgTree,
    Viewer,
    check_site_removal,
    committee_order,
    parse_org_csv,
)


def tree() -> OrgTree:
    t = OrgTree()
    t.committees = {
        1: Committee(1, "K-PROV", "Province"),
        2: Committee(2, "K-D1", "District 1", 1),
        3: Committee(3, "K-D2", "District 2", 1),
        4: Committee(4, "K-W1", "Ward 1", 2),
    }
    t.cells = {
        10: CellNode(10, "Cell A", 2),
        11: CellNode(11, "Cell B", 4),
        12: CellNode(12, "Cell C", 3),
        13: CellNode(13, "Cell D", None),
    }
    return t


def test_a_committee_officer_sees_the_cells_under_their_committee_at_any_depth() -> None:
    v = Viewer("X", 10, officer_of_committees=frozenset({2}))
    assert tree().scope(v) == {10, 11}
    assert tree().may_see_committee(v, 4) and not tree().may_see_committee(v, 1)
    assert not tree().may_see_cell(v, 12)


def test_a_cell_officer_sees_their_cell_only_and_an_admin_everything() -> None:
    assert tree().scope(Viewer("X", 12, officer_of_cells=frozenset({12}))) == {12}
    assert tree().scope(Viewer("X", 12)) == set()
    assert tree().scope(Viewer("A", 13, is_admin=True)) is None


def test_the_tree_shown_to_an_officer_starts_at_their_committee() -> None:
    shown = tree().to_dict(Viewer("X", 10, officer_of_committees=frozenset({2})))
    assert [c["code"] for c in shown["committees"]] == ["K-D1"]
    assert shown["committees"][0]["committees"][0]["cells"][0]["name"] == "Cell B"
    full = tree().to_dict(Viewer("A", 13, is_admin=True))
    assert [c["code"] for c in full["committees"]] == ["K-PROV"] and full["cells"][0]["name"] == "Cell D"


GOOD = """kind,key,name,parent,title
committee,K-PROV,Province,,
committee,K-D1,District 1,K-PROV,
cell,Cell A,,K-D1,
site,Island post,,Cell A,
committee_officer,M-1,,K-D1,secretary
cell_officer,M-2,,Cell A,deputy
"""


def test_a_good_file_parses_and_committees_come_parents_first() -> None:
    rows = parse_org_csv(
        GOOD.replace(
            "K-PROV,Province,,\ncommittee,K-D1,District 1,K-PROV,",
            "K-D1,District 1,K-PROV,\ncommittee,K-PROV,Province,,",
        ),
        OrgSnapshot(member_ids=frozenset({"M-1", "M-2"})),
    )
    assert [r.key for r in committee_order(rows)] == ["K-PROV", "K-D1"]


@pytest.mark.parametrize(
    ("line", "bad", "expect"),
    [
        (3, "committee,K-D1,District 1,K-NOPE,", "line 3: unknown committee 'K-NOPE'"),
        (6, "committee_officer,M-9,,K-D1,secretary", "line 6: unknown member 'M-9'"),
        (5, "site,Island post,,Cell Z,", "line 5: unknown cell 'Cell Z'"),
        (4, "cell,Cell A,,,", "line 4: parent is empty"),
        (2, "committee,k prov,Province,,", "line 2: committee code 'k prov' is not valid"),
        (7, "cell_officer,M-2,,Cell A,", "line 7: an officer needs a title"),
        (4, "shop,Cell A,,K-D1,", "line 4: kind 'shop' is not one of"),
    ],
)
def test_a_bad_line_rejects_the_whole_file_naming_its_line(line: int, bad: str, expect: str) -> None:
    lines = GOOD.splitlines()
    lines[line - 1] = bad
    with pytest.raises(InvalidInput) as exc:
        parse_org_csv("\n".join(lines) + "\n", OrgSnapshot(member_ids=frozenset({"M-1", "M-2"})))
    assert any(e.startswith(expect) for e in exc.value.details["errors"]), exc.value.details


def test_committees_may_not_sit_above_themselves() -> None:
    text = "kind,key,name,parent\ncommittee,K-A,A,K-B\ncommittee,K-B,B,K-A\n"
    with pytest.raises(InvalidInput) as exc:
        parse_org_csv(text, OrgSnapshot())
    assert "line 2: committee K-A would sit above itself" in exc.value.details["errors"]


def test_a_cycle_through_an_existing_committee_is_refused() -> None:
    with pytest.raises(InvalidInput, match="would sit above itself"):
        parse_org_csv(
            "kind,key,name,parent\ncommittee,K-TOP,Top,K-LOW\n",
            OrgSnapshot(committees={"K-TOP": None, "K-LOW": "K-TOP"}),
        )


def test_unknown_columns_and_duplicates_are_named() -> None:
    with pytest.raises(InvalidInput, match="line 1: unknown column"):
        parse_org_csv("kind,key,parent,colour\n", OrgSnapshot())
    with pytest.raises(InvalidInput, match="line 3: committee K-A already on line 2"):
        parse_org_csv("kind,key,name,parent\ncommittee,K-A,A,\ncommittee,K-A,A again,\n", OrgSnapshot())


def test_committees_are_added_under_what_one_manages_and_changed_only_from_above() -> None:
    t = tree()
    d1 = Viewer("X", 10, officer_of_committees=frozenset({2}))
    admin = Viewer("A", 13, is_admin=True)
    assert t.may_add_committee(d1, 2) and t.may_add_committee(d1, 4) and not t.may_add_committee(d1, 3)
    assert not t.may_add_committee(d1, None) and t.may_add_committee(admin, None)
    assert t.may_change_committee(d1, 4) and not t.may_change_committee(d1, 2)  # not their own
    assert t.may_change_committee(admin, 1) and not t.may_change_committee(admin, 99)
    cell_officer = Viewer("Y", 10, officer_of_cells=frozenset({10}))
    assert t.may_see_cell(cell_officer, 10) and not t.may_manage_sites(cell_officer, 10)
    assert t.may_manage_sites(d1, 10) and not t.may_manage_sites(d1, 12)
    assert t.manageable(d1)["change_committees"] == [4] and t.manageable(admin)["add_top"] is True


def test_a_committee_may_not_go_under_itself_or_below_itself_and_the_error_names_the_chain() -> None:
    t = tree()
    t.check_committee_parent(4, 3)  # a ward to the other district: fine
    t.check_committee_parent(2, None)
    with pytest.raises(InvalidState) as exc:
        t.check_committee_parent(1, 4)
    assert exc.value.code == "committee_cycle"
    assert exc.value.message == "K-PROV cannot go under K-W1: K-W1 is below it (K-W1 < K-D1 < K-PROV)"
    with pytest.raises(InvalidState, match="K-D1 cannot go under itself"):
        t.check_committee_parent(2, 2)


def test_a_site_named_by_a_coming_meeting_or_by_minutes_is_not_removed() -> None:
    check_site_removal("Island post", 0, [])
    with pytest.raises(InvalidState) as exc:
        check_site_removal("Island post", 2, [7, 5])
    assert exc.value.code == "site_in_use" and "meeting(s) 5, 7" in exc.value.message
    with pytest.raises(InvalidState) as exc:
        check_site_removal("Island post", 2, [])
    assert exc.value.code == "site_has_history" and "2 closed meeting(s)" in exc.value.message
