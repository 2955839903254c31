"""The display pairing's QR code in headless Chromium: the chair's Chair tab shows it
beside the code; the device that opens the page it names is paired at once (no typing);
the same QR a second time is refused, as its code is (one use).

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser/test_display_qr_browser.py -q'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_room_browser import assert_fits, meetingd_url, tab  # noqa: F401
from tests.browser.test_roster_browser import enter_meeting, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.media]
expect.set_options(timeout=15_000)


def test_a_scanned_pairing_qr_pairs_the_device_once(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(PHONE)
    sign_in(chair, "C1-CHAIR", demo_password)
    enter_meeting(chair, "main_room")
    tab(chair, "chair")
    panel = chair.locator(".displays-panel")
    panel.locator('[data-action="create-display"]').click()
    qr = panel.locator("img.display-qr")
    expect(qr).to_be_visible()
    # the picture loaded (the CSP allows data: images) at a scannable size, square
    size = qr.evaluate("img => [img.naturalWidth, img.naturalHeight, img.clientWidth]")
    assert size[0] == size[1] and size[0] >= 150 and size[2] >= 150, size
    url = qr.get_attribute("data-pair-url")
    code = panel.locator(".display-code-value").get_attribute("data-code")
    assert url and code and url.endswith(f"/#/pair/{code.replace('-', '')}")
    assert_fits(chair, "chair's phone with the pairing QR")
    qr.scroll_into_view_if_needed()
    chair.screenshot(path=str(artifacts / "display-qr-phone.png"))

    # the phone that scanned it opens the page: it is the display now, with no typing
    scanned = open_page(LAPTOP)
    scanned.goto(url)
    expect(scanned.locator(".display")).to_be_visible()
    expect(chair.locator('.display-row[data-state="paired"]')).to_have_count(1)
    # the same QR again: refused, in words
    again = open_page(PHONE)
    again.goto(url)
    expect(again.locator(".pair .form-message.error")).to_contain_text("not valid")
    expect(again.locator(".display")).to_have_count(0)
