"""The pages test_vi_browser.py leaves out, in Vietnamese (the demo seeded with
``--demo-lang vi``): the screen-share controls in the room, the minutes page (and the
minutes document in its frame), and the administration pages — members, security alerts,
the organisation, a member's profile and one's own security page. On a phone (390 px)
and a laptop: no string of the English catalog, no English sentence from the server, no
sideways scroll and nothing cut off at the right edge. Screenshots: test-artifacts/vi-*.png.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser/test_vi_pages_browser.py -q'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from meetingd.demo import CONTENT
from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_room_browser import assert_fits, tab
from tests.browser.test_vi_browser import (
    FRAGMENTS,
    STOPWORDS,
    VI,
    assert_vietnamese,
    enter_vi,
    meetingd_url,  # noqa: F401 - the module's server, seeded in Vietnamese
    sign_in_vi,
)

pytestmark = [pytest.mark.browser, pytest.mark.media]
expect.set_options(timeout=15_000)


def cut_off(page: Page) -> list[str]:
    """Visible elements that reach past the right edge of the window (outside a
    container that scrolls sideways on purpose, like the filmstrip or the tabs)."""
    return list(
        page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
            if (!el.getClientRects().length || el.closest('[hidden]')) continue;
            const r = el.getBoundingClientRect();
            if (r.width === 0 || r.right <= width + 1) continue;
            let p = el.parentElement, scrolls = false;
            while (p) {
                const s = getComputedStyle(p);
                if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX)) { scrolls = true; break; }
                p = p.parentElement;
            }
            const name = `${el.tagName.toLowerCase()}.${el.className}`;
            if (!scrolls) out.push(`${name} (${Math.round(r.right)} > ${width})`);
        }
        return out.slice(0, 10);
    }""")
    )


# the English demo's content (cell, site, title, agenda): never on a Vietnamese demo's page
DEMO_ENGLISH = [v for k, v in CONTENT["en"].items() if k != "agenda"] + list(CONTENT["en"]["agenda"])


def english_demo_content(text: str) -> list[str]:
    return [s for s in DEMO_ENGLISH if isinstance(s, str) and s in text]


def check(page: Page, screen: str, artifacts: Path, exclude: str = "") -> None:
    """No English on the page (``exclude``: a part known to hold the server's English,
    named in the report); nothing cut off; no sideways scroll."""
    if exclude:
        page.screenshot(path=str(artifacts / f"vi-{screen}.png"))
        text = page.evaluate(
            """(skip) => {
                const copy = document.body.cloneNode(true);
                for (const el of copy.querySelectorAll(`${skip}, [hidden], script, style`)) el.remove();
                return copy.textContent.replace(/\\bEnglish\\b/g, '');
            }""",
            exclude,
        )
        english = [f for f in FRAGMENTS if f in text] + sorted({m.group(0) for m in STOPWORDS.finditer(text)})
        assert not english, f"{screen}: English on a Vietnamese screen: {english[:10]}"
    else:
        assert_vietnamese(page, screen, artifacts)
    shown = page.evaluate("() => document.body.innerText")
    assert not english_demo_content(shown), f"{screen}: English demo content: {english_demo_content(shown)}"
    assert_fits(page, screen)
    assert not cut_off(page), f"{screen}: cut off at the right edge: {cut_off(page)}"


def server_english_findings(page: Page) -> list[str]:
    """Pieces of the self-check's English sentences (between the facts they are filled
    from) that the Security page shows, in its text or its code."""
    findings = page.evaluate(
        "() => fetch('/api/admin/security/check').then(r => r.json()).then(b => b.findings)"
    )
    assert findings, "the demo's self-check has findings to show"
    expect(page.locator(".findings [data-finding]")).to_have_count(len(findings))
    shown = page.locator(".findings").inner_text()
    pieces = set()
    for f in findings:
        facts = sorted({str(v) for v in f["params"].values()}, key=len, reverse=True)
        for sentence in (f["message"], f["fix"]):
            parts = [sentence]
            for fact in facts:
                parts = [q for part in parts for q in part.split(fact)]
            pieces |= {q for part in parts if len(q := part.strip(" .,:;()'…")) >= 8 and " " in q}
    return sorted(q for q in pieces if q in shown)


