"""Strict identity in the browser: enrolment with the QR code, the code step of signing
in, and the step-up prompt answered in place. The real meetingd process, headless
Chromium."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from meetingd.security import totp

pytestmark = pytest.mark.browser

STEP_UP_SECONDS = 6  # [security] step_up_minutes = 0.1


@pytest.fixture(scope="module")
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The production default (admins and officers need a second factor), a short step-up."""
    from tests.support.server import start_meetingd, stop_meetingd

    base_url, proc = start_meetingd(
        tmp_path_factory.mktemp("meetingd"),
        env={
            "MEETINGD_SECURITY_SECOND_FACTOR_REQUIRED_FOR": "admin,officer",
            "MEETINGD_SECURITY_STEP_UP_MINUTES": str(STEP_UP_SECONDS / 60),
        },
    )
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


def password_step(page: Page, member_id: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Member id").fill(member_id)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_enrol_sign_in_with_a_code_and_step_up_in_place(open_page, demo_password) -> None:
    page = open_page()
    password_step(page, "C1-CHAIR", demo_password)
    expect(page.locator("#nav")).to_be_visible()
    # an administrator without a second factor is refused a member change, and told why
    page.goto("/#/admin/members")
    page.locator('[data-member-id="C1-004"] [data-action="edit"]').click()
    page.locator("#edit-contact").fill("first@example.org")
    page.locator(".dialog").get_by_role("button", name="Save").click()
    expect(page.locator(".step-up")).to_contain_text("A second factor is needed")
    page.locator(".step-up").get_by_role("link", name="Set it up now").click()

    # enrolment: password again, then the QR code and the first code from the "app"
    expect(page.locator('#second-factor [data-enrolled="false"]')).to_be_visible()
    page.locator("#enrol-start").click()
    page.locator("#enrol-password").fill(demo_password)
    page.get_by_role("button", name="Continue").click()
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("data:image/svg+xml")
    secret = page.locator(".totp-secret").inner_text().strip()
    page.locator("#enrol-code").fill(totp.code_at(secret, totp.step_of_now()))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".recovery-codes code")).to_have_count(10)
    codes = [c.strip() for c in page.locator(".recovery-codes code").all_inner_texts()]
    page.get_by_role("button", name="I have saved them").click()
    expect(page.locator('#second-factor [data-enrolled="true"]')).to_be_visible()

    # the step-up expires; the next member change asks for a code in place and goes on
    time.sleep(STEP_UP_SECONDS + 1)  # let the step-up window pass (server time)
    page.goto("/#/admin/members")
    page.locator('[data-member-id="C1-004"] [data-action="edit"]').click()
    page.locator("#edit-contact").fill("second@example.org")
    page.locator(".dialog").get_by_role("button", name="Save").click()
    prompt = page.locator(".step-up")
    expect(prompt).to_contain_text("Confirm it is you")
    prompt.locator("#step-up-code").fill("00000-00000")  # not one of ours
    prompt.get_by_role("button", name="Confirm and continue").click()
    expect(prompt.locator(".form-message.error")).to_be_visible()
    prompt.locator("#step-up-code").fill(codes[0])
    prompt.get_by_role("button", name="Confirm and continue").click()
    expect(page.locator(".form-message.success")).to_contain_text("C1-004")  # the save went on
    expect(page.locator('[data-member-id="C1-004"] .contact')).to_have_text("second@example.org")

    # signing in again asks for the code after the password
    page.get_by_role("button", name="Sign out").click()
    password_step(page, "C1-CHAIR", demo_password)
    expect(page.locator("#login-code")).to_be_visible()
    page.locator("#login-code").fill(codes[0])  # used: refused
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".code-step .form-message.error")).to_contain_text("already used")
    page.locator("#login-code").fill(codes[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav")).to_be_visible()
    page.goto("/#/security")
    expect(page.locator("#sessions tr[data-current='true']")).to_contain_text("password + recovery code")
