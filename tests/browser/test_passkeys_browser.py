"""Passkeys in headless Chromium with a CDP virtual authenticator, on ``localhost``:
registration, signing in with the passkey, a signature counter that went backwards
refused, and the explanation shown when the page is opened by a bare IP address."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_security_browser import password_step

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from tests.support.server import start_meetingd, stop_meetingd

    port = _free_port()
    tmp = tmp_path_factory.mktemp("meetingd")
    _url, proc = start_meetingd(
        tmp,
        "--port",
        str(port),
        env={
            "MEETINGD_SERVER_PUBLIC_URL": f"http://localhost:{port}",
            "MEETINGD_SERVER_ALLOWED_ORIGINS": f"http://127.0.0.1:{port}",
        },
    )
    try:
        yield f"http://localhost:{port}", tmp / "data" / "meetingd.db"
    finally:
        stop_meetingd(proc)


@pytest.fixture(scope="module")
def meetingd_url(server: tuple[str, Path]) -> str:
    return server[0]


def virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def test_register_a_passkey_sign_in_with_it_and_refuse_a_counter_gone_back(
    open_page, server, demo_password
) -> None:
    _url, db = server
    page = open_page()
    virtual_authenticator(page)
    password_step(page, "C1-SEC", demo_password)
    expect(page.locator("#nav")).to_be_visible()
    page.goto("/#/security")
    page.locator("#passkey-label").fill("Test laptop")
    page.locator("#passkey-password").fill(demo_password)
    page.locator("#passkey-add").click()
    expect(page.locator("#passkeys li")).to_contain_text("Test laptop")

    page.get_by_role("button", name="Sign out").click()
    password_step(page, "C1-SEC", demo_password)
    page.locator("#login-passkey").click()
    expect(page.locator("#nav")).to_be_visible()
    page.goto("/#/security")
    expect(page.locator("#sessions tr[data-current='true']")).to_contain_text("passkey")

    # as if the credential had been copied and used elsewhere: ours is now behind
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE second_factors SET sign_count = 1000 WHERE kind = 'passkey'")
    page.get_by_role("button", name="Sign out").click()
    password_step(page, "C1-SEC", demo_password)
    page.locator("#login-passkey").click()
    expect(page.locator(".code-step .form-message.error")).to_contain_text("counter went backwards")
    expect(page.locator("#nav")).to_be_hidden()
    with sqlite3.connect(db) as conn:
        reasons = [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(details, '$.reason') FROM security_events "
                "WHERE kind = 'second_factor_failed'"
            )
        ]
    assert "passkey_counter" in reasons


def test_a_page_opened_by_a_bare_ip_explains_why_there_are_no_passkeys(
    open_page, server, demo_password
) -> None:
    url, _db = server
    page = open_page()
    page.goto(url.replace("localhost", "127.0.0.1") + "/#/login")
    page.get_by_label("Member id").fill("C1-003")
    page.locator("#login-password").fill(demo_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav")).to_be_visible()
    page.goto(url.replace("localhost", "127.0.0.1") + "/#/security")
    note = page.locator('#passkeys [data-passkeys="unavailable"]')
    expect(note).to_contain_text("opened by the address 127.0.0.1")
    expect(page.locator("#enrol-start")).to_be_visible()  # the authenticator app instead
