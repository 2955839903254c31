"""Quorum, check-in, an open and a secret vote, end to end in headless Chromium.

The chair opens the meeting and the polls from the chair console, the secretary checks
members in until there is quorum, two members vote (one on a phone-sized screen), the
result appears on the main-room display; a secret poll shows only "x of y have voted"
until close (the ballot encrypted on the member's device), then the trustees' devices
decrypt the sum and the member sees their tracker counted as cast.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE, running_meetingd
from tests.browser.test_room_browser import pair_display
from tests.browser.test_roster_browser import enter_meeting, shoot, show_tab

SIGN_IN_TIMEOUT_MS = 30_000  # Argon2id on a busy 2-core machine with five browsers


def sign_in(page: Page, member_id: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Member id").fill(member_id)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav")).to_be_visible(timeout=SIGN_IN_TIMEOUT_MS)


pytestmark = pytest.mark.browser

MEETING_ID = 1


@pytest.fixture
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A meetingd of each test's own: no test here depends on another's leftovers."""
    with running_meetingd(tmp_path_factory.mktemp("meetingd")) as url:
        yield url


def vote(page: Page, option: str) -> str:
    """Tap an option, confirm, wait for the receipt; return it."""
    card = page.locator('.vote-card[data-state="open"]').first
    card.locator(f'.vote-option[data-option="{option}"]').click()
    expect(card.locator(".vote-confirm")).to_be_visible()
    card.locator('[data-action="confirm-vote"]').click()
    expect(card.locator(".vote-done")).to_be_visible()
    return card.locator(".receipt-code").get_attribute("data-receipt") or ""


def create_and_open_poll(chair: Page, *, secret: bool = False) -> None:
    show_tab(chair, "chair")
    console = chair.locator(".chair-console")
    console.locator('[data-action="new-poll"]').click()
    form = console.locator(".poll-form")
    expect(form).to_be_visible()
    if secret:
        form.locator("#poll-kind").select_option("secret")
        form.locator("#poll-question").fill("Elect the delegation by secret ballot?")
    before = console.locator('.poll-card[data-state="draft"]').count()
    form.locator('[data-action="create-poll"]').click()
    expect(console.locator('.poll-card[data-state="draft"]')).to_have_count(before + 1)
    console.locator('.poll-card[data-state="draft"] [data-action="open-poll"]').first.click()
    expect(console.locator('.poll-card[data-state="open"]')).to_have_count(1)


def close_poll(chair: Page) -> None:
    show_tab(chair, "chair")
    card = chair.locator('.chair-console .poll-card[data-state="open"]')
    card.locator('[data-action="close-poll"]').click()
    card.locator('[data-action="close-confirm"]').click()
    expect(chair.locator('.chair-console .poll-card[data-state="open"]')).to_have_count(0)


