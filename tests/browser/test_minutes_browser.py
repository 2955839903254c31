"""The officers review the minutes in the browser, create their keys and cosign.

The meeting is opened and closed over HTTP (from the chair's page, same origin); both
officers then use the minutes page (#/minutes/1) from "My meetings".
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_roster_browser import shoot
from tests.browser.test_votes_browser import sign_in

pytestmark = pytest.mark.browser

MEETING_ID = 1
PASSPHRASES = {"C1-CHAIR": "chair's long passphrase 1", "C1-SEC": "secretary's passphrase 2"}


def post(page: Page, path: str) -> int:
    """A same-origin POST from the page (the browser sets Origin and the cookie)."""
    return int(
        page.evaluate(
            "p => fetch(p, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})"
            ".then(r => r.status)",
            path,
        )
    )


def open_minutes(page: Page) -> None:
    page.goto("/#/meetings")
    page.reload()  # the list may have been loaded before the meeting closed
    page.locator(f'[data-meeting-id="{MEETING_ID}"] [data-action="minutes"]').click()
    expect(page.locator(".minutes-status .officer")).to_have_count(2)


def create_key_and_cosign(page: Page, member_id: str) -> None:
    mine = page.locator(".minutes-mine")
    passphrase = PASSPHRASES[member_id]
    # a mismatch is caught before anything is sent
    mine.locator("#key-pass").fill(passphrase)
    mine.locator("#key-pass2").fill(passphrase + "x")
    mine.locator('[data-action="create-key"]').click()
    expect(mine.locator(".form-message.error")).to_have_text("The two passphrases differ.")
    mine.locator("#key-pass2").fill(passphrase)
    mine.locator('[data-action="create-key"]').click()
    expect(mine.locator(".my-fingerprint")).to_be_visible()
    expect(page.locator(f'.officer[data-member-id="{member_id}"] .fingerprint')).to_be_visible()

    # not without review; a wrong passphrase is said so
    mine.locator('[data-action="cosign"]').click()
    expect(mine.locator(".form-message.error")).to_contain_text("read the minutes")
    mine.locator("#reviewed").check()
    mine.locator("#cosign-pass").fill("not my passphrase")
    mine.locator('[data-action="cosign"]').click()
    expect(mine.locator(".form-message.error")).to_have_text("Wrong passphrase. Try again.")
    mine.locator("#cosign-pass").fill(passphrase)
    mine.locator('[data-action="cosign"]').click()
    expect(mine.locator('[data-cosigned="true"]')).to_be_visible()
    expect(page.locator(f'.officer[data-member-id="{member_id}"]')).to_have_attribute("data-cosigned", "true")


def test_both_officers_create_keys_and_cosign_the_minutes(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    secretary = open_page(PHONE)
    member = open_page(PHONE)
    sign_in(chair, "C1-CHAIR", demo_password)
    assert post(chair, f"/api/meetings/{MEETING_ID}/open") == 200
    assert post(chair, f"/api/meetings/{MEETING_ID}/close") == 200

    open_minutes(chair)
    frame = chair.frame_locator(".minutes-frame")
    expect(frame.locator("body")).to_contain_text("Monthly cell meeting")
    expect(chair.locator(".seal-state")).to_have_attribute("data-sealed", "false")
    create_key_and_cosign(chair, "C1-CHAIR")
    expect(chair.locator(".seal-state")).to_have_attribute("data-sealed", "true")

    sign_in(secretary, "C1-SEC", demo_password)
    open_minutes(secretary)
    expect(secretary.locator('.officer[data-member-id="C1-CHAIR"]')).to_have_attribute(
        "data-cosigned", "true"
    )
    create_key_and_cosign(secretary, "C1-SEC")
    expect(secretary.locator(".all-cosigned")).to_be_visible()
    shoot(secretary, artifacts / "phone-minutes-cosigned.png")

    chair.reload()
    expect(chair.locator('.officer[data-cosigned="true"]')).to_have_count(2)
    expect(chair.locator(".all-cosigned")).to_be_visible()
    expect(frame.locator("body")).to_contain_text("Monthly cell meeting")
    shoot(chair, artifacts / "laptop-minutes-cosigned.png")

    # a member reads the same page, without the officers' part
    sign_in(member, "C1-001", demo_password)
    open_minutes(member)
    expect(member.locator(".minutes-mine")).to_be_hidden()
    expect(member.locator('.officer[data-cosigned="true"]')).to_have_count(2)
    csv = member.evaluate(f"fetch('/api/meetings/{MEETING_ID}/participation.csv').then(r => r.text())")
    assert csv.startswith("member_id,full_name,role")
