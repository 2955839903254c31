"""Sign-in, sessions, Socket.IO connect tokens and invitation links.

Secrets handed to browsers (session cookies, socket tokens) are random; only their
SHA-256 is stored, so a copy of the database cannot be used to sign in. Invitation
links are ``<id>.<nonce>.<hmac>`` signed with the server secret, single-use and
expiring.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock
from meeting.errors import InvalidState, NotAuthenticated, NotFound, RateLimited

from .config import AuthSettings
from .group_commit import GroupCommit
from .passwords import check_strength, hash_password, verify_password
from .ratelimit import SlidingWindow
from .security.events import EventSink
from .storage.models import Invitation, Member, SocketToken, WebSession

logger = logging.getLogger(__name__)

LOGIN_WINDOW_SECONDS = 15 * 60


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class _NoEvents:
    async def record(
        self,
        kind: str,
        *,
        member_id: str | None = None,
        address: str | None = None,
        meeting_id: int | None = None,
        **details: Any,
    ) -> None:
        return None


@dataclass(frozen=True)
class IssuedInvitation:
    token: str
    expires_at: datetime


class Accounts:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settings: AuthSettings,
        secret: bytes,
        clock: Clock,
        *,
        events: EventSink | None = None,
    ) -> None:
        self._db, self._settings, self._secret, self._clock = db, settings, secret, clock
        self._events: EventSink = events or _NoEvents()
        self._per_account = SlidingWindow(settings.login_attempts_per_account, LOGIN_WINDOW_SECONDS)
        self._per_address = SlidingWindow(settings.login_attempts_per_address, LOGIN_WINDOW_SECONDS)
        self._redeemed: GroupCommit[None, str, tuple[Member | None, Member | None]] = GroupCommit(
            self._redeem_batch
        )

    # -- sign-in and sessions ---------------------------------------------------------

    async def login(self, member_id: str, password: str, address: str) -> tuple[Member, str]:
        """Check a password; returns the member and a new session token."""
        member = await self.check_password(member_id, password, address)
        return member, await self.open_session(member)

    async def check_password(self, member_id: str, password: str, address: str) -> Member:
        """Rate-limited per address and account; each refusal is a security event."""
        account_key = member_id.upper()
        try:
            self._per_address.check(address, "sign-in attempts from this address")
            self._per_account.check(account_key, "failed sign-ins for this account")
        except RateLimited:
            await self._events.record("rate_limited", member_id=account_key, address=address, limit="sign_in")
            raise
        self._per_address.hit(address)
        async with self._db() as s:
            member = await s.scalar(select(Member).where(Member.member_id == account_key))
        ok = verify_password(member.password_hash if member else None, password)
        if not ok or member is None or member.status != "active":
            self._per_account.hit(account_key)
            logger.info("login refused member=%s address=%s", account_key, address)
            if ok and member is not None:
                await self._events.record(
                    "suspended_account_sign_in", member_id=account_key, address=address, status=member.status
                )
            else:
                await self._events.record("sign_in_failed", member_id=account_key, address=address)
            raise NotAuthenticated("wrong member id or password")
        self._per_account.reset(account_key)
        return member

    async def open_session(self, member: Member) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._db() as s, s.begin():
            s.add(
                WebSession(
                    token_hash=_digest(token),
                    member_pk=member.id,
                    created_at=now,
                    expires_at=now + timedelta(hours=self._settings.session_hours),
                )
            )
        logger.info("login member=%s", member.member_id)
        return token

    async def session_member(self, token: str | None) -> Member:
        if not token:
            raise NotAuthenticated("sign in first")
        async with self._db() as s:
            row = await s.get(WebSession, _digest(token))
            if row is None or row.expires_at <= self._clock():
                raise NotAuthenticated("your session has expired; sign in again")
            member = await s.get(Member, row.member_pk)
            if member is None or member.status != "active":
                raise NotAuthenticated("this account is not active")
            return member

    async def logout(self, token: str | None) -> None:
        if token:
            async with self._db() as s:
                await s.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))
                await s.commit()

    # -- Socket.IO connect tokens ------------------------------------------------------

    async def mint_socket_token(self, member: Member) -> str:
        token = secrets.token_urlsafe(24)
        now = self._clock()
        async with self._db() as s:
            await s.execute(delete(SocketToken).where(SocketToken.expires_at < now))
            s.add(
                SocketToken(
                    token_hash=_digest(token),
                    member_pk=member.id,
                    expires_at=now + timedelta(seconds=self._settings.socket_token_seconds),
                )
            )
            await s.commit()
        return token

    async def redeem_socket_token(self, token: object, address: str = "?") -> Member:
        """Single use: a replayed or expired token is refused (a replay is recorded)."""
        if not isinstance(token, str) or not 10 <= len(token) <= 200:
            raise NotAuthenticated("a connect token is required (auth.token)")
        member, replayed = await self._redeemed.submit(None, _digest(token))
        member_pk = member.id if member is not None else None
        # Recorded after the batch's transaction closed: every transaction takes the write
        # lock at BEGIN (storage/db.py), so a nested one would wait for it.
        if member_pk is None:
            if replayed is not None:
                await self._events.record(
                    "socket_token_reused", member_id=replayed.member_id, address=address
                )
            raise NotAuthenticated("connect token is invalid, used or expired; get a new one")
        if member is None or member.status != "active":
            if member is not None:
                await self._events.record(
                    "suspended_account_connect",
                    member_id=member.member_id,
                    address=address,
                    status=member.status,
                )
            raise NotAuthenticated("this account is not active")
        return member

    async def _redeem_batch(
        self, _key: None, digests: Sequence[str]
    ) -> list[tuple[Member | None, Member | None]]:
        """Mark the connect tokens used, in one transaction for the sockets connecting at
        the same moment (a join storm was one commit per socket). Per token: its member,
        or None and, when it had been used already, the member it belonged to. The same
        token twice in one batch is one use and one replay."""
        async with self._db() as s, s.begin():
            used = dict(
                (
                    await s.execute(
                        update(SocketToken)
                        .where(
                            SocketToken.token_hash.in_(set(digests)),
                            SocketToken.used.is_(False),
                            SocketToken.expires_at > self._clock(),
                        )
                        .values(used=True)
                        .returning(SocketToken.token_hash, SocketToken.member_pk)
                    )
                ).all()
            )
            refused = set(digests) - used.keys()
            earlier = (
                dict(
                    (
                        await s.execute(
                            select(SocketToken.token_hash, SocketToken.member_pk).where(
                                SocketToken.token_hash.in_(refused), SocketToken.used.is_(True)
                            )
                        )
                    ).all()
                )
                if refused
                else {}
            )
            pks = set(used.values()) | set(earlier.values())
            members = {m.id: m for m in (await s.scalars(select(Member).where(Member.id.in_(pks)))).all()}
        out: list[tuple[Member | None, Member | None]] = []
        seen: set[str] = set()
        for d in digests:
            if d in used and d not in seen:
                out.append((members.get(used[d]), None))
            elif d in used:  # the same token twice at once: the second is a replay
                out.append((None, members.get(used[d])))
            else:
                out.append((None, members.get(earlier[d]) if d in earlier else None))
            seen.add(d)
        return out

    # -- invitations -------------------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    async def invite(self, member_pk: int) -> IssuedInvitation:
        """Reset access: revoke earlier invitations, the password and all sessions."""
        now = self._clock()
        nonce = secrets.token_urlsafe(16)
        expires = now + timedelta(hours=self._settings.invitation_hours)
        async with self._db() as s, s.begin():
            await s.execute(
                update(Invitation)
                .where(Invitation.member_pk == member_pk, Invitation.used_at.is_(None))
                .values(revoked=True)
            )
            await s.execute(update(Member).where(Member.id == member_pk).values(password_hash=None))
            await s.execute(delete(WebSession).where(WebSession.member_pk == member_pk))
            inv = Invitation(member_pk=member_pk, nonce=nonce, created_at=now, expires_at=expires)
            s.add(inv)
            await s.flush()
            payload = f"{inv.id}.{nonce}"
        return IssuedInvitation(f"{payload}.{self._sign(payload)}", expires)

    async def _load_invitation(self, s: AsyncSession, token: str) -> tuple[Invitation, Member]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3 or not parts[0].isdigit():
            raise NotFound("this invitation link is not valid")
        payload = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(payload), parts[2]):
            raise NotFound("this invitation link is not valid")
        inv = await s.get(Invitation, int(parts[0]))
        if inv is None or inv.nonce != parts[1]:
            raise NotFound("this invitation link is not valid")
        if inv.used_at is not None:
            raise InvalidState("this invitation link has already been used", code="invitation_used")
        if inv.revoked:
            raise InvalidState("this invitation link was replaced by a newer one", code="invitation_revoked")
        if inv.expires_at <= self._clock():
            raise InvalidState(
                "this invitation link has expired; ask for a new one", code="invitation_expired"
            )
        member = await s.get(Member, inv.member_pk)
        if member is None:
            raise NotFound("this invitation link is not valid")
        if member.status != "active":
            raise InvalidState(
                f"this account is {member.status}; ask an administrator", code="account_inactive"
            )
        return inv, member

    async def check_invitation(self, token: str) -> tuple[Invitation, Member]:
        async with self._db() as s:
            return await self._load_invitation(s, token)

    async def accept_invitation(self, token: str, password: str) -> tuple[Member, str]:
        check_strength(password)
        hashed = hash_password(password)
        now = self._clock()
        async with self._db() as s, s.begin():
            inv, member = await self._load_invitation(s, token)
            # Single use even under a race: only one UPDATE can flip used_at.
            result = await s.execute(
                update(Invitation)
                .where(Invitation.id == inv.id, Invitation.used_at.is_(None))
                .values(used_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise InvalidState("this invitation link has already been used", code="invitation_used")
            member.password_hash = hashed
            session_token = secrets.token_urlsafe(32)
            s.add(
                WebSession(
                    token_hash=_digest(session_token),
                    member_pk=member.id,
                    created_at=now,
                    expires_at=now + timedelta(hours=self._settings.session_hours),
                )
            )
        logger.info("invitation accepted member=%s", member.member_id)
        return member, session_token

    async def set_password(self, member_pk: int, password: str) -> None:
        """Administrative (CLI/demo) password set."""
        check_strength(password)
        async with self._db() as s, s.begin():
            await s.execute(
                update(Member).where(Member.id == member_pk).values(password_hash=hash_password(password))
            )