def test_chair_runs_votes_members_vote_display_shows_results(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    secretary = open_page(LAPTOP)
    phone = open_page(PHONE)
    member = open_page(LAPTOP)
    display = open_page(LAPTOP)

    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")

    sign_in(secretary, "C1-SEC", demo_password)
    enter_meeting(secretary, "main_room")
    sign_in(phone, "C1-001", demo_password)
    enter_meeting(phone, "remote")
    sign_in(member, "C1-002", demo_password)
    enter_meeting(member, "remote")
    pair_display(chair, display)  # the projector pairs with a code: not a person

    # 4 of 10 voting members connected: no quorum, shown to everyone
    expect(phone.locator('.quorum[data-quorate="false"]')).to_be_visible()
    expect(phone.locator(".quorum-counts")).to_contain_text("4 of 10 present")

    # the secretary checks two members in, in the room: quorum (6 of 10, more than half)
    show_tab(secretary, "people")
    panel = secretary.locator(".attendance-panel")
    expect(panel.locator(".room-code-value")).to_be_visible()
    for member_id in ("C1-003", "C1-004"):
        panel.locator(f'.checkin-row[data-member-id="{member_id}"] [data-action="check-in"]').click()
        expect(panel.locator(f'.checkin-row[data-member-id="{member_id}"] .chip-in')).to_be_visible()
    expect(phone.locator('.quorum[data-quorate="true"]')).to_be_visible()
    expect(chair.locator(".quorum-counts")).to_contain_text("6 of 10 present")

    # the chair starts the first agenda item, adds a motion and opens a vote on it
    show_tab(chair, "chair")
    console = chair.locator(".chair-console")
    console.locator('.agenda-item[data-position="1"] [data-action="start-item"]').click()
    expect(phone.locator(".bar-agenda")).to_contain_text("Item 1")
    console.locator("#motion-text").fill("Adopt the 2027 budget of the cell")
    console.locator('[data-action="add-motion"]').click()
    expect(console.locator(".motion-list li")).to_have_count(1)

    # a member raises a hand; the chair gives the floor; the time runs
    show_tab(phone, "speakers")
    show_tab(chair, "speakers")
    phone.locator('[data-action="raise-hand"]').click()
    expect(chair.locator('.queue-entry[data-entry-id="member:C1-001"]')).to_be_visible()
    chair.locator('.queue-entry[data-entry-id="member:C1-001"] [data-action="give-floor"]').click()
    expect(phone.locator('.floor[data-speaking="true"] .floor-name')).to_be_visible()
    expect(display.locator(".board-speaker-name")).to_be_visible()
    phone.locator('[data-action="end-speech"]').click()
    expect(chair.locator('.floor[data-speaking="false"]')).to_be_visible()

    create_and_open_poll(chair)
    expect(phone.locator('.vote-card[data-state="open"] .vote-flag')).to_have_text("Vote open")
    expect(phone.locator(".vote-question")).to_have_text("Adopt the 2027 budget of the cell")
    shoot(phone, artifacts / "phone-vote-open.png")

    receipt1 = vote(phone, "yes")
    assert receipt1
    shoot(phone, artifacts / "phone-vote-receipt.png")
    vote(member, "no")

    # open ballot: live counts everywhere, the display shows the bar chart
    board = display.locator(".display-proc .results-large")
    expect(board.locator('.bar-row[data-option="yes"]')).to_have_attribute("data-count", "1")
    expect(board.locator('.bar-row[data-option="no"]')).to_have_attribute("data-count", "1")
    expect(chair.locator('.chair-console .poll-card[data-state="open"] .turnout')).to_have_attribute(
        "data-voted", "2"
    )
    shoot(display, artifacts / "laptop-display-results-live.png")
    shoot(chair, artifacts / "laptop-chair-room-vote.png")
    console.screenshot(path=str(artifacts / "laptop-chair-console.png"))

    # a reload keeps "you have voted"
    phone.reload()
    expect(phone.locator('.vote-card[data-state="open"] .vote-done')).to_be_visible()
    expect(phone.locator('.vote-card[data-state="open"] .receipt-code')).to_have_attribute(
        "data-receipt", receipt1
    )

    close_poll(chair)
    expect(board.locator(".outcome")).to_have_attribute("data-outcome", "rejected")
    expect(chair.locator('.chair-console .poll-card[data-state="closed"] .outcome-decision')).to_have_text(
        "Rejected"
    )
    shoot(display, artifacts / "laptop-display-results-closed.png")

    # a secret ballot: the chair's and the secretary's devices make their key shares,
    # then only "x of y have voted" until close
    for trustee in (chair, secretary):
        show_tab(trustee, "chair")
        trustee.locator('.trustee-panel [data-action="create-key"]').click()
        expect(trustee.locator('.trustee-panel[data-key="here"]')).to_be_visible()
    expect(chair.locator('.trustee-panel [data-ready="true"]')).to_be_visible()
    create_and_open_poll(chair, secret=True)
    card = phone.locator('.vote-card[data-state="open"]')
    expect(card.locator(".vote-question")).to_have_text("Elect the delegation by secret ballot?")
    receipt = vote(phone, "yes")
    # a secret choice is not on the screen; "show my choice" shows it for a few seconds
    expect(card.locator(".vote-done")).to_contain_text("Your vote is counted")
    expect(card.locator(".vote-picked")).to_have_count(0)
    card.locator('[data-action="reveal-choice"]').click()
    expect(card.locator(".vote-reveal .vote-picked")).to_have_text("Yes")
    expect(card.locator(".vote-picked")).to_have_count(0, timeout=10_000)
    expect(member.locator('.vote-card[data-state="open"] .turnout')).to_have_attribute("data-voted", "1")
    expect(member.locator('.vote-card[data-state="open"] .results-sealed')).to_be_visible()
    expect(member.locator('.vote-card[data-state="open"] .bars')).to_have_count(0)
    expect(display.locator('.display-proc .results[data-kind="secret"] .bars')).to_have_count(0)
    expect(display.locator('.display-proc .results[data-kind="secret"] .turnout-text')).to_have_text(
        "1 of 6 have voted"
    )
    shoot(member, artifacts / "laptop-secret-vote-open.png")

    # after a reload the receipt comes from this device (the server keeps no link)
    phone.reload()
    expect(phone.locator('.vote-card[data-state="open"] .receipt-code')).to_have_attribute(
        "data-receipt", receipt
    )
    # the secret choice is not on the screen after a reload, and no way to show it
    expect(phone.locator('.vote-card[data-state="open"] .vote-picked')).to_have_count(0)
    expect(phone.locator('.vote-card[data-state="open"] [data-action="reveal-choice"]')).to_have_count(0)
    vote(member, "abstain")
    close_poll(chair)  # both trustees' devices check the board and decrypt
    check = phone.locator('.vote-card[data-state="closed"] .receipt-check')
    expect(check.first).to_have_attribute("data-check", "tracker_counted", timeout=30_000)
    expect(check.first).to_contain_text("Counted as cast")
    expect(
        display.locator('.display-proc .results[data-kind="secret"] .bar-row[data-option="yes"]')
    ).to_have_attribute("data-count", "1")
    shoot(phone, artifacts / "phone-secret-receipt-counted.png")
    shoot(display, artifacts / "laptop-display-secret-result.png")


def test_voting_errors_are_precise(open_page: Callable[..., Page], demo_password: str) -> None:
    """An observer is told they do not vote; the chair is asked before opening without quorum."""
    observer = open_page(PHONE)
    sign_in(observer, "G-OBS1", demo_password)
    enter_meeting(observer, "main_room")
    chair = open_page(LAPTOP)
    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    # the chair and an observer: 1 of 10 voting members present, no quorum
    console = chair.locator(".chair-console")
    expect(chair.locator('.quorum[data-quorate="false"]')).to_be_visible()
    show_tab(chair, "chair")
    console.locator('[data-action="new-poll"]').click()
    console.locator("#poll-question").fill("Adjourn?")
    console.locator('[data-action="create-poll"]').click()
    console.locator('.poll-card[data-state="draft"] [data-action="open-poll"]').first.click()
    override = console.locator(".override")
    expect(override).to_contain_text("No quorum")
    override.locator('[data-action="open-override"]').click()
    expect(console.locator('.poll-card[data-state="open"] .poll-config')).to_contain_text(
        "opened without quorum"
    )
    expect(observer.locator(".vote-cannot")).to_have_text("Observers do not vote.")
