"""Signing in: the password, then (once a member has a second factor) a code or a passkey.

The first step answers the same "wrong member id or password" for an unknown account, a
wrong password and an inactive account, so nothing says whether an account exists. Only
after a right password does it say that a second factor is owed, with a short-lived
challenge naming the methods the member has.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock
from meeting.errors import NotAuthenticated

from ..accounts import Accounts
from ..config import SecuritySettings
from ..storage.models import Member
from ..storage.security_models import SignInChallenge
from .factors import SecondFactors
from .passkeys import Passkeys
from .sessions import Sessions, digest


@dataclass(frozen=True)
class SignInStep:
    member: Member
    session_token: str | None = None  # signed in
    challenge: str | None = None  # a second factor is owed first
    methods: list[str] = field(default_factory=list)  # "totp", "recovery", "passkey"


def _expired() -> NotAuthenticated:
    return NotAuthenticated("this sign-in has expired; enter your password again", code="sign_in_expired")


class SignIn:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settings: SecuritySettings,
        accounts: Accounts,
        factors: SecondFactors,
        passkeys: Passkeys,
        sessions: Sessions,
        clock: Clock,
    ) -> None:
        self._db, self._s, self._accounts = db, settings, accounts
        self._factors, self._passkeys, self._sessions, self._clock = factors, passkeys, sessions, clock

    async def password(self, member_id: str, password: str, address: str, user_agent: str) -> SignInStep:
        member = await self._accounts.check_password(member_id, password, address)
        kinds = await self._factors.enrolled_kinds(member.id)
        if not kinds:
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
        methods = [k for k in ("totp", "passkey") if k in kinds]
        if "passkey" in methods and not self._passkeys.available():
            methods.remove("passkey")
        return SignInStep(member, challenge=challenge, methods=[*methods, "recovery"])

    async def _pending(self, challenge: str) -> tuple[SignInChallenge, Member]:
        async with self._db() as s:
            row = await s.get(SignInChallenge, digest(challenge))
            member = await s.get(Member, row.member_pk) if row is not None else None
        if row is None or member is None or row.expires_at <= self._clock():
            raise _expired()
        if member.status != "active":
            raise NotAuthenticated("wrong member id or password")
        return row, member

    async def _finish(
        self,
        challenge: str,
        check: Callable[[Member], Awaitable[str]],
        address: str,
        user_agent: str,
    ) -> tuple[Member, str]:
        row, member = await self._pending(challenge)
        factor = await check(member)
        async with self._db() as s, s.begin():
            result = await s.execute(
                delete(SignInChallenge).where(SignInChallenge.token_hash == row.token_hash)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise _expired()
        token = await self._accounts.open_session(member)
        await self._sessions.describe(token, member, address, user_agent, factor)
        return member, token

    async def code(self, challenge: str, code: object, address: str, user_agent: str) -> tuple[Member, str]:
        async def check(member: Member) -> str:
            return await self._factors.verify(member, code, address, "sign_in")

        return await self._finish(challenge, check, address, user_agent)

    async def passkey_options(self, challenge: str) -> dict[str, Any]:
        _row, member = await self._pending(challenge)
        return await self._passkeys.authentication_options(member, "sign_in")

    async def passkey(
        self, challenge: str, credential: object, address: str, user_agent: str
    ) -> tuple[Member, str]:
        async def check(member: Member) -> str:
            return await self._passkeys.authenticate(member, credential, address, "sign_in")

        return await self._finish(challenge, check, address, user_agent)
