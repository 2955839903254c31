"""Participation across meetings, from minutes entries only."""

from __future__ import annotations

from typing import Any

from recorder.participation import MeetingSummary, committee_figures, member_timeline, summarise_meeting

PEOPLE = [("CH", "chair"), ("SE", "secretary"), ("M1", "member"), ("M2", "member"), ("OP", "operator")]


def meeting(
    mid: int,
    cell: str,
    day: str,
    present: dict[str, str],
    *,
    quorate: bool = True,
    excused: tuple[str, ...] = (),
    secret_voters: tuple[str, ...] = (),
    hands: int = 0,
) -> list[dict[str, Any]]:
    at = f"{day}T08:00:00Z"
    e: list[dict[str, Any]] = [
        {
            "type": "meeting_opened",
            "at": at,
            "cell": cell,
            "meeting_id": mid,
            "participants": [{"member_id": m, "full_name": m.lower(), "role": r} for m, r in PEOPLE],
        }
    ]
    for m, mode in present.items():
        e.append(
            {
                "type": "member_checked_in" if mode != "remote" else "member_joined",
                "at": at,
                "member_id": m,
                "attendance": mode,
            }
        )
    for m in excused:
        e.append({"type": "member_excused", "at": at, "member_id": m, "reason": "ill"})
    if quorate:
        e.append({"type": "quorum_reached", "at": at, "present": 3, "required": 3})
    e += [
        {"type": "floor_given", "at": at, "member_id": "M1"},
        {"type": "speech_ended", "at": at, "member_id": "M1", "duration_ms": 60000},
        {"type": "poll_opened", "at": at, "poll_id": 1, "config": {"kind": "secret"}},
    ]
    e += [{"type": "voter_marked", "at": at, "poll_id": 1, "voter_id": v} for v in secret_voters]
    e += [
        {"type": "poll_closed", "at": at, "poll_id": 1},
        {"type": "poll_result", "at": at, "poll_id": 1, "tally": {"hand": {"ballots": hands}}},
        {"type": "meeting_closed", "at": f"{day}T10:00:00Z"},
    ]
    return e


def test_one_meeting_summary_counts_voting_members_modes_speeches_and_secret_participation() -> None:
    s = summarise_meeting(
        meeting(
            1,
            "A",
            "2025-01-10",
            {"CH": "main_room", "SE": "main_room", "M1": "remote", "OP": "sub_site"},
            secret_voters=("CH", "M1"),
            hands=1,
        )
    )
    assert s.entitled == ("CH", "M1", "M2", "SE")  # the operator does not vote
    assert dict(s.attended) == {"CH": "main_room", "SE": "main_room", "M1": "remote"}
    assert s.speeches == {"M1": 1} and s.quorate
    assert s.polls[0].secret and s.polls[0].voters == ("CH", "M1") and s.polls[0].voted == 3
    assert MeetingSummary.from_dict(s.to_dict()) == s


def test_cell_and_member_figures_and_the_flags() -> None:
    all_in = {"CH": "main_room", "SE": "main_room", "M1": "remote"}
    sums = [
        summarise_meeting(meeting(i, "A", f"2025-0{i}-10", all_in, secret_voters=("M1",), quorate=i != 2))
        for i in range(1, 5)
    ]
    sums.append(summarise_meeting(meeting(9, "A", "2024-12-10", {**all_in, "M2": "remote"})))  # outside
    f = committee_figures(
        sums, cells=["A", "B"], scheduled={"A": 5}, start="2025-01-01", end="2025-12-31", absent_run=3
    )
    a = next(c for c in f["cells"] if c["cell"] == "A")
    assert (a["held"], a["scheduled"], a["entitled"], a["attended"]) == (4, 5, 16, 12)
    assert a["attendance_rate"] == 0.75 and a["quorate"] == 3 and a["without_quorum"] == 1
    assert [m["month"] for m in a["months"]] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    m1 = next(m for m in f["members"] if m["member_id"] == "M1")
    assert m1["by_mode"]["remote"] == 4 and m1["speeches"] == 4 and m1["secret_polls_voted"] == 4
    assert f["flags"]["absent_in_a_row"] == [{"member_id": "M2", "cell": "A", "run": 4}]
    assert f["flags"]["cells_without_meetings"] == ["B"]
    assert [q["meeting_id"] for q in f["flags"]["closed_without_quorum"]] == ["2"]
    assert f["totals"]["polls"] == 4 and f["polls"][0]["turnout"] == 0.25


def test_an_excused_absence_is_not_counted_in_a_run_of_absences() -> None:
    sums = [
        summarise_meeting(
            meeting(i, "A", f"2025-0{i}-10", {"CH": "main_room"}, excused=("M2",) if i == 2 else ())
        )
        for i in range(1, 5)
    ]
    f = committee_figures(sums, cells=["A"], scheduled={}, start="2025-01-01", end="2025-12-31", absent_run=4)
    m2 = next(m for m in f["members"] if m["member_id"] == "M2")
    assert m2["excused"] == 1 and m2["longest_absence_run"] == 3
    assert all(a["member_id"] != "M2" for a in f["flags"]["absent_in_a_row"])
    timeline = member_timeline(sums, "M2")
    assert [t["attendance"] for t in timeline] == ["absent", "excused", "absent", "absent"]
