"""Second factors end to end: enrolment, sign-in with a code, replay, expiry, limits,
recovery codes — on a real server whose clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meetingd.demo import DEMO_PASSWORD

from .conftest import Server, start_server
from .security_helpers import MovableClock, code_now, enrol, sign_in_with_code


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def server(tmp_path: Path, clock: MovableClock) -> AsyncIterator[Server]:
    srv, runner = await start_server(
        tmp_path, clock=clock, security={"second_factor_required_for": ["admin", "officer"]}
    )
    yield srv
    await runner.cleanup()


async def events_of(server: Server, kind: str) -> list[dict]:
    return await server.svc.security.log.events(kind=kind)


async def test_enrolment_needs_a_fresh_password_check(sign_in, server) -> None:
    m = await sign_in("C1-001")
    status, body = await m.call("POST", "/api/me/second-factor/totp", {})
    assert (status, body["error"]) == (401, "fresh_password_required")
    status, body = await m.call("POST", "/api/me/second-factor/totp", {"password": "not-it-at-all"})
    assert (status, body["error"]) == (401, "password_wrong")
    assert await events_of(server, "sign_in_failed")  # counted and logged
    # confirming without a started enrolment: no fresh password check behind it
    status, body = await m.call("POST", "/api/me/second-factor/totp/confirm", {"code": "123456"})
    assert (status, body["error"]) == (409, "fresh_password_required")


async def test_enrolment_shows_a_qr_code_and_issues_recovery_codes(sign_in, clock) -> None:
    m = await sign_in("C1-001")
    status, body = await m.call("POST", "/api/me/second-factor/totp", {"password": DEMO_PASSWORD})
    assert status == 200
    assert body["qr"].startswith("data:image/svg+xml")
    assert body["uri"].startswith("otpauth://totp/") and "C1-001" in body["uri"]
    status, body2 = await m.call(
        "POST", "/api/me/second-factor/totp/confirm", {"code": code_now(body["secret"], clock)}
    )
    assert status == 200
    assert len(body2["recovery_codes"]) == 10 and len(set(body2["recovery_codes"])) == 10
    status, me = await m.call("GET", "/api/me/security")
    assert me["security"]["totp"] is not None and me["security"]["recovery_codes_left"] == 10


async def test_an_expired_enrolment_cannot_be_confirmed(sign_in, clock) -> None:
    m = await sign_in("C1-001")
    _s, body = await m.call("POST", "/api/me/second-factor/totp", {"password": DEMO_PASSWORD})
    clock.advance(11 * 60)
    status, err = await m.call(
        "POST", "/api/me/second-factor/totp/confirm", {"code": code_now(body["secret"], clock)}
    )
    assert (status, err["error"]) == (409, "fresh_password_required")


async def test_sign_in_asks_for_the_code_and_refuses_a_replayed_step(sign_in, server, clock) -> None:
    m = await sign_in("C1-001")
    secret, _codes = await enrol(m, clock, DEMO_PASSWORD)
    fresh = await sign_in("C1-001")  # password only: a challenge, no session
    status, _ = await fresh.call("GET", "/api/me")
    assert status == 401
    # the code of the step the enrolment used is spent
    status, body = await sign_in_with_code(fresh, DEMO_PASSWORD, code_now(secret, clock))
    assert (status, body["error"]) == (401, "code_reused")
    clock.advance(30)
    status, body = await sign_in_with_code(fresh, DEMO_PASSWORD, code_now(secret, clock))
    assert status == 200, body
    status, me = await fresh.call("GET", "/api/me")
    assert status == 200 and me["member"]["member_id"] == "C1-001"
    # the same code again, in the same step, from another browser: refused
    other = await sign_in("C1-001")
    status, body = await sign_in_with_code(other, DEMO_PASSWORD, code_now(secret, clock))
    assert (status, body["error"]) == (401, "code_reused")
    failed = await events_of(server, "second_factor_failed")
    assert [e["details"]["reason"] for e in failed].count("code_reused") == 2


async def test_codes_one_step_either_side_are_accepted_older_ones_expired(sign_in, clock) -> None:
    m = await sign_in("C1-001")
    secret, _ = await enrol(m, clock, DEMO_PASSWORD)
    clock.advance(300)
    status, body = await sign_in_with_code(
        await sign_in("C1-001"), DEMO_PASSWORD, code_now(secret, clock, steps=-4)
    )
    assert (status, body["error"]) == (401, "code_expired")
    status, body = await sign_in_with_code(
        await sign_in("C1-001"), DEMO_PASSWORD, code_now(secret, clock, steps=-1)
    )
    assert status == 200, body  # the phone's clock a little behind
    clock.advance(60)
    status, body = await sign_in_with_code(
        await sign_in("C1-001"), DEMO_PASSWORD, code_now(secret, clock, steps=+1)
    )
    assert status == 200, body  # a little ahead
    status, body = await sign_in_with_code(await sign_in("C1-001"), DEMO_PASSWORD, "000000")
    assert body["error"] in ("code_invalid", "code_reused")


async def test_wrong_codes_are_rate_limited_per_account_and_raise_an_alert(sign_in, server, clock) -> None:
    m = await sign_in("C1-001")
    secret, _ = await enrol(m, clock, DEMO_PASSWORD)
    attacker = await sign_in("C1-001")
    wrong = f"{(int(code_now(secret, clock)) + 1) % 1_000_000:06d}"
    errors = []
    for _ in range(6):
        _s, body = await sign_in_with_code(attacker, DEMO_PASSWORD, wrong)
        errors.append(body["error"])
    assert errors[:5] == ["code_invalid"] * 5 and errors[5] == "rate_limited"
    clock.advance(30)  # the right code is refused too while limited
    _s, body = await sign_in_with_code(attacker, DEMO_PASSWORD, code_now(secret, clock))
    assert body["error"] == "rate_limited"
    alerts = await server.svc.security.log.alerts()
    assert any(a["rule"] == "second_factor_failures" and a["member_id"] == "C1-001" for a in alerts)
    clock.advance(15 * 60)  # the window passes
    _s, body = await sign_in_with_code(attacker, DEMO_PASSWORD, code_now(secret, clock))
    assert _s == 200, body


async def test_a_recovery_code_works_once(sign_in, server, clock) -> None:
    m = await sign_in("C1-001")
    _secret, codes = await enrol(m, clock, DEMO_PASSWORD)
    status, body = await sign_in_with_code(await sign_in("C1-001"), DEMO_PASSWORD, codes[0].upper())
    assert status == 200, body
    status, body = await sign_in_with_code(await sign_in("C1-001"), DEMO_PASSWORD, codes[0])
    assert (status, body["error"]) == (401, "recovery_code_used")
    status, me = await m.call("GET", "/api/me/security")
    assert me["security"]["recovery_codes_left"] == 9
    alerts = await server.svc.security.log.alerts()
    assert any(a["rule"] == "recovery_code_used" for a in alerts)


async def test_the_second_step_expires(sign_in, clock) -> None:
    m = await sign_in("C1-001")
    secret, _ = await enrol(m, clock, DEMO_PASSWORD)
    other = await sign_in("C1-001")
    status, body = await other.call("POST", "/api/login", {"member_id": "C1-001", "password": DEMO_PASSWORD})
    challenge = body["second_factor"]["challenge"]
    clock.advance(301)
    status, body = await other.call(
        "POST", "/api/login/code", {"challenge": challenge, "code": code_now(secret, clock)}
    )
    assert (status, body["error"]) == (401, "sign_in_expired")


async def test_wrong_password_and_unknown_account_answer_the_same(sign_in, server) -> None:
    m = await sign_in("C1-001")
    a = await m.call("POST", "/api/login", {"member_id": "C1-002", "password": "wrong-password-1"})
    b = await m.call("POST", "/api/login", {"member_id": "NOBODY-9", "password": "wrong-password-1"})
    assert (
        a == b == (401, {"ok": False, "error": "not_authenticated", "message": "wrong member id or password"})
    )


async def test_passkeys_are_refused_with_a_reason_when_the_server_is_reached_by_an_ip(sign_in) -> None:
    m = await sign_in("C1-001")
    status, body = await m.call("GET", "/api/me/security")
    assert body["security"]["passkeys_available"] is False and body["security"]["rp_id"] == "127.0.0.1"
    status, body = await m.call("POST", "/api/me/passkeys/options", {"password": DEMO_PASSWORD})
    assert (status, body["error"]) == (409, "passkeys_unavailable")
    status, body = await m.call("POST", "/api/me/passkeys", {"credential": "not an object"})
    assert (status, body["details"]["field"]) == (400, "credential")
