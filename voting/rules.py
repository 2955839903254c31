"""Majority rules as data, and the decision they give on a tally.

A rule is a :class:`~meeting.threshold.Threshold` over a named base:

============================  ===========================  ==========================
rule                          passes when yes votes are    base
============================  ===========================  ==========================
``simple``                    more than 1/2                votes cast
``absolute``                  more than 1/2                all voting members
``two_thirds_cast``           at least 2/3                 votes cast
``two_thirds_present``        at least 2/3                 voting members present
``custom``                    more than / at least p/q     any of the three
============================  ===========================  ==========================

"Votes cast" is yes + no (non-blank ballots in an election), plus abstentions when
``abstentions_in_base`` is set; with a member base, abstaining is the same as voting
no, and ``abstentions_in_base`` does not apply. A rule is never met with zero votes
in favour. See ``docs/voting-rules.md`` for worked examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from meeting.errors import InvalidInput
from meeting.threshold import Comparison, Threshold
from voting.tally import PollType, Tally


class Base(StrEnum):
    VOTES_CAST = "votes_cast"
    ENTITLED = "entitled"
    """All voting members of the cell, present or not."""
    PRESENT = "present"
    """Voting members present (checked in) when the poll closes."""


class RuleKind(StrEnum):
    SIMPLE = "simple"
    ABSOLUTE = "absolute"
    TWO_THIRDS_CAST = "two_thirds_cast"
    TWO_THIRDS_PRESENT = "two_thirds_present"
    CUSTOM = "custom"


_HALF = Threshold(Fraction(1, 2), Comparison.MORE_THAN)
_TWO_THIRDS = Threshold(Fraction(2, 3), Comparison.AT_LEAST)
_PRESETS: dict[RuleKind, tuple[Threshold, Base]] = {
    RuleKind.SIMPLE: (_HALF, Base.VOTES_CAST),
    RuleKind.ABSOLUTE: (_HALF, Base.ENTITLED),
    RuleKind.TWO_THIRDS_CAST: (_TWO_THIRDS, Base.VOTES_CAST),
    RuleKind.TWO_THIRDS_PRESENT: (_TWO_THIRDS, Base.PRESENT),
}
_RULE_NAMES = {
    RuleKind.SIMPLE: "simple majority",
    RuleKind.ABSOLUTE: "absolute majority",
    RuleKind.TWO_THIRDS_CAST: "two-thirds majority of votes cast",
    RuleKind.TWO_THIRDS_PRESENT: "two-thirds majority of members present",
    RuleKind.CUSTOM: "custom majority",
}
_CUSTOM_FIELDS = frozenset({"numerator", "denominator", "comparison", "base"})


@dataclass(frozen=True)
class Counts:
    """Membership figures the member-based rules need, taken when the poll closes."""

    entitled: int
    """Voting members of the cell (observers excluded)."""
    present: int
    """Voting members present."""

    def __post_init__(self) -> None:
        for name in ("entitled", "present"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{name} must be a non-negative integer", field=name)
        if self.present > self.entitled:
            raise InvalidInput(
                f"present ({self.present}) exceeds entitled ({self.entitled})",
                code="invalid_counts",
            )


@dataclass(frozen=True)
class MajorityRule:
    kind: RuleKind
    threshold: Threshold
    base: Base
    abstentions_in_base: bool = False
    """Only meaningful over votes cast; forced to ``False`` for member bases."""

    def __post_init__(self) -> None:
        preset = _PRESETS.get(self.kind)
        if preset is not None and preset != (self.threshold, self.base):
            raise InvalidInput(f"rule {self.kind} has a fixed threshold and base", field="rule")
        if self.base is not Base.VOTES_CAST and self.abstentions_in_base:
            object.__setattr__(self, "abstentions_in_base", False)

    @classmethod
    def preset(cls, kind: RuleKind, *, abstentions_in_base: bool = False) -> MajorityRule:
        if kind not in _PRESETS:
            raise InvalidInput(f"{kind} is not a preset rule", field="rule")
        threshold, base = _PRESETS[kind]
        return cls(kind, threshold, base, abstentions_in_base)

    @classmethod
    def simple(cls, *, abstentions_in_base: bool = False) -> MajorityRule:
        return cls.preset(RuleKind.SIMPLE, abstentions_in_base=abstentions_in_base)

    @classmethod
    def absolute(cls) -> MajorityRule:
        return cls.preset(RuleKind.ABSOLUTE)

    @classmethod
    def two_thirds_cast(cls, *, abstentions_in_base: bool = False) -> MajorityRule:
        return cls.preset(RuleKind.TWO_THIRDS_CAST, abstentions_in_base=abstentions_in_base)

    @classmethod
    def two_thirds_present(cls) -> MajorityRule:
        return cls.preset(RuleKind.TWO_THIRDS_PRESENT)

    @classmethod
    def custom(
        cls,
        numerator: int,
        denominator: int,
        comparison: Comparison,
        base: Base,
        *,
        abstentions_in_base: bool = False,
    ) -> MajorityRule:
        threshold = Threshold.of(numerator, denominator, comparison)
        return cls(RuleKind.CUSTOM, threshold, base, abstentions_in_base)

    @classmethod
    def from_payload(cls, value: object, *, abstentions_in_base: bool) -> MajorityRule:
        """Parse ``"simple"`` (a preset name) or ``{"numerator": 3, "denominator": 5,
        "comparison": "at_least", "base": "votes_cast"}`` (a custom rule)."""
        if isinstance(value, str):
            try:
                kind = RuleKind(value)
            except ValueError:
                raise InvalidInput(f"unknown rule {value!r}", field="rule") from None
            return cls.preset(kind, abstentions_in_base=abstentions_in_base)
        if not isinstance(value, dict):
            raise InvalidInput("rule must be a preset name or an object", field="rule")
        unknown = set(value) - _CUSTOM_FIELDS
        if unknown:
            raise InvalidInput(f"unknown field rule.{sorted(unknown)[0]}", field="rule")
        missing = _CUSTOM_FIELDS - set(value)
        if missing:
            raise InvalidInput(f"missing field rule.{sorted(missing)[0]}", field="rule")
        try:
            comparison = Comparison(value["comparison"])
        except ValueError:
            raise InvalidInput("rule.comparison must be more_than or at_least", field="rule") from None
        try:
            base = Base(value["base"])
        except ValueError:
            raise InvalidInput("rule.base must be votes_cast, entitled or present", field="rule") from None
        return cls.custom(
            value["numerator"],
            value["denominator"],
            comparison,
            base,
            abstentions_in_base=abstentions_in_base,
        )

    def describe(self) -> str:
        """The rule in words, e.g. ``simple majority: in favour more than half (1/2)
        of votes cast (abstentions not counted)``."""
        name = _RULE_NAMES[self.kind]
        return f"{name}: in favour {self.threshold.describe()} of {self._base_words()}"

    def _base_words(self) -> str:
        if self.base is Base.ENTITLED:
            return "all voting members"
        if self.base is Base.PRESENT:
            return "voting members present"
        if self.abstentions_in_base:
            return "votes cast (abstentions counted)"
        return "votes cast (abstentions not counted)"

    def base_size(self, tally: Tally, counts: Counts) -> int:
        if self.base is Base.ENTITLED:
            return counts.entitled
        if self.base is Base.PRESENT:
            return counts.present
        return tally.valid + (tally.abstentions if self.abstentions_in_base else 0)

    def to_dict(self) -> dict[str, Any]:
        fraction = self.threshold.fraction
        return {
            "kind": self.kind.value,
            "numerator": fraction.numerator,
            "denominator": fraction.denominator,
            "comparison": self.threshold.comparison.value,
            "base": self.base.value,
            "abstentions_in_base": self.abstentions_in_base,
            "description": self.describe(),
        }


class Decision(StrEnum):
    ADOPTED = "adopted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    """The decision on a motion, with the rule in words and the numbers used."""

    decision: Decision
    rule: MajorityRule
    in_favour: int
    against: int
    abstentions: int
    base: int
    required: int

    @property
    def adopted(self) -> bool:
        return self.decision is Decision.ADOPTED

    def explain(self) -> str:
        return (
            f"{self.in_favour} in favour, {self.against} against, {self.abstentions} "
            f"abstaining; base {self.base} ({self.rule.base.value}); "
            f"{self.rule.threshold.describe()} needs {self.required}: {self.decision.value}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": PollType.MOTION.value,
            "decision": self.decision.value,
            "rule": self.rule.to_dict(),
            "in_favour": self.in_favour,
            "against": self.against,
            "abstentions": self.abstentions,
            "base": self.base,
            "required": self.required,
            "explanation": self.explain(),
        }


def decide(tally: Tally, rule: MajorityRule, counts: Counts) -> Outcome:
    """Adopted when the yes votes reach ``rule.threshold.required(base)``."""
    if tally.poll_type is not PollType.MOTION:
        raise InvalidInput("decide() takes a motion tally; use elect() for elections")
    base = rule.base_size(tally, counts)
    required = rule.threshold.required(base)
    decision = Decision.ADOPTED if tally.in_favour >= required else Decision.REJECTED
    return Outcome(
        decision=decision,
        rule=rule,
        in_favour=tally.in_favour,
        against=tally.against,
        abstentions=tally.abstentions,
        base=base,
        required=required,
    )


class CandidateStatus(StrEnum):
    ELECTED = "elected"
    TIED = "tied"
    """Qualified, but tied with others for the last seat(s)."""
    NOT_ELECTED = "not_elected"
    """Qualified, but others had more votes."""
    BELOW_THRESHOLD = "below_threshold"


@dataclass(frozen=True)
class CandidateResult:
    candidate: str
    votes: int
    status: CandidateStatus

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "votes": self.votes, "status": self.status.value}


@dataclass(frozen=True)
class ElectionOutcome:
    """Who is elected to ``seats`` seats, with any tie at the boundary reported as such."""

    rule: MajorityRule
    seats: int
    base: int
    required: int
    candidates: tuple[CandidateResult, ...]
    """In ballot order (the order of the options), not by rank."""

    def _with(self, status: CandidateStatus) -> tuple[str, ...]:
        return tuple(c.candidate for c in self.candidates if c.status is status)

    @property
    def elected(self) -> tuple[str, ...]:
        return self._with(CandidateStatus.ELECTED)

    @property
    def tied(self) -> tuple[str, ...]:
        return self._with(CandidateStatus.TIED)

    @property
    def tied_seats(self) -> int:
        """Seats the tied candidates compete for (0 when there is no tie)."""
        return self.seats - len(self.elected) if self.tied else 0

    @property
    def unfilled_seats(self) -> int:
        return self.seats - len(self.elected) - self.tied_seats

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": PollType.ELECTION.value,
            "rule": self.rule.to_dict(),
            "seats": self.seats,
            "base": self.base,
            "required": self.required,
            "candidates": [c.to_dict() for c in self.candidates],
            "elected": list(self.elected),
            "tied": list(self.tied),
            "tied_seats": self.tied_seats,
            "unfilled_seats": self.unfilled_seats,
        }


def elect(tally: Tally, rule: MajorityRule, counts: Counts, seats: int) -> ElectionOutcome:
    """The top-``seats`` candidates among those whose votes reach the rule's threshold.

    Candidates tied at the last seat(s) are all reported ``tied``; no tie is broken
    here. The base over votes cast is the number of non-blank ballots (plus blank
    ballots when abstentions count), not the number of marks.
    """
    if tally.poll_type is not PollType.ELECTION:
        raise InvalidInput("elect() takes an election tally; use decide() for motions")
    if not 1 <= seats <= len(tally.options):
        raise InvalidInput(f"seats must be between 1 and {len(tally.options)}", field="seats")
    base = rule.base_size(tally, counts)
    required = rule.threshold.required(base)
    votes = tally.counts
    qualified = sorted(
        (i for i, v in enumerate(votes) if v >= required), key=lambda i: votes[i], reverse=True
    )
    status = dict.fromkeys(range(len(votes)), CandidateStatus.BELOW_THRESHOLD)
    for i in qualified:
        status[i] = CandidateStatus.ELECTED
    if len(qualified) > seats:
        boundary = votes[qualified[seats - 1]]
        tie = votes[qualified[seats]] == boundary
        for i in qualified:
            if votes[i] < boundary:
                status[i] = CandidateStatus.NOT_ELECTED
            elif votes[i] == boundary and tie:
                status[i] = CandidateStatus.TIED
    return ElectionOutcome(
        rule=rule,
        seats=seats,
        base=base,
        required=required,
        candidates=tuple(CandidateResult(name, votes[i], status[i]) for i, name in enumerate(tally.options)),
    )
