"""transport-cc from the server to a publishing Chromium behind a capped link (the user-space
relay, tests/support/browser_link.py): Chrome's send-side estimate sees the cap and the
loss, because the server sends it transport feedback; and the same Chrome, receiving, sends
the server the feedback its downlink estimate comes from.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser/test_media_twcc_browser.py -q -s'
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.test_media_lossy_browser import PORTS, contexts, join_pair, meetingd
from tests.support.browser_link import BrowserLink
from tests.support.udp_relay import LinkProfile

pytestmark = [pytest.mark.browser, pytest.mark.media]

__all__ = ["contexts"]  # the fixture, imported for this module's tests

CAP_KBPS = 300
CAPPED = LinkProfile(rtt_ms=100, rate_kbps=CAP_KBPS, queue_ms=400)
LOSSY = LinkProfile(rtt_ms=300, loss=0.03)

# What the publishing Chrome believes it may send: its send-side estimate
# (candidate-pair.availableOutgoingBitrate) and its video encoder's target.
PUBLISH_ESTIMATE = """async () => {
    const pc = document.querySelector(".media-area").media.publishPc;
    if (!pc) return null;
    const report = await pc.getStats();
    let available = null, target = null, sent = 0;
    for (const s of report.values()) {
        if (s.type === "candidate-pair" && s.nominated && s.availableOutgoingBitrate !== undefined)
            available = s.availableOutgoingBitrate;
        if (s.type === "outbound-rtp" && s.kind === "video") {
            if (s.targetBitrate !== undefined) target = (target || 0) + s.targetBitrate;
            sent += s.bytesSent || 0;
        }
    }
    return {available, target, sent};
}"""

ANSWER_SDP = "() => document.querySelector('.media-area').media.publishPc.remoteDescription.sdp"
SERVER_STATS = "() => document.querySelector('.media-area').media.link.emit('get_media_stats', {})"


def _estimate(page: Page) -> dict[str, Any]:
    result: dict[str, Any] | None = page.evaluate(PUBLISH_ESTIMATE)
    assert result is not None
    return result


def _settled(page: Page, seconds: float) -> dict[str, float | None]:
    """Medians of the estimate and the encoder target over ``seconds`` (one reading a second),
    and the rate actually sent meanwhile (kbit/s)."""
    readings = []
    first = _estimate(page)
    start = time.monotonic()
    for _ in range(int(seconds)):
        time.sleep(1.0)
        readings.append(_estimate(page))
    elapsed = time.monotonic() - start
    available = [r["available"] for r in readings if r["available"] is not None]
    target = [r["target"] for r in readings if r["target"] is not None]
    return {
        "available_kbps": statistics.median(available) / 1000 if available else None,
        "target_kbps": statistics.median(target) / 1000 if target else None,
        "sent_kbps": (readings[-1]["sent"] - first["sent"]) * 8 / 1000 / elapsed,
    }


def _publish_capped(
    open_page: Callable[..., Page], url: str, password: str, link: BrowserLink
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    link.set_profile(LinkProfile(rtt_ms=100))
    chair, remote = join_pair(open_page, url, password, link)
    link.set_profile(CAPPED)
    time.sleep(12.0)  # Chrome starts at 300 kbit/s and probes upwards; let it meet the cap
    capped = _settled(remote, 10)
    answer = remote.evaluate(ANSWER_SDP)
    server = chair.evaluate(SERVER_STATS)
    link.set_profile(LOSSY)  # the cap lifts; 3 % random loss and 300 ms RTT remain
    time.sleep(10.0)
    lossy = _settled(remote, 10)
    for page in (chair, remote):
        page.locator('.room-head [data-action="leave"]').click()
    (mine,) = [p for p in server["participants"] if p["participant_id"] == "C1-001"]
    return {"capped": capped, "lossy": lossy}, answer, mine


def test_a_publisher_behind_a_capped_link_estimates_under_the_cap_from_our_transport_feedback(
    contexts: Callable[..., Page], demo_password: str, tmp_path: Path
) -> None:
    link = BrowserLink(LinkProfile(rtt_ms=100), PORTS)
    try:
        with meetingd(tmp_path / "without", MEETINGD_MEDIA_TRANSPORT_CC="false") as url:
            without, answer_without, server_without = _publish_capped(contexts, url, demo_password, link)
        with meetingd(tmp_path / "with") as url:
            with_cc, answer_with, server_with = _publish_capped(contexts, url, demo_password, link)
    finally:
        link.close()
    print(
        f"\npublisher's estimate behind a {CAP_KBPS} kbit/s cap (kbit/s, medians over 10 s):"
        f"\n  no transport feedback: {without}\n  transport feedback:    {with_cc}"
    )
    # negotiated only when configured, both kinds, and REMB left out with it
    assert "transport-wide-cc" not in answer_without and "goog-remb" in answer_without
    assert answer_with.count("transport-wide-cc-extensions-01") == 2, answer_with
    assert "transport-cc" in answer_with and "goog-remb" not in answer_with
    assert server_with["publish"]["transport_feedback_sent"] > 100, server_with["publish"]
    # the other way: the member's Chrome answered our transport-cc and sends us its feedback,
    # from which the server estimates its downlink (none when not configured)
    down = server_with["downlink"]
    assert down["transport_cc"] and down["feedback_packets"] > 100 and down["estimate_bps"], down
    assert not server_without["downlink"]["transport_cc"], server_without["downlink"]
    # Behind the cap Chrome sends under it either way (the fake camera needs ~200 kbit/s);
    # its estimate there was 232, 292 and once 421 kbit/s with feedback (307, 313, 194
    # without): under a load average of 10 the server's loop, late, reads a burst of queued
    # datagrams at once and stamps them together, which reads as a faster link. So the
    # estimate behind the cap is printed, not asserted.
    assert with_cc["capped"]["sent_kbps"] < CAP_KBPS * 1.1, with_cc
    # At 3 % random loss (no cap) the estimate does not collapse with feedback (334, 312, 347
    # kbit/s measured), and does without it (30, Chrome's floor, all three times).
    lossy, lossy_without = with_cc["lossy"]["available_kbps"], without["lossy"]["available_kbps"]
    assert lossy is not None and lossy > CAP_KBPS / 2, with_cc
    assert lossy_without is not None and lossy > 3 * lossy_without, (with_cc, without)
