"""The pure procedure core: register, quorum watch, agenda, speakers, room codes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meeting.agenda import Agenda, AgendaItem
from meeting.attendance import AttendanceRegister, Online, Person, RoomCodes
from meeting.errors import InvalidInput, InvalidState, NotAuthorised, NotFound
from meeting.quorum import QuorumRule
from meeting.quorum_watch import QuorumWatch
from meeting.roles import Attendance, Role
from meeting.roster import Site
from meeting.speakers import Speaker, SpeakerList

T0 = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
ISLAND = Site(1, "Island post")
CHAIR = Person("CH", "Chair", Role.CHAIR)
SEC = Person("SE", "Secretary", Role.SECRETARY)
OP = Person("OP", "Operator", Role.OPERATOR, ISLAND)
OBS = Person("OB", "Observer", Role.OBSERVER)
MEMBERS = [Person(f"M{i}", f"Member {i}", Role.MEMBER) for i in range(8)]


def register() -> AttendanceRegister:
    return AttendanceRegister([CHAIR, SEC, OP, OBS, *MEMBERS])


def test_only_voting_members_count() -> None:
    reg = register()
    assert reg.counts() == {"present": 0, "entitled": 10, "excused": 0}
    reg.set_online("OB", Online(Attendance.REMOTE, None))
    reg.set_online("OP", Online(Attendance.SUB_SITE, ISLAND))
    assert reg.present_voting() == 0
    reg.set_online("M1", Online(Attendance.REMOTE, None))
    reg.check_in(SEC, "M2", T0)
    assert reg.present_voting() == 2


def test_check_in_places_and_rights() -> None:
    reg = register()
    change = reg.check_in(OP, "M1", T0)
    assert change is not None and change.minutes["site"] == "Island post"
    assert reg.check_in(OP, "M1", T0) is None  # idempotent
    with pytest.raises(NotAuthorised):
        reg.check_in(MEMBERS[0], "M2", T0)
    reg.check_in(SEC, "M2", T0)
    with pytest.raises(InvalidState) as err:
        reg.check_in(OP, "M2", T0)
    assert err.value.code == "checked_in_elsewhere"
    with pytest.raises(NotAuthorised):
        reg.check_out(OP, "M2", T0)
    moved = reg.check_in(SEC, "M1", T0)  # the secretary may move a member to the room
    assert moved is not None and reg.place_of("M1") == (Attendance.MAIN_ROOM, None)
    with pytest.raises(NotFound):
        reg.check_in(SEC, "NOBODY", T0)
    with pytest.raises(NotAuthorised):
        reg.self_check_in(OP, T0)


def test_excuse_rules() -> None:
    reg = register()
    with pytest.raises(NotAuthorised):
        reg.excuse(MEMBERS[0], "M3", "ill", T0)
    with pytest.raises(InvalidInput):
        reg.excuse(SEC, "M3", "  ", T0)
    reg.set_online("M3", Online(Attendance.REMOTE, None))
    with pytest.raises(InvalidState):
        reg.excuse(SEC, "M3", "ill", T0)
    reg.set_online("M3", None)
    assert reg.excuse(SEC, "M3", "ill", T0).kind == "member_excused"
    assert reg.counts()["excused"] == 1


def test_room_codes_rotate_and_previous_stays_valid() -> None:
    codes = RoomCodes(period_s=120)
    code, expires = codes.current(T0)
    assert len(code) == 6 and expires == T0 + timedelta(seconds=120)
    assert codes.accepts(code.lower(), T0)
    later = T0 + timedelta(seconds=130)
    newer, _ = codes.current(later)
    assert codes.accepts(code, later) and codes.accepts(newer, later)
    much_later = T0 + timedelta(seconds=400)
    codes.current(much_later)
    assert not codes.accepts(code, much_later)
    assert not codes.accepts(None, T0)


actions = st.lists(
    st.tuples(st.sampled_from(["online", "offline", "check_in", "check_out"]), st.integers(0, 7)), max_size=60
)


@settings(max_examples=150, deadline=None)
@given(actions, st.sampled_from([QuorumRule.default(), QuorumRule.fraction(2, 3), QuorumRule.members(4)]))
def test_quorum_follows_its_rule_over_random_presence(steps, rule) -> None:
    reg = register()
    watch = QuorumWatch(rule)
    watch.evaluate(reg.present_voting(), reg.entitled_voting())
    flips = []
    for action, i in steps:
        mid = f"M{i}"
        if action == "online":
            reg.set_online(mid, Online(Attendance.REMOTE, None))
        elif action == "offline":
            reg.set_online(mid, None)
        elif action == "check_in":
            reg.check_in(SEC, mid, T0)
        elif reg.checked_in(mid) is not None:
            reg.check_out(SEC, mid, T0)
        before = watch.quorate
        flip = watch.evaluate(reg.present_voting(), reg.entitled_voting())
        present = sum(1 for p in MEMBERS if reg.is_present(p.member_id))
        assert reg.present_voting() == present
        assert watch.quorate == rule.is_quorate(present, 10)
        assert (flip is not None) == (before != watch.quorate)
        if flip:
            flips.append(flip.kind)
    # flips alternate: reached, lost, reached, ...
    assert all(a != b for a, b in itertools.pairwise(flips))
    if flips:
        assert flips[0] == "quorum_reached"


def test_quorum_rule_locks() -> None:
    watch = QuorumWatch()
    watch.set_rule(QuorumRule.members(3))
    watch.locked = True
    with pytest.raises(InvalidState) as err:
        watch.set_rule(QuorumRule.default())
    assert err.value.code == "quorum_rule_locked"


def test_agenda_and_motion_checks() -> None:
    agenda = Agenda([AgendaItem(1, "Opening"), AgendaItem(2, "Budget")])
    with pytest.raises(InvalidState):
        agenda.check_motion("Buy a radio")
    agenda.start_item(2)
    assert agenda.check_motion("  Buy a radio ") == (2, "Buy a radio")
    with pytest.raises(NotFound):
        agenda.start_item(9)
    with pytest.raises(InvalidInput):
        agenda.check_motion("")


def speaker(i: int, at: datetime = T0) -> Speaker:
    return Speaker.member(f"M{i}", f"Member {i}", f"M{i}", at)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["raise", "lower", "floor", "end"]), st.integers(0, 5)), max_size=50)
)
def test_speakers_queue_invariants(steps) -> None:
    speakers = SpeakerList()
    now = T0
    total_ms = 0
    for action, i in steps:
        now += timedelta(seconds=7)
        if action == "raise":
            speakers.raise_hand(speaker(i, now))
        elif action == "lower":
            speakers.lower_hand(f"member:M{i}")
        elif action == "floor":
            ended = speakers.give_floor(speaker(i, now), now)
            total_ms += ended.duration_ms if ended else 0
            assert speakers.current is not None and speakers.current.member_id == f"M{i}"
        elif speakers.current is not None:
            total_ms += speakers.end_speech(now).duration_ms
        else:
            with pytest.raises(InvalidState):
                speakers.end_speech(now)
        ids = [s.entry_id for s in speakers.queue]
        assert len(ids) == len(set(ids))  # nobody queued twice
        if speakers.current is not None:
            assert speakers.current.entry_id not in ids  # the speaker is not queued
    assert total_ms % 7000 == 0


def test_reorder_must_be_a_permutation() -> None:
    speakers = SpeakerList()
    for i in range(3):
        speakers.raise_hand(speaker(i))
    with pytest.raises(InvalidInput):
        speakers.reorder(["member:M0", "member:M1"])
    with pytest.raises(InvalidInput):
        speakers.reorder(["member:M0", "member:M0", "member:M1"])
    speakers.reorder(["member:M2", "member:M0", "member:M1"])
    assert [s.member_id for s in speakers.queue] == ["M2", "M0", "M1"]
    site = Speaker.for_site(ISLAND, "OP", T0)
    assert speakers.raise_hand(site) and not speakers.raise_hand(site)
