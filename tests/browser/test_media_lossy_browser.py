"""Two Chromiums through the real meetingd, one of them behind a lossy satellite link (the
user-space relay, tests/support/browser_link.py): audio survives loss (Opus FEC + RED),
and the user is told when the link dies.

Run inside a private network namespace (DESIGN.md, "How we test")::

    unshare -n sh -c 'ip link set lo up && python -m pytest tests/browser/test_media_lossy_browser.py -q'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LAPTOP, PHONE
from tests.browser.test_roster_browser import enter_meeting, sign_in
from tests.support.browser_link import BrowserLink
from tests.support.udp_relay import LinkProfile

pytestmark = [pytest.mark.browser, pytest.mark.media]

PORTS = range(41000, 41032)  # the server's media ports: the relay has a pair for each
LOSSY = LinkProfile(rtt_ms=300, loss=0.10)

# An inbound audio stream of one publisher: packets, concealment, FEC and the codec.
AUDIO_STATS = """async (id) => {
    const media = document.querySelector(".media-area").media;
    const pc = media.subscribePc;
    if (!pc) return null;
    for (const t of pc.getTransceivers()) {
        const entry = t.mid ? media.streams.get(t.mid) : undefined;
        if (!entry || entry.participant_id !== id || entry.kind !== "audio") continue;
        const report = await t.receiver.getStats();
        for (const s of report.values()) {
            if (s.type !== "inbound-rtp") continue;
            const codec = s.codecId ? report.get(s.codecId) : null;
            return {packets: s.packetsReceived || 0, lost: s.packetsLost || 0,
                    samples: s.totalSamplesReceived || 0, concealed: s.concealedSamples || 0,
                    events: s.concealmentEvents || 0, fec: s.fecPacketsReceived || 0,
                    codec: codec ? codec.mimeType : null};
        }
    }
    return null;
}"""


# The inbound video of a connection: how late Chrome plays it, and how it went.
VIDEO_STATS = """async () => {
    const pc = document.querySelector(".media-area").media.subscribePc;
    if (!pc) return null;
    for (const s of (await pc.getStats()).values()) {
        if (s.type === "inbound-rtp" && s.kind === "video")
            return {frames: s.framesDecoded || 0, emitted: s.jitterBufferEmittedCount || 0,
                    target: s.jitterBufferTargetDelay || 0, minimum: s.jitterBufferMinimumDelay || 0,
                    freezes: s.freezeCount || 0, frozen: s.totalFreezesDuration || 0,
                    nacks: s.nackCount || 0};
    }
    return null;
}"""


@contextmanager
def meetingd(tmp: Path, **env: str) -> Iterator[str]:
    from tests.support.server import start_meetingd, stop_meetingd

    tmp.mkdir(parents=True, exist_ok=True)
    base_url, proc = start_meetingd(
        tmp,
        env={
            "MEETINGD_MEDIA_ANNOUNCE_ADDRESSES": "127.0.0.1",
            "MEETINGD_MEDIA_UDP_PORT_MIN": str(PORTS.start),
            "MEETINGD_MEDIA_UDP_PORT_MAX": str(PORTS.stop - 1),
            **env,
        },
    )
    try:
        yield base_url.rstrip("/")
    finally:
        stop_meetingd(proc)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., Page]]:
    made: list[BrowserContext] = []
    errors: list[str] = []

    def open_page(url: str, viewport: dict[str, int], link: BrowserLink | None = None) -> Page:
        context = browser.new_context(viewport=viewport, locale="en-GB", base_url=url)
        context.set_default_timeout(20_000)
        if link is not None:
            context.add_init_script(link.init_script())
        made.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield open_page
    for context in made:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


def audio(page: Page, member_id: str) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(AUDIO_STATS, member_id)
    return result


def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def join_pair(
    open_page: Callable[..., Page], url: str, password: str, link: BrowserLink
) -> tuple[Page, Page]:
    """The chair (direct, laptop) and a remote member behind ``link`` (phone), both publishing."""
    chair = open_page(url, LAPTOP)
    remote = open_page(url, PHONE, link)
    for page, who in ((chair, "C1-CHAIR"), (remote, "C1-001")):
        sign_in(page, who, password)
        enter_meeting(page, "remote")
        expect(page.locator('.media-status[data-media-state="connected"]')).to_be_visible(timeout=30_000)
    wait_until(
        lambda: (audio(chair, "C1-001") or {}).get("packets", 0) > 50, what="remote's audio at the chair"
    )
    wait_until(
        lambda: (audio(remote, "C1-CHAIR") or {}).get("packets", 0) > 50, what="chair's audio at the remote"
    )
    return chair, remote


def concealed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[float, int]:
    """Concealed share of the samples played between two readings, and how many times
    the receiver had to conceal (each lost packet it could not rebuild starts one; on a
    machine short of CPU, late playout adds long concealments but few events)."""
    assert before is not None and after is not None
    samples = after["samples"] - before["samples"]
    assert samples > 0, (before, after)
    return (after["concealed"] - before["concealed"]) / float(samples), after["events"] - before["events"]


def measure(open_page: Callable[..., Page], url: str, password: str, link: BrowserLink) -> dict[str, Any]:
    """Concealment both ways over 12 s: chair -> server -> lossy link -> remote ("down"),
    remote -> lossy link -> server -> chair ("up")."""
    chair, remote = join_pair(open_page, url, password, link)
    time.sleep(4.0)  # let the encoders see the loss (receiver reports) and turn FEC up
    d0, u0 = audio(remote, "C1-CHAIR"), audio(chair, "C1-001")
    time.sleep(12.0)
    d1, u1 = audio(remote, "C1-CHAIR"), audio(chair, "C1-001")
    server = chair.evaluate(
        "() => document.querySelector('.media-area').media.link.emit('get_media_stats', {})"
    )
    # the server's answer to the remote's publish offer: its Opus line is what was agreed
    answer = remote.evaluate(
        "() => document.querySelector('.media-area').media.publishPc.remoteDescription.sdp"
    )
    for page in (chair, remote):
        page.locator('.room-head [data-action="leave"]').click()
    red = {  # audio packets each publisher sent as RED, and whether each subscriber takes RED
        p["participant_id"]: (
            sum(t["red_packets"] for t in p["publish"]["tracks"] if t["kind"] == "audio"),
            all(t["red"] for t in p["subscribe"]["tracks"] if t["kind"] == "audio"),
        )
        for p in server["participants"]
    }
    return {
        "down": concealed(d0, d1),
        "up": concealed(u0, u1),
        "down_stats": (d0, d1),
        "up_stats": (u0, u1),
        "red": red,
        "opus_fmtp": [line for line in answer.splitlines() if line.startswith("a=fmtp:111 ")],
    }


def test_red_and_opus_fec_conceal_less_at_ten_percent_loss_than_plain_opus(
    contexts: Callable[..., Page], demo_password: str, tmp_path: Path
) -> None:
    link = BrowserLink(LOSSY, PORTS)
    try:
        with meetingd(
            tmp_path / "plain", MEETINGD_MEDIA_AUDIO_RED="false", MEETINGD_MEDIA_OPUS_FEC="false"
        ) as url:
            plain = measure(contexts, url, demo_password, link)
        with meetingd(tmp_path / "red") as url:
            protected = measure(contexts, url, demo_password, link)
        relay = link.stats()
    finally:
        link.close()
    print(
        f"\nat 10% loss both ways, 12 s: plain Opus concealed {plain['down']} (down) {plain['up']} (up);"
        f" RED + FEC {protected['down']} {protected['up']}  [share, events]; relay {relay}"
    )
    # the loss was there: the relay dropped about a tenth each way
    assert relay.to_client.lost > 0.05 * relay.to_client.received
    assert relay.to_server.lost > 0.05 * relay.to_server.received
    # RED was negotiated both ways (the browsers' getStats name the codec Opus: NetEq
    # unpacks RED before decoding)...
    assert {pid: red for pid, (_, red) in protected["red"].items()} == {"C1-CHAIR": True, "C1-001": True}
    assert min(n for n, _ in protected["red"].values()) > 300, protected["red"]
    assert all(n == 0 and not red for n, red in plain["red"].values()), plain["red"]
    # ...and Opus in-band FEC was agreed with the publisher (and not when configured off).
    # Whether Chrome's encoder then adds FEC packets depends on its own loss estimate and
    # timing: seen rising by hundreds here, and once not at all in 12 s on a quiet machine,
    # so the chair's fecPacketsReceived is printed, not asserted.
    assert any("useinbandfec=1" in line for line in protected["opus_fmtp"]), protected["opus_fmtp"]
    assert not any("useinbandfec=1" in line for line in plain["opus_fmtp"]), plain["opus_fmtp"]
    before, after = protected["up_stats"]
    print(f"chair's fecPacketsReceived over the window: {after['fec'] - before['fec']}")
    # far fewer losses reach the ear than with plain Opus over the same link
    assert plain["down"][1] >= 15 and plain["up"][1] >= 15, plain
    assert protected["down"][1] * 2 <= plain["down"][1], (plain, protected)
    assert protected["up"][1] * 2 <= plain["up"][1], (plain, protected)


def test_a_cut_link_is_shown_within_two_seconds_and_cleared_after_it_comes_back(
    contexts: Callable[..., Page], demo_password: str, tmp_path: Path, artifacts: Path
) -> None:
    link = BrowserLink(LinkProfile(rtt_ms=300), PORTS)
    try:
        with meetingd(tmp_path / "cut") as url:
            chair, remote = join_pair(contexts, url, demo_password, link)
            banner = remote.locator(".media-banner")
            expect(remote.locator('.media-status[data-media-state="connected"]')).to_be_visible()
            expect(banner).to_be_hidden()
            link.cut(8.0)
            cut_at = time.monotonic()
            try:
                expect(banner).to_be_visible(timeout=3_000)
            except AssertionError:
                state = remote.evaluate(
                    "() => { const m = document.querySelector('.media-area').media;"
                    " return [m.stalled, m.inboundLast, performance.now(), m.inboundBusy, m.status.state]; }"
                )
                raise AssertionError(f"no banner 3 s after the cut: {state}, relay {link.stats()}") from None
            shown_after = time.monotonic() - cut_at
            expect(banner).to_contain_text("No sound or video from the meeting")
            # never "connected" over a dead link; the frozen speaker's tile says so
            expect(remote.locator('.media-status[data-media-state="connected"]')).to_have_count(0)
            expect(remote.locator('.tile[data-member-id="C1-CHAIR"] .tile-frozen')).to_be_visible()
            # the chair: the remote's video froze, and the server says its link is lost
            expect(chair.locator('.tile[data-member-id="C1-001"] .tile-frozen')).to_be_visible(timeout=3_000)
            expect(chair.locator('.link-alerts [data-link="lost"]')).to_contain_text(
                "Link lost", timeout=6_000
            )
            expect(chair.locator('.tile[data-member-id="C1-001"]')).to_have_attribute("data-link", "lost")
            remote.screenshot(path=str(artifacts / "media-link-cut-phone.png"), full_page=True)
            chair.screenshot(path=str(artifacts / "media-link-cut-laptop.png"), full_page=True)
            link.restore()
            restored_at = time.monotonic()
            expect(banner).to_be_hidden(timeout=20_000)
            cleared_after = time.monotonic() - restored_at
            expect(remote.locator('.media-status[data-media-state="connected"]')).to_be_visible(
                timeout=20_000
            )
            expect(chair.locator(".link-alerts")).to_be_hidden(timeout=10_000)
            expect(chair.locator('.tile[data-member-id="C1-001"] .tile-frozen')).to_be_hidden(timeout=10_000)
            print(
                f"\nbanner shown {shown_after:.2f} s after the cut, gone {cleared_after:.2f} s after restore"
            )
            # the target is 2 s (1.2 s of silence, then the next 250 ms reading): 1.9-2.3 s
            # measured; the bound leaves room for a busy machine's timers and getStats
            assert shown_after <= 3.0
    finally:
        link.close()


def _frames(page: Page) -> int:
    """Video frames the page decoded; 0 while it has no inbound video yet (its subscribe
    connection, or the publisher's m-line in it, may come a little after the join)."""
    result: dict[str, Any] | None = page.evaluate(VIDEO_STATS)
    return 0 if result is None else int(result["frames"])


def _video(page: Page) -> dict[str, Any]:
    result: dict[str, Any] | None = page.evaluate(VIDEO_STATS)
    assert result is not None
    return result


def test_video_over_a_long_lossy_link_is_played_late_enough_for_its_retransmissions(
    contexts: Callable[..., Page], demo_password: str, tmp_path: Path
) -> None:
    """300 ms RTT and 5 % loss: the server asks each receiving Chrome (playout-delay header
    extension) to play video a round trip and more behind, so that a lost packet's
    retransmission arrives before its frame is due; Chrome's own jitter buffer, knowing no
    round trip on a receive-only connection, would stay a few tens of ms deep."""
    link = BrowserLink(LinkProfile(rtt_ms=300, loss=0.05), PORTS)
    try:
        with meetingd(tmp_path / "delay") as url:
            chair, remote = join_pair(contexts, url, demo_password, link)
            wait_until(lambda: _frames(remote) > 10, what="the chair's video at the remote")
            wait_until(lambda: _frames(chair) > 10, what="the remote's video at the chair")
            time.sleep(8.0)  # the server raises the delay; Chrome moves towards it ~100 ms/s
            before = {"down": _video(remote), "up": _video(chair)}
            time.sleep(6.0)
            after = {"down": _video(remote), "up": _video(chair)}
            server = chair.evaluate(
                "() => document.querySelector('.media-area').media.link.emit('get_media_stats', {})"
            )
            for page in (chair, remote):
                page.locator('.room-head [data-action="leave"]').click()
    finally:
        link.close()
    asked = {
        p["participant_id"]: [t["playout_delay_ms"] for t in p["subscribe"]["tracks"] if t["kind"] == "video"]
        for p in server["participants"]
    }
    played = {}
    for way in ("down", "up"):
        b, a = before[way], after[way]
        emitted = a["emitted"] - b["emitted"]
        assert emitted > 0, (b, a)
        played[way] = {
            "target_ms": 1000 * (a["target"] - b["target"]) / emitted,
            "minimum_ms": 1000 * (a["minimum"] - b["minimum"]) / emitted,
            "freezes": a["freezes"] - b["freezes"],
            "frozen_s": a["frozen"] - b["frozen"],
        }
    print(f"\nplayout delay asked by the server {asked}; played by Chrome {played}")
    # each direction crosses one 300 ms lossy leg: 1.3 x 300 ms + 80 ms asked
    assert all(400 <= d <= 800 for delays in asked.values() for d in delays), asked
    # ...and Chrome honours it: its jitter buffer target is the asked delay, not tens of ms
    assert played["down"]["target_ms"] >= 300 and played["up"]["target_ms"] >= 300, played


def test_a_member_whose_link_cannot_carry_video_is_told_sound_only_and_can_keep_video(
    contexts: Callable[..., Page], demo_password: str, tmp_path: Path
) -> None:
    """The remote member's link turns very bad (50 % lost each way): the server sends them
    sound only by itself and their screen says why, with a button to keep video anyway."""
    link = BrowserLink(LinkProfile(rtt_ms=300), PORTS)
    try:
        with meetingd(tmp_path / "weak") as url:
            chair, remote = join_pair(contexts, url, demo_password, link)
            wait_until(lambda: _frames(remote) > 10, what="the chair's video at the remote")
            note = remote.locator(".media-weak")
            expect(note).to_be_hidden()
            link.set_profile(LinkProfile(rtt_ms=300, loss=0.5))
            expect(note).to_be_visible(timeout=30_000)
            expect(note).to_contain_text("Your link is weak: sound only")
            server = chair.evaluate(
                "() => document.querySelector('.media-area').media.link.emit('get_media_stats', {})"
            )
            (weak,) = [p for p in server["participants"] if p["participant_id"] == "C1-001"]
            assert weak["weak_link"] == {"weak": True, "reason": "loss", "auto": True}, weak
            assert not any(t["enabled"] for t in weak["subscribe"]["tracks"] if t["kind"] == "video")
            assert not remote.locator(".tile-frozen:visible").count()  # sound only is no freeze
            remote.locator('.media-weak [data-action="keep-video"]').click()
            expect(note).to_have_attribute("data-auto", "false")
            expect(note).to_contain_text("you chose to keep receiving video")
            frames = _frames(remote)
            wait_until(lambda: _frames(remote) > frames + 5, 20, "video again, by choice")
            for page in (chair, remote):
                page.locator('.room-head [data-action="leave"]').click()
    finally:
        link.close()
