"""Paired main-room displays: a projector is not a person.

The chair or the secretary creates a pairing for a meeting and gets a one-time code
(valid a few minutes); the projector's browser redeems the code once and gets its own
session secret (a cookie), scoped to that one meeting and read-only. It connects to
Socket.IO with single-use tokens minted from that session, like a member does, and
joins with ``join_display``: it receives the meeting's broadcasts and media, but holds
no roster seat, so it is never in the roster, the attendance register or the quorum.
The chair or the secretary can revoke it at any time (its sockets are disconnected).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import InvalidInput, NotAuthenticated, NotAuthorised, NotFound

from .storage.display_models import DisplayPairing
from .storage.models import Meeting, Member, Participant

logger = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 8
CODE_MINUTES = 10
TOKEN_SECONDS = 60
OFFICERS = ("chair", "secretary")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_code(code: object) -> str:
    """'abcd-efgh ' -> 'ABCDEFGH'; anything else is invalid_input."""
    if not isinstance(code, str) or len(code) > 32:
        raise InvalidInput("'code' must be a pairing code", field="code")
    clean = "".join(ch for ch in code.upper() if ch.isalnum())
    if len(clean) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in clean):
        raise InvalidInput("'code' must be a pairing code of 8 letters and digits", field="code")
    return clean


def pairing_url(origin: str, code: str) -> str:
    """The page that pairs the device that opens it: ``<origin>/#/pair/<CODE>``. The code
    rides in the fragment, which a browser never sends to a server (nor to its logs)."""
    return f"{origin.rstrip('/')}/#/pair/{normalise_code(code)}"


def pairing_qr(url: str) -> str:
    """The pairing URL as a QR code (an SVG ``data:`` URI, drawn by segno on the server:
    no QR library in the browser). It lives and dies with the code: one use, 10 minutes."""
    # the standard 4-module quiet zone: a phone camera finds it on a projector or a screen
    return str(segno.make(url, error="m").svg_data_uri(scale=6, border=4))


@dataclass
class DisplayCaller:
    """What a paired display's socket is known as (it satisfies signaling's Caller)."""

    id: int  # the pairing id (not a member)
    member_id: str  # "display:<pairing id>"
    full_name: str
    meeting_id: int


class Displays:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db, self._clock = db, clock
        # single-use socket tokens, in memory: they live a minute
        self._tokens: dict[str, tuple[int, int, datetime]] = {}

    @staticmethod
    def as_dict(p: DisplayPairing, code: str | None = None) -> dict[str, Any]:
        state = "revoked" if p.revoked_at else "paired" if p.paired_at else "waiting"
        out: dict[str, Any] = {
            "id": p.id,
            "meeting_id": p.meeting_id,
            "state": state,
            "created_at": iso(p.created_at),
            "paired_at": iso(p.paired_at) if p.paired_at else None,
            "code_expires_at": iso(p.code_expires_at),
        }
        if code is not None:
            out["code"] = f"{code[:4]}-{code[4:]}"
        return out

    async def _require_officer(self, s: AsyncSession, meeting_id: int, member: Member) -> Meeting:
        m = await s.get(Meeting, meeting_id)
        if m is None:
            raise NotFound(f"no meeting {meeting_id}")
        role = await s.scalar(
            select(Participant.role).where(
                Participant.meeting_id == meeting_id, Participant.member_pk == member.id
            )
        )
        if role not in OFFICERS:
            raise NotAuthorised("only the chair or the secretary pairs a display")
        return m

    async def create(self, meeting_id: int, member: Member) -> dict[str, Any]:
        now = self._clock()
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        async with self._db() as s, s.begin():
            m = await self._require_officer(s, meeting_id, member)
            if m.state == "closed":
                raise NotAuthorised("this meeting is closed")
            p = DisplayPairing(
                meeting_id=meeting_id,
                code_hash=_digest(code),
                code_expires_at=now + timedelta(minutes=CODE_MINUTES),
                created_by=member.id,
                created_at=now,
            )
            s.add(p)
            await s.flush()
            out = self.as_dict(p, code)
        logger.info("meeting=%s display=%s pairing created by=%s", meeting_id, out["id"], member.member_id)
        return out

    async def list(self, meeting_id: int, member: Member) -> list[dict[str, Any]]:
        async with self._db() as s:
            await self._require_officer(s, meeting_id, member)
            rows = await s.scalars(
                select(DisplayPairing)
                .where(DisplayPairing.meeting_id == meeting_id, DisplayPairing.revoked_at.is_(None))
                .order_by(DisplayPairing.id)
            )
            now = self._clock()
            return [self.as_dict(p) for p in rows if p.paired_at or p.code_expires_at > now]

    async def revoke(self, meeting_id: int, display_id: int, member: Member) -> dict[str, Any]:
        async with self._db() as s, s.begin():
            await self._require_officer(s, meeting_id, member)
            p = await s.get(DisplayPairing, display_id)
            if p is None or p.meeting_id != meeting_id:
                raise NotFound(f"no display {display_id} in meeting {meeting_id}")
            if p.revoked_at is None:
                p.revoked_at = self._clock()
                p.code_hash = None
            out = self.as_dict(p)
        for token, (pid, _m, _e) in list(self._tokens.items()):
            if pid == display_id:
                self._tokens.pop(token, None)
        logger.info("meeting=%s display=%s revoked by=%s", meeting_id, display_id, member.member_id)
        return out

    async def pair(self, code: object) -> tuple[str, dict[str, Any]]:
        """Redeem a one-time code: (the display's session secret, the pairing)."""
        clean = normalise_code(code)
        now = self._clock()
        secret = secrets.token_urlsafe(32)
        async with self._db() as s, s.begin():
            p = await s.scalar(select(DisplayPairing).where(DisplayPairing.code_hash == _digest(clean)))
            if p is None or p.revoked_at is not None or p.code_expires_at <= now:
                raise NotAuthenticated("this pairing code is not valid (mistyped, used or expired)")
            p.code_hash = None
            p.secret_hash = _digest(secret)
            p.paired_at = now
            out = self.as_dict(p)
        logger.info("meeting=%s display=%s paired", out["meeting_id"], out["id"])
        return secret, out

    async def session(self, secret: str | None) -> DisplayPairing:
        if not secret or len(secret) > 200:
            raise NotAuthenticated("this screen is not paired as a display")
        async with self._db() as s:
            p = await s.scalar(select(DisplayPairing).where(DisplayPairing.secret_hash == _digest(secret)))
        if p is None or p.revoked_at is not None:
            raise NotAuthenticated("this screen is not paired as a display (or it was revoked)")
        return p

    def mint_socket_token(self, p: DisplayPairing) -> str:
        now = self._clock()
        for token, (_p, _m, expires) in list(self._tokens.items()):
            if expires < now:
                self._tokens.pop(token, None)
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (p.id, p.meeting_id, now + timedelta(seconds=TOKEN_SECONDS))
        return token

    async def redeem_socket_token(self, token: object) -> DisplayCaller:
        """Single use; a revoked display's tokens are gone."""
        if not isinstance(token, str):
            raise NotAuthenticated("a display connect token is required (auth.display_token)")
        entry = self._tokens.pop(token, None)
        if entry is None or entry[2] < self._clock():
            raise NotAuthenticated("this display connect token is not valid")
        pairing_id, meeting_id, _ = entry
        async with self._db() as s:
            p = await s.get(DisplayPairing, pairing_id)
        if p is None or p.revoked_at is not None:
            raise NotAuthenticated("this display was revoked")
        return DisplayCaller(pairing_id, f"display:{pairing_id}", "", meeting_id)
