"""Sign-in, sessions, invitations and rate limits over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from meetingd.demo import DEMO_PASSWORD

pytestmark = pytest.mark.both_stores


async def post(server, path, body, cookies=None):
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        if cookies:
            http.cookie_jar.update_cookies(cookies)
        async with http.post(server.url + path, json=body, headers={"Origin": server.url}) as r:
            return r.status, await r.json(), r.cookies


async def test_wrong_password_and_unknown_member_look_the_same(server) -> None:
    s1, b1, _ = await post(server, "/api/login", {"member_id": "C1-001", "password": "nope-nope"})
    s2, b2, _ = await post(server, "/api/login", {"member_id": "NOBODY", "password": "nope-nope"})
    assert s1 == s2 == 401 and b1 == b2
    assert b1["error"] == "not_authenticated"


async def test_session_cookie_is_http_only_and_strict(server) -> None:
    status, body, cookies = await post(
        server, "/api/login", {"member_id": "c1-001", "password": DEMO_PASSWORD}
    )
    assert status == 200 and body["member"]["member_id"] == "C1-001"
    morsel = cookies["meetingd_session"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"


async def test_logout_ends_the_session(sign_in) -> None:
    a = await sign_in("C1-001")
    assert (await a.call("GET", "/api/me"))[0] == 200
    assert (await a.call("POST", "/api/logout"))[0] == 200
    status, body = await a.call("GET", "/api/me")
    assert status == 401 and body["error"] == "not_authenticated"


async def test_login_is_rate_limited_per_account(server) -> None:
    for _ in range(5):
        status, _b, _c = await post(server, "/api/login", {"member_id": "C1-002", "password": "bad-guess!"})
        assert status == 401
    status, body, _ = await post(server, "/api/login", {"member_id": "C1-002", "password": DEMO_PASSWORD})
    assert status == 429 and body["error"] == "rate_limited"
    assert body["details"]["retry_after"] > 0
    # another account from the same address is still fine
    status, _b, _c = await post(server, "/api/login", {"member_id": "C1-003", "password": DEMO_PASSWORD})
    assert status == 200


async def test_invitation_is_single_use_and_resets_access(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    victim = await sign_in("C1-004")
    status, body = await admin.call("POST", "/api/admin/members/C1-004/invitation")
    assert status == 200
    token = body["url"].split("#/invite/")[1]
    assert body["url"].startswith(server.url)
    # reset access ended the member's sessions and cleared the password
    assert (await victim.call("GET", "/api/me"))[0] == 401
    status, _b, _c = await post(server, "/api/login", {"member_id": "C1-004", "password": DEMO_PASSWORD})
    assert status == 401
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/api/invitations/{token}") as r:
            info = await r.json()
    assert info["member_id"] == "C1-004"
    status, body, _ = await post(server, "/api/invitations/accept", {"token": token, "password": "short"})
    assert status == 400 and body["details"]["field"] == "password"
    status, body, cookies = await post(
        server, "/api/invitations/accept", {"token": token, "password": "a brand new passphrase"}
    )
    assert status == 200 and body["member"]["member_id"] == "C1-004"
    assert "meetingd_session" in cookies
    status, body, _ = await post(
        server, "/api/invitations/accept", {"token": token, "password": "another passphrase!"}
    )
    assert status == 409 and body["error"] == "invitation_used"
    status, _b, _c = await post(
        server, "/api/login", {"member_id": "C1-004", "password": "a brand new passphrase"}
    )
    assert status == 200


async def test_tampered_and_expired_invitations(sign_in, server) -> None:
    admin = await sign_in("C1-CHAIR")
    _s, body = await admin.call("POST", "/api/admin/members/C1-005/invitation")
    token = body["url"].split("#/invite/")[1]
    tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
    status, body, _ = await post(
        server, "/api/invitations/accept", {"token": tampered, "password": "a brand new passphrase"}
    )
    assert status == 404 and body["error"] == "not_found"
    # a newer invitation revokes the older one
    _s, body2 = await admin.call("POST", "/api/admin/members/C1-005/invitation")
    status, body, _ = await post(
        server, "/api/invitations/accept", {"token": token, "password": "a brand new passphrase"}
    )
    assert status == 409 and body["error"] == "invitation_revoked"
    # expiry: move the service clock past the deadline
    svc = server.svc
    real = svc.accounts._clock
    svc.accounts._clock = lambda: real() + timedelta(hours=svc.config.auth.invitation_hours + 1)
    try:
        token2 = body2["url"].split("#/invite/")[1]
        status, body, _ = await post(
            server, "/api/invitations/accept", {"token": token2, "password": "a brand new passphrase"}
        )
        assert status == 409 and body["error"] == "invitation_expired"
    finally:
        svc.accounts._clock = real


async def test_language_choice_is_saved(sign_in) -> None:
    a = await sign_in("C1-001")
    status, body = await a.call("PUT", "/api/me/language", {"language": "vi"})
    assert status == 200 and body["member"]["language"] == "vi"
    status, body = await a.call("PUT", "/api/me/language", {"language": "fr"})
    assert status == 400 and body["details"]["field"] == "language"
