"""Quorum rules at their boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meeting.errors import InvalidInput
from meeting.quorum import QuorumRule, is_quorate
from meeting.threshold import Comparison


def test_default_quorum_is_more_than_half() -> None:
    assert not is_quorate(5, 10)  # exactly half
    assert is_quorate(6, 10)
    assert is_quorate(5, 9)
    assert not is_quorate(4, 9)
    assert QuorumRule.default().describe() == ("quorum: more than half (1/2) of the voting members present")


def test_two_thirds_at_least_quorum() -> None:
    rule = QuorumRule.fraction(2, 3)
    assert rule.is_quorate(20, 30) and not rule.is_quorate(19, 30)
    assert rule.required(10) == 7  # 6.67 rounds up
    assert rule.describe() == "quorum: at least two-thirds (2/3) of the voting members present"


def test_absolute_number_quorum() -> None:
    rule = QuorumRule.members(12)
    assert not rule.is_quorate(11, 40) and rule.is_quorate(12, 40)
    assert not rule.is_quorate(10, 10)  # cannot be met with only 10 members
    assert rule.describe() == "quorum: at least 12 voting members present"


def test_no_voting_members_means_no_quorum() -> None:
    for rule in (QuorumRule.default(), QuorumRule.fraction(1, 3), QuorumRule.members(1)):
        assert not rule.is_quorate(0, 0)


def test_counts_are_checked() -> None:
    with pytest.raises(InvalidInput):
        is_quorate(11, 10)
    with pytest.raises(InvalidInput):
        is_quorate(-1, 10)
    with pytest.raises(InvalidInput):
        QuorumRule.members(0)


def test_quorum_from_payload() -> None:
    assert QuorumRule.from_payload(None) == QuorumRule.default()
    assert QuorumRule.from_payload({"members": 7}) == QuorumRule.members(7)
    assert QuorumRule.from_payload({"numerator": 2, "denominator": 3}) == QuorumRule.fraction(2, 3)
    with pytest.raises(InvalidInput):
        QuorumRule.from_payload({"numerator": 2, "denominator": 3, "bogus": 1})
    with pytest.raises(InvalidInput):
        QuorumRule.from_payload({"members": "7"})


def test_status_carries_the_numbers_and_the_rule() -> None:
    status = QuorumRule.default().status(6, 10).to_dict()
    assert status == {
        "present": 6,
        "entitled": 10,
        "required": 6,
        "quorate": True,
        "rule": "quorum: more than half (1/2) of the voting members present",
    }


@given(
    st.integers(0, 500),
    st.integers(0, 500),
    st.integers(1, 9),
    st.integers(1, 9),
    st.sampled_from(list(Comparison)),
)
def test_quorum_follows_its_rule(present: int, entitled: int, p: int, q: int, comparison: Comparison) -> None:
    present = min(present, entitled)
    if p > q or (p == q and comparison is Comparison.MORE_THAN):
        return
    rule = QuorumRule.fraction(p, q, comparison)
    if comparison is Comparison.MORE_THAN:
        expected = present * q > p * entitled
    else:
        expected = present * q >= p * entitled
    assert rule.is_quorate(present, entitled) == (expected and present > 0)
    assert rule.is_quorate(present, entitled) == (entitled > 0 and present >= rule.required(entitled))
