"""Alerts raised by scripted attacks — a password spray, one member in two places, a
replayed connect token — appear live on the administrators' security page, and are
handled there. The real meetingd process, headless Chromium."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
import socketio
from playwright.sync_api import expect

from tests.browser.test_security_browser import password_step

pytestmark = pytest.mark.browser


async def _attacks(base: str, password: str) -> None:
    origin = {"Origin": base}
    async with aiohttp.ClientSession() as http:  # a password spray from one address
        for victim in ("C1-001", "C1-002", "C1-003", "C1-004", "C1-005"):
            async with http.post(
                f"{base}/api/login", json={"member_id": victim, "password": "Autumn2026!"}, headers=origin
            ) as r:
                assert r.status == 401

    async def member_socket(local: str) -> tuple[aiohttp.ClientSession, socketio.AsyncClient, str]:
        http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=(local, 0)), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        async with http.post(
            f"{base}/api/login", json={"member_id": "C1-006", "password": password}, headers=origin
        ) as r:
            assert r.status == 200
        async with http.post(f"{base}/api/socket-token", headers=origin) as r:
            token = (await r.json())["token"]
        sio = socketio.AsyncClient(reconnection=False, http_session=http)
        await sio.connect(
            base, namespaces=["/meeting"], transports=["websocket"], auth={"token": token}, headers=origin
        )
        return http, sio, token

    h1, s1, token = await member_socket("127.0.0.1")  # one member in two places
    h2, s2, _ = await member_socket("127.0.0.2")
    replay = socketio.AsyncClient(reconnection=False)  # a replayed connect token
    with pytest.raises(socketio.exceptions.ConnectionError):
        await replay.connect(
            base, namespaces=["/meeting"], transports=["websocket"], auth={"token": token}, headers=origin
        )
    for sio in (s1, s2, replay):
        await sio.disconnect()
    for http in (h1, h2):
        await http.close()


def test_scripted_attacks_appear_live_on_the_admin_page(open_page, meetingd_url, demo_password) -> None:
    page = open_page()
    password_step(page, "C1-SEC", demo_password)  # not an admin: no such page
    expect(page.locator("#nav")).to_be_visible()
    expect(page.locator('[data-route="admin-security"]')).to_be_hidden()
    admin = open_page()
    password_step(admin, "C1-CHAIR", demo_password)
    expect(admin.locator("#nav")).to_be_visible()
    admin.goto("/#/admin/security")
    expect(admin.locator('#alerts-live[data-state="live"]')).to_be_visible()
    expect(admin.locator('[data-finding="demo_password"]')).to_be_visible()

    # Playwright's sync API holds this thread's event loop: attack from another thread
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _attacks(meetingd_url, demo_password)).result(timeout=60)

    for rule, text in (
        ("password_spray", "Password spray: 5 accounts"),
        ("member_in_two_places", "C1-006 is connected from two addresses"),
        ("token_reuse", "A connect token of C1-006 was used again"),
    ):
        expect(admin.locator(f'li.alert[data-rule="{rule}"]')).to_contain_text(text)
    spray = admin.locator('li.alert[data-rule="password_spray"]')
    spray.locator('[data-action="acknowledge"]').click()
    expect(spray).to_have_attribute("data-state", "acknowledged")
    expect(spray).to_contain_text("acknowledged by C1-CHAIR")
