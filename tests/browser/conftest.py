"""Fixtures for the browser tests: the real meetingd process and headless Chromium.

The server comes from ``tests/support/server.py`` (demo data seeded, listening on
127.0.0.1 with an ephemeral port). Chromium is Debian's, driven by Playwright; the
flags are the ones DESIGN.md lists ("How we test").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextmanager
def running_meetingd(data_dir: Path) -> Iterator[str]:
    """Base URL of a real ``meetingd`` process with the demo organisation."""
    from tests.support.server import start_meetingd, stop_meetingd

    base_url, proc = start_meetingd(data_dir)
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


@pytest.fixture(scope="module")
def meetingd_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One meetingd per module (a module whose tests must not share state overrides it)."""
    with running_meetingd(tmp_path_factory.mktemp("meetingd")) as url:
        yield url


@pytest.fixture(scope="session")
def demo_password() -> str:
    from tests.support.server import DEMO_PASSWORD

    return DEMO_PASSWORD


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(browser: Browser, meetingd_url: str) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh browser context (own cookies), at a given viewport.

    JavaScript errors on any page fail the test.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def _open(viewport: dict[str, int] = LAPTOP, locale: str = "en-GB") -> Page:
        context = browser.new_context(viewport=viewport, locale=locale, base_url=meetingd_url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
