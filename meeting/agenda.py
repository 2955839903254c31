"""The agenda: its items, the current one, and the motions under each item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import iso
from .errors import InvalidInput, InvalidState, NotFound

MAX_MOTION = 5000


@dataclass(frozen=True)
class AgendaItem:
    position: int
    title: str

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "title": self.title}


@dataclass(frozen=True)
class Motion:
    id: int
    position: int
    text: str
    proposer: str
    added_by: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "position": self.position,
            "text": self.text,
            "proposer": self.proposer,
            "added_by": self.added_by,
            "at": iso(self.at),
        }


class Agenda:
    def __init__(self, items: list[AgendaItem], current: int | None = None) -> None:
        self._items = {i.position: i for i in items}
        self.current = current
        self._motions: dict[int, Motion] = {}

    @property
    def items(self) -> list[AgendaItem]:
        return [self._items[p] for p in sorted(self._items)]

    def item(self, position: int) -> AgendaItem:
        found = self._items.get(position)
        if found is None:
            raise NotFound(f"no agenda item at position {position}")
        return found

    def start_item(self, position: int) -> AgendaItem:
        """Make ``position`` the current item (returning to an earlier item is allowed)."""
        item = self.item(position)
        self.current = position
        return item

    def check_motion(self, text: object) -> tuple[int, str]:
        """The current position and the cleaned text, or an error."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("'text' must be a non-empty string", field="text")
        if len(text) > MAX_MOTION:
            raise InvalidInput(f"'text' must be at most {MAX_MOTION} characters", field="text")
        if self.current is None:
            raise InvalidState("no agenda item is current", code="no_current_item")
        return self.current, text.strip()

    def add_motion(self, motion: Motion) -> None:
        self._motions[motion.id] = motion

    def motion(self, motion_id: int) -> Motion:
        found = self._motions.get(motion_id)
        if found is None:
            raise NotFound(f"no motion {motion_id}")
        return found

    @property
    def motions(self) -> list[Motion]:
        return [self._motions[k] for k in sorted(self._motions)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [i.to_dict() for i in self.items],
            "current": self.current,
            "motions": [m.to_dict() for m in self.motions],
        }
