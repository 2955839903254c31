"""Join click -> first remote video, in headless Chromium (issue 11, item 12).

One publisher (a remote member with the fake camera) is in meeting 1; then, N times,
a fresh browser context signs in as another member, opens the meeting, and we time
from the click on "Join meeting" to the first decoded frame of a remote video on its
page (``requestVideoFrameCallback``), measured in the page, and to the first frame of
the last of the publishers' videos ("all videos"). Then two more publishers join and
the same N joins run again: the 3-publisher join is printed as a ratio to the
1-publisher join of the same run. The page's own timeline marks (``link:token`` ...
``media:open`` ... ``media:subscribe_connected``, protocol.js and media.js) split the
time up. Target: median <= 1.5 s on loopback.

Baseline in the same run: a bare RTCPeerConnection pair inside one page, offer to
first decoded frame of the fake camera (what WebRTC itself costs here), so the ratio
says how much meetingd adds.

Run inside a private network namespace (loopback only)::

    unshare -n sh -c 'ip link set lo up && python bench/join_bench.py [--runs 10]'
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LAPTOP
from tests.support.server import DEMO_PASSWORD, start_meetingd, stop_meetingd

WATCH = """() => {
  window.__join = {};
  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('button[type="submit"]');
    if (b && b.closest('.attend')) window.__join.click = performance.now();
  }, true);
  window.__join.frames = {};
  const seen = new WeakSet();
  const look = () => {
    for (const v of document.querySelectorAll('.media-area .tile:not(.tile-mine) video')) {
      if (seen.has(v)) continue;
      seen.add(v);
      const id = v.closest('.tile').dataset.memberId;
      v.requestVideoFrameCallback(() => {
        window.__join.frame ??= performance.now();
        window.__join.frames[id] ??= performance.now();
      });
    }
    if (Object.keys(window.__join.frames).length < window.__want) setTimeout(look, 10);
  };
  look();
}"""

BASELINE = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 360}});
  const t0 = performance.now();
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const got = new Promise((resolve) => { b.ontrack = (e) => {
    const v = document.createElement('video'); v.muted = true; v.srcObject = new MediaStream([e.track]);
    document.body.append(v); v.play();
    v.requestVideoFrameCallback(() => resolve(performance.now()));
  }; });
  a.addTrack(stream.getVideoTracks()[0], stream);
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  const t1 = await got;
  a.close(); b.close(); stream.getTracks().forEach((t) => t.stop());
  return t1 - t0;
}"""


def sign_in(page: Any, member_id: str) -> None:
    page.goto("/#/login")
    page.locator("#login-member-id, input[name='member_id']").first.fill(member_id)
    page.locator("#login-password").fill(DEMO_PASSWORD)
    page.locator("form button[type='submit']").click()
    page.wait_for_selector("#nav:not([hidden])")


def one_join(browser: Any, base: str, member_id: str, publishers: int) -> dict[str, float]:
    context = browser.new_context(viewport=LAPTOP, base_url=base)
    context.set_default_timeout(60_000)  # a loaded machine: slow, not broken
    try:
        page = context.new_page()
        sign_in(page, member_id)
        page.goto("/#/meeting/1")
        page.wait_for_selector("#attend-remote")
        page.evaluate(f"window.__want = {publishers}")
        page.evaluate(WATCH)
        page.locator("#attend-remote").check()
        page.locator(".attend button[type='submit']").click()
        page.wait_for_function(
            f"() => Object.keys(window.__join.frames || {{}}).length >= {publishers}", timeout=30_000
        )
        marks = page.evaluate("""() => Object.fromEntries(performance.getEntriesByType('mark')
            .filter((m) => /^(media|link):/.test(m.name)).map((m) => [m.name, m.startTime]))""")
        t = page.evaluate("() => window.__join")
        out = {"total": t["frame"] - t["click"], "all videos": max(t["frames"].values()) - t["click"]}
        for name, at in marks.items():
            out[name] = at - t["click"]
        page.locator('.room-head [data-action="leave"]').click()
        page.wait_for_url("**/#/meetings")
        return out
    finally:
        context.close()


def publish(browser: Any, base: str, member_id: str) -> None:
    """A remote member sending the fake camera, connected."""
    page = browser.new_context(viewport=LAPTOP, base_url=base).new_page()
    sign_in(page, member_id)
    page.goto("/#/meeting/1")
    page.locator("#attend-remote").check()
    page.locator(".attend button[type='submit']").click()
    page.wait_for_selector('.media-status[data-media-state="connected"]', timeout=20_000)


def join_runs(browser: Any, base: str, publishers: int, count: int) -> list[dict[str, float]]:
    """``count`` joins; one that shows no video within the timeout is reported, not fatal
    (a loaded machine), and left out of the medians."""
    out = []
    for n in range(count):
        try:
            out.append(one_join(browser, base, "C1-003", publishers))
        except Exception as exc:  # a bench reports and goes on
            print(f"{publishers} publisher(s), join {n + 1}: failed ({type(exc).__name__})")
    if not out:
        raise SystemExit(f"{publishers} publisher(s): every join failed")
    return out


def report(label: str, runs: list[dict[str, float]]) -> float:
    totals = [r["total"] for r in runs]
    med = statistics.median(totals)
    alls = statistics.median([r["all videos"] for r in runs])
    print(
        f"{label}: join click -> first remote video: median {med:.0f} ms over {len(runs)} runs "
        f"(min {min(totals):.0f}, max {max(totals):.0f}); every publisher's video: median {alls:.0f} ms; "
        f"target 1500 ms: {med / 1500:.2f}x"
    )
    names = sorted(
        {k for r in runs for k in r if k not in ("total", "all videos")},
        key=lambda k: statistics.median([r[k] for r in runs if k in r]),
    )
    for name in names:
        at = statistics.median([r[name] for r in runs if name in r])
        print(f"  {name:26s} median {at:6.0f} ms after the click")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base, proc = start_meetingd(Path(tmp), env={"MEETINGD_MEDIA_ANNOUNCE_ADDRESSES": "127.0.0.1"})
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                base_page = browser.new_context(viewport=LAPTOP, base_url=base).new_page()
                base_page.goto("/#/login")  # a secure context (127.0.0.1) for getUserMedia
                baseline = [base_page.evaluate(BASELINE) for _ in range(args.runs)]
                publish(browser, base, "C1-002")
                one = join_runs(browser, base, 1, args.runs)
                for who in ("C1-004", "C1-005"):
                    publish(browser, base, who)
                three = join_runs(browser, base, 3, args.runs)
                browser.close()
        finally:
            stop_meetingd(proc)
    base_med = statistics.median(baseline)
    med1 = report("1 publisher", one)
    med3 = report("3 publishers", three)
    print(f"3-publisher join / 1-publisher join (same run) = {med3 / med1:.2f}x")
    print(
        f"baseline (bare RTCPeerConnection pair in one page, offer -> first frame): median "
        f"{base_med:.0f} ms; 1-publisher join / baseline = {med1 / base_med:.1f}x"
    )


if __name__ == "__main__":
    main()
