"""Simulcast from a publishing Chromium through the real meetingd to a receiving Chromium:
the publisher sends several layers (``outbound-rtp`` with several ``rid``), the server tells
them apart by rid and forwards the receiver the best one its receive profile and link allow,
switching at keyframes without renegotiation (the receiver's ``inbound-rtp`` ``frameWidth``
changes, its m-line stays).

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser/test_media_simulcast_browser.py -q'
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.test_media_lossy_browser import PORTS, contexts, join_pair, meetingd, wait_until
from tests.support.browser_link import BrowserLink
from tests.support.udp_relay import LinkProfile

pytestmark = [pytest.mark.browser, pytest.mark.media]

__all__ = ["contexts"]  # the fixture, imported for this module's tests

# The publisher's video layers as its Chrome sends them: rid -> frame width, frames sent.
OUTBOUND_LAYERS = """async () => {
    const pc = document.querySelector(".media-area").media.publishPc;
    if (!pc) return null;
    const layers = {};
    for (const s of (await pc.getStats()).values()) {
        if (s.type === "outbound-rtp" && s.kind === "video")
            layers[s.rid || ""] = {width: s.frameWidth || 0, frames: s.framesSent || 0,
                                   active: s.active !== false};
    }
    return layers;
}"""

# The video a subscriber gets from one publisher: its width, frames decoded, its m-line.
INBOUND_VIDEO = """async (id) => {
    const media = document.querySelector(".media-area").media;
    const pc = media.subscribePc;
    if (!pc) return null;
    for (const t of pc.getTransceivers()) {
        const entry = t.mid ? media.streams.get(t.mid) : undefined;
        if (!entry || entry.participant_id !== id || entry.kind !== "video") continue;
        for (const s of (await t.receiver.getStats()).values()) {
            if (s.type === "inbound-rtp")
                return {mid: t.mid, width: s.frameWidth || 0, frames: s.framesDecoded || 0,
                        keyframes: s.keyFramesDecoded || 0, ssrc: s.ssrc};
        }
    }
    return null;
}"""

SERVER_STATS = "() => document.querySelector('.media-area').media.link.emit('get_media_stats', {})"
SET_PROFILE = (
    "(p) => document.querySelector('.media-area').media.link.emit('set_receive_profile', {profile: p})"
)


ANSWER_SDP = "() => document.querySelector('.media-area').media.publishPc.remoteDescription.sdp"
CLEAN = LinkProfile(rtt_ms=40)
CAP_KBPS = 250
CAPPED = LinkProfile(rtt_ms=40, rate_kbps=CAP_KBPS, queue_ms=300)


def _inbound(page: Page, publisher: str) -> dict[str, Any]:
    result: dict[str, Any] | None = page.evaluate(INBOUND_VIDEO, publisher)
    return result or {}


def _sent_layers(page: Page) -> dict[str, int]:
    """rid -> frame width of each layer the publisher's Chrome is sending now."""
    layers: dict[str, dict[str, Any]] = page.evaluate(OUTBOUND_LAYERS) or {}
    return {rid: s["width"] for rid, s in layers.items() if s["width"]}


def _width_becomes(page: Page, width: int, timeout: float, what: str) -> float:
    """Wait until the chair's video at ``page`` is ``width`` wide and still decoding; seconds taken."""
    start = time.monotonic()
    frames = _inbound(page, "C1-CHAIR").get("frames", 0)

    def check() -> bool:
        now = _inbound(page, "C1-CHAIR")
        return now.get("width") == width and now.get("frames", 0) > frames

    wait_until(check, timeout=timeout, what=what)
    return time.monotonic() - start


def _my_video(server: dict[str, Any], member: str) -> dict[str, Any]:
    (mine,) = [p for p in server["participants"] if p["participant_id"] == member]
    (video,) = [
        t for t in mine["subscribe"]["tracks"] if t["kind"] == "video" and t["publisher_id"] == "C1-CHAIR"
    ]
    return video


def test_a_simulcast_publisher_s_subscriber_switches_layer_with_its_profile_and_its_estimate(
    contexts: Callable[..., Page], demo_password: str, tmp_path: Path
) -> None:
    link = BrowserLink(CLEAN, PORTS)
    timings: dict[str, float] = {}
    try:
        with meetingd(tmp_path / "simulcast") as url:
            chair, remote = join_pair(contexts, url, demo_password, link)
            # the chair's Chrome sends two layers of its 640x360 camera (a third only from a
            # larger capture), told apart by rid; the answer accepted them
            wait_until(lambda: len(set(_sent_layers(chair).values())) >= 2, what="two layers sent")
            sent = _sent_layers(chair)
            assert sent.get("h") == 640 and sent.get("m") == 320, sent
            answer = chair.evaluate(ANSWER_SDP)
            assert "a=simulcast:recv h;m;l" in answer and "a=rid:h recv" in answer, answer
            assert "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in answer
            # the remote, on a clean link, gets the top layer once its estimate carries it
            timings["up_at_start"] = _width_becomes(remote, 640, 60, "the top layer at the remote")
            first = _inbound(remote, "C1-CHAIR")
            # its profile asks for low video: the lowest layer sent, same m-line, same stream
            assert remote.evaluate(SET_PROFILE, "low_video")["ok"]
            timings["profile_low"] = _width_becomes(remote, 320, 20, "the low layer after low_video")
            assert remote.evaluate(SET_PROFILE, "full")["ok"]
            timings["profile_full"] = _width_becomes(remote, 640, 30, "the top layer after full")
            after = _inbound(remote, "C1-CHAIR")
            assert (after["mid"], after["ssrc"]) == (first["mid"], first["ssrc"]), (first, after)
            server = chair.evaluate(SERVER_STATS)
            video = _my_video(server, "C1-001")
            assert video["layer"] == "h" and video["layer_switches"] >= 2, video
            # its link capped under what the top layer needs: the estimate moves it down
            link.set_profile(CAPPED)
            timings["capped"] = _width_becomes(remote, 320, 40, f"the low layer behind {CAP_KBPS} kbit/s")
            capped = _my_video(chair.evaluate(SERVER_STATS), "C1-001")
            assert capped["layer"] == "m", capped
            (publisher,) = [p for p in server["participants"] if p["participant_id"] == "C1-CHAIR"]
            (published,) = [t for t in publisher["publish"]["tracks"] if t["kind"] == "video"]
            assert [layer["rid"] for layer in published["layers"]] == ["h", "m", "l"], published
            link.set_profile(CLEAN)
            timings["uncapped"] = _width_becomes(remote, 640, 60, "the top layer after the cap lifted")
            final = _inbound(remote, "C1-CHAIR")
            assert (final["mid"], final["ssrc"]) == (first["mid"], first["ssrc"]), (first, final)
            for page in (chair, remote):
                page.locator('.room-head [data-action="leave"]').click()
    finally:
        link.close()
    print(f"\nseconds until the remote's frameWidth changed: {timings}")
