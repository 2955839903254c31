"""Sessions and devices: when, from where and with which factor each session began;
ending any of them; which browser session minted a Socket.IO connect token.

A session is a ``web_sessions`` row (meetingd.accounts); its ``session_details`` row
(deleted with it) says what the person sees. Ending a session deletes the row, and the
listeners close the live sockets it opened.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import NotFound

from ..group_commit import GroupCommit
from ..storage.models import Member, WebSession
from ..storage.security_models import SessionDetail, SocketTokenSession
from .events import EventSink

logger = logging.getLogger(__name__)

EndedListener = Callable[[list[str]], Awaitable[None]]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_of(user_agent: str) -> str:
    """A short human name for a user agent ("Chrome on Android")."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for key, name in (
                ("Edg/", "Edge"),
                ("OPR/", "Opera"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
                ("python", "script"),
            )
            if key.lower() in ua.lower()
        ),
        "unknown browser",
    )
    system = next(
        (
            name
            for key, name in (
                ("Android", "Android"),
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Windows", "Windows"),
                ("Mac OS", "macOS"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if key in ua
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser


class Sessions:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        clock: Clock,
        events: EventSink,
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._db, self._clock, self._events = db, clock, events
        self._reads = reads or db  # SQLite's read pool: lookups on every connect
        self._ended: list[EndedListener] = []
        self._seen: GroupCommit[None, str, None] = GroupCommit(self._write_seen)

    def on_ended(self, listener: EndedListener) -> None:
        """Call ``listener(session_hashes)`` after sessions were ended."""
        self._ended.append(listener)

    async def describe(self, token: str, member: Member, address: str, user_agent: str, factor: str) -> None:
        """Record where a new session comes from and the factor that opened it."""
        now = self._clock()
        async with self._db() as s, s.begin():
            s.add(
                SessionDetail(
                    token_hash=digest(token),
                    public_id=secrets.token_urlsafe(12),
                    member_pk=member.id,
                    address=address[:64],
                    user_agent=user_agent[:300],
                    factor=factor,
                    created_at=now,
                    last_seen_at=now,
                    second_factor_at=now if factor != "password" else None,
                )
            )
        await self._events.record(
            "signed_in",
            member_id=member.member_id,
            address=address,
            factor=factor,
            device=device_of(user_agent),
        )

    async def second_factor_used(self, session_hash: str, factor: str) -> None:
        now = self._clock()
        async with self._db() as s, s.begin():
            await s.execute(
                update(SessionDetail)
                .where(SessionDetail.token_hash == session_hash)
                .values(second_factor_at=now, last_seen_at=now, factor=factor)
            )

    async def second_factor_at(self, session_hash: str | None) -> datetime | None:
        if not session_hash:
            return None
        async with self._db() as s:
            row = await s.get(SessionDetail, session_hash)
            return row.second_factor_at if row is not None else None

    # -- socket tokens ---------------------------------------------------------------------

    async def link_socket_token(self, socket_token: str, session_token: str, expires_at: datetime) -> None:
        async with self._db() as s, s.begin():
            await s.execute(delete(SocketTokenSession).where(SocketTokenSession.expires_at < self._clock()))
            s.add(
                SocketTokenSession(
                    token_hash=digest(socket_token), session_hash=digest(session_token), expires_at=expires_at
                )
            )

    async def session_of_socket_token(self, socket_token: object) -> str | None:
        """The browser session that minted this connect token. Its last-seen time is moved
        on in the background, in one transaction with the other sockets connecting at the
        moment: a connect waits for the lookup (a read, which never queues behind the one
        SQLite writer), not for that write."""
        if not isinstance(socket_token, str):
            return None
        async with self._reads() as s:
            session_hash = await s.scalar(
                select(SocketTokenSession.session_hash).where(
                    SocketTokenSession.token_hash == digest(socket_token)
                )
            )
        if session_hash is not None:
            self._seen.post(None, session_hash)
        return session_hash

    async def drain(self) -> None:
        """Wait for the last-seen writes still queued (before the engine goes)."""
        await self._seen.drain()

    async def _write_seen(self, _key: None, session_hashes: Sequence[str]) -> list[None]:
        async with self._db() as s, s.begin():
            await s.execute(
                update(SessionDetail)
                .where(SessionDetail.token_hash.in_(set(session_hashes)))
                .values(last_seen_at=self._clock())
            )
        return [None] * len(session_hashes)

    # -- the sessions page -------------------------------------------------------------------

    async def list_for(self, member_pk: int, current_hash: str | None) -> list[dict[str, Any]]:
        now = self._clock()
        async with self._db() as s:
            rows = (
                await s.execute(
                    select(WebSession, SessionDetail)
                    .join(SessionDetail, SessionDetail.token_hash == WebSession.token_hash, isouter=True)
                    .where(WebSession.member_pk == member_pk, WebSession.expires_at > now)
                    .order_by(WebSession.created_at.desc())
                )
            ).all()
        out = []
        for ws, d in rows:
            out.append(
                {
                    "id": d.public_id if d else ws.token_hash[:16],
                    "created_at": iso(ws.created_at),
                    "expires_at": iso(ws.expires_at),
                    "last_seen_at": iso(d.last_seen_at) if d else None,
                    "address": d.address if d else None,
                    "device": device_of(d.user_agent) if d else None,
                    "factor": d.factor if d else None,
                    "second_factor_at": iso(d.second_factor_at) if d and d.second_factor_at else None,
                    "current": ws.token_hash == current_hash,
                }
            )
        return out

    async def end(self, member: Member, public_id: str, *, by: Member, address: str) -> None:
        """End one of ``member``'s sessions, named by its id on the sessions page."""
        async with self._db() as s, s.begin():
            detail = await s.scalar(
                select(SessionDetail).where(
                    SessionDetail.public_id == public_id, SessionDetail.member_pk == member.id
                )
            )
            token_hash = detail.token_hash if detail else None
            if token_hash is None:  # a session without details: named by its hash prefix
                token_hash = await s.scalar(
                    select(WebSession.token_hash).where(
                        WebSession.member_pk == member.id, WebSession.token_hash.startswith(public_id)
                    )
                )
            if token_hash is None or len(public_id) < 12:
                raise NotFound("no such session")
            await s.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
        await self._events.record(
            "session_ended", member_id=member.member_id, address=address, by=by.member_id, sessions=1
        )
        await self._notify([token_hash])

    async def end_all(self, member: Member, *, by: Member, address: str, keep_hash: str | None = None) -> int:
        async with self._db() as s, s.begin():
            q = select(WebSession.token_hash).where(WebSession.member_pk == member.id)
            if keep_hash:
                q = q.where(WebSession.token_hash != keep_hash)
            hashes = list((await s.scalars(q)).all())
            if hashes:
                await s.execute(delete(WebSession).where(WebSession.token_hash.in_(hashes)))
        await self._events.record(
            "session_ended",
            member_id=member.member_id,
            address=address,
            by=by.member_id,
            sessions=len(hashes),
        )
        await self._notify(hashes)
        return len(hashes)

    async def _notify(self, hashes: list[str]) -> None:
        for listener in self._ended:
            try:
                await listener(hashes)
            except Exception:
                logger.exception("session-ended listener failed")
