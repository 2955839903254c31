"""The attendance register: who is entitled, who is present, how, and who is excused.

A member is *present* when they hold a live seat in the roster (online, or reconnecting
within the grace period) or when they have been checked in: in the main room by an
officer (or by themself with the room code), at a sub-site by that site's operator.
Quorum counts only *voting* members (chair, secretary, member); observers and operators
are in the register but never counted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .clock import iso
from .errors import InvalidInput, InvalidState, NotAuthorised, NotFound
from .roles import Attendance, Role
from .roster import Site

ROOM_CODE_PERIOD_S = 120
ROOM_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
ROOM_CODE_LENGTH = 6
MAX_REASON = 500


@dataclass(frozen=True)
class Person:
    """A participant of the meeting, as the register knows them."""

    member_id: str
    full_name: str
    role: Role
    site: Site | None = None
    """An operator's own site."""
    active: bool = True
    """Membership status is ``active`` (not suspended / left)."""

    @property
    def voting(self) -> bool:
        return self.role.can_vote


@dataclass(frozen=True)
class CheckIn:
    attendance: Attendance
    site: Site | None
    by: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "attendance": self.attendance.value,
            "site": _site(self.site),
            "by": self.by,
            "at": iso(self.at),
        }


@dataclass(frozen=True)
class Excuse:
    reason: str
    by: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "by": self.by, "at": iso(self.at)}


@dataclass(frozen=True)
class Online:
    attendance: Attendance
    site: Site | None


@dataclass(frozen=True)
class RegisterChange:
    """A fact of the register: ``member_checked_in`` / ``member_checked_out`` /
    ``member_excused``. ``minutes`` is the entry's fields (besides ``type``)."""

    kind: str
    member_id: str
    minutes: dict[str, Any]


def _site(site: Site | None) -> dict[str, Any] | None:
    return {"id": site.id, "name": site.name} if site else None