def post(page: Page, path: str) -> int:
    """A same-origin POST from the page (the browser sets Origin and the cookie)."""
    return int(
        page.evaluate(
            "p => fetch(p, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})"
            ".then(r => r.status)",
            path,
        )
    )


def test_screen_share_minutes_and_admin_pages_in_vietnamese(
    open_page: Callable[..., Page], demo_password: str, artifacts: Path
) -> None:
    chair = open_page(LAPTOP, locale="vi-VN")
    phone = open_page(PHONE, locale="vi-VN")
    sign_in_vi(chair, "C1-CHAIR", demo_password)
    enter_vi(chair, "main_room")
    chair.locator('.room-head [data-action="open"]').click()
    expect(chair.locator(".room-head [data-state]")).to_have_attribute("data-state", "open")
    sign_in_vi(phone, "C1-001", demo_password)
    enter_vi(phone, "remote")

    # the screen-share controls: the button, the line saying who shares, "stop"
    share = chair.locator('.control-bar [data-action="toggle-share"]')
    expect(share).to_have_text(VI["media.ctl.share"])
    share.click()
    expect(chair.locator(".screen-line")).to_contain_text(VI["media.share.you"])
    expect(phone.locator(".media-area .stage .tile-screen")).to_be_visible()
    expect(phone.locator(".screen-line")).to_be_visible()
    check(chair, "laptop-screen-share", artifacts)
    check(phone, "phone-screen-share", artifacts)
    # a member without the floor is not offered sharing
    expect(phone.locator('.control-bar [data-action="toggle-share"]')).to_be_hidden()
    chair.locator('.screen-line [data-action="stop-share"]').click()
    expect(phone.locator(".screen-line")).to_be_hidden()
    tab(chair, "chair")  # the pairing code and its QR
    chair.locator('.displays-panel [data-action="create-display"]').click()
    expect(chair.locator(".displays-panel img.display-qr")).to_be_visible()
    check(chair, "laptop-display-qr", artifacts)

    # the minutes of the closed meeting, on a laptop and a phone (officers and a member)
    chair.locator('.room-head [data-action="leave"]').click()
    assert post(chair, "/api/meetings/1/close") == 200
    for page, screen in ((chair, "laptop-minutes"), (phone, "phone-minutes")):
        page.goto("/#/meetings")
        page.reload()
        page.locator('[data-meeting-id="1"] [data-action="minutes"]').click()
        expect(page.locator(".minutes-status .officer")).to_have_count(2)
        frame = page.frame_locator(".minutes-frame")
        expect(frame.locator("body")).not_to_be_empty()
        check(page, screen, artifacts)
        document = frame.locator("body").inner_text()
        english = [f for f in FRAGMENTS if f in document] + english_demo_content(document)
        english += sorted({m.group(0) for m in STOPWORDS.finditer(document)})
        assert not english, f"{screen}: English in the minutes document: {english[:10]}"

    # the administration pages, as the chair (an administrator), laptop and phone
    admin_phone = open_page(PHONE, locale="vi-VN")
    sign_in_vi(admin_phone, "C1-CHAIR", demo_password)
    pages = {
        "admin-members": ("/#/admin/members", "#view h1"),
        "admin-security": ("/#/admin/security", "#view h1"),
        "org": ("/#/org", "#view h1"),
        "profile": ("/#/profile/C1-001", "#view h1"),
        "security": ("/#/security", "#view h1"),
    }
    for name, (route, ready) in pages.items():
        for page, device in ((chair, "laptop"), (admin_phone, "phone")):
            page.goto(route)
            expect(page.locator(ready).first).to_be_visible()
            expect(page.locator("#view .loading")).to_have_count(0)  # loaded, not "Đang tải…"
            if name == "admin-security":
                # the self-check's findings, said from their ids and facts: what the page
                # shows as code (paths, commands, settings) is data, not language
                expect(page.locator(".findings .finding .finding-text").first).not_to_be_empty()
                assert not server_english_findings(page), f"{device}: {server_english_findings(page)}"
                # the recent events by name, not by the server's identifiers
                expect(page.locator('#events tr[data-kind="signed_in"]').first).to_be_attached()
                expect(page.locator("#events td code")).to_have_count(0)
            check(page, f"{device}-{name}", artifacts, ".findings code" if name == "admin-security" else "")
