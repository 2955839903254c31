"""The security services, built whole and in order (the log first: everything records)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock

from ..accounts import Accounts
from ..config import Config
from ..storage.models import Meeting, Member, Participant
from .devices import Devices
from .events import SecurityLog
from .factors import SecondFactors
from .passkeys import Passkeys
from .presence import Presence
from .sessions import Sessions, digest
from .signin import SignIn
from .stepup import StepUp


class Security:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        cfg: Config,
        server_secret: bytes,
        clock: Clock,
        accounts: Accounts,
        log: SecurityLog,
        origins: Callable[[], tuple[str, Sequence[str]]],
        reads: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        """``origins()``: the public URL as served now, and the extra allowed origins;
        ``reads``: SQLite's read pool, for lookups made on every connect."""
        s = cfg.security
        self._db, self._cfg = db, cfg
        self.log = log
        self.factors = SecondFactors(db, s, server_secret, clock, log)
        self.sessions = Sessions(db, clock, log, reads=reads)
        self.step_up = StepUp(s, self.factors, self.sessions, clock)
        self.presence = Presence(log)
        self.devices = Devices(db, log)
        self.passkeys = Passkeys(db, cfg, clock, log, self.factors, origins)
        self.sign_in = SignIn(db, s, accounts, self.factors, self.passkeys, self.sessions, clock)

    async def require_step_up(
        self, member: Member, session_cookie: str | None, *, role: str, action: str
    ) -> None:
        """For HTTP routes: the session named by its cookie must have stepped up lately."""
        await self.step_up.require(
            member, digest(session_cookie) if session_cookie else None, role=role, action=action
        )

    async def is_officer(self, member_pk: int) -> bool:
        """Chair or secretary of a meeting that is not closed."""
        async with self._db() as s:
            found = await s.scalar(
                select(Participant.id)
                .join(Meeting, Meeting.id == Participant.meeting_id)
                .where(
                    Participant.member_pk == member_pk,
                    Participant.role.in_(("chair", "secretary")),
                    Meeting.state != "closed",
                )
                .limit(1)
            )
        return found is not None

    async def my_status(self, member: Member) -> dict[str, Any]:
        roles = (
            {"member"}
            | ({"admin"} if member.is_admin else set())
            | ({"officer"} if await self.is_officer(member.id) else set())
        )
        return {
            **await self.factors.status(member),
            "required": any(self.step_up.required_for(r) for r in roles),
            "step_up_minutes": self._cfg.security.step_up_minutes,
            "passkeys_available": self.passkeys.available(),
            "rp_id": self.passkeys.rp_id(),
        }

    async def chair_of(self, meeting_id: int) -> str | None:
        async with self._db() as s:
            return await s.scalar(
                select(Member.member_id)
                .join(Participant, Participant.member_pk == Member.id)
                .where(Participant.meeting_id == meeting_id, Participant.role == "chair")
            )


class SocketHooks:
    """signaling.security.SecurityHooks over the security services."""

    def __init__(self, security: Security) -> None:
        self._sec = security

    async def session_of_token(self, token: object) -> str | None:
        return await self._sec.sessions.session_of_socket_token(token)

    async def require_step_up(self, conn: Any, action: str) -> None:
        await self._sec.step_up.require(conn.member, conn.extra.get("session"), role="officer", action=action)

    async def connected(self, sid: str, member_id: str, address: str) -> None:
        await self._sec.presence.connected(sid, member_id, address)

    async def joined(self, sid: str, member_id: str, meeting_id: int) -> None:
        await self._sec.presence.joined(sid, member_id, meeting_id)

    async def rate_limited(
        self, member_id: str, address: str, event: str, meeting_id: int | None, strikes: int
    ) -> None:
        await self._sec.log.record(
            "rate_limited",
            member_id=member_id,
            address=address,
            meeting_id=meeting_id,
            limit="socket_events",
            event=event,
            flood=strikes > 1,
        )

    def left(self, sid: str, member_id: str) -> None:
        self._sec.presence.left(sid, member_id)

    def gone(self, sid: str, member_id: str) -> None:
        self._sec.presence.gone(sid, member_id)
