"""Signing in: the password, then (once a member has a second factor) a code.

The first step answers the same "wrong member id or password" for an unknown account, a
wrong password and an inactive account, so nothing says whether an account exists. Only
after a right password does it say that a code is owed, with a short-lived challenge.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock
from meeting.errors import NotAuthenticated

from ..accounts import Accounts
from ..config import SecuritySettings
from ..storage.models import Member
from ..storage.security_models import SignInChallenge
from .factors import SecondFactors
from .sessions import Sessions, digest


@dataclass(frozen=True)
class SignInStep:
    member: Member
    session_token: str | None = None  # signed in
    challenge: str | None = None  # a code is owed first


class SignIn:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settings: SecuritySettings,
        accounts: Accounts,
        factors: SecondFactors,
        sessions: Sessions,
        clock: Clock,
    ) -> None:
        self._db, self._s, self._accounts = db, settings, accounts
        self._factors, self._sessions, self._clock = factors, sessions, clock

    async def password(self, member_id: str, password: str, address: str, user_agent: str) -> SignInStep:
        member = await self._accounts.check_password(member_id, password, address)
        if not await self._factors.is_enrolled(member.id):
            token = await self._accounts.open_session(member)
            await self._sessions.describe(token, member, address, user_agent, "password")
            return SignInStep(member, session_token=token)
        challenge = secrets.token_urlsafe(24)
        now = self._clock()
        async with self._db() as s, s.begin():
            await s.execute(delete(SignInChallenge).where(SignInChallenge.expires_at < now))
            s.add(
                SignInChallenge(
                    token_hash=digest(challenge),
                    member_pk=member.id,
                    address=address[:64],
                    expires_at=now + timedelta(seconds=self._s.sign_in_challenge_seconds),
                )
            )
        return SignInStep(member, challenge=challenge)

    async def code(self, challenge: str, code: object, address: str, user_agent: str) -> tuple[Member, str]:
        async with self._db() as s:
            row = await s.get(SignInChallenge, digest(challenge))
            member = await s.get(Member, row.member_pk) if row is not None else None
        if row is None or member is None or row.expires_at <= self._clock():
            raise NotAuthenticated(
                "this sign-in has expired; enter your password again", code="sign_in_expired"
            )
        if member.status != "active":
            raise NotAuthenticated("wrong member id or password")
        factor = await self._factors.verify(member, code, address, "sign_in")
        async with self._db() as s, s.begin():
            result = await s.execute(
                delete(SignInChallenge).where(SignInChallenge.token_hash == row.token_hash)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotAuthenticated(
                "this sign-in has expired; enter your password again", code="sign_in_expired"
            )
        token = await self._accounts.open_session(member)
        await self._sessions.describe(token, member, address, user_agent, factor)
        return member, token
