"""Speaking-time limits in the list of speakers (pure core, injected times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meeting.errors import InvalidInput
from meeting.speakers import Speaker, SpeakerList

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def ana(at: datetime = T0) -> Speaker:
    return Speaker.member("C1-001", "Ana", "C1-CHAIR", at)


def test_a_speech_past_its_limit_is_over_time_by_the_difference() -> None:
    speakers = SpeakerList()
    speakers.set_limit(60)
    speakers.give_floor(ana(), T0)
    assert speakers.to_dict()["current"]["limit_s"] == 60
    ended = speakers.end_speech(T0 + timedelta(seconds=75, milliseconds=500))
    assert (ended.limit_s, ended.duration_ms, ended.overtime_ms) == (60, 75_500, 15_500)
    assert ended.overtime_minutes() == {
        "entry_id": "member:C1-001",
        "member_id": "C1-001",
        "site": None,
        "limit_s": 60,
        "duration_ms": 75_500,
        "overtime_ms": 15_500,
    }


def test_within_the_limit_or_without_one_nothing_is_over() -> None:
    speakers = SpeakerList()
    speakers.give_floor(ana(), T0)
    assert speakers.end_speech(T0 + timedelta(minutes=30)).overtime_ms == 0
    speakers.set_limit(120)
    speakers.give_floor(ana(), T0)
    assert speakers.end_speech(T0 + timedelta(seconds=119)).overtime_ms == 0


def test_a_limit_set_during_a_speech_applies_to_it_and_lifting_it_clears_it() -> None:
    speakers = SpeakerList()
    speakers.give_floor(ana(), T0)
    speakers.set_limit(30)
    assert speakers.to_dict()["current"]["limit_s"] == 30
    speakers.set_limit(None)
    assert speakers.to_dict()["limit_s"] is None
    assert speakers.end_speech(T0 + timedelta(minutes=5)).overtime_ms == 0


@pytest.mark.parametrize("bad", [0, 9, 3601, -5, True, 12.5, "60"])
def test_a_limit_outside_10_s_to_1_h_is_refused_naming_the_field(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        SpeakerList().set_limit(bad)
    assert err.value.details["field"] == "limit_s"
