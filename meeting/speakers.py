"""The list of speakers: raised hands in an ordered queue, the floor, speaking time.

An entry is a member (``member:<id>``) or a whole sub-site raised by its operator
(``site:<id>``). The chair gives the floor and ends speeches; a speech's duration is
measured from the injected clock. The chair may set a speaking-time limit: every speech
given the floor from then on carries it, and a speech that ends past it is over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import iso
from .errors import InvalidInput, InvalidState
from .roster import Site


@dataclass(frozen=True)
class Speaker:
    entry_id: str
    kind: str  # "member" | "site"
    member_id: str | None
    site: Site | None
    name: str
    raised_by: str
    raised_at: datetime

    @classmethod
    def member(cls, member_id: str, name: str, by: str, at: datetime) -> Speaker:
        return cls(f"member:{member_id}", "member", member_id, None, name, by, at)

    @classmethod
    def for_site(cls, site: Site, by: str, at: datetime) -> Speaker:
        return cls(f"site:{site.id}", "site", None, site, site.name, by, at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "kind": self.kind,
            "member_id": self.member_id,
            "site": {"id": self.site.id, "name": self.site.name} if self.site else None,
            "name": self.name,
            "raised_by": self.raised_by,
            "raised_at": iso(self.raised_at),
        }


LIMIT_MIN_S, LIMIT_MAX_S = 10, 3600


def check_limit(value: object) -> int | None:
    """A speaking-time limit in whole seconds (10 s .. 1 h), or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not LIMIT_MIN_S <= value <= LIMIT_MAX_S:
        raise InvalidInput(
            f"'limit_s' must be {LIMIT_MIN_S}-{LIMIT_MAX_S} seconds, or null for no limit", field="limit_s"
        )
    return value


@dataclass(frozen=True)
class SpeechEnded:
    speaker: Speaker
    started_at: datetime
    ended_at: datetime
    limit_s: int | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.ended_at - self.started_at).total_seconds() * 1000))

    @property
    def overtime_ms(self) -> int:
        """How far past its limit the speech went (0: within it, or no limit)."""
        if self.limit_s is None:
            return 0
        return max(0, self.duration_ms - self.limit_s * 1000)

    def overtime_minutes(self) -> dict[str, Any]:
        return {
            "entry_id": self.speaker.entry_id,
            "member_id": self.speaker.member_id,
            "site": self.speaker.site.name if self.speaker.site else None,
            "limit_s": self.limit_s,
            "duration_ms": self.duration_ms,
            "overtime_ms": self.overtime_ms,
        }

    def minutes(self) -> dict[str, Any]:
        return {
            "entry_id": self.speaker.entry_id,
            "member_id": self.speaker.member_id,
            "site": self.speaker.site.name if self.speaker.site else None,
            "started_at": iso(self.started_at),
            "duration_ms": self.duration_ms,
        }


class SpeakerList:
    def __init__(self, limit_s: int | None = None) -> None:
        self.queue: list[Speaker] = []
        self.current: Speaker | None = None
        self.since: datetime | None = None
        self.limit_s = check_limit(limit_s)  # for speeches given the floor from now on
        self.current_limit_s: int | None = None  # the running speech's

    def set_limit(self, limit_s: object) -> int | None:
        """The chair's speaking-time limit for the speeches to come (the running one too)."""
        self.limit_s = check_limit(limit_s)
        if self.current is not None:
            self.current_limit_s = self.limit_s
        return self.limit_s

    def _index(self, entry_id: str) -> int | None:
        return next((i for i, s in enumerate(self.queue) if s.entry_id == entry_id), None)

    def raise_hand(self, speaker: Speaker) -> bool:
        """Queue ``speaker`` at the end; False when already queued or speaking."""
        if self._index(speaker.entry_id) is not None:
            return False
        if self.current is not None and self.current.entry_id == speaker.entry_id:
            return False
        self.queue.append(speaker)
        return True

    def lower_hand(self, entry_id: str) -> bool:
        i = self._index(entry_id)
        if i is None:
            return False
        del self.queue[i]
        return True

    def give_floor(self, speaker: Speaker, now: datetime) -> SpeechEnded | None:
        """``speaker`` speaks now (leaving the queue); a running speech ends first."""
        ended = self.end_speech(now) if self.current is not None else None
        i = self._index(speaker.entry_id)
        if i is not None:
            speaker = self.queue.pop(i)
        self.current, self.since = speaker, now
        self.current_limit_s = self.limit_s
        return ended

    def end_speech(self, now: datetime) -> SpeechEnded:
        if self.current is None or self.since is None:
            raise InvalidState("nobody has the floor", code="no_speech")
        ended = SpeechEnded(self.current, self.since, max(now, self.since), self.current_limit_s)
        self.current = self.since = None
        self.current_limit_s = None
        return ended

    def reorder(self, order: object) -> None:
        if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
            raise InvalidInput("'order' must be a list of entry ids", field="order")
        if sorted(order) != sorted(s.entry_id for s in self.queue) or len(set(order)) != len(order):
            raise InvalidInput("'order' must list every queued entry exactly once", field="order")
        by_id = {s.entry_id: s for s in self.queue}
        self.queue = [by_id[e] for e in order]

    def to_dict(self) -> dict[str, Any]:
        current = None
        if self.current is not None:
            current = {**self.current.to_dict(), "since": iso(self.since), "limit_s": self.current_limit_s}
        return {"current": current, "queue": [s.to_dict() for s in self.queue], "limit_s": self.limit_s}
