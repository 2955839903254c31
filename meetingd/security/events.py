"""The append-only security log and the alerts it raises.

Any module records an event with ``await security_log.record(kind, member_id=...,
address=..., meeting_id=..., **details)`` (see :class:`EventSink`). Each event is one
row of ``security_events``; the rules of :mod:`.alerts` turn events into alerts, kept in
``security_alerts`` with their state (new, acknowledged, resolved, and by whom), and
every new or changed alert goes to the listeners (the daemon pushes it live to
administrators, and to the chair when it concerns their meeting).

Never put a password, a code, a token or a ballot choice in an event's details.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import InvalidState, NotFound

from ..storage.security_models import SecurityAlert, SecurityEvent
from .alerts import AlertDraft, AlertRules, Event

logger = logging.getLogger(__name__)

AlertListener = Callable[[dict[str, Any]], Awaitable[None]]
STATES = ("new", "acknowledged", "resolved")
_NEXT = {"new": {"acknowledged", "resolved"}, "acknowledged": {"resolved"}, "resolved": set[str]()}


class EventSink(Protocol):
    """What other modules need to record a security event."""

    async def record(
        self,
        kind: str,
        *,
        member_id: str | None = None,
        address: str | None = None,
        meeting_id: int | None = None,
        **details: Any,
    ) -> None: ...


def alert_dict(a: SecurityAlert) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule": a.rule,
        "severity": a.severity,
        "state": a.state,
        "summary": a.summary,
        "member_id": a.member_id,
        "address": a.address,
        "meeting_id": a.meeting_id,
        "count": a.count,
        "first_at": iso(a.first_at),
        "last_at": iso(a.last_at),
        "details": json.loads(a.details),
        "acknowledged_by": a.acknowledged_by,
        "acknowledged_at": iso(a.acknowledged_at) if a.acknowledged_at else None,
        "resolved_by": a.resolved_by,
        "resolved_at": iso(a.resolved_at) if a.resolved_at else None,
    }


def event_dict(e: SecurityEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "kind": e.kind,
        "member_id": e.member_id,
        "address": e.address,
        "meeting_id": e.meeting_id,
        "details": json.loads(e.details),
    }


class SecurityLog:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock, rules: AlertRules) -> None:
        self._db, self._clock, self._rules = db, clock, rules
        self._listeners: list[AlertListener] = []

    def on_alert(self, listener: AlertListener) -> None:
        """Call ``listener(alert_dict)`` after an alert is raised or changes."""
        self._listeners.append(listener)

    async def record(
        self,
        kind: str,
        *,
        member_id: str | None = None,
        address: str | None = None,
        meeting_id: int | None = None,
        **details: Any,
    ) -> None:
        """Append one event; raise the alerts it triggers. Never raises to the caller."""
        ev = Event(kind, self._clock(), member_id, address, meeting_id, details)
        try:
            drafts = self._rules.feed(ev)
            async with self._db() as s, s.begin():  # the event and its alerts: one commit
                s.add(
                    SecurityEvent(
                        at=ev.at,
                        kind=kind,
                        member_id=member_id,
                        address=address,
                        meeting_id=meeting_id,
                        details=json.dumps(details, sort_keys=True, default=str),
                    )
                )
                alerts = [await self._raise(s, draft, ev.at) for draft in drafts]
            logger.info(
                "security event=%s member=%s address=%s meeting=%s", kind, member_id, address, meeting_id
            )
            for alert in alerts:
                await self._publish(alert)
        except Exception:
            logger.exception("security event=%s could not be recorded", kind)

    async def _raise(self, s: AsyncSession, d: AlertDraft, at: datetime) -> dict[str, Any]:
        row = await s.scalar(
            select(SecurityAlert)
            .where(
                SecurityAlert.rule == d.rule,
                SecurityAlert.key == d.key,
                SecurityAlert.state != "resolved",
            )
            .order_by(SecurityAlert.id.desc())
            .limit(1)
        )
        if row is None:
            row = SecurityAlert(
                rule=d.rule,
                key=d.key,
                severity=d.severity,
                state="new",
                summary=d.summary,
                details=json.dumps(d.details, default=str),
                member_id=d.member_id,
                address=d.address,
                meeting_id=d.meeting_id,
                count=1,
                first_at=at,
                last_at=at,
            )
            s.add(row)
            logger.warning("security alert rule=%s key=%s: %s", d.rule, d.key, d.summary)
        else:
            row.count += 1
            row.last_at = at
            row.summary = d.summary
            row.details = json.dumps(d.details, default=str)
            if d.meeting_id is not None:
                row.meeting_id = d.meeting_id
        await s.flush()
        return alert_dict(row)

    async def _publish(self, alert: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                await listener(alert)
            except Exception:
                logger.exception("alert listener failed alert=%s", alert["id"])

    async def set_state(self, alert_id: int, state: str, by: str) -> dict[str, Any]:
        if state not in STATES[1:]:
            raise InvalidState(f"state must be one of {', '.join(STATES[1:])}", code="invalid_input")
        async with self._db() as s, s.begin():
            row = await s.get(SecurityAlert, alert_id)
            if row is None:
                raise NotFound(f"no alert {alert_id}")
            if state not in _NEXT[row.state]:
                raise InvalidState(
                    f"this alert is {row.state}; it cannot become {state}",
                    code="alert_state",
                    state=row.state,
                )
            now = self._clock()
            row.state = state
            if state == "acknowledged":
                row.acknowledged_by, row.acknowledged_at = by, now
            else:
                row.resolved_by, row.resolved_at = by, now
            await s.flush()
            out = alert_dict(row)
        await self._publish(out)
        return out

    async def alerts(
        self,
        *,
        since: datetime | None = None,
        open_only: bool = False,
        meeting_id: int | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        q = select(SecurityAlert).order_by(SecurityAlert.last_at.desc()).limit(limit)
        if since is not None:
            q = q.where(SecurityAlert.last_at >= since)
        if open_only:
            q = q.where(SecurityAlert.state != "resolved")
        if meeting_id is not None:
            q = q.where(SecurityAlert.meeting_id == meeting_id)
        async with self._db() as s:
            return [alert_dict(a) for a in (await s.scalars(q)).all()]

    async def events(
        self,
        *,
        since: datetime | None = None,
        kind: str | None = None,
        member_id: str | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        q = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(limit)
        if since is not None:
            q = q.where(SecurityEvent.at >= since)
        if kind is not None:
            q = q.where(SecurityEvent.kind == kind)
        if member_id is not None:
            q = q.where(SecurityEvent.member_id == member_id)
        async with self._db() as s:
            return [event_dict(e) for e in (await s.scalars(q)).all()]
