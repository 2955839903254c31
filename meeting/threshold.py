"""A threshold: a fraction of some base, compared strictly or inclusively.

Shared by majority rules and quorum rules. All arithmetic is exact (integers and
:class:`fractions.Fraction`); no floats anywhere.

* ``more_than p/q`` of ``base`` is met by ``count`` when ``count * q > p * base``;
  the smallest such count is ``floor(p/q * base) + 1``.
* ``at_least p/q`` of ``base`` is met when ``count * q >= p * base``; the smallest
  such count is ``ceil(p/q * base)``.

A threshold is never met by zero: when the base is empty (no votes cast, no
members), the required count is 1, so "at least 2/3 of nothing" does not pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from meeting.errors import InvalidInput


class Comparison(StrEnum):
    MORE_THAN = "more_than"
    AT_LEAST = "at_least"


_WORDS = {Comparison.MORE_THAN: "more than", Comparison.AT_LEAST: "at least"}
_NAMED = {Fraction(1, 2): "half", Fraction(2, 3): "two-thirds", Fraction(1, 1): "all"}


@dataclass(frozen=True)
class Threshold:
    """``comparison`` ``fraction`` of a base, e.g. *more than 1/2*."""

    fraction: Fraction
    comparison: Comparison

    def __post_init__(self) -> None:
        if not isinstance(self.fraction, Fraction):
            raise InvalidInput("threshold fraction must be a Fraction", field="fraction")
        if not (0 < self.fraction <= 1):
            raise InvalidInput(f"threshold fraction must be in (0, 1], got {self.fraction}", field="fraction")
        if self.comparison is Comparison.MORE_THAN and self.fraction == 1:
            raise InvalidInput(
                "'more than all' can never be met; use at_least 1/1 for unanimity",
                field="fraction",
            )

    @classmethod
    def of(cls, numerator: int, denominator: int, comparison: Comparison) -> Threshold:
        for name, value in (("numerator", numerator), ("denominator", denominator)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"{name} must be an integer", field=name)
        if denominator <= 0:
            raise InvalidInput("denominator must be positive", field="denominator")
        return cls(Fraction(numerator, denominator), comparison)

    def required(self, base: int) -> int:
        """The smallest count that meets the threshold over ``base`` (never below 1)."""
        if base < 0:
            raise InvalidInput(f"base must not be negative, got {base}", field="base")
        exact = self.fraction * base
        if self.comparison is Comparison.MORE_THAN:
            needed = math.floor(exact) + 1
        else:
            needed = math.ceil(exact)
        return max(needed, 1)

    def is_met(self, count: int, base: int) -> bool:
        return count >= self.required(base)

    def describe(self) -> str:
        """E.g. ``"more than half (1/2)"`` or ``"at least 3/5"``."""
        fraction = f"{self.fraction.numerator}/{self.fraction.denominator}"
        named = _NAMED.get(self.fraction)
        words = _WORDS[self.comparison]
        return f"{words} {named} ({fraction})" if named else f"{words} {fraction}"
