"""The meeting room as four people use it at once: the chair on a laptop (1280), a
member in the main room on a phone (390x844), a remote member on a laptop, and the
main-room display. Video first, one-tap microphone and camera (seen in getStats on the
other side), hands on tiles, one attendance count everywhere, no sideways scroll from
360 px up; screenshots of every screen in English and Vietnamese.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser -q -k room'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_media_browser import inbound, wait_until
from tests.browser.test_roster_browser import enter_meeting, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.media]

SMALL_PHONE = {"width": 360, "height": 740}
# facts that cross the server (switches, hands, counts) on a loaded 2-core machine
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """meetingd announcing 127.0.0.1 for media (the namespace has only loopback)."""
    from tests.support.server import start_meetingd, stop_meetingd

    base_url, proc = start_meetingd(
        tmp_path_factory.mktemp("meetingd-room"), env={"MEETINGD_MEDIA_ANNOUNCE_ADDRESSES": "127.0.0.1"}
    )
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


def no_sideways_scroll(page: Page) -> dict[str, int]:
    return page.evaluate("""() => ({scroll: document.documentElement.scrollWidth,
                                    client: document.documentElement.clientWidth})""")


def assert_fits(page: Page, what: str) -> None:
    size = no_sideways_scroll(page)
    assert size["scroll"] == size["client"], f"{what}: sideways scroll {size}"


def tab(page: Page, name: str) -> None:
    button = page.locator(f'.room-main .tab[data-tab="{name}"]')
    button.click()
    expect(button).to_have_attribute("aria-selected", "true")
    if name != "video":  # the Video tab is the stage's filmstrip or grid, no panel
        expect(page.locator(f'.room-main [data-panel="{name}"]')).to_be_visible()


def pair_display(chair: Page, display: Page) -> None:
    """The chair creates a one-time code (Chair tab); the projector, signed in as nobody, types it."""
    tab(chair, "chair")
    panel = chair.locator(".displays-panel")
    panel.locator('[data-action="create-display"]').click()
    code = panel.locator(".display-code-value").get_attribute("data-code")
    assert code
    display.goto("/#/pair")
    display.locator("#pair-code").fill(code.lower().replace("-", " "))
    display.locator(".pair button[type='submit']").click()
    expect(display.locator(".display")).to_be_visible()


def remote_tile(page: Page, member_id: str) -> Any:
    return page.locator(f'.media-area .tile[data-member-id="{member_id}"]')


def counts(page: Page) -> dict[str, Any]:
    """Every present count the page shows: quorum bar, People tab, roster summary."""
    return page.evaluate("""() => {
        const q = document.querySelector('.quorum-counts')?.textContent || '';
        return {quorum: (q.match(/\\d+/) || [''])[0],
                tab: document.querySelector('.tab[data-tab="people"] .tab-count')?.dataset.present,
                roster: document.querySelector('.roster-summary')?.dataset.present};
    }""")


def assert_counts_agree(page: Page, present: int) -> None:
    wait_until(
        lambda: counts(page) == {"quorum": str(present), "tab": str(present), "roster": str(present)},
        10,
        what=f"all counts at {present}: {counts(page)}",
    )


def top_of_stage(page: Page) -> float:
    box = page.locator(".media-area .stage").bounding_box()
    assert box is not None
    return box["y"]


def test_four_browsers_video_first_switches_counts_and_layouts(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    phone = open_page(PHONE)
    remote = open_page(LAPTOP)
    display = open_page(LAPTOP)

    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")

    # the phone in the room joins with microphone and camera off, and says why
    sign_in(phone, "C1-001", demo_password)
    enter_meeting(phone, "main_room")
    expect(phone.locator(".media-note")).to_be_visible()
    expect(phone.locator('[data-action="toggle-mic"]')).to_have_attribute("data-on", "false")
    expect(phone.locator('[data-action="toggle-camera"]')).to_have_attribute("data-on", "false")
    expect(phone.locator(".tile-mine")).to_have_attribute("data-mic", "off")

    sign_in(remote, "C1-002", demo_password)
    enter_meeting(remote, "remote")
    # the projector is not a person: it pairs with a code, signed in as nobody
    pair_display(chair, display)
    expect(chair.locator('.display-row[data-state="paired"]')).to_have_count(1)
    # the chair's trustee panel (same tab) loaded after the join, with no leftover error
    expect(chair.locator(".trustee-panel")).to_have_attribute("data-key", "none")
    expect(chair.locator(".trustee-panel > .form-message")).to_have_text("")

    # video first: the stage starts near the top on the laptop and the phone
    wait_until(lambda: inbound(chair, "C1-002")["frames"] > 10, what="the remote member's video at the chair")
    chair.screenshot(path=str(artifacts / "room-laptop-chair-first.png"))
    phone.screenshot(path=str(artifacts / "room-phone-first.png"))
    assert top_of_stage(chair) < 260
    assert top_of_stage(phone) < 260
    # the stage's caption keeps the name whole on the phone (its link bars once took 187 px)
    for page in (chair, phone):
        name = page.locator(".media-area .stage .tile-name").first
        assert name.evaluate("el => el.scrollWidth <= el.clientWidth"), name.inner_text()
    expect(chair.locator('.media-area .stage .tile[data-member-id="C1-002"]')).to_be_visible()

    # others see the phone's switches on its tile; no audio comes from it yet
    expect(remote_tile(chair, "C1-001")).to_have_attribute("data-mic", "off")
    expect(remote_tile(chair, "C1-001")).to_have_attribute("data-camera", "off")
    assert inbound(chair, "C1-001")["audio"] == 0

    # one tap unmutes: the chair receives its audio (getStats)
    phone.locator('[data-action="toggle-mic"]').click()
    expect(phone.locator('[data-action="toggle-mic"]')).to_have_attribute("data-on", "true")
    expect(remote_tile(chair, "C1-001")).to_have_attribute("data-mic", "on")
    wait_until(lambda: inbound(chair, "C1-001")["audio"] > 20, what="the phone's audio at the chair")
    # ... and the camera: its frames arrive
    phone.locator('[data-action="toggle-camera"]').click()
    expect(remote_tile(chair, "C1-001")).to_have_attribute("data-camera", "on")
    wait_until(lambda: inbound(chair, "C1-001")["frames"] > 10, what="the phone's video at the chair")

    # the keyboard on a laptop: V turns the camera off, M mutes; the frames and packets stop
    remote.locator("body").click(position={"x": 5, "y": 300})
    remote.keyboard.press("v")
    expect(remote.locator('[data-action="toggle-camera"]')).to_have_attribute("data-on", "false")
    expect(remote_tile(chair, "C1-002")).to_have_attribute("data-camera", "off")
    remote.keyboard.press("m")
    expect(remote_tile(chair, "C1-002")).to_have_attribute("data-mic", "off")

    def stopped(kind: str) -> bool:
        before = inbound(chair, "C1-002")[kind]
        chair.wait_for_timeout(1200)
        return inbound(chair, "C1-002")[kind] == before

    wait_until(lambda: stopped("frames"), 15, what="the remote camera to stop sending")
    wait_until(lambda: stopped("audio"), 15, what="the remote microphone to stop sending")
    remote.keyboard.press("m")
    audio = inbound(chair, "C1-002")["audio"]
    wait_until(lambda: inbound(chair, "C1-002")["audio"] > audio + 20, what="audio again after M")

    # a raised hand shows on the tile, for the chair
    phone.locator('[data-action="toggle-hand"]').click()
    expect(remote_tile(chair, "C1-001")).to_have_attribute("data-hand", "true")
    expect(phone.locator(".tile-mine")).to_have_attribute("data-hand", "true")

    # the chair sets a speaking time and gives the floor: a countdown on every screen
    tab(chair, "speakers")
    chair.locator("#speaking-limit").select_option("60")
    chair.locator('.queue-entry[data-entry-id="member:C1-001"] [data-action="give-floor"]').click()
    for page, where in ((phone, ".bar-speaker"), (chair, ".floor"), (display, ".board-speaker")):
        clock = page.locator(f"{where} .floor-time")
        expect(clock).to_have_attribute("data-floor-state", "ok")
        expect(clock).to_contain_text("left")
    # the floor holder goes on the stage
    expect(chair.locator('.media-area .stage .tile[data-member-id="C1-001"]')).to_be_visible()

    # one attendance truth: the secretary-less chair checks a member in who has no
    # device; quorum bar, People tab and roster agree, on every screen
    tab(chair, "people")
    row = chair.locator('.checkin-row[data-member-id="C1-003"]')
    row.locator('[data-action="check-in"]').click()
    expect(row.locator(".chip-in")).to_be_visible()
    # a connected member is not offered "Check in"
    expect(chair.locator('.checkin-row[data-member-id="C1-002"] [data-action="check-in"]')).to_have_count(0)
    # checked in, no device: shown present, where they attend
    expect(chair.locator('[data-group="main"] .person[data-member-id="C1-003"]')).to_have_attribute(
        "data-state", "checked_in"
    )
    for page in (chair, phone, remote):
        assert_counts_agree(page, 4)
    # the display shows the meeting (a remote member large), and is in no roster
    wait_until(lambda: inbound(display, "C1-001", ".display")["frames"] > 10, what="video on the display")
    expect(chair.locator('.person[data-member-id^="display"]')).to_have_count(0)

    # layouts: no sideways scroll at 360, 390 and 1280; the top bar is one row
    for page, name in ((chair, "chair"), (phone, "phone"), (remote, "remote")):
        for size in (SMALL_PHONE, PHONE, LAPTOP):
            page.set_viewport_size(size)
            for t in (
                ("video", "speakers", "vote", "chat", "people")
                if size != LAPTOP
                else ("speakers", "vote", "chat", "people")
            ):
                tab(page, t)
                assert_fits(page, f"{name} at {size['width']} on {t}")
            bar = page.locator(".topbar").bounding_box()
            assert bar is not None and bar["height"] < 60, f"{name} top bar wraps at {size['width']}"
    phone.set_viewport_size(PHONE)
    remote.set_viewport_size(LAPTOP)
    chair.set_viewport_size(LAPTOP)

    # targets: every button on the phone is at least 44 px high
    small = phone.evaluate("""() => [...document.querySelectorAll('button, .tab, summary, select, input')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => [el.getAttribute('data-action') || el.className || el.tagName,
                      el.getBoundingClientRect().height])
        .filter(([, h]) => h < 43.5)""")
    assert not small, f"touch targets under 44 px on the phone: {small}"

    shoot_all(chair, phone, remote, display, artifacts, "en")
    for page in (chair, phone, remote):
        page.locator("#language").select_option("vi")
    expect(phone.locator('.room-main .tab[data-tab="speakers"] [data-i18n]')).to_have_text("Phát biểu")
    shoot_all(chair, phone, remote, display, artifacts, "vi")
    for page in (chair, phone, remote):
        page.locator("#language").select_option("en")

    # the chair revokes the display: it is told, and asks for a new code
    tab(chair, "chair")
    chair.locator('.display-row[data-state="paired"] [data-action="revoke-display"]').click()
    expect(chair.locator('.display-row[data-state="paired"]')).to_have_count(0)
    chair.screenshot(path=str(artifacts / "room-laptop-chair-revoked-en.png"))
    expect(display.locator("#pair-code")).to_be_visible(timeout=15_000)
    display.screenshot(path=str(artifacts / "room-display-revoked-en.png"))


def shoot_all(chair: Page, phone: Page, remote: Page, display: Page, artifacts: Path, lang: str) -> None:
    for page, who in ((chair, "chair"), (remote, "remote")):
        for t in ("speakers", "vote", "chat", "people") + (("chair",) if who == "chair" else ()):
            tab(page, t)
            page.screenshot(path=str(artifacts / f"room-laptop-{who}-{t}-{lang}.png"))
    for t in ("video", "speakers", "vote", "chat", "people"):
        tab(phone, t)
        phone.screenshot(path=str(artifacts / f"room-phone-{t}-{lang}.png"))
    phone.set_viewport_size(SMALL_PHONE)
    for t in ("video", "vote", "people"):
        tab(phone, t)
        phone.screenshot(path=str(artifacts / f"room-phone360-{t}-{lang}.png"))
    name = phone.locator(".media-area .stage .tile-name").first
    assert name.evaluate("el => el.scrollWidth <= el.clientWidth"), f"cut at 360 px: {name.inner_text()}"
    phone.set_viewport_size(PHONE)
    tab(chair, "speakers")
    for size, name in ((PHONE, "phone"), (SMALL_PHONE, "phone360")):
        chair.set_viewport_size(size)
        for t in ("video", "chair", "people"):
            tab(chair, t)
            chair.screenshot(path=str(artifacts / f"room-{name}-chair-{t}-{lang}.png"))
    chair.set_viewport_size(LAPTOP)
    tab(chair, "chair")
    display.screenshot(path=str(artifacts / f"room-display-{lang}.png"))


def test_a_second_device_asks_before_taking_the_video_and_keeps_the_attendance(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    phone = open_page(PHONE)
    laptop = open_page(LAPTOP)
    sign_in(chair, "C1-SEC", demo_password)  # fresh: the chair of the test above is in its grace
    enter_meeting(chair, "main_room")
    sign_in(phone, "C1-005", demo_password)
    enter_meeting(phone, "remote")
    wait_until(lambda: inbound(chair, "C1-005")["frames"] > 10, what="the phone's video")

    # the same member opens the meeting on a laptop: no question about attendance, still remote
    sign_in(laptop, "C1-005", demo_password)
    laptop.goto("/#/meeting/1")
    expect(laptop.locator(".room-me")).to_contain_text("remotely")
    expect(laptop.locator(".attend")).to_be_hidden()
    take = laptop.locator('[data-action="take-over"]')
    expect(take).to_be_visible()
    laptop.screenshot(path=str(artifacts / "room-laptop-second-device-en.png"))
    # the phone keeps its media until the member says yes on the laptop
    frames = inbound(chair, "C1-005")["frames"]
    wait_until(lambda: inbound(chair, "C1-005")["frames"] > frames + 10, what="the phone still sending")
    expect(phone.locator('.media-status[data-media-state="connected"]')).to_be_visible()
    expect(chair.locator('.person[data-member-id="C1-005"]')).to_have_attribute("data-state", "online")
    take.click()
    expect(phone.locator('[data-action="take-over"]')).to_be_visible(timeout=15_000)
    expect(laptop.locator('.media-status[data-media-state="connected"]')).to_be_visible(timeout=20_000)
    phone.screenshot(path=str(artifacts / "room-phone-moved-en.png"))
    # the laptop's camera now reaches the chair; the member still attends remotely
    frames = inbound(chair, "C1-005")["frames"]
    wait_until(lambda: inbound(chair, "C1-005")["frames"] > frames + 10, what="the laptop's video")
    expect(laptop.locator(".room-me")).to_contain_text("remotely")
