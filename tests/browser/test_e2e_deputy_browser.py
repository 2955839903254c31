"""Threshold trustees in headless Chromium: the chair names a deputy, the chair's, the
secretary's and the deputy's browsers run the key generation by themselves, the deputy
downloads a passphrase-encrypted backup and restores it in a fresh browser, voters
vote on phones, and with the secretary's device away at close the chair's and the
restored deputy's browsers decrypt: the result is published. Screenshots go to
test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_roster_browser import enter_meeting, shoot, show_tab
from tests.browser.test_votes_browser import close_poll, create_and_open_poll, sign_in

pytestmark = pytest.mark.browser

PASSPHRASE = "deputy's long passphrase"


def _deputy_page(open_page: Callable[..., Page], demo_password: str) -> Page:
    page = open_page(PHONE)
    sign_in(page, "C1-001", demo_password)
    enter_meeting(page, "remote")
    show_tab(page, "vote")
    return page


def test_two_of_three_trustees_decrypt_with_a_deputy_restored_from_its_backup(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path, tmp_path: Path
) -> None:
    chair = open_page(LAPTOP)
    secretary = open_page(LAPTOP)
    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    sign_in(secretary, "C1-SEC", demo_password)
    enter_meeting(secretary, "remote")
    deputy = _deputy_page(open_page, demo_password)
    voters = [open_page(PHONE) for _ in range(3)]
    for page, member_id in zip(voters, ("C1-002", "C1-003", "C1-004"), strict=True):
        sign_in(page, member_id, demo_password)
        enter_meeting(page, "remote")
    expect(chair.locator('.quorum[data-quorate="true"]')).to_be_visible()

    show_tab(chair, "chair")
    show_tab(secretary, "chair")
    panel = chair.locator(".trustee-panel")
    expect(deputy.locator(".trustee-panel")).to_be_hidden()  # a member is no trustee until named
    panel.locator('[data-field="deputy"]').select_option("C1-001")
    panel.locator('[data-action="name-deputy"]').click()
    expect(panel.locator('[data-dkg-phase="keys"]')).to_be_visible()
    for page in (chair, secretary, deputy):
        trustee = page.locator(".trustee-panel")
        expect(trustee).to_be_visible()
        trustee.locator('[data-action="create-key"]').click()
        expect(page.locator('.trustee-panel[data-key="here"]')).to_be_visible()
    # the devices deal, check their shares and confirm by themselves
    expect(panel.locator('[data-dkg-phase="complete"]')).to_be_visible(timeout=30_000)
    expect(deputy.locator('.trustee-panel [data-dkg-phase="complete"]')).to_be_visible(timeout=30_000)
    shoot(chair, artifacts / "laptop-trustee-deputy-keys.png")

    # the deputy keeps an encrypted backup, then its phone is replaced
    trustee = deputy.locator(".trustee-panel")
    trustee.locator(".trustee-backup summary").click()
    trustee.locator('[data-field="backup-passphrase"]').fill(PASSPHRASE)
    with deputy.expect_download() as got:
        trustee.locator('[data-action="backup"]').click()
    backup = tmp_path / "backup.json"
    got.value.save_as(backup)
    assert '"format": "meetingd-trustee-backup"' in backup.read_text()
    shoot(deputy, artifacts / "phone-trustee-backup.png")
    deputy.context.close()
    deputy = _deputy_page(open_page, demo_password)
    trustee = deputy.locator('.trustee-panel[data-key="elsewhere"]')
    expect(trustee).to_be_visible()
    trustee.locator(".trustee-backup summary").click()
    trustee.locator('[data-field="backup-passphrase"]').fill("not the passphrase")
    trustee.locator('[data-field="restore-file"]').set_input_files(str(backup))
    trustee.locator('[data-action="restore"]').click()
    expect(trustee.locator(".trustee-backup .form-message.error")).to_contain_text("passphrase is wrong")
    trustee.locator('[data-field="backup-passphrase"]').fill(PASSPHRASE)
    trustee.locator('[data-field="restore-file"]').set_input_files(str(backup))
    trustee.locator('[data-action="restore"]').click()
    expect(deputy.locator('.trustee-panel[data-key="here"]')).to_be_visible()

    create_and_open_poll(chair, secret=True)
    for page, option in zip(voters, ("yes", "yes", "no"), strict=True):
        show_tab(page, "vote")
        c = page.locator('.vote-card[data-state="open"]')
        c.locator(f'.vote-option[data-option="{option}"]').click()
        c.locator('[data-action="confirm-vote"]').click()
        expect(c.locator(".vote-done")).to_be_visible()

    # the secretary's phone died: the chair's and the deputy's browsers are enough
    secretary.context.set_offline(True)
    expect(secretary.locator('.link-banner[data-link-state="connected"]')).to_have_count(0, timeout=30_000)
    close_poll(chair)
    closed = chair.locator('.chair-console .poll-card[data-state="closed"]')
    expect(closed.locator(".outcome-decision")).to_have_text("Adopted", timeout=30_000)
    expect(deputy.locator(".trustee-panel .trustee-poll")).to_contain_text("checked every ballot")
    shoot(chair, artifacts / "laptop-trustee-deputy-result.png")
