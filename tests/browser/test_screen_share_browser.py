"""Screen sharing in headless Chromium: a remote member who has the floor shares a screen
(``getDisplayMedia``: ``--use-fake-ui-for-media-stream`` picks the screen, the fake device
paints it); the chair's laptop, a phone in the main room and the paired main-room display
show it large and decode its frames (getStats); the chair stops it.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser/test_screen_share_browser.py -q'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_media_browser import wait_until
from tests.browser.test_room_browser import assert_fits, meetingd_url, pair_display, tab  # noqa: F401
from tests.browser.test_roster_browser import enter_meeting, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.media]
expect.set_options(timeout=15_000)


def screen_frames(page: Page, member_id: str, root: str = ".media-area") -> int:
    """framesDecoded of that member's shared screen, from getStats."""
    return int(
        page.evaluate(
            """async ([root, id]) => {
                const s = await document.querySelector(root).media.inboundStats(id);
                return s.screen ? (s.screen.framesDecoded || 0) : 0;
            }""",
            [root, member_id],
        )
    )


def assert_screen_advances(page: Page, member_id: str, root: str = ".media-area") -> None:
    wait_until(lambda: screen_frames(page, member_id, root) > 5, 20, what=f"{member_id}'s screen frames")
    before = screen_frames(page, member_id, root)
    advanced = f"{member_id}'s screen to advance"
    wait_until(lambda: screen_frames(page, member_id, root) >= before + 5, 20, what=advanced)


def test_the_floor_holder_shares_a_screen_everyone_sees_it_large_and_the_chair_stops_it(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair, remote, phone, display = open_page(LAPTOP), open_page(LAPTOP), open_page(PHONE), open_page(LAPTOP)
    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    sign_in(remote, "C1-002", demo_password)
    enter_meeting(remote, "remote")
    sign_in(phone, "C1-001", demo_password)
    enter_meeting(phone, "main_room")
    pair_display(chair, display)

    share = remote.locator('.control-bar [data-action="toggle-share"]')
    # a member without the floor is not offered sharing (the server refuses it too)
    expect(remote.locator('.control-bar [data-action="toggle-hand"]')).to_be_visible()
    expect(share).to_be_hidden()
    remote.locator('.control-bar [data-action="toggle-hand"]').click()
    tab(chair, "speakers")
    chair.locator('.queue-entry[data-entry-id="member:C1-002"] [data-action="give-floor"]').click()
    expect(share).to_be_visible()
    expect(share).to_have_attribute("aria-pressed", "false")
    share.click()

    # the sharer sees a clear indicator and a stop control
    expect(share).to_have_attribute("aria-pressed", "true")
    expect(remote.locator(".screen-line")).to_contain_text("You are sharing your screen")
    expect(remote.locator('.screen-line [data-action="stop-share"]')).to_be_visible()
    # everyone's stage shows it large, the display's too, and its frames are decoded
    for page in (chair, phone):
        expect(page.locator('.media-area .stage .tile-screen[data-screen-of="C1-002"]')).to_be_visible()
        expect(page.locator(".screen-line")).to_contain_text("is sharing their screen")
    expect(display.locator('.display-stage .tile-screen[data-screen-of="C1-002"]')).to_be_visible()
    assert_screen_advances(chair, "C1-002")
    assert_screen_advances(phone, "C1-002")
    assert_screen_advances(display, "C1-002", ".display")
    # only the chair (and the sharer) get "Stop sharing"
    expect(phone.locator('.screen-line [data-action="stop-share"]')).to_have_count(0)
    wait_until(
        lambda: chair.evaluate("() => document.querySelector('.stage .tile-screen video').videoWidth") > 0,
        what="the screen playing on the chair's stage",
    )
    assert_fits(phone, "phone with a shared screen")
    chair.screenshot(path=str(artifacts / "screen-share-laptop-chair.png"))
    phone.screenshot(path=str(artifacts / "screen-share-phone.png"))
    display.screenshot(path=str(artifacts / "screen-share-display.png"))

    # the chair stops it: the sharer's screen is released, every stage goes back
    chair.locator('.screen-line [data-action="stop-share"]').click()
    expect(share).to_have_attribute("aria-pressed", "false")
    for page in (chair, phone, remote):
        expect(page.locator(".screen-line")).to_be_hidden()
        expect(page.locator(".media-area .stage .tile-screen")).to_have_count(0)
    expect(display.locator(".display-stage .tile-screen")).to_have_count(0)
    assert remote.evaluate("() => document.querySelector('.media-area').media.screenPc === null")
