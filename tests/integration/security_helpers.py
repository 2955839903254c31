"""Shared steps of the strict-identity tests: a clock the test moves, and enrolment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from meetingd.security import totp

from .conftest import Member


class MovableClock:
    """The server's clock, moved by the test (time steps of TOTP, windows, expiry)."""

    def __init__(self) -> None:
        # the middle of a 30-s step, so a test's code never straddles a step boundary
        now = datetime.now(UTC).replace(microsecond=0)
        self.now = now - timedelta(seconds=now.timestamp() % 30) + timedelta(seconds=15)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def code_now(secret: str, clock: MovableClock, steps: int = 0) -> str:
    return totp.code_at(secret, totp.step_of(clock()) + steps)


async def enrol(member: Member, clock: MovableClock, password: str) -> tuple[str, list[str]]:
    """Enrol an authenticator app; returns its secret and the recovery codes."""
    status, body = await member.call("POST", "/api/me/second-factor/totp", {"password": password})
    assert status == 200, body
    secret = str(body["secret"])
    status, body = await member.call(
        "POST", "/api/me/second-factor/totp/confirm", {"code": code_now(secret, clock)}
    )
    assert status == 200, body
    return secret, list(body["recovery_codes"])


async def sign_in_with_code(member: Member, password: str, code: str) -> tuple[int, dict[str, Any]]:
    status, body = await member.call(
        "POST", "/api/login", {"member_id": member.member_id, "password": password}
    )
    assert status == 200 and "second_factor" in body, body
    return await member.call(
        "POST", "/api/login/code", {"challenge": body["second_factor"]["challenge"], "code": code}
    )
