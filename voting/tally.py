"""The count of a poll: electronic and hand-counted parts, and their sum.

Options are addressed by index. A *motion* has the options ``yes``, ``no`` and
(optionally) ``abstain``; an *election* has candidates, and a ballot that marks no
candidate is a blank ballot (an abstention).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class PollType(StrEnum):
    MOTION = "motion"
    ELECTION = "election"


YES = 0
NO = 1


@dataclass(frozen=True)
class TallyPart:
    """One part of the count (electronic ballots, or hands counted)."""

    counts: tuple[int, ...]
    """Marks per option, aligned with :attr:`Tally.options`."""
    ballots: int
    """How many voters this part counts (ballots cast, or hands raised)."""
    blank: int = 0
    """Ballots that marked nothing (elections only)."""

    @classmethod
    def empty(cls, n_options: int) -> TallyPart:
        return cls(counts=(0,) * n_options, ballots=0, blank=0)

    def __add__(self, other: TallyPart) -> TallyPart:
        return TallyPart(
            counts=tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
            ballots=self.ballots + other.ballots,
            blank=self.blank + other.blank,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "ballots": self.ballots, "blank": self.blank}


@dataclass(frozen=True)
class Tally:
    """Per-option counts with the electronic and hand parts kept apart."""

    poll_type: PollType
    options: tuple[str, ...]
    electronic: TallyPart
    hand: TallyPart
    abstain_index: int | None = None
    """Index of the ``abstain`` option of a motion, if it has one."""

    @property
    def combined(self) -> TallyPart:
        return self.electronic + self.hand

    @property
    def counts(self) -> tuple[int, ...]:
        return self.combined.counts

    @property
    def voters(self) -> int:
        """Everyone counted: electronic ballots plus hands."""
        return self.combined.ballots

    @property
    def abstentions(self) -> int:
        """Explicit abstentions (motions) or blank ballots (elections)."""
        combined = self.combined
        if self.poll_type is PollType.ELECTION:
            return combined.blank
        return combined.counts[self.abstain_index] if self.abstain_index is not None else 0

    @property
    def valid(self) -> int:
        """Votes cast that are not abstentions: yes + no, or non-blank ballots."""
        return self.voters - self.abstentions

    @property
    def in_favour(self) -> int:
        """Yes votes of a motion."""
        return self.counts[YES]

    @property
    def against(self) -> int:
        """No votes of a motion."""
        return self.counts[NO]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.poll_type.value,
            "options": list(self.options),
            "counts": list(self.counts),
            "valid": self.valid,
            "abstentions": self.abstentions,
            "voters": self.voters,
            "electronic": self.electronic.to_dict(),
            "hand": self.hand.to_dict(),
        }
