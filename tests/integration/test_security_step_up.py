"""Step-up: sensitive HTTP routes and socket commands need a recent second factor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meetingd.demo import DEMO_PASSWORD

from .conftest import Server, start_server
from .procedure_helpers import MOTION
from .security_helpers import MovableClock, code_now, enrol


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


async def test_an_admin_without_a_second_factor_cannot_change_members(sign_in) -> None:
    admin = await sign_in("C1-CHAIR")
    status, body = await admin.call("PATCH", "/api/admin/members/C1-004", {"contact": "x@y.z"})
    assert (status, body["error"]) == (403, "second_factor_required")
    assert body["details"]["action"] == "change a member"


async def test_admin_changes_need_a_second_factor_within_the_last_minutes(sign_in, clock) -> None:
    admin = await sign_in("C1-CHAIR")
    secret, _ = await enrol(admin, clock, DEMO_PASSWORD)
    status, body = await admin.call("PATCH", "/api/admin/members/C1-004", {"contact": "a@b.c"})
    assert status == 200, body  # the enrolment itself was a second factor, just now
    clock.advance(10 * 60 + 1)
    status, body = await admin.call("PATCH", "/api/admin/members/C1-004", {"contact": "d@e.f"})
    assert (status, body["error"]) == (401, "step_up_required")
    assert body["details"]["within_minutes"] == 10.0
    status, body = await admin.call("POST", "/api/security/step-up", {"code": "000000"})
    assert status == 401
    status, body = await admin.call("POST", "/api/security/step-up", {"code": code_now(secret, clock)})
    assert status == 200, body
    status, body = await admin.call("PATCH", "/api/admin/members/C1-004", {"contact": "d@e.f"})
    assert status == 200, body


async def test_step_up_belongs_to_the_session_not_the_member(sign_in, clock) -> None:
    admin = await sign_in("C1-CHAIR")
    secret, _ = await enrol(admin, clock, DEMO_PASSWORD)
    clock.advance(30)
    other = await sign_in("C1-CHAIR")
    status, body = await other.call(
        "POST", "/api/login", {"member_id": "C1-CHAIR", "password": DEMO_PASSWORD}
    )
    await other.call(
        "POST",
        "/api/login/code",
        {"challenge": body["second_factor"]["challenge"], "code": code_now(secret, clock)},
    )
    clock.advance(11 * 60)
    status, body = await other.call("POST", "/api/security/step-up", {"code": code_now(secret, clock)})
    assert status == 200
    status, _ = await other.call("PATCH", "/api/admin/members/C1-004", {"contact": "g@h.i"})
    assert status == 200
    status, body = await admin.call("PATCH", "/api/admin/members/C1-004", {"contact": "j@k.l"})
    assert (status, body["error"]) == (401, "step_up_required")


async def test_opening_and_closing_a_poll_on_the_socket_needs_step_up(sign_in, clock) -> None:
    chair = await sign_in("C1-CHAIR")
    secret, _ = await enrol(chair, clock, DEMO_PASSWORD)
    status, body = await chair.call("POST", "/api/meetings/1/open")
    assert status == 200, body
    assert (await chair.join())["ok"]
    for mid in ("C1-001", "C1-002"):
        assert (await (await sign_in(mid)).join())["ok"]
    created = await chair.emit("create_poll", {"config": MOTION})
    assert created["ok"], created
    poll_id = created["poll"]["poll_id"]
    clock.advance(11 * 60)
    ack = await chair.emit("set_quorum_rule", {"rule": {"members": 2}})
    assert (ack["error"], ack["details"]["action"]) == ("step_up_required", "change the quorum rule")
    ack = await chair.emit("open_poll", {"poll_id": poll_id, "override_quorum": True})
    assert ack["error"] == "step_up_required"
    assert ack["details"]["action"] == "open a poll without quorum"
    status, body = await chair.call("POST", "/api/security/step-up", {"code": code_now(secret, clock)})
    assert status == 200, body
    ack = await chair.emit("open_poll", {"poll_id": poll_id, "override_quorum": True})  # same socket
    assert ack["ok"], ack
    clock.advance(11 * 60)
    ack = await chair.emit("close_poll", {"poll_id": poll_id})
    assert ack["error"] == "step_up_required"


async def test_a_member_without_a_factor_is_not_asked_for_one(sign_in, clock) -> None:
    # optional for members: a member's own sessions page works without any factor
    m = await sign_in("C1-003")
    status, body = await m.call("GET", "/api/me/sessions")
    assert status == 200 and len(body["sessions"]) == 1


async def test_enrolling_a_cosigning_key_needs_a_second_factor_and_a_recent_step_up(sign_in, clock) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from recorder.cosignature import Cosigner

    chair = await sign_in("C1-CHAIR")
    vkey = Cosigner("meetingd.local/minutes/member/C1-CHAIR", Ed25519PrivateKey.generate()).verifier_key
    body = {"verifier_key": vkey.encode()}
    status, answer = await chair.call("POST", "/api/me/keys", body)
    assert (status, answer["error"]) == (403, "second_factor_required"), answer
    assert answer["details"]["action"] == "enrol a cosigning key"
    status, answer = await chair.call("POST", "/api/me/keys", {"verifier_key": "garbage"})
    assert (status, answer["details"]["field"]) == (400, "verifier_key")  # bad input is said first
    secret, _ = await enrol(chair, clock, DEMO_PASSWORD)
    clock.advance(10 * 60 + 1)
    status, answer = await chair.call("POST", "/api/me/keys", body)
    assert (status, answer["error"]) == (401, "step_up_required"), answer
    assert (await chair.call("GET", "/api/me/keys"))[1]["key"] is None  # nothing enrolled
    status, _ = await chair.call("POST", "/api/security/step-up", {"code": code_now(secret, clock)})
    assert status == 200
    status, answer = await chair.call("POST", "/api/me/keys", body)
    assert status == 201 and answer["key"]["fingerprint"] == vkey.fingerprint, answer
