"""The live roster of one meeting: who is here, how they attend, and their connection.

A participant is identified by their member id, never by a connection: a reload, a
second tab or a reconnect resumes the same seat. A seat whose last connection drops
becomes ``reconnecting``; after the grace period the adapter calls :meth:`Roster.expire`
and it becomes ``left``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .clock import iso
from .errors import InvalidInput, InvalidState, NotAuthorised
from .roles import Attendance, Role


class ConnState(StrEnum):
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    LEFT = "left"


@dataclass(frozen=True)
class Site:
    id: int
    name: str


@dataclass(frozen=True)
class Entitlement:
    """Who may take a seat: fixed by the meeting's participant list."""

    member_id: str
    full_name: str
    role: Role
    site: Site | None = None  # an operator's own site


@dataclass
class Seat:
    member_id: str
    full_name: str
    role: Role
    attendance: Attendance
    site: Site | None
    state: ConnState
    joined_at: datetime
    connections: set[str] = field(default_factory=set)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Seat:
        """The seat :meth:`to_dict` wrote (another node's, forwarded; no connections)."""
        site = d["site"]
        return cls(
            str(d["member_id"]),
            str(d["full_name"]),
            Role(d["role"]),
            Attendance(d["attendance"]),
            Site(int(site["id"]), str(site["name"])) if site else None,
            ConnState(d["state"]),
            datetime.fromisoformat(str(d["joined_at"]).replace("Z", "+00:00")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "full_name": self.full_name,
            "role": self.role.value,
            "attendance": self.attendance.value,
            "site": {"id": self.site.id, "name": self.site.name} if self.site else None,
            "state": self.state.value,
            "joined_at": iso(self.joined_at),
        }


@dataclass(frozen=True)
class RosterEvent:
    """A fact to broadcast: ``participant_joined`` / ``participant_updated`` / ``participant_left``.

    ``interval_started`` / ``interval_ended`` tell storage to open or close an
    attendance interval.
    """

    kind: str
    seat: dict[str, Any]
    interval_started: bool = False
    interval_ended: bool = False


class RosterDeltas:
    """Roster events waiting for the next broadcast, merged per member (the last state wins).

    A join storm of n members would otherwise send n events to each of up to n members:
    merged and sent a few times a second as one message per room, each member's latest
    state goes out once. A member who joined and then changed state inside one interval is
    still announced as ``joined`` (clients add the seat); one who joined and left is
    ``left`` (clients drop it, or never show it). Order is that of each member's first event.
    """

    def __init__(self) -> None:
        self._pending: dict[str, tuple[str, dict[str, Any]]] = {}

    def __bool__(self) -> bool:
        return bool(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, ev: RosterEvent) -> None:
        kind = ev.kind.removeprefix("participant_")
        member_id = str(ev.seat["member_id"])
        previous = self._pending.get(member_id)
        if previous is not None and previous[0] == "joined" and kind == "updated":
            kind = "joined"
        self._pending[member_id] = (kind, ev.seat)

    def drain(self) -> list[dict[str, Any]]:
        """The merged changes, ``[{"kind": "joined"|"updated"|"left", "participant": seat}]``;
        empties the buffer."""
        changes = [{"kind": kind, "participant": seat} for kind, seat in self._pending.values()]
        self._pending.clear()
        return changes


class Roster:
    def __init__(self, sites: list[Site]) -> None:
        self._sites = {s.id: s for s in sites}
        self._seats: dict[str, Seat] = {}
        self._by_conn: dict[str, str] = {}

    @property
    def seats(self) -> list[Seat]:
        return sorted(self._seats.values(), key=lambda s: (s.state == ConnState.LEFT, s.full_name))

    @property
    def connection_count(self) -> int:
        """Connections in the room (every seat's), without sorting the seats."""
        return len(self._by_conn)

    def seat(self, member_id: str) -> Seat | None:
        return self._seats.get(member_id)

    def member_of(self, conn_id: str) -> str | None:
        return self._by_conn.get(conn_id)

    def counts(self) -> dict[str, int]:
        present = [s for s in self._seats.values() if s.state != ConnState.LEFT]
        return {
            "present": len(present),
            "main_room": sum(s.attendance == Attendance.MAIN_ROOM for s in present),
            "sub_site": sum(s.attendance == Attendance.SUB_SITE for s in present),
            "remote": sum(s.attendance == Attendance.REMOTE for s in present),
        }

    def join(
        self,
        who: Entitlement,
        attendance: Attendance,
        site_id: int | None,
        conn_id: str,
        now: datetime,
    ) -> RosterEvent:
        site: Site | None = None
        if who.role == Role.OPERATOR:
            if who.site is None:
                raise InvalidState("this operator has no site in the meeting")
            if attendance != Attendance.SUB_SITE or site_id not in (None, who.site.id):
                raise NotAuthorised("a sub-site operator attends at their own site")
            site = who.site
        elif attendance == Attendance.SUB_SITE:
            if site_id is None:
                raise InvalidInput("site_id is required when attending at a sub-site", field="site_id")
            if site_id not in self._sites:
                raise InvalidInput(f"site {site_id} is not a site of this meeting", field="site_id")
            site = self._sites[site_id]
        elif site_id is not None:
            raise InvalidInput("site_id is only allowed with attendance 'sub_site'", field="site_id")

        previous_member = self._by_conn.get(conn_id)
        if previous_member is not None and previous_member != who.member_id:
            raise InvalidState("this connection already holds another member's seat")
        self._by_conn[conn_id] = who.member_id
        seat = self._seats.get(who.member_id)
        if seat is None or seat.state == ConnState.LEFT:
            seat = Seat(
                who.member_id, who.full_name, who.role, attendance, site, ConnState.ONLINE, now, {conn_id}
            )
            self._seats[who.member_id] = seat
            return RosterEvent("participant_joined", seat.to_dict(), interval_started=True)
        moved = (seat.attendance, seat.site) != (attendance, site)
        seat.connections.add(conn_id)
        seat.state = ConnState.ONLINE
        if moved:
            # A change of attendance mode closes one interval and opens another.
            seat.attendance, seat.site, seat.joined_at = attendance, site, now
            return RosterEvent(
                "participant_joined", seat.to_dict(), interval_started=True, interval_ended=True
            )
        return RosterEvent("participant_joined", seat.to_dict())

    def disconnect(self, conn_id: str) -> RosterEvent | None:
        """A connection dropped without saying goodbye."""
        member_id = self._by_conn.pop(conn_id, None)
        if member_id is None:
            return None
        seat = self._seats[member_id]
        seat.connections.discard(conn_id)
        if seat.connections or seat.state != ConnState.ONLINE:
            return None
        seat.state = ConnState.RECONNECTING
        return RosterEvent("participant_updated", seat.to_dict())

    def expire(self, member_id: str) -> RosterEvent | None:
        """The grace period ended: a seat still reconnecting has left."""
        seat = self._seats.get(member_id)
        if seat is None or seat.state != ConnState.RECONNECTING:
            return None
        seat.state = ConnState.LEFT
        return RosterEvent("participant_left", seat.to_dict(), interval_ended=True)

    def leave(self, conn_id: str) -> RosterEvent | None:
        """The member left on purpose from this connection; other tabs keep the seat."""
        member_id = self._by_conn.pop(conn_id, None)
        if member_id is None:
            return None
        seat = self._seats[member_id]
        seat.connections.discard(conn_id)
        if seat.connections:
            return None
        seat.state = ConnState.LEFT
        return RosterEvent("participant_left", seat.to_dict(), interval_ended=True)

    def snapshot(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.seats]
