"""A secret vote end to end in headless Chromium: two trustee browsers (chair, secretary)
make their key shares, voters on phone-sized pages encrypt, one checks a ballot
(Benaloh) before voting, the chair sees "waiting for the secretary's device" until the
secretary's browser comes back, checks the board and decrypts; the result is published
and each voter's tracker is counted as cast. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_roster_browser import enter_meeting, shoot, show_tab
from tests.browser.test_votes_browser import close_poll, create_and_open_poll, sign_in

pytestmark = pytest.mark.browser

MAKE_COSIGNING_KEY = """async () => {
    const { minutesApi } = await import('/js/procedure.js');
    const keys = await import('/js/officer-key.js');
    const { OFFICER_KEY_ENROLLED } = await import('/js/officer-key-panel.js');
    const mine = await minutesApi.myKeys();
    const made = await keys.createKey(mine.key_name);
    await minutesApi.enrolKey(made.verifierKey, 'browser', false);
    window.dispatchEvent(new CustomEvent(OFFICER_KEY_ENROLLED));
    return made.fingerprint;
}"""


def test_trustees_decrypt_a_secret_vote_cast_from_phones(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    secretary = open_page(LAPTOP)
    voters = [open_page(PHONE) for _ in range(4)]
    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    sign_in(secretary, "C1-SEC", demo_password)
    enter_meeting(secretary, "remote")
    for page, member_id in zip(voters, ("C1-001", "C1-002", "C1-003", "C1-004"), strict=True):
        sign_in(page, member_id, demo_password)
        enter_meeting(page, "remote")
    expect(chair.locator('.quorum[data-quorate="true"]')).to_be_visible()

    # the officers' cosigning keys, made in their browsers (the minutes tests walk that page)
    chair_fp = str(chair.evaluate(MAKE_COSIGNING_KEY))
    sec_fp = str(secretary.evaluate(MAKE_COSIGNING_KEY))

    # no secret vote before both key shares; each is made in its trustee's browser
    show_tab(chair, "chair")
    show_tab(secretary, "chair")
    panel = chair.locator(".trustee-panel")
    expect(panel.locator('[data-ready="false"]')).to_be_visible()
    panel.locator('[data-action="create-key"]').click()
    expect(chair.locator('.trustee-panel[data-key="here"]')).to_be_visible()
    secretary.locator('.trustee-panel [data-action="create-key"]').click()
    expect(secretary.locator('.trustee-panel[data-key="here"]')).to_be_visible()
    expect(panel.locator('[data-ready="true"]')).to_be_visible()
    # each officer's device signs the completed poll key with its cosigning key
    expect(chair.locator('.trustee-panel [data-vouch="done"]')).to_be_visible()
    expect(secretary.locator('.trustee-panel [data-vouch="done"]')).to_be_visible()
    # a reload keeps the share (IndexedDB)
    secretary.reload()
    expect(secretary.locator('.link-banner[data-link-state="connected"]')).to_be_visible()
    expect(secretary.locator("#tab-chair")).to_be_visible()
    show_tab(secretary, "chair")
    expect(secretary.locator('.trustee-panel[data-key="here"]')).to_be_visible()
    shoot(chair, artifacts / "laptop-trustee-panel-ready.png")

    create_and_open_poll(chair, secret=True)
    # the first voter checks a ballot before voting: it opens, then is encrypted anew
    for page in voters:
        show_tab(page, "vote")
    phone = voters[0]
    card = phone.locator('.vote-card[data-state="open"]')
    card.locator('.vote-option[data-option="no"]').click()
    expect(card.locator(".vote-confirm")).to_be_visible()
    # the phone checked the poll key against both officers' signed statements
    key_line = card.locator('.vote-key[data-key-check="ok"]')
    expect(key_line).to_contain_text("the chair's device")
    expect(key_line).to_contain_text(f"{chair_fp[:4]} {chair_fp[4:8]}")  # shown in groups of 4
    expect(key_line).to_contain_text(f"{sec_fp[:4]} {sec_fp[4:8]}")
    shoot(phone, artifacts / "phone-secret-key-vouched.png")
    first_tracker = card.locator(".tracker-code").inner_text()
    card.locator('[data-action="check-ballot"]').click()
    expect(card.locator('.vote-audit[data-audit="ok"]')).to_contain_text("No")
    shoot(phone, artifacts / "phone-secret-ballot-checked.png")
    card.locator('[data-action="encrypt-anew"]').click()
    expect(card.locator(".vote-confirm")).to_be_visible()
    assert card.locator(".tracker-code").inner_text() != first_tracker  # fresh randomness
    card.locator('[data-action="confirm-vote"]').click()
    expect(card.locator(".vote-done")).to_be_visible()
    trackers = [str(card.locator(".receipt-code").get_attribute("data-receipt"))]
    assert len(trackers[0]) == 64
    expect(card.locator(".vote-picked")).to_have_count(0)  # the choice is not shown again
    shoot(phone, artifacts / "phone-secret-tracker.png")
    for page, option in zip(voters[1:], ("yes", "yes", "abstain"), strict=True):
        c = page.locator('.vote-card[data-state="open"]')
        c.locator(f'.vote-option[data-option="{option}"]').click()
        c.locator('[data-action="confirm-vote"]').click()
        expect(c.locator(".vote-done")).to_be_visible()
        trackers.append(str(c.locator(".receipt-code").get_attribute("data-receipt")))
    expect(chair.locator('.chair-console .poll-card[data-state="open"] .turnout')).to_have_attribute(
        "data-voted", "4"
    )

    # the secretary's device is away at close: the chair's decrypts and waits
    secretary.context.set_offline(True)
    expect(secretary.locator('.link-banner[data-link-state="connected"]')).to_have_count(0, timeout=30_000)
    close_poll(chair)
    expect(panel.locator(".trustee-poll [data-waiting]")).to_contain_text(
        "Waiting for the secretary's device"
    )
    expect(panel.locator(".trustee-poll")).to_contain_text("checked every ballot")
    shoot(chair, artifacts / "laptop-trustee-waiting-secretary.png")
    secretary.context.set_offline(False)  # back: it checks the board and decrypts by itself
    expect(secretary.locator(".trustee-panel .trustee-poll")).to_contain_text(
        "checked every ballot", timeout=30_000
    )

    for page in voters:
        check = page.locator('.vote-card[data-state="closed"] .receipt-check')
        expect(check.first).to_have_attribute("data-check", "tracker_counted", timeout=30_000)
    closed = chair.locator('.chair-console .poll-card[data-state="closed"]')
    expect(closed.locator(".outcome-decision")).to_have_text("Adopted")
    shoot(voters[1], artifacts / "phone-secret-counted.png")
