"""Majority rules at their boundaries: exact half, ties, all abstain, zero votes."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meeting.errors import InvalidInput
from meeting.threshold import Comparison, Threshold
from voting.rules import (
    Base,
    CandidateStatus,
    Counts,
    Decision,
    MajorityRule,
    RuleKind,
    decide,
    elect,
)
from voting.tally import PollType, Tally, TallyPart

NOBODY = Counts(entitled=0, present=0)


def motion(yes: int, no: int, abstain: int = 0) -> Tally:
    part = TallyPart((yes, no, abstain), yes + no + abstain)
    return Tally(PollType.MOTION, ("yes", "no", "abstain"), part, TallyPart.empty(3), 2)


def election(votes: tuple[int, ...], ballots: int, blank: int = 0) -> Tally:
    names = tuple(f"c{i}" for i in range(len(votes)))
    part = TallyPart(votes, ballots, blank)
    return Tally(PollType.ELECTION, names, part, TallyPart.empty(len(votes)))


# -- simple majority: more than 1/2 of votes cast --------------------------------------


def test_simple_majority_exact_half_is_rejected() -> None:
    outcome = decide(motion(5, 5), MajorityRule.simple(), NOBODY)
    assert outcome.decision is Decision.REJECTED
    assert (outcome.base, outcome.required) == (10, 6)


def test_simple_majority_one_more_than_half_is_adopted() -> None:
    assert decide(motion(6, 5), MajorityRule.simple(), NOBODY).adopted


def test_simple_majority_odd_base() -> None:
    outcome = decide(motion(5, 4), MajorityRule.simple(), NOBODY)
    assert outcome.adopted and outcome.required == 5


def test_simple_majority_abstentions_outside_base_do_not_block() -> None:
    outcome = decide(motion(3, 2, 10), MajorityRule.simple(), NOBODY)
    assert outcome.adopted and outcome.base == 5


def test_simple_majority_abstentions_in_base_act_as_no() -> None:
    outcome = decide(motion(3, 2, 10), MajorityRule.simple(abstentions_in_base=True), NOBODY)
    assert not outcome.adopted and outcome.base == 15 and outcome.required == 8


def test_all_abstain_is_rejected_either_way() -> None:
    for rule in (MajorityRule.simple(), MajorityRule.simple(abstentions_in_base=True)):
        outcome = decide(motion(0, 0, 7), rule, NOBODY)
        assert outcome.decision is Decision.REJECTED


def test_zero_votes_are_rejected_by_every_rule() -> None:
    rules = [
        MajorityRule.simple(),
        MajorityRule.two_thirds_cast(),
        MajorityRule.custom(1, 3, Comparison.AT_LEAST, Base.VOTES_CAST),
        MajorityRule.custom(1, 1, Comparison.AT_LEAST, Base.VOTES_CAST),
    ]
    for rule in rules:
        assert not decide(motion(0, 0), rule, NOBODY).adopted
    assert not decide(motion(0, 0), MajorityRule.absolute(), Counts(0, 0)).adopted
    assert not decide(motion(0, 0), MajorityRule.two_thirds_present(), Counts(9, 0)).adopted


# -- absolute majority: more than 1/2 of all voting members ----------------------------


def test_absolute_majority_counts_members_not_votes() -> None:
    counts = Counts(entitled=20, present=12)
    assert not decide(motion(10, 0), MajorityRule.absolute(), counts).adopted
    outcome = decide(motion(11, 1), MajorityRule.absolute(), counts)
    assert outcome.adopted and (outcome.base, outcome.required) == (20, 11)


def test_absolute_majority_ignores_abstentions_in_base_flag() -> None:
    rule = MajorityRule.custom(1, 2, Comparison.MORE_THAN, Base.ENTITLED, abstentions_in_base=True)
    assert rule.abstentions_in_base is False


# -- two-thirds: at least 2/3 ----------------------------------------------------------


def test_two_thirds_of_votes_cast_exactly_two_thirds_is_adopted() -> None:
    outcome = decide(motion(10, 5), MajorityRule.two_thirds_cast(), NOBODY)
    assert outcome.adopted and outcome.required == 10


def test_two_thirds_of_votes_cast_just_below_is_rejected() -> None:
    assert not decide(motion(9, 5), MajorityRule.two_thirds_cast(), NOBODY).adopted


def test_two_thirds_rounds_up_when_base_is_not_a_multiple_of_three() -> None:
    outcome = decide(motion(7, 3), MajorityRule.two_thirds_cast(), NOBODY)
    assert outcome.required == 7 and outcome.adopted  # 2/3 of 10 = 6.67 -> 7
    assert not decide(motion(6, 4), MajorityRule.two_thirds_cast(), NOBODY).adopted


def test_two_thirds_of_members_present() -> None:
    counts = Counts(entitled=30, present=9)
    assert decide(motion(6, 0, 0), MajorityRule.two_thirds_present(), counts).adopted
    assert not decide(motion(5, 0, 0), MajorityRule.two_thirds_present(), counts).adopted


# -- custom ----------------------------------------------------------------------------


def test_custom_more_than_versus_at_least_differ_exactly_at_the_boundary() -> None:
    strict = MajorityRule.custom(3, 5, Comparison.MORE_THAN, Base.VOTES_CAST)
    inclusive = MajorityRule.custom(3, 5, Comparison.AT_LEAST, Base.VOTES_CAST)
    tally = motion(6, 4)  # exactly 3/5
    assert not decide(tally, strict, NOBODY).adopted
    assert decide(tally, inclusive, NOBODY).adopted


def test_unanimity_is_at_least_one_over_one() -> None:
    rule = MajorityRule.custom(1, 1, Comparison.AT_LEAST, Base.VOTES_CAST)
    assert decide(motion(4, 0, 2), rule, NOBODY).adopted
    assert not decide(motion(4, 1), rule, NOBODY).adopted


@pytest.mark.parametrize(
    ("numerator", "denominator", "comparison"),
    [
        (0, 1, Comparison.AT_LEAST),
        (3, 2, Comparison.AT_LEAST),
        (1, 1, Comparison.MORE_THAN),
        (1, 0, Comparison.AT_LEAST),
        (-1, 2, Comparison.AT_LEAST),
    ],
)
def test_custom_fraction_out_of_range_is_refused(
    numerator: int, denominator: int, comparison: Comparison
) -> None:
    with pytest.raises(InvalidInput):
        MajorityRule.custom(numerator, denominator, comparison, Base.VOTES_CAST)


def test_rule_from_payload_custom_and_unknown_field() -> None:
    rule = MajorityRule.from_payload(
        {"numerator": 3, "denominator": 4, "comparison": "at_least", "base": "present"},
        abstentions_in_base=False,
    )
    assert rule.kind is RuleKind.CUSTOM and rule.threshold.fraction == Fraction(3, 4)
    with pytest.raises(InvalidInput):
        MajorityRule.from_payload(
            {
                "numerator": 3,
                "denominator": 4,
                "comparison": "at_least",
                "base": "present",
                "extra": 1,
            },
            abstentions_in_base=False,
        )
    with pytest.raises(InvalidInput):
        MajorityRule.from_payload("plurality", abstentions_in_base=False)
    with pytest.raises(InvalidInput):
        MajorityRule.from_payload(
            {"numerator": True, "denominator": 4, "comparison": "at_least", "base": "present"},
            abstentions_in_base=False,
        )


def test_outcome_states_rule_and_numbers() -> None:
    data = decide(motion(6, 5, 1), MajorityRule.simple(), NOBODY).to_dict()
    assert data["decision"] == "adopted"
    assert data["rule"]["description"].startswith("simple majority: in favour more than half")
    assert (data["in_favour"], data["against"], data["abstentions"]) == (6, 5, 1)
    assert (data["base"], data["required"]) == (11, 6)


# -- properties: exact arithmetic against the definition ---------------------------------

counts_st = st.integers(0, 400)
fractions_st = st.tuples(st.integers(1, 12), st.integers(1, 12)).filter(lambda t: t[0] <= t[1])


@given(fractions_st, st.sampled_from(list(Comparison)), st.integers(0, 10_000))
def test_threshold_required_is_the_smallest_count_meeting_the_definition(
    fraction: tuple[int, int], comparison: Comparison, base: int
) -> None:
    numerator, denominator = fraction
    if comparison is Comparison.MORE_THAN and numerator == denominator:
        return
    threshold = Threshold.of(numerator, denominator, comparison)
    exact = Fraction(numerator, denominator) * base

    def meets(count: int) -> bool:
        ok = count > exact if comparison is Comparison.MORE_THAN else count >= exact
        return ok and count > 0

    required = threshold.required(base)
    assert meets(required)
    assert not meets(required - 1)


@given(counts_st, counts_st, counts_st, st.booleans())
def test_simple_majority_matches_definition(yes: int, no: int, abstain: int, in_base: bool) -> None:
    outcome = decide(motion(yes, no, abstain), MajorityRule.simple(abstentions_in_base=in_base), NOBODY)
    base = yes + no + (abstain if in_base else 0)
    assert outcome.adopted == (2 * yes > base and yes > 0)
    if not in_base:
        assert outcome.adopted == (yes > no)


@given(counts_st, counts_st, counts_st, st.booleans())
def test_two_thirds_cast_matches_definition(yes: int, no: int, abstain: int, in_base: bool) -> None:
    rule = MajorityRule.two_thirds_cast(abstentions_in_base=in_base)
    base = yes + no + (abstain if in_base else 0)
    assert decide(motion(yes, no, abstain), rule, NOBODY).adopted == (3 * yes >= 2 * base > 0)


@given(st.integers(0, 300), st.integers(0, 300), st.integers(0, 300))
def test_member_based_rules_match_definition(yes: int, entitled: int, present: int) -> None:
    present = min(present, entitled)
    counts = Counts(entitled, present)
    assert decide(motion(yes, 0), MajorityRule.absolute(), counts).adopted == (2 * yes > entitled and yes > 0)
    assert decide(motion(yes, 0), MajorityRule.two_thirds_present(), counts).adopted == (
        3 * yes >= 2 * present and yes > 0
    )


# -- elections -------------------------------------------------------------------------


def test_election_single_seat_needs_majority_of_ballots() -> None:
    outcome = elect(election((5, 3, 2), ballots=10), MajorityRule.simple(), NOBODY, seats=1)
    assert outcome.elected == () and outcome.unfilled_seats == 1  # 5 of 10 is not > half
    outcome = elect(election((6, 3, 1), ballots=10), MajorityRule.simple(), NOBODY, seats=1)
    assert outcome.elected == ("c0",)


def test_election_tie_at_boundary_is_reported_not_broken() -> None:
    tally = election((8, 6, 6, 1), ballots=10)
    outcome = elect(tally, MajorityRule.simple(), NOBODY, seats=2)
    assert outcome.elected == ("c0",)
    assert outcome.tied == ("c1", "c2") and outcome.tied_seats == 1
    assert outcome.unfilled_seats == 0
    statuses = [c.status for c in outcome.candidates]
    assert statuses[3] is CandidateStatus.BELOW_THRESHOLD


def test_election_tie_below_threshold_is_no_tie() -> None:
    outcome = elect(election((8, 5, 5), ballots=10), MajorityRule.simple(), NOBODY, seats=2)
    assert outcome.elected == ("c0",) and outcome.tied == () and outcome.unfilled_seats == 1


def test_election_more_qualified_than_seats_without_tie() -> None:
    outcome = elect(election((9, 8, 7), ballots=10), MajorityRule.simple(), NOBODY, seats=2)
    assert outcome.elected == ("c0", "c1")
    assert outcome.candidates[2].status is CandidateStatus.NOT_ELECTED


def test_election_blank_ballots_count_only_when_abstentions_in_base() -> None:
    tally = election((4, 2), ballots=10, blank=4)  # 6 non-blank
    assert elect(tally, MajorityRule.simple(), NOBODY, 1).elected == ("c0",)
    rule = MajorityRule.simple(abstentions_in_base=True)
    assert elect(tally, rule, NOBODY, 1).elected == ()


@given(st.lists(st.integers(0, 20), min_size=1, max_size=7), st.integers(1, 7), st.integers(0, 60))
def test_election_properties(votes: list[int], seats: int, extra_ballots: int) -> None:
    seats = min(seats, len(votes))
    ballots = max(votes) + extra_ballots
    outcome = elect(election(tuple(votes), ballots), MajorityRule.simple(), NOBODY, seats)
    elected = [c for c in outcome.candidates if c.status is CandidateStatus.ELECTED]
    tied = [c for c in outcome.candidates if c.status is CandidateStatus.TIED]
    assert len(elected) + outcome.tied_seats + outcome.unfilled_seats == seats
    assert len(elected) <= seats
    assert all(c.votes >= outcome.required for c in elected + tied)
    if tied:
        assert len(tied) > outcome.tied_seats > 0
        assert len({c.votes for c in tied}) == 1
        assert all(e.votes > tied[0].votes for e in elected)
    losers = [c for c in outcome.candidates if c.status is CandidateStatus.NOT_ELECTED]
    assert all(e.votes > loser.votes for e in elected + tied for loser in losers)