class AttendanceRegister:
    def __init__(self, people: Iterable[Person]) -> None:
        self._people = {p.member_id: p for p in people}
        # counted on every join (quorum): set arithmetic, not a pass over every person
        self._voting = frozenset(m for m, p in self._people.items() if p.voting)
        self._online: dict[str, Online] = {}
        self._checked_in: dict[str, CheckIn] = {}
        self._excused: dict[str, Excuse] = {}

    # -- reading ------------------------------------------------------------------------

    def person(self, member_id: str) -> Person:
        p = self._people.get(member_id)
        if p is None:
            raise NotFound(f"{member_id!r} is not a participant of this meeting")
        return p

    def get(self, member_id: str) -> Person | None:
        return self._people.get(member_id)

    @property
    def people(self) -> list[Person]:
        return sorted(self._people.values(), key=lambda p: (p.full_name, p.member_id))

    def is_present(self, member_id: str) -> bool:
        return member_id in self._online or member_id in self._checked_in

    def checked_in(self, member_id: str) -> CheckIn | None:
        return self._checked_in.get(member_id)

    def is_online(self, member_id: str) -> bool:
        return member_id in self._online

    def place_of(self, member_id: str) -> tuple[Attendance, Site | None] | None:
        """Where the member is: a check-in wins over the online seat."""
        c = self._checked_in.get(member_id)
        if c is not None:
            return c.attendance, c.site
        o = self._online.get(member_id)
        return (o.attendance, o.site) if o is not None else None

    def entitled_voting(self) -> int:
        return len(self._voting)

    def present_voting(self) -> int:
        return len(self._voting.intersection(self._online.keys() | self._checked_in.keys()))

    def voting_present_at(self, site: Site | None) -> list[str]:
        """Voting members checked in at ``site`` (``None``: the main room)."""
        want = Attendance.MAIN_ROOM if site is None else Attendance.SUB_SITE
        return sorted(
            m
            for m, c in self._checked_in.items()
            if c.attendance == want and c.site == site and self._people[m].voting
        )

    def counts(self) -> dict[str, int]:
        return {
            "present": self.present_voting(),
            "entitled": self.entitled_voting(),
            "excused": len(self._voting.intersection(self._excused)),
        }

    def entry(self, member_id: str) -> dict[str, Any]:
        p = self.person(member_id)
        place = self.place_of(member_id)
        c, e = self._checked_in.get(member_id), self._excused.get(member_id)
        return {
            "member_id": p.member_id,
            "full_name": p.full_name,
            "role": p.role.value,
            "voting": p.voting,
            "present": self.is_present(member_id),
            "online": member_id in self._online,
            "attendance": place[0].value if place else None,
            "site": _site(place[1]) if place else None,
            "checked_in": c.to_dict() if c else None,
            "excused": e.to_dict() if e else None,
        }

    def snapshot(self) -> dict[str, Any]:
        return {**self.counts(), "members": [self.entry(p.member_id) for p in self.people]}

    # -- restoring and the roster's view ---------------------------------------------------

    def restore_check_in(self, member_id: str, check: CheckIn) -> None:
        if member_id in self._people:
            self._checked_in[member_id] = check

    def restore_excuse(self, member_id: str, excuse: Excuse) -> None:
        if member_id in self._people:
            self._excused[member_id] = excuse

    def set_online(self, member_id: str, online: Online | None) -> bool:
        """The roster says the member holds a live seat (or not). True if it changed."""
        if member_id not in self._people:
            return False
        before = self._online.get(member_id)
        if online is None:
            self._online.pop(member_id, None)
        else:
            self._online[member_id] = online
        return before != online

    # -- commands ------------------------------------------------------------------------

    def _place_of_officer(self, caller: Person) -> tuple[Attendance, Site | None]:
        if caller.role.is_officer:
            return Attendance.MAIN_ROOM, None
        if caller.role == Role.OPERATOR and caller.site is not None:
            return Attendance.SUB_SITE, caller.site
        raise NotAuthorised("only the secretary, the chair or a sub-site operator may check members in")

    def check_in(self, caller: Person, member_id: str, now: datetime) -> RegisterChange | None:
        """Check ``member_id`` in where ``caller`` is: officers in the main room, an
        operator at their site. ``None`` when already checked in there."""
        attendance, site = self._place_of_officer(caller)
        target = self.person(member_id)
        current = self._checked_in.get(member_id)
        if current is not None and (current.attendance, current.site) == (attendance, site):
            return None
        if current is not None and caller.role == Role.OPERATOR:
            raise InvalidState("this member is checked in elsewhere", code="checked_in_elsewhere")
        return self._do_check_in(target, attendance, site, caller.member_id, now, "check_in")

    def self_check_in(self, caller: Person, now: datetime) -> RegisterChange | None:
        if caller.role == Role.OPERATOR:
            raise NotAuthorised("an operator attends at their site")
        current = self._checked_in.get(caller.member_id)
        if current is not None and current.attendance == Attendance.MAIN_ROOM:
            return None
        return self._do_check_in(caller, Attendance.MAIN_ROOM, None, caller.member_id, now, "room_code")

    def _do_check_in(
        self, target: Person, attendance: Attendance, site: Site | None, by: str, now: datetime, method: str
    ) -> RegisterChange:
        self._checked_in[target.member_id] = CheckIn(attendance, site, by, now)
        return RegisterChange(
            "member_checked_in",
            target.member_id,
            {
                "member_id": target.member_id,
                "attendance": attendance.value,
                "site": site.name if site else None,
                "by": by,
                "method": method,
            },
        )

    def check_out(self, caller: Person, member_id: str, now: datetime) -> RegisterChange:
        attendance, site = self._place_of_officer(caller)
        self.person(member_id)
        current = self._checked_in.get(member_id)
        if current is None:
            raise InvalidState("this member is not checked in", code="not_checked_in")
        if caller.role == Role.OPERATOR and (current.attendance, current.site) != (attendance, site):
            raise NotAuthorised("an operator checks out only members checked in at their site")
        del self._checked_in[member_id]
        return RegisterChange(
            "member_checked_out",
            member_id,
            {
                "member_id": member_id,
                "attendance": current.attendance.value,
                "site": current.site.name if current.site else None,
                "by": caller.member_id,
            },
        )

    def excuse(self, caller: Person, member_id: str, reason: object, now: datetime) -> RegisterChange:
        if not caller.role.is_officer:
            raise NotAuthorised("only the secretary or the chair records excused absences")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidInput(f"'reason' must be 1-{MAX_REASON} characters", field="reason")
        self.person(member_id)
        if self.is_present(member_id):
            raise InvalidState("this member is present", code="member_present")
        self._excused[member_id] = Excuse(reason.strip(), caller.member_id, now)
        return RegisterChange(
            "member_excused",
            member_id,
            {"member_id": member_id, "reason": reason.strip(), "by": caller.member_id},
        )


class RoomCodes:
    """A short code shown in the room; rotates every ``period_s``; the previous one
    stays valid for one more period. Codes come from ``token`` (``secrets``)."""

    def __init__(
        self, period_s: int = ROOM_CODE_PERIOD_S, token: Callable[[str], str] = secrets.choice
    ) -> None:
        self._period = period_s
        self._token = token
        self._codes: dict[int, str] = {}

    def _slot(self, now: datetime) -> int:
        return int(now.timestamp()) // self._period

    def _code(self, slot: int) -> str:
        code = self._codes.get(slot)
        if code is None:
            code = "".join(self._token(ROOM_CODE_ALPHABET) for _ in range(ROOM_CODE_LENGTH))
            self._codes[slot] = code
            for old in [s for s in self._codes if s < slot - 1]:
                del self._codes[old]
        return code

    def current(self, now: datetime) -> tuple[str, datetime]:
        slot = self._slot(now)
        start = now - timedelta(seconds=now.timestamp() - slot * self._period)
        return self._code(slot), start + timedelta(seconds=self._period)

    def accepts(self, code: object, now: datetime) -> bool:
        if not isinstance(code, str):
            return False
        code = code.strip().upper().replace("-", "")
        slot = self._slot(now)
        return any(self._codes.get(s) == code for s in (slot, slot - 1))
