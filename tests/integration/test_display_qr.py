"""The display pairing's QR code: it encodes the page that pairs the device opening it,
and it lives and dies with the code (one use, 10 minutes) — a real server whose clock the
test moves, real HTTP."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import segno

from .conftest import Server, start_server
from .security_helpers import MovableClock


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def server(tmp_path: Path, clock: MovableClock) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path, clock=clock)
    yield srv
    await runner.cleanup()


def modules_of(svg_data_uri: str) -> set[tuple[int, int]]:
    """The dark modules (row, column) drawn by an SVG QR code's path, read back from the
    served picture itself: ``M x y`` moves, ``m dx dy`` moves by, ``h n`` draws n modules."""
    assert svg_data_uri.startswith("data:image/svg+xml")
    svg = urllib.parse.unquote(svg_data_uri.split(",", 1)[1])
    path = re.search(r"\bd=['\"]([^'\"]+)['\"]", svg)
    assert path is not None, svg[:200]
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for op, args in re.findall(r"([MmHh])([-\d.\s]+)", path.group(1)):
        nums = [float(n) for n in args.split()]
        if op == "M":
            x, y = nums
        elif op == "m":
            x, y = x + nums[0], y + nums[1]
        else:
            end = nums[0] if op == "H" else x + nums[0]
            dark.update((int(y), col) for col in range(int(x), int(end)))
            x = end
    return dark


def dark_modules(url: str, border: int) -> set[tuple[int, int]]:
    """What a QR code of ``url`` (error level M) must show, module by module."""
    qr = segno.make(url, error="m")
    return {(r + border, c + border) for r, row in enumerate(qr.matrix) for c, bit in enumerate(row) if bit}


async def pair(server: Server, code: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.url}/api/displays/pair", json={"code": code}, headers={"Origin": server.url}
        ) as r:
            return dict(await r.json())


async def test_the_pairing_qr_encodes_the_pairing_page_and_is_used_once(server: Server, sign_in: Any) -> None:
    chair = await sign_in("C1-CHAIR")
    _, created = await chair.call("POST", "/api/meetings/1/displays", {})
    display = created["display"]
    code = display["code"].replace("-", "")
    # the URL: this server as the chair reached it, the code in the fragment (never sent to a server)
    assert display["pair_url"] == f"{server.url}/#/pair/{code}"
    # the picture shows exactly the QR code of that URL, with the standard quiet zone
    assert modules_of(display["qr"]) == dark_modules(display["pair_url"], border=4)
    assert modules_of(display["qr"]) != dark_modules(f"{server.url}/#/pair/AAAABBBB", border=4)
    # the QR is the code: one use
    code_in_url = display["pair_url"].rsplit("/", 1)[1]
    first = await pair(server, code_in_url)
    assert first["ok"] and first["display"]["state"] == "paired"
    again = await pair(server, code_in_url)
    assert again["error"] == "not_authenticated"
    # listing never shows the code or its QR again
    _, listed = await chair.call("GET", "/api/meetings/1/displays")
    assert all("qr" not in d and "code" not in d for d in listed["displays"])


async def test_a_pairing_qr_expires_with_its_code(server: Server, sign_in: Any, clock: MovableClock) -> None:
    chair = await sign_in("C1-CHAIR")
    _, created = await chair.call("POST", "/api/meetings/1/displays", {})
    code_in_url = created["display"]["pair_url"].rsplit("/", 1)[1]
    clock.advance(10 * 60 + 1)
    expired = await pair(server, code_in_url)
    assert expired["error"] == "not_authenticated"
