"""Three headless Chromiums with fake camera/microphone see and hear each other through
the real meetingd process; one switches to sound only, one leaves; the main-room display.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser -q -k media'

Screenshots (room at laptop and phone size, the display) go to test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_roster_browser import enter_meeting, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.media]


@pytest.fixture(scope="module")
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """meetingd announcing 127.0.0.1 for media (the namespace has only loopback)."""
    from tests.support.server import start_meetingd, stop_meetingd

    base_url, proc = start_meetingd(
        tmp_path_factory.mktemp("meetingd-media"), env={"MEETINGD_MEDIA_ANNOUNCE_ADDRESSES": "127.0.0.1"}
    )
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


def tile(page: Page, member_id: str) -> Any:
    """A participant's tile, on the stage or in the filmstrip/grid."""
    return page.locator(f'.media-area .tile[data-member-id="{member_id}"]')


def inbound(page: Page, member_id: str, root: str = ".media-area") -> dict[str, Any]:
    """framesDecoded of that publisher's video and packetsReceived of its audio, from getStats."""
    return page.evaluate(
        """async ([root, id]) => {
            const s = await document.querySelector(root).media.inboundStats(id);
            return {frames: s.video ? (s.video.framesDecoded || 0) : 0,
                    width: s.video ? (s.video.frameWidth || 0) : 0,
                    audio: s.audio ? (s.audio.packetsReceived || 0) : 0};
        }""",
        [root, member_id],
    )


def video_width(page: Page, member_id: str, container: str = ".media-area") -> int:
    return page.evaluate(
        """([c, id]) => {
            const v = document.querySelector(`${c} .tile[data-member-id="${id}"] video`);
            return v ? v.videoWidth : 0;
        }""",
        [container, member_id],
    )


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def assert_video_advances(page: Page, member_id: str, root: str = ".media-area") -> None:
    wait_until(lambda: inbound(page, member_id, root)["frames"] > 10, what=f"{member_id} video")
    before = inbound(page, member_id, root)["frames"]
    wait_until(
        lambda: inbound(page, member_id, root)["frames"] >= before + 10, what=f"{member_id} video to advance"
    )


def test_three_browsers_see_each_other_switch_to_sound_and_leave(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP)
    alice = open_page(PHONE)
    bob = open_page(LAPTOP)
    for page, who, how in (
        (chair, "C1-CHAIR", "main_room"),
        (alice, "C1-001", "remote"),
        (bob, "C1-002", "remote"),
    ):
        sign_in(page, who, demo_password)
        enter_meeting(page, how)
        expect(page.locator('.media-status[data-media-state="connected"]')).to_be_visible(timeout=20_000)
        if how == "main_room":  # the room's computer starts muted, camera off: turn both on
            page.locator('[data-action="toggle-camera"]').click()
            page.locator('[data-action="toggle-mic"]').click()
            expect(page.locator('[data-action="toggle-mic"]')).to_have_attribute("data-on", "true")

    # everyone sees everyone else's video advancing
    pairs = [
        (chair, "C1-001"),
        (chair, "C1-002"),
        (alice, "C1-CHAIR"),
        (alice, "C1-002"),
        (bob, "C1-CHAIR"),
        (bob, "C1-001"),
    ]
    for page, other in pairs:
        expect(tile(page, other)).to_be_visible(timeout=20_000)
        assert_video_advances(page, other)
        wait_until(lambda p=page, o=other: video_width(p, o) > 0, what="videoWidth > 0")
    wait_until(
        lambda: (
            chair.locator('.tile[data-member-id="C1-001"] .tile-quality[data-quality="good"]').count() == 1
        ),
        what="a quality indicator",
    )
    chair.locator('[data-action="media-settings"]').click()
    chair.screenshot(path=str(artifacts / "media-room-laptop.png"), full_page=True)
    alice.screenshot(path=str(artifacts / "media-room-phone.png"), full_page=True)

    # the main-room display (the secretary signs in on the projector)
    display = open_page({"width": 1280, "height": 720})
    sign_in(display, "C1-SEC", demo_password)
    display.goto("/#/display/1")
    expect(display.locator(".display-stage .tile")).to_be_visible(timeout=20_000)
    stage_id = display.locator(".display-stage").get_attribute("data-member-id")
    assert stage_id in ("C1-001", "C1-002")
    wait_until(lambda: inbound(display, stage_id, ".display")["frames"] > 10, what="display video")
    wait_until(lambda: video_width(display, stage_id, ".display-stage") > 0, what="stage video")
    # the chair spotlights bob: he goes on the stage
    chair.locator('.tile[data-member-id="C1-002"] [data-action="spotlight"]').click()
    expect(display.locator(".display-stage")).to_have_attribute("data-member-id", "C1-002")
    wait_until(lambda: video_width(display, "C1-002", ".display-stage") > 0, what="spotlit video")
    expect(display.locator('.display-grid .tile[data-member-id="C1-001"]')).to_be_visible()
    expect(display.locator(".topbar")).to_be_hidden()
    time.sleep(1.0)  # let the videos paint for the screenshot
    display.screenshot(path=str(artifacts / "media-display.png"))

    # the chair mutes alice: everyone sees the muted mark
    chair.locator('.tile[data-member-id="C1-001"] [data-action="mute"]').click()
    expect(bob.locator('.tile[data-member-id="C1-001"] .tile-muted')).to_be_visible()
    expect(alice.locator(".tile-mine .tile-muted")).to_be_visible()
    chair.locator('.tile[data-member-id="C1-001"] [data-action="unmute"]').click()
    expect(bob.locator('.tile[data-member-id="C1-001"] .tile-muted')).to_be_hidden()

    # bob switches to sound only: his inbound video stops, audio continues
    bob.locator('[data-action="media-settings"]').click()
    bob.locator("#media-profile").select_option("audio_only")

    def video_stopped() -> bool:  # frames already in flight drain first
        before = inbound(bob, "C1-CHAIR")["frames"]
        time.sleep(1.0)
        return inbound(bob, "C1-CHAIR")["frames"] <= before + 1

    wait_until(video_stopped, what="inbound video to stop")
    first = inbound(bob, "C1-CHAIR")
    time.sleep(2.0)
    second = inbound(bob, "C1-CHAIR")
    assert second["frames"] <= first["frames"] + 2, (first, second)
    assert second["audio"] > first["audio"] + 50, (first, second)
    expect(bob.locator('.tile[data-member-id="C1-CHAIR"] video')).to_be_hidden()
    bob.locator("#media-profile").select_option("full")
    assert_video_advances(bob, "C1-CHAIR")

    # alice leaves: her tile disappears for the others (and from the display)
    alice.locator('.room-head [data-action="leave"]').click()
    for page in (chair, bob):
        expect(tile(page, "C1-001")).to_have_count(0, timeout=15_000)
    expect(display.locator('.tile[data-member-id="C1-001"]')).to_have_count(0, timeout=15_000)
    assert_video_advances(chair, "C1-002")
