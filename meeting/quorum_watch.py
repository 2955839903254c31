"""Live quorum: the meeting's rule applied to the register, and when it flips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meeting.quorum import QuorumRule, QuorumStatus

from .errors import InvalidState


@dataclass(frozen=True)
class QuorumFlip:
    """``quorum_reached`` or ``quorum_lost``."""

    kind: str
    status: QuorumStatus


class QuorumWatch:
    def __init__(self, rule: QuorumRule | None = None, *, locked: bool = False) -> None:
        self.rule = rule or QuorumRule.default()
        self.locked = locked
        """True once a poll has been opened: the rule may no longer change."""
        self._status: QuorumStatus | None = None

    @property
    def status(self) -> QuorumStatus | None:
        return self._status

    @property
    def quorate(self) -> bool:
        return self._status is not None and self._status.quorate

    def set_rule(self, rule: QuorumRule) -> None:
        if self.locked:
            raise InvalidState(
                "the quorum rule cannot change once a poll has been opened", code="quorum_rule_locked"
            )
        self.rule = rule

    def evaluate(self, present: int, entitled: int) -> QuorumFlip | None:
        """Recompute; a flip when quorum was reached or lost (the first evaluation
        reports ``quorum_reached`` only if quorate)."""
        before = self._status
        self._status = self.rule.status(present, entitled)
        was = before.quorate if before is not None else False
        if self._status.quorate != was:
            return QuorumFlip("quorum_reached" if self._status.quorate else "quorum_lost", self._status)
        return None

    def changed_since(self, other: QuorumStatus | None) -> bool:
        return other != self._status

    def to_dict(self) -> dict[str, Any]:
        status = self._status
        return {
            "quorate": status.quorate if status else False,
            "present": status.present if status else 0,
            "entitled": status.entitled if status else 0,
            "required": status.required if status else 0,
            "rule": self.rule.to_dict(),
            "locked": self.locked,
        }
