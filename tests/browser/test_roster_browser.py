"""Two members in two browsers see each other arrive, chat, and leave.

Drives headless Chromium against the real meetingd process (see conftest.py).
Screenshots at phone (390x844) and laptop (1280x800) sizes go to test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LAPTOP, PHONE

pytestmark = pytest.mark.browser

MEETING_ID = 1


def sign_in(page: Page, member_id: str, password: str) -> None:
    page.goto("/#/login")
    page.get_by_label("Member id").fill(member_id)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#nav")).to_be_visible()


def enter_meeting(page: Page, attendance: str) -> None:
    """Open meeting 1 from "My meetings", choose how to attend, wait until joined.

    A member still in the meeting from another page (an earlier test's, in its reconnect
    grace) is joined the way they attend there, with no question (a second device never
    changes the attendance unasked): then this changes it explicitly."""
    page.goto("/#/meetings")
    page.locator(f'[data-meeting-id="{MEETING_ID}"] [data-action="enter"]').click()
    chooser = page.locator(f"#attend-{attendance}")
    joined = page.locator(".room-main:not([hidden])")
    expect(chooser.or_(joined).first).to_be_visible()
    if chooser.is_visible():
        chooser.check()
        page.get_by_role("button", name="Join meeting").click()
    else:
        page.locator('[data-action="change-attendance"]').click()
        page.locator(f"#attend-{attendance}").check()
        page.locator(".attend button[type='submit']").click()
        expect(page.locator(".attend")).to_be_hidden()
    expect(page.locator('.link-banner[data-link-state="connected"]')).to_be_visible()


def person(page: Page, group: str, member_id: str) -> Locator:
    return page.locator(f'[data-group="{group}"] .person[data-member-id="{member_id}"]')


def show_tab(page: Page, name: str) -> None:
    """The room's sections are tabs (the side panel on a laptop, below the stage on a phone)."""
    tab = page.locator(f"#tab-{name}")
    if tab.is_visible():
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")


def shoot(page: Page, path: Path) -> None:
    page.screenshot(path=str(path))


def test_two_members_see_each_other_chat_and_leave(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    member = open_page(PHONE)

    sign_in(chair, "C1-CHAIR", demo_password)
    shoot(chair, artifacts / "laptop-meetings.png")
    enter_meeting(chair, "main_room")
    expect(person(chair, "main", "C1-CHAIR")).to_have_attribute("data-state", "online")

    sign_in(member, "C1-001", demo_password)
    shoot(member, artifacts / "phone-meetings.png")
    enter_meeting(member, "remote")

    # each sees the other, in the right group, online
    expect(person(chair, "remote", "C1-001")).to_have_attribute("data-state", "online")
    expect(person(member, "main", "C1-CHAIR")).to_have_attribute("data-state", "online")
    show_tab(member, "people")
    expect(person(member, "main", "C1-CHAIR").locator(".role-chair")).to_be_visible()
    expect(chair.locator(".roster-summary")).to_have_attribute("data-present", "2")

    # the chair opens the meeting from the room; everyone sees the new state
    expect(member.locator(".room-head [data-state]")).to_have_attribute("data-state", "scheduled")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    expect(member.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    expect(member.locator(".room-head [data-state]")).to_have_text("Open")

    # a chat message from the phone reaches the laptop
    show_tab(member, "chat")
    member.get_by_role("textbox", name="Message").fill("Good afternoon from the ferry")
    member.get_by_role("button", name="Send").click()
    expect(member.locator(".chat-msg.mine .chat-text")).to_have_text("Good afternoon from the ferry")
    expect(chair.locator('.chat-msg[data-member-id="C1-001"] .chat-text')).to_have_text(
        "Good afternoon from the ferry"
    )
    show_tab(chair, "chat")
    chair.get_by_role("textbox", name="Message").fill("Welcome!")
    chair.keyboard.press("Enter")
    expect(member.locator('.chat-msg[data-member-id="C1-CHAIR"] .chat-text')).to_have_text("Welcome!")

    shoot(chair, artifacts / "laptop-room.png")
    shoot(member, artifacts / "phone-room-chat.png")
    show_tab(member, "people")
    shoot(member, artifacts / "phone-room-roster.png")
    chair.set_viewport_size(PHONE)
    shoot(chair, artifacts / "phone-room-chair.png")
    chair.set_viewport_size(LAPTOP)

    # a reload resumes the same participant (no second entry, no new question)
    member.reload()
    expect(member.locator('.link-banner[data-link-state="connected"]')).to_be_visible()
    expect(member.locator(".attend")).to_be_hidden()
    expect(person(member, "remote", "C1-001")).to_have_attribute("data-state", "online")
    expect(person(chair, "remote", "C1-001")).to_have_attribute("data-state", "online")
    expect(chair.locator('.person[data-member-id="C1-001"]')).to_have_count(1)
    expect(member.locator('.chat-msg[data-member-id="C1-CHAIR"] .chat-text')).to_have_text("Welcome!")

    # closing the page: the others see the member reconnecting, then left
    member.close()
    expect(person(chair, "remote", "C1-001")).to_have_attribute("data-state", _one_of("reconnecting", "left"))
    shoot(chair, artifacts / "laptop-room-member-dropped.png")


def _one_of(*values: str) -> re.Pattern[str]:
    return re.compile("^(" + "|".join(re.escape(v) for v in values) + ")$")


def test_sign_in_errors_and_language_choice(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    page = open_page(PHONE)
    page.goto("/#/login")
    page.get_by_label("Member id").fill("C1-002")
    page.locator("#login-password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong member id or password")
    shoot(page, artifacts / "phone-login-error.png")

    # signed out: the choice is kept on this device
    page.locator("#language").select_option("vi")
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")

    # signed in: the choice made before signing in is saved for the member
    page.get_by_label("Mã thành viên").fill("C1-002")
    page.locator("#login-password").fill(demo_password)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cuộc họp của tôi")
    shoot(page, artifacts / "phone-meetings-vi.png")
    status = page.evaluate("fetch('/api/me').then(r => r.json()).then(b => b.member.language)")
    assert status == "vi"
