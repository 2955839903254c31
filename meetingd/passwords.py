"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from meeting.errors import InvalidInput

_hasher = PasswordHasher()
# A fixed hash to verify against when the account does not exist, so that a wrong
# member id and a wrong password take the same time.
_DUMMY = _hasher.hash("meetingd-timing-equaliser")

MIN_LENGTH = 10
MAX_LENGTH = 200


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_LENGTH} characters", field="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"password must have at most {MAX_LENGTH} characters", field="password")
    if len(set(password)) < 4:
        raise InvalidInput("password is too repetitive", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
