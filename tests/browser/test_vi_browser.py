"""Every screen of the meeting in Vietnamese, with the demo seeded in Vietnamese
(``--demo-lang vi``): no string of the English catalog and no English sentence from the
server may show — in the text, or in titles, labels and placeholders.

Screens: sign-in, my meetings, the room on a laptop (chair: every tab) and on a phone
(member: every tab), an open vote and its receipt, a closed vote's outcome, the
projector's pairing form and the paired display. (The minutes and administration pages
belong to other issues.) Screenshots go to test-artifacts/vi-*.png.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_room_browser import pair_display, tab

pytestmark = [pytest.mark.browser, pytest.mark.media]

ROOT = Path(__file__).resolve().parents[2]
EN = json.loads((ROOT / "web" / "i18n" / "en.json").read_text(encoding="utf-8"))
VI = json.loads((ROOT / "web" / "i18n" / "vi.json").read_text(encoding="utf-8"))
# English words that never occur in Vietnamese text
STOPWORDS = re.compile(r"\b(the|and|of|your|you|is|are|not|with|this|that|from|for|has|have|was)\b", re.I)


@pytest.fixture(scope="module")
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.support.server import start_meetingd, stop_meetingd

    base_url, proc = start_meetingd(
        tmp_path_factory.mktemp("meetingd-vi"),
        "--demo-lang",
        "vi",
        env={"MEETINGD_MEDIA_ANNOUNCE_ADDRESSES": "127.0.0.1"},
    )
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


def english_fragments() -> list[str]:
    """Pieces of English catalog strings (between placeholders) that Vietnamese lacks."""
    out = set()
    for key, text in EN.items():
        if VI.get(key) == text:
            continue  # the same in both (a name, "Video")
        for piece in re.split(r"\{[^}]*\}", text):
            piece = piece.strip(" .,:;·()!?\u2014\u2013\u2026")
            if len(piece) >= 8 and " " in piece:
                out.add(piece)
    return sorted(out, key=len, reverse=True)


FRAGMENTS = english_fragments()


def visible_text(page: Page) -> str:
    return page.evaluate("""() => {
        const parts = [document.body.innerText];
        for (const el of document.querySelectorAll('[title], [aria-label], [placeholder]')) {
            if (el.closest('[hidden]')) continue;
            for (const a of ['title', 'aria-label', 'placeholder']) {
                const v = el.getAttribute(a);
                if (v) parts.push(v);
            }
        }
        // the language picker names the other language in its own tongue
        return parts.join('\\n').replace(/\\bEnglish\\b/g, '');
    }""")


def assert_vietnamese(page: Page, screen: str, artifacts: Path) -> None:
    page.screenshot(path=str(artifacts / f"vi-{screen}.png"))
    text = visible_text(page)
    found = [f for f in FRAGMENTS if f in text]
    words = sorted({m.group(0) for m in STOPWORDS.finditer(text)})
    assert not found and not words, f"{screen}: English on a Vietnamese screen: {found[:5]} {words[:10]}"


def sign_in_vi(page: Page, member_id: str, password: str) -> None:
    page.goto("/#/login")
    page.locator("#language").select_option("vi")
    page.locator("#login-member-id").fill(member_id)
    page.locator("#login-password").fill(password)
    page.locator("form button[type='submit']").click()
    expect(page.locator("#nav")).to_be_visible()


def enter_vi(page: Page, attendance: str) -> None:
    page.goto("/#/meetings")
    page.locator('[data-meeting-id="1"] [data-action="enter"]').click()
    page.locator(f"#attend-{attendance}").check()
    page.locator(".attend button[type='submit']").click()
    expect(page.locator('.link-banner[data-link-state="connected"]')).to_be_attached()


def test_every_screen_in_vietnamese_shows_no_english(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP, locale="vi-VN")
    phone = open_page(PHONE, locale="vi-VN")
    display = open_page(LAPTOP, locale="vi-VN")

    phone.goto("/#/login")
    phone.locator("#language").select_option("vi")
    expect(phone.locator("h1")).to_have_text("Đăng nhập")
    assert_vietnamese(phone, "phone-login", artifacts)

    sign_in_vi(chair, "C1-CHAIR", demo_password)
    assert_vietnamese(chair, "laptop-meetings", artifacts)
    enter_vi(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    sign_in_vi(phone, "C1-001", demo_password)
    assert_vietnamese(phone, "phone-meetings", artifacts)
    enter_vi(phone, "remote")

    for name in ("speakers", "vote", "chat", "people", "chair"):
        tab(chair, name)
        assert_vietnamese(chair, f"laptop-chair-{name}", artifacts)
    for name in ("video", "speakers", "vote", "chat", "people"):
        tab(phone, name)
        assert_vietnamese(phone, f"phone-{name}", artifacts)

    # the projector: its pairing form, then the paired display
    display.goto("/#/pair")
    display.locator("#language").select_option("vi")
    expect(display.locator("h1")).to_have_text(VI["pair.title"])
    expect(display.locator(".skip-link")).to_have_text(VI["app.skip_to_content"])
    assert_vietnamese(display, "display-pair", artifacts)
    pair_display(chair, display)
    assert_vietnamese(display, "display", artifacts)

    # a vote: open, cast (the receipt), closed (the outcome and its rule)
    tab(chair, "chair")
    console = chair.locator(".chair-console")
    console.locator('.agenda-item[data-position="1"] [data-action="start-item"]').click()
    console.locator('[data-action="new-poll"]').click()
    console.locator("#poll-question").fill("Thông qua chương trình họp?")
    console.locator('[data-action="create-poll"]').click()
    console.locator('.poll-card[data-state="draft"] [data-action="open-poll"]').first.click()
    override = console.locator('[data-action="open-override"]')
    if override.count():
        override.click()
    card = phone.locator('.vote-card[data-state="open"]')
    expect(card).to_be_visible()
    assert_vietnamese(phone, "phone-vote-open", artifacts)
    card.locator('.vote-option[data-option="yes"]').click()
    card.locator('[data-action="confirm-vote"]').click()
    expect(card.locator(".vote-done")).to_be_visible()
    assert_vietnamese(phone, "phone-vote-receipt", artifacts)
    assert_vietnamese(chair, "laptop-chair-vote-running", artifacts)
    chair.locator('.chair-console .poll-card[data-state="open"] [data-action="close-poll"]').click()
    chair.locator('.chair-console .poll-card[data-state="open"] [data-action="close-confirm"]').click()
    expect(phone.locator('.vote-card[data-state="closed"] .outcome')).to_be_visible()
    assert_vietnamese(phone, "phone-vote-closed", artifacts)
    assert_vietnamese(display, "display-result", artifacts)
    tab(chair, "chair")
    assert_vietnamese(chair, "laptop-chair-vote-closed", artifacts)
