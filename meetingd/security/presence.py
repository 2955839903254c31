"""Where each member is live right now: which addresses, which meetings.

One member connected from two addresses at once, or live in two meetings at once, is a
security event (a shared or stolen account, or a proxy voter). A phone moving from
Wi-Fi to 4G can look like two addresses for the few seconds until the old connection is
noticed as dropped; the alert says so and an administrator judges.
"""

from __future__ import annotations

from dataclasses import dataclass

from .events import EventSink


@dataclass
class _Link:
    address: str
    meeting_id: int | None = None


class Presence:
    def __init__(self, events: EventSink) -> None:
        self._events = events
        self._live: dict[str, dict[str, _Link]] = {}

    def addresses(self, member_id: str) -> set[str]:
        return {link.address for link in self._live.get(member_id, {}).values()}

    async def connected(self, sid: str, member_id: str, address: str) -> None:
        links = self._live.setdefault(member_id, {})
        others = {link.address for s, link in links.items() if s != sid}
        links[sid] = _Link(address)
        if others and address not in others:
            meeting = next((lk.meeting_id for lk in links.values() if lk.meeting_id is not None), None)
            await self._events.record(
                "member_two_addresses",
                member_id=member_id,
                address=address,
                meeting_id=meeting,
                addresses=sorted({*others, address}),
            )

    async def joined(self, sid: str, member_id: str, meeting_id: int) -> None:
        links = self._live.setdefault(member_id, {})
        link = links.setdefault(sid, _Link("?"))
        link.meeting_id = meeting_id
        others = {
            lk.meeting_id
            for s, lk in links.items()
            if s != sid and lk.meeting_id is not None and lk.meeting_id != meeting_id
        }
        if others:
            await self._events.record(
                "member_two_meetings",
                member_id=member_id,
                address=link.address,
                meeting_id=meeting_id,
                meetings=sorted({*others, meeting_id}),
            )
        addresses = {lk.address for lk in links.values()}
        if len(addresses) > 1:  # live from two places, and now in this meeting: tell its chair
            await self._events.record(
                "member_two_addresses",
                member_id=member_id,
                address=link.address,
                meeting_id=meeting_id,
                addresses=sorted(addresses),
            )

    def left(self, sid: str, member_id: str) -> None:
        link = self._live.get(member_id, {}).get(sid)
        if link is not None:
            link.meeting_id = None

    def gone(self, sid: str, member_id: str) -> None:
        links = self._live.get(member_id)
        if links is not None:
            links.pop(sid, None)
            if not links:
                del self._live[member_id]
