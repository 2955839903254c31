"""Quorum: how many voting members must be present for the meeting to decide.

A meeting has one rule: a fraction of its voting members (default *more than half*),
or an absolute number of voting members. Observers never count, neither present nor
entitled. With no voting members at all there is no quorum.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from meeting.errors import InvalidInput
from meeting.threshold import Comparison, Threshold

_FRACTION_FIELDS = frozenset({"numerator", "denominator", "comparison"})
_MORE_THAN_HALF = Threshold(Fraction(1, 2), Comparison.MORE_THAN)


@dataclass(frozen=True)
class QuorumStatus:
    present: int
    entitled: int
    required: int
    quorate: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "entitled": self.entitled,
            "required": self.required,
            "quorate": self.quorate,
            "rule": self.description,
        }


@dataclass(frozen=True)
class QuorumRule:
    """Either ``threshold`` of the voting members, or ``absolute`` voting members."""

    threshold: Threshold | None = _MORE_THAN_HALF
    absolute: int | None = None

    def __post_init__(self) -> None:
        if (self.threshold is None) == (self.absolute is None):
            raise InvalidInput("a quorum rule is either a fraction or a number", field="quorum")
        if self.absolute is not None and (
            isinstance(self.absolute, bool) or not isinstance(self.absolute, int) or self.absolute < 1
        ):
            raise InvalidInput("quorum.members must be a positive integer", field="quorum")

    @classmethod
    def default(cls) -> QuorumRule:
        """More than half of the voting members."""
        return cls()

    @classmethod
    def fraction(
        cls, numerator: int, denominator: int, comparison: Comparison = Comparison.AT_LEAST
    ) -> QuorumRule:
        return cls(threshold=Threshold.of(numerator, denominator, comparison))

    @classmethod
    def members(cls, number: int) -> QuorumRule:
        return cls(threshold=None, absolute=number)

    @classmethod
    def from_payload(cls, value: object) -> QuorumRule:
        """``None`` or ``"default"``; ``{"members": 12}``; or ``{"numerator": 2,
        "denominator": 3, "comparison": "at_least"}`` (comparison defaults to at_least)."""
        if value is None or value == "default":
            return cls.default()
        if not isinstance(value, dict):
            raise InvalidInput("quorum must be 'default' or an object", field="quorum")
        if set(value) == {"members"}:
            return cls.members(value["members"])
        unknown = set(value) - _FRACTION_FIELDS
        if unknown:
            raise InvalidInput(f"unknown field quorum.{sorted(unknown)[0]}", field="quorum")
        if not {"numerator", "denominator"} <= set(value):
            raise InvalidInput("quorum needs numerator and denominator", field="quorum")
        try:
            comparison = Comparison(value.get("comparison", Comparison.AT_LEAST.value))
        except ValueError:
            raise InvalidInput("quorum.comparison must be more_than or at_least", field="quorum") from None
        return cls.fraction(value["numerator"], value["denominator"], comparison)

    def required(self, entitled_voting: int) -> int:
        """How many voting members must be present (never below 1)."""
        _check_count("entitled_voting", entitled_voting)
        if self.absolute is not None:
            return self.absolute
        assert self.threshold is not None
        return self.threshold.required(entitled_voting)

    def is_quorate(self, present_voting: int, entitled_voting: int) -> bool:
        return self.status(present_voting, entitled_voting).quorate

    def status(self, present_voting: int, entitled_voting: int) -> QuorumStatus:
        _check_count("present_voting", present_voting)
        _check_count("entitled_voting", entitled_voting)
        if present_voting > entitled_voting:
            raise InvalidInput(
                f"present ({present_voting}) exceeds entitled ({entitled_voting})",
                code="invalid_counts",
            )
        required = self.required(entitled_voting)
        return QuorumStatus(
            present=present_voting,
            entitled=entitled_voting,
            required=required,
            quorate=entitled_voting > 0 and present_voting >= required,
            description=self.describe(),
        )

    def describe(self) -> str:
        if self.absolute is not None:
            noun = "member" if self.absolute == 1 else "members"
            return f"quorum: at least {self.absolute} voting {noun} present"
        assert self.threshold is not None
        return f"quorum: {self.threshold.describe()} of the voting members present"

    def to_dict(self) -> dict[str, Any]:
        if self.absolute is not None:
            return {"members": self.absolute, "description": self.describe()}
        assert self.threshold is not None
        return {
            "numerator": self.threshold.fraction.numerator,
            "denominator": self.threshold.fraction.denominator,
            "comparison": self.threshold.comparison.value,
            "description": self.describe(),
        }


def is_quorate(present_voting: int, entitled_voting: int, rule: QuorumRule | None = None) -> bool:
    """Quorum under ``rule`` (default: more than half of the voting members)."""
    return (rule or QuorumRule.default()).is_quorate(present_voting, entitled_voting)


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer", field=name)
