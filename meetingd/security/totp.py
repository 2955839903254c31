"""TOTP codes (RFC 6238, via pyotp) checked against an injected time, and recovery codes.

A code is accepted in the current 30-second step or one step either side (clock drift),
and only in a step later than the last one accepted for that authenticator: a code seen
once (shoulder-surfed, phished, replayed) is refused. Each refusal has its own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

from meeting.errors import NotAuthenticated

STEP_SECONDS = 30
DRIFT_STEPS = 1  # accepted either side of the current step
STALE_STEPS = 20  # older than this (10 minutes): just "wrong", not "expired"
DIGITS = 6
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class CodeRefused(NotAuthenticated):
    """A second-factor code was refused; ``code`` says why."""


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_url(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a ``data:`` URL (the CSP allows data: images)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=5, border=2))


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def step_of_now() -> int:
    """The current step by the real clock (for tools and end-to-end tests)."""
    from datetime import UTC

    return step_of(datetime.now(UTC))


def code_at(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret, digits=DIGITS).generate_otp(step))


def normalise_code(code: object) -> str:
    if not isinstance(code, str):
        return ""
    return "".join(ch for ch in code if not ch.isspace() and ch != "-").lower()


def accept(secret: str, code: str, at: datetime, last_step: int) -> int:
    """The time step ``code`` belongs to, if it may be accepted now; else CodeRefused.

    ``code_reused``: the step was already used (or an earlier one was used after it);
    ``code_expired``: a real code of this authenticator, but too old;
    ``code_invalid``: anything else.
    """
    code = normalise_code(code)
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        raise CodeRefused("that is not a 6-digit code", code="code_invalid")
    now = step_of(at)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            if step <= last_step:
                raise CodeRefused("this code was already used; wait for the next one", code="code_reused")
            return step
    for step in range(now - STALE_STEPS, now - DRIFT_STEPS):
        if hmac.compare_digest(code_at(secret, step), code):
            raise CodeRefused(
                "this code has expired; enter the code shown now (is the device's clock right?)",
                code="code_expired",
            )
    raise CodeRefused("wrong code", code="code_invalid")


def new_recovery_code() -> str:
    """``xxxxx-xxxxx``: 10 characters of a 31-letter alphabet, ~49 bits."""
    chars = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


def looks_like_recovery_code(code: str) -> bool:
    c = normalise_code(code)
    return len(c) == 10 and all(ch in RECOVERY_ALPHABET for ch in c)


def recovery_hash(key: bytes, code: str) -> str:
    """Keyed with the server secret: a copy of the database alone cannot test guesses."""
    return hmac.new(key, normalise_code(code).encode(), hashlib.sha256).hexdigest()


def secret_box_key(server_secret: bytes) -> bytes:
    return hashlib.sha256(b"meetingd totp secret v1\x00" + server_secret).digest()


def seal_secret(key: bytes, secret: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), b"totp")
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_secret(key: bytes, sealed: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.urlsafe_b64decode(sealed.encode())
    return AESGCM(key).decrypt(raw[:12], raw[12:], b"totp").decode()
