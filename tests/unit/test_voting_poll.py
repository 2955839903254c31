"""Poll configuration parsing and the draft → open → closed state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from meeting.errors import InvalidInput, InvalidState
from voting.poll import BallotKind, CloseReason, Poll, PollConfig, PollState
from voting.rules import RuleKind
from voting.tally import PollType

T0 = datetime(2025, 11, 26, 13, 0, tzinfo=UTC)


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"question": "Adopt the budget?", "options": "yes_no_abstain"}
    base.update(overrides)
    return base


def test_from_payload_motion_defaults() -> None:
    config = PollConfig.from_payload(payload())
    assert config.poll_type is PollType.MOTION
    assert config.options == ("yes", "no", "abstain")
    assert config.kind is BallotKind.OPEN and config.rule.kind is RuleKind.SIMPLE
    assert config.time_limit_s is None and not config.allow_change
    assert not config.abstentions_in_base


def test_from_payload_full_election() -> None:
    config = PollConfig.from_payload(
        {
            "question": "Elect two delegates",
            "options": ["Ana", "Bo", "Cy"],
            "max_choices": 2,
            "kind": "secret",
            "rule": {
                "numerator": 1,
                "denominator": 3,
                "comparison": "more_than",
                "base": "votes_cast",
            },
            "abstentions_in_base": True,
            "time_limit_s": 90,
            "allow_change": True,
        }
    )
    assert config.poll_type is PollType.ELECTION and config.max_choices == 2
    assert config.kind is BallotKind.SECRET and config.abstentions_in_base
    assert config.to_dict()["rule"]["numerator"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"question": 3}, "question"),
        ({"question": "  "}, "question"),
        ({"kind": "anonymous"}, "kind"),
        ({"kind": True}, "kind"),
        ({"allow_change": "yes"}, "allow_change"),
        ({"abstentions_in_base": 1}, "abstentions_in_base"),
        ({"time_limit_s": "60"}, "time_limit_s"),
        ({"time_limit_s": True}, "time_limit_s"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"options": "maybe"}, "options"),
        ({"options": []}, "options"),
        ({"options": ["A", "A"]}, "options"),
        ({"options": ["A", 3]}, "options"),
        ({"options": ["A", "B"], "max_choices": 3}, "max_choices"),
        ({"options": ["A", "B"], "max_choices": 1.0}, "max_choices"),
        ({"max_choices": 1}, "max_choices"),
        ({"rule": "plurality"}, "rule"),
        ({"rule": 5}, "rule"),
    ],
)
def test_from_payload_rejects_bad_field_naming_it(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        PollConfig.from_payload(payload(**overrides))
    assert info.value.details["field"] == field


def test_from_payload_missing_field_and_non_object() -> None:
    with pytest.raises(InvalidInput) as info:
        PollConfig.from_payload({"question": "Q?"})
    assert info.value.details["field"] == "options"
    with pytest.raises(InvalidInput):
        PollConfig.from_payload(["not", "an", "object"])


def test_validate_choices() -> None:
    motion = PollConfig.motion("Q?")
    assert motion.validate_choices([1]) == (1,)
    for bad, code in (
        ([3], "option_out_of_range"),
        ([-1], "option_out_of_range"),
        ([0, 1], "too_many_choices"),
        ([], "choice_required"),  # a motion takes exactly one
        ([0, 0], "too_many_choices"),  # too many is checked before duplicates (documented order)
        ([True], "invalid_input"),
        ("0", "invalid_input"),
    ):
        with pytest.raises(InvalidInput) as info:
            motion.validate_choices(bad)
        assert info.value.code == code
    election = PollConfig.election("E", ["A", "B", "C"], max_choices=2)
    assert election.validate_choices([2, 0]) == (0, 2)
    assert election.validate_choices([]) == ()  # blank ballot
    with pytest.raises(InvalidInput):
        election.validate_choices([0, 1, 2])
    for bad, code in (
        ([1, 1], "duplicate_choice"),
        ([1, 1, 1], "too_many_choices"),
        ([5, 5, 5], "option_out_of_range"),
    ):
        with pytest.raises(InvalidInput) as info:
            election.validate_choices(bad)
        assert info.value.code == code, bad


def test_poll_lifecycle_with_time_limit() -> None:
    poll = Poll("p1", PollConfig.motion("Q?", time_limit_s=60))
    assert poll.state is PollState.DRAFT and poll.expires_at is None
    opened = poll.open(T0, quorate=True)
    assert opened.to_dict()["expires_at"] == "2025-11-26T13:01:00Z"
    assert opened.to_dict()["quorum_override"] is False
    assert not poll.is_expired(T0 + timedelta(seconds=59))
    assert poll.is_expired(T0 + timedelta(seconds=60))
    closed = poll.close(T0 + timedelta(seconds=61))
    assert closed.reason is CloseReason.TIME_LIMIT and poll.state is PollState.CLOSED
    assert not poll.is_expired(T0 + timedelta(seconds=61))


def test_open_without_quorum_is_refused_unless_overridden() -> None:
    poll = Poll("p1", PollConfig.motion("Q?"))
    with pytest.raises(InvalidState) as info:
        poll.open(T0, quorate=False)
    assert info.value.code == "no_quorum" and poll.state is PollState.DRAFT
    event = poll.open(T0, quorate=False, override=True).to_dict()
    assert event["quorum_override"] is True and event["quorate"] is False
    assert event["type"] == "poll_opened" and event["config"]["question"] == "Q?"


def test_override_with_quorum_is_not_recorded_as_override() -> None:
    poll = Poll("p1", PollConfig.motion("Q?"))
    assert poll.open(T0, quorate=True, override=True).quorum_override is False


def test_state_guards() -> None:
    poll = Poll("p1", PollConfig.motion("Q?"))
    with pytest.raises(InvalidState) as info:
        poll.close(T0)
    assert info.value.code == "poll_not_open"
    poll.open(T0, quorate=True)
    with pytest.raises(InvalidState) as info:
        poll.open(T0, quorate=True)
    assert info.value.code == "poll_already_open"
    assert poll.close(T0).reason is CloseReason.MANUAL
    for action in (lambda: poll.close(T0), lambda: poll.open(T0, quorate=True)):
        with pytest.raises(InvalidState) as info:
            action()
        assert info.value.code == "poll_closed"


def test_quorum_change_recorded_once_per_change() -> None:
    poll = Poll("p1", PollConfig.motion("Q?"))
    poll.open(T0, quorate=True)
    assert poll.note_quorum(T0, True) is None
    lost = poll.note_quorum(T0, False)
    assert lost is not None and lost.to_dict()["quorate"] is False
    assert poll.note_quorum(T0, False) is None


def test_naive_or_non_utc_time_is_refused() -> None:
    poll = Poll("p1", PollConfig.motion("Q?"))
    with pytest.raises(InvalidInput):
        poll.open(datetime(2025, 1, 1), quorate=True)
    with pytest.raises(InvalidInput):
        poll.open(datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2))), quorate=True)


def test_restore_resumes_an_open_poll() -> None:
    config = PollConfig.motion("Q?", time_limit_s=30)
    poll = Poll.restore("p1", config, opened_at=T0, closed_at=None, quorate=True)
    assert poll.state is PollState.OPEN and poll.expires_at == T0 + timedelta(seconds=30)
