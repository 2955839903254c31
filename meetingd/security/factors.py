"""Second factors of a member: an authenticator app (TOTP) and one-time recovery codes.

Enrolment happens in two steps: ``start_totp`` (only after the caller checked the
password afresh) makes a pending secret and its QR code; ``confirm_totp`` with a code
from the app makes it the member's authenticator and issues new recovery codes (shown
once; only keyed hashes are stored). ``verify`` checks a code (TOTP or recovery) for a
sign-in or a step-up: rate-limited per account, replay-safe, and every refusal is a
security event.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meeting.clock import Clock, iso
from meeting.errors import InvalidState, RateLimited

from ..config import SecuritySettings
from ..ratelimit import SlidingWindow
from ..storage.models import Member
from ..storage.security_models import RecoveryCode, SecondFactor
from . import totp
from .events import EventSink

logger = logging.getLogger(__name__)

FAILURE_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_data_url: str


class SecondFactors:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settings: SecuritySettings,
        server_secret: bytes,
        clock: Clock,
        events: EventSink,
    ) -> None:
        self._db, self._s, self._clock, self._events = db, settings, clock, events
        self._box = totp.secret_box_key(server_secret)
        self._recovery_key = hashlib.sha256(b"meetingd recovery codes v1\x00" + server_secret).digest()
        self._failures = SlidingWindow(
            settings.second_factor_attempts, FAILURE_WINDOW_SECONDS, clock=lambda: clock().timestamp()
        )

    # -- what a member has ------------------------------------------------------------------

    async def enrolled_kinds(self, member_pk: int) -> set[str]:
        async with self._db() as s:
            kinds = await s.scalars(
                select(SecondFactor.kind).where(
                    SecondFactor.member_pk == member_pk, SecondFactor.confirmed.is_(True)
                )
            )
            return set(kinds.all())

    async def is_enrolled(self, member_pk: int) -> bool:
        return bool(await self.enrolled_kinds(member_pk))

    async def status(self, member: Member) -> dict[str, Any]:
        async with self._db() as s:
            rows = (
                await s.scalars(
                    select(SecondFactor).where(
                        SecondFactor.member_pk == member.id, SecondFactor.confirmed.is_(True)
                    )
                )
            ).all()
            left = await s.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.member_pk == member.id, RecoveryCode.used_at.is_(None))
            )
        totp_row = next((r for r in rows if r.kind == "totp"), None)
        return {
            "totp": None
            if totp_row is None
            else {
                "created_at": iso(totp_row.created_at),
                "last_used_at": iso(totp_row.last_used_at) if totp_row.last_used_at else None,
            },
            "passkeys": [
                {
                    "id": r.id,
                    "label": r.label,
                    "created_at": iso(r.created_at),
                    "last_used_at": iso(r.last_used_at) if r.last_used_at else None,
                }
                for r in rows
                if r.kind == "passkey"
            ],
            "recovery_codes_left": int(left or 0),
        }

    # -- enrolment --------------------------------------------------------------------------

    async def start_totp(self, member: Member) -> Enrolment:
        """Call only after a fresh password check. Replaces any pending enrolment."""
        secret = totp.new_secret()
        async with self._db() as s, s.begin():
            await s.execute(
                delete(SecondFactor).where(
                    SecondFactor.member_pk == member.id,
                    SecondFactor.kind == "totp",
                    SecondFactor.confirmed.is_(False),
                )
            )
            s.add(
                SecondFactor(
                    member_pk=member.id,
                    kind="totp",
                    label="authenticator app",
                    secret_enc=totp.seal_secret(self._box, secret),
                    confirmed=False,
                    created_at=self._clock(),
                )
            )
        uri = totp.provisioning_uri(secret, member.member_id, self._s.totp_issuer)
        return Enrolment(secret, uri, totp.qr_data_url(uri))

    async def confirm_totp(self, member: Member, code: object, address: str) -> list[str]:
        """The first code from the app: the enrolment becomes the member's authenticator."""
        await self.check_limit(member, address)
        now = self._clock()
        async with self._db() as s:
            pending = await s.scalar(
                select(SecondFactor)
                .where(
                    SecondFactor.member_pk == member.id,
                    SecondFactor.kind == "totp",
                    SecondFactor.confirmed.is_(False),
                )
                .order_by(SecondFactor.id.desc())
                .limit(1)
            )
        if pending is None or pending.created_at <= now - timedelta(minutes=self._s.enrolment_minutes):
            raise InvalidState("start the enrolment again with your password", code="fresh_password_required")
        assert pending.secret_enc is not None
        try:
            step = totp.accept(
                totp.open_secret(self._box, pending.secret_enc), totp.normalise_code(code), now, -1
            )
        except totp.CodeRefused as exc:
            await self.failed(member, address, exc.code, "enrolment")
            raise
        async with self._db() as s, s.begin():
            await s.execute(
                delete(SecondFactor).where(
                    SecondFactor.member_pk == member.id,
                    SecondFactor.kind == "totp",
                    SecondFactor.id != pending.id,
                )
            )
            await s.execute(
                update(SecondFactor)
                .where(SecondFactor.id == pending.id)
                .values(confirmed=True, last_step=step, last_used_at=now)
            )
            codes = await self._replace_recovery_codes(s, member.id)
        self._failures.reset(member.member_id)
        await self._events.record(
            "second_factor_enrolled", member_id=member.member_id, address=address, factor="totp"
        )
        return codes

    async def remove_totp(self, member: Member, address: str) -> None:
        async with self._db() as s, s.begin():
            await s.execute(
                delete(SecondFactor).where(SecondFactor.member_pk == member.id, SecondFactor.kind == "totp")
            )
            if not await s.scalar(
                select(func.count())
                .select_from(SecondFactor)
                .where(SecondFactor.member_pk == member.id, SecondFactor.confirmed.is_(True))
            ):
                await s.execute(delete(RecoveryCode).where(RecoveryCode.member_pk == member.id))
        await self._events.record(
            "second_factor_removed", member_id=member.member_id, address=address, factor="totp"
        )

    async def new_recovery_codes(self, member: Member, address: str) -> list[str]:
        if not await self.is_enrolled(member.id):
            raise InvalidState("set up an authenticator first", code="second_factor_not_enrolled")
        async with self._db() as s, s.begin():
            codes = await self._replace_recovery_codes(s, member.id)
        await self._events.record("recovery_codes_renewed", member_id=member.member_id, address=address)
        return codes

    async def _replace_recovery_codes(self, s: AsyncSession, member_pk: int) -> list[str]:
        await s.execute(delete(RecoveryCode).where(RecoveryCode.member_pk == member_pk))
        codes = [totp.new_recovery_code() for _ in range(self._s.recovery_codes)]
        now = self._clock()
        s.add_all(
            RecoveryCode(
                member_pk=member_pk, code_hash=totp.recovery_hash(self._recovery_key, c), created_at=now
            )
            for c in codes
        )
        return codes

    # -- checking a code --------------------------------------------------------------------

    async def check_limit(self, member: Member, address: str) -> None:
        try:
            self._failures.check(member.member_id, "wrong second-factor codes for this account")
        except RateLimited:
            await self._events.record(
                "rate_limited", member_id=member.member_id, address=address, limit="second_factor"
            )
            raise

    async def failed(self, member: Member, address: str, reason: str, purpose: str) -> None:
        self._failures.hit(member.member_id)
        await self._events.record(
            "second_factor_failed",
            member_id=member.member_id,
            address=address,
            reason=reason,
            purpose=purpose,
        )

    async def verify(self, member: Member, code: object, address: str, purpose: str) -> str:
        """Check a TOTP or recovery code; returns the factor used ("totp" | "recovery")."""
        await self.check_limit(member, address)
        text = code if isinstance(code, str) else ""
        if totp.looks_like_recovery_code(text):
            return await self._use_recovery_code(member, text, address, purpose)
        now = self._clock()
        async with self._db() as s:
            row = await s.scalar(
                select(SecondFactor).where(
                    SecondFactor.member_pk == member.id,
                    SecondFactor.kind == "totp",
                    SecondFactor.confirmed.is_(True),
                )
            )
        if row is None or row.secret_enc is None:
            await self.failed(member, address, "no_authenticator", purpose)
            raise totp.CodeRefused("this account has no authenticator app", code="code_invalid")
        try:
            step = totp.accept(totp.open_secret(self._box, row.secret_enc), text, now, row.last_step)
        except totp.CodeRefused as exc:
            await self.failed(member, address, exc.code, purpose)
            raise
        async with self._db() as s, s.begin():
            # Two requests with the same code at once: only one moves last_step forward.
            result = await s.execute(
                update(SecondFactor)
                .where(SecondFactor.id == row.id, SecondFactor.last_step < step)
                .values(last_step=step, last_used_at=now)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await self.failed(member, address, "code_reused", purpose)
            raise totp.CodeRefused("this code was already used; wait for the next one", code="code_reused")
        self._failures.reset(member.member_id)
        return "totp"

    async def _use_recovery_code(self, member: Member, code: str, address: str, purpose: str) -> str:
        digest = totp.recovery_hash(self._recovery_key, code)
        now = self._clock()
        async with self._db() as s, s.begin():
            row = await s.scalar(
                select(RecoveryCode).where(
                    RecoveryCode.member_pk == member.id, RecoveryCode.code_hash == digest
                )
            )
            used = row is not None and row.used_at is not None
            if row is not None and not used:
                result = await s.execute(
                    update(RecoveryCode)
                    .where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                    .values(used_at=now)
                )
                used = result.rowcount != 1  # type: ignore[attr-defined]
        if row is None:
            await self.failed(member, address, "code_invalid", purpose)
            raise totp.CodeRefused("wrong code", code="code_invalid")
        if used:
            await self.failed(member, address, "recovery_code_used", purpose)
            raise totp.CodeRefused("this recovery code was already used", code="recovery_code_used")
        self._failures.reset(member.member_id)
        await self._events.record(
            "recovery_code_used", member_id=member.member_id, address=address, purpose=purpose
        )
        return "recovery"
