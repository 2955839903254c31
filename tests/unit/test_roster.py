"""The pure roster: seats are members, not connections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meeting.errors import InvalidInput, NotAuthorised
from meeting.roles import Attendance, Role
from meeting.roster import Entitlement, Roster, RosterDeltas, Site

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ISLAND = Site(1, "Island post")
ANN = Entitlement("C1-001", "Ann", Role.MEMBER)
OP = Entitlement("C1-OP", "Op", Role.OPERATOR, ISLAND)


def test_reconnect_resumes_the_same_seat() -> None:
    r = Roster([ISLAND])
    ev = r.join(ANN, Attendance.MAIN_ROOM, None, "s1", T0)
    assert ev.kind == "participant_joined" and ev.interval_started
    assert r.disconnect("s1").seat["state"] == "reconnecting"
    ev = r.join(ANN, Attendance.MAIN_ROOM, None, "s2", T0 + timedelta(seconds=5))
    assert ev.seat["state"] == "online" and not ev.interval_started
    assert ev.seat["joined_at"] == "2026-11-26T08:00:00Z"
    assert r.expire("C1-001") is None  # back online: nothing expires
    assert len(r.seats) == 1


def test_second_tab_keeps_seat_online_when_first_drops() -> None:
    r = Roster([])
    r.join(ANN, Attendance.REMOTE, None, "s1", T0)
    r.join(ANN, Attendance.REMOTE, None, "s2", T0)
    assert r.connection_count == 2
    assert r.disconnect("s1") is None
    assert r.seat("C1-001").state == "online" and r.connection_count == 1
    assert r.leave("s2").kind == "participant_left"
    assert r.connection_count == sum(len(s.connections) for s in r.seats) == 0


def test_expire_after_grace() -> None:
    r = Roster([])
    r.join(ANN, Attendance.REMOTE, None, "s1", T0)
    r.disconnect("s1")
    ev = r.expire("C1-001")
    assert ev is not None and ev.kind == "participant_left" and ev.interval_ended
    assert r.counts()["present"] == 0


def test_changing_attendance_mode_closes_and_opens_an_interval() -> None:
    r = Roster([ISLAND])
    r.join(ANN, Attendance.REMOTE, None, "s1", T0)
    ev = r.join(ANN, Attendance.SUB_SITE, 1, "s1", T0 + timedelta(minutes=1))
    assert ev.interval_started and ev.interval_ended
    assert ev.seat["site"] == {"id": 1, "name": "Island post"}


def test_operator_attends_only_at_own_site() -> None:
    r = Roster([ISLAND])
    with pytest.raises(NotAuthorised):
        r.join(OP, Attendance.REMOTE, None, "s1", T0)
    assert r.join(OP, Attendance.SUB_SITE, None, "s1", T0).seat["site"]["id"] == 1


def test_site_rules() -> None:
    r = Roster([ISLAND])
    with pytest.raises(InvalidInput):
        r.join(ANN, Attendance.SUB_SITE, None, "s1", T0)
    with pytest.raises(InvalidInput):
        r.join(ANN, Attendance.SUB_SITE, 2, "s1", T0)
    with pytest.raises(InvalidInput):
        r.join(ANN, Attendance.MAIN_ROOM, 1, "s1", T0)


def test_counts_by_attendance() -> None:
    r = Roster([ISLAND])
    r.join(ANN, Attendance.MAIN_ROOM, None, "a", T0)
    r.join(OP, Attendance.SUB_SITE, None, "b", T0)
    r.join(Entitlement("C1-002", "Bo", Role.MEMBER), Attendance.REMOTE, None, "c", T0)
    assert r.counts() == {"present": 3, "main_room": 1, "sub_site": 1, "remote": 1}


def test_roster_deltas_send_each_member_once_in_their_latest_state() -> None:
    r = Roster([])
    deltas = RosterDeltas()
    bob = Entitlement("C1-002", "Bob", Role.MEMBER)
    deltas.add(r.join(ANN, Attendance.REMOTE, None, "s1", T0))
    deltas.add(r.join(bob, Attendance.REMOTE, None, "s2", T0))
    disconnected = r.disconnect("s1")
    assert disconnected is not None
    deltas.add(disconnected)  # joined then reconnecting inside one interval: still "joined"
    left = r.leave("s2")
    assert left is not None
    deltas.add(left)  # joined then left: "left"
    assert len(deltas) == 2
    changes = deltas.drain()
    assert [(c["kind"], c["participant"]["member_id"], c["participant"]["state"]) for c in changes] == [
        ("joined", "C1-001", "reconnecting"),
        ("left", "C1-002", "left"),
    ]
    assert not deltas and deltas.drain() == []
    # next interval: a state change alone is an update
    resumed = r.join(ANN, Attendance.REMOTE, None, "s3", T0)
    deltas.add(resumed)
    assert [c["kind"] for c in deltas.drain()] == ["joined"]
    dropped = r.disconnect("s3")
    assert dropped is not None
    deltas.add(dropped)
    assert [c["kind"] for c in deltas.drain()] == ["updated"]


def test_a_seat_survives_its_dict_form_as_another_node_forwards_it() -> None:
    from meeting.roster import Seat

    r = Roster([ISLAND])
    r.join(OP, Attendance.SUB_SITE, ISLAND.id, "s1", T0)
    seat = r.seat("C1-OP")
    assert seat is not None
    again = Seat.from_dict(seat.to_dict())
    assert again.to_dict() == seat.to_dict() and again.role is Role.OPERATOR and again.site == ISLAND
