"""Devices: a long-lived random cookie names the browser a person signs in from, so the
use of an officer key or a trustee share from a device never used for it before can be
told apart from the usual one (a security event, and an alert).

Only the cookie's SHA-256 (shortened) appears in the security log. The first use of a
key ever is not "new": there was no usual device yet.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Protocol

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..storage.security_models import SecurityEvent
from .events import EventSink

DEVICE_COOKIE = "meetingd_device"
DEVICE_COOKIE_DAYS = 730
KEY_KINDS = ("officer_key", "trustee_share")


class Principal(Protocol):
    @property
    def member_id(self) -> str: ...


def device_of_request(request: web.Request) -> str | None:
    """The shortened hash of the request's device cookie (None without one)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 100:
        return None
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def ensure_device_cookie(request: web.Request, response: web.StreamResponse, secure: bool) -> None:
    """Give the browser its device cookie at sign-in, if it has none yet."""
    if device_of_request(request) is None:
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(24),
            httponly=True,
            samesite="Strict",
            path="/",
            secure=secure,
            max_age=DEVICE_COOKIE_DAYS * 86400,
        )


class Devices:
    def __init__(self, db: async_sessionmaker[AsyncSession], events: EventSink) -> None:
        self._db, self._events = db, events

    async def key_used(
        self, member: Principal, device: str | None, address: str, kind: str, meeting_id: int | None = None
    ) -> bool:
        """Record that ``member`` used their ``kind`` ("officer_key" | "trustee_share") from
        ``device``; returns True (and records ``<kind>_new_device``) when it was used
        before, but never from this device."""
        if kind not in KEY_KINDS:
            raise ValueError(f"unknown key kind {kind!r}")
        async with self._db() as s:
            rows = (
                await s.scalars(
                    select(SecurityEvent.details).where(
                        SecurityEvent.kind == f"{kind}_used", SecurityEvent.member_id == member.member_id
                    )
                )
            ).all()
        known = {json.loads(d).get("device") for d in rows}
        new = bool(known) and (device or "none") not in known
        await self._events.record(
            f"{kind}_used",
            member_id=member.member_id,
            address=address,
            meeting_id=meeting_id,
            device=device or "none",
        )
        if new:
            await self._events.record(
                f"{kind}_new_device",
                member_id=member.member_id,
                address=address,
                meeting_id=meeting_id,
                device=device or "none",
            )
        return new
