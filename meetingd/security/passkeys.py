"""Passkeys (WebAuthn, via py_webauthn) as a second factor: registration, and assertions
for signing in and for step-up.

The relying-party id is ``[security] rp_id`` or the host of ``[server] public_url``.
Browsers allow WebAuthn only for a host name over HTTPS, or ``localhost``: when the RP
id is a bare IP address, passkeys are unavailable (the client explains, and offers the
authenticator app). An assertion for another RP id, from another origin, with a bad
signature, or whose signature counter did not move forward (a cloned authenticator) is
refused with its own code, counted toward the second-factor limits and logged.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidCBORData,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from meeting.clock import Clock
from meeting.errors import InvalidInput, InvalidState, NotFound

from ..config import Config
from ..storage.models import Member
from ..storage.security_models import SecondFactor
from .events import EventSink
from .factors import SecondFactors
from .totp import CodeRefused

logger = logging.getLogger(__name__)

CHALLENGE_SECONDS = 300
BAD_INPUT = (InvalidJSONStructure, InvalidCBORData, KeyError, ValueError, TypeError)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rp_id_of(cfg: Config, public_url: str) -> str:
    return cfg.security.rp_id or (urlsplit(public_url).hostname or "")


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class Passkeys:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        cfg: Config,
        clock: Clock,
        events: EventSink,
        factors: SecondFactors,
        origins: Any,
    ) -> None:
        """``origins()`` gives (public URL, allowed extra origins) as served now."""
        self._db, self._cfg, self._clock, self._events = db, cfg, clock, events
        self._factors, self._origins = factors, origins
        self._challenges: dict[tuple[str, int], tuple[bytes, float]] = {}

    # -- where passkeys can work ------------------------------------------------------------

    def rp_id(self) -> str:
        return rp_id_of(self._cfg, self._origins()[0])

    def available(self) -> bool:
        rp = self.rp_id()
        return bool(rp) and not is_ip(rp)

    def _require_available(self) -> str:
        rp = self.rp_id()
        if not rp or is_ip(rp):
            raise InvalidState(
                f"passkeys need the server's host name (this server is reached as {rp or '?'}): "
                "use the authenticator app, or set [security] rp_id and serve a host name",
                code="passkeys_unavailable",
                rp_id=rp,
            )
        return rp

    def _expected_origins(self) -> list[str]:
        public, extra = self._origins()
        return [o.rstrip("/") for o in [public, *extra] if o]

    def _remember(self, kind: str, member_pk: int, challenge: bytes) -> None:
        now = time.monotonic()
        for key in [k for k, (_c, at) in self._challenges.items() if at < now - CHALLENGE_SECONDS]:
            del self._challenges[key]
        self._challenges[(kind, member_pk)] = (challenge, now)

    def _take(self, kind: str, member_pk: int) -> bytes:
        entry = self._challenges.pop((kind, member_pk), None)
        if entry is None or entry[1] < time.monotonic() - CHALLENGE_SECONDS:
            raise InvalidState("ask for new passkey options first", code="passkey_challenge_expired")
        return entry[0]

    async def _rows(self, member_pk: int) -> list[SecondFactor]:
        async with self._db() as s:
            return list(
                (
                    await s.scalars(
                        select(SecondFactor).where(
                            SecondFactor.member_pk == member_pk,
                            SecondFactor.kind == "passkey",
                            SecondFactor.confirmed.is_(True),
                        )
                    )
                ).all()
            )

    # -- registration -------------------------------------------------------------------------

    async def registration_options(self, member: Member) -> dict[str, Any]:
        """Call only after a fresh password check (or a recent step-up)."""
        rp = self._require_available()
        existing = await self._rows(member.id)
        options = generate_registration_options(
            rp_id=rp,
            rp_name=self._cfg.security.totp_issuer,
            user_name=member.member_id,
            user_id=hashlib.sha256(b"meetingd user\x00" + str(member.id).encode()).digest()[:16],
            user_display_name=member.full_name,
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=_unb64(r.credential_id or "")) for r in existing
            ],
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
        )
        self._remember("register", member.id, options.challenge)
        out: dict[str, Any] = json.loads(options_to_json(options))
        return out

    async def register(self, member: Member, credential: object, label: str, address: str) -> int:
        rp = self._require_available()
        if not isinstance(credential, dict):
            raise InvalidInput("'credential' must be the object the browser returned", field="credential")
        challenge = self._take("register", member.id)
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp,
                expected_origin=self._expected_origins(),
            )
        except InvalidRegistrationResponse as exc:
            await self._factors.failed(member, address, "passkey_invalid", "enrolment")
            raise CodeRefused(f"the passkey was not accepted: {exc}", code="passkey_invalid") from None
        except BAD_INPUT:
            raise InvalidInput(
                "'credential' is not a WebAuthn registration response", field="credential"
            ) from None
        async with self._db() as s, s.begin():
            row = SecondFactor(
                member_pk=member.id,
                kind="passkey",
                label=label[:100] or "passkey",
                credential_id=_b64(verified.credential_id),
                public_key=_b64(verified.credential_public_key),
                sign_count=verified.sign_count,
                confirmed=True,
                created_at=self._clock(),
                last_used_at=self._clock(),
            )
            s.add(row)
            await s.flush()
            row_id = row.id
        await self._events.record(
            "second_factor_enrolled", member_id=member.member_id, address=address, factor="passkey"
        )
        return row_id

    # -- assertions ---------------------------------------------------------------------------

    async def authentication_options(self, member: Member, purpose: str) -> dict[str, Any]:
        rp = self._require_available()
        rows = await self._rows(member.id)
        if not rows:
            raise InvalidState("this account has no passkey", code="second_factor_not_enrolled")
        options = generate_authentication_options(
            rp_id=rp,
            allow_credentials=[PublicKeyCredentialDescriptor(id=_unb64(r.credential_id or "")) for r in rows],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        self._remember(purpose, member.id, options.challenge)
        out: dict[str, Any] = json.loads(options_to_json(options))
        return out

    async def authenticate(self, member: Member, credential: object, address: str, purpose: str) -> str:
        """Check an assertion; returns the factor name ("passkey")."""
        rp = self._require_available()
        await self._factors.check_limit(member, address)
        if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
            raise InvalidInput("'credential' must be the object the browser returned", field="credential")
        challenge = self._take(purpose, member.id)
        row = next((r for r in await self._rows(member.id) if r.credential_id == credential["id"]), None)
        if row is None or row.public_key is None:
            await self._factors.failed(member, address, "passkey_unknown", purpose)
            raise CodeRefused("this passkey is not registered for this account", code="passkey_invalid")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp,
                expected_origin=self._expected_origins(),
                credential_public_key=_unb64(row.public_key),
                credential_current_sign_count=row.sign_count,
            )
        except InvalidAuthenticationResponse as exc:
            text = str(exc)
            code = (
                "passkey_counter"
                if "sign count" in text
                else "passkey_wrong_rp"
                if "RP ID" in text or "origin" in text.lower()
                else "passkey_invalid"
            )
            await self._factors.failed(member, address, code, purpose)
            raise CodeRefused(f"the passkey was not accepted: {text}", code=code) from None
        except BAD_INPUT:
            raise InvalidInput("'credential' is not a WebAuthn assertion", field="credential") from None
        async with self._db() as s, s.begin():
            # only forward: two racing assertions cannot both move the counter
            result = await s.execute(
                update(SecondFactor)
                .where(SecondFactor.id == row.id, SecondFactor.sign_count == row.sign_count)
                .values(sign_count=verified.new_sign_count, last_used_at=self._clock())
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await self._factors.failed(member, address, "passkey_counter", purpose)
            raise CodeRefused("the passkey's counter moved meanwhile", code="passkey_counter")
        return "passkey"

    async def remove(self, member: Member, passkey_id: int, address: str) -> None:
        async with self._db() as s, s.begin():
            row = await s.get(SecondFactor, passkey_id)
            if row is None or row.member_pk != member.id or row.kind != "passkey":
                raise NotFound("no such passkey")
            await s.delete(row)
        await self._events.record(
            "second_factor_removed", member_id=member.member_id, address=address, factor="passkey"
        )
