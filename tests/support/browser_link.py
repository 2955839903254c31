"""A poor link for a real Chromium: the user-space relay (udp_relay.py) between one browser
and a media server whose UDP ports are known in advance (a port range).

The relay runs on its own event loop in a thread (Playwright's sync API owns the test's
thread). One :class:`~tests.support.udp_relay.RelayPair` per server port; the page gets
an init script (:meth:`BrowserLink.init_script`) that wraps ``RTCPeerConnection`` so that

* every server candidate it is given (``setRemoteDescription``) names the relay's port
  for that server port instead (other candidates are dropped), and
* the server never learns the browser's own candidates (they are removed from the local
  description the page reads, and ``icecandidate`` events carry none): the server learns
  the browser's address from the checks it receives, which come from the relay.

So every datagram of that browser's media crosses the relay; the page's code is unchanged.

    link = BrowserLink(LinkProfile(rtt_ms=300, loss=0.1), server_ports=range(41000, 41032))
    context.add_init_script(link.init_script())
    ...
    link.cut(5.0); link.set_profile(LinkProfile()); link.close()
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from typing import Any

from tests.support.udp_relay import LinkProfile, RelayStats, UdpRelay

_SCRIPT = """
(() => {
  const MAP = %(map)s;
  const CANDIDATE = /^a=candidate:(\\S+) (\\d+) udp (\\d+) (\\S+) (\\d+) typ (\\S+)(.*)$/i;
  const toRelay = (sdp) => sdp.split("\\r\\n").map((line) => {
    const m = CANDIDATE.exec(line);
    if (!m) return line;
    const to = MAP[`${m[4]} ${m[5]}`];
    return to ? `a=candidate:${m[1]} ${m[2]} udp ${m[3]} ${to} typ ${m[6]}${m[7]}` : null;
  }).filter((line) => line !== null).join("\\r\\n");
  const own = (sdp) => sdp.split("\\r\\n")
    .filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates").join("\\r\\n");
  const P = RTCPeerConnection.prototype;
  const setRemote = P.setRemoteDescription;
  P.setRemoteDescription = function (d) {
    return setRemote.call(this, d && d.sdp ? { type: d.type, sdp: toRelay(d.sdp) } : d);
  };
  for (const name of ["localDescription", "currentLocalDescription", "pendingLocalDescription"]) {
    const getter = Object.getOwnPropertyDescriptor(P, name).get;
    Object.defineProperty(P, name, {
      configurable: true,
      get() {
        const d = getter.call(this);
        if (!d) return d;
        const plain = { type: d.type, sdp: own(d.sdp) };
        return { ...plain, toJSON: () => plain };
      },
    });
  }
  const addListener = EventTarget.prototype.addEventListener;
  P.addEventListener = function (type, fn, options) {
    if (type === "icecandidate" && typeof fn === "function") {
      const inner = fn;
      fn = function (e) { if (!e.candidate) return inner.call(this, e); };
    }
    return addListener.call(this, type, fn, options);
  };
  Object.defineProperty(P, "onicecandidate", {
    configurable: true,
    set(fn) { this.addEventListener("icecandidate", fn); },
    get() { return null; },
  });
})();
"""


class BrowserLink:
    """One impaired link (shared by a browser's connections) to ``server_host``'s ``server_ports``."""

    def __init__(
        self,
        profile: LinkProfile,
        server_ports: Iterable[int],
        *,
        server_host: str = "127.0.0.1",
        relay_host: str = "127.0.0.1",
        seed: int | None = 1,
        lifetime: float = 900.0,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="browser-link", daemon=True)
        self._thread.start()
        self.server_host = server_host
        self.relay_host = relay_host
        self.relay: UdpRelay = self._call(self._make(profile, seed, lifetime))
        self.mapping: dict[int, int] = self._call(self._open(list(server_ports)))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    async def _make(self, profile: LinkProfile, seed: int | None, lifetime: float) -> UdpRelay:
        allow = tuple({self.server_host, self.relay_host})
        return UdpRelay(profile, seed=seed, host=self.relay_host, lifetime=lifetime, allow=allow)

    async def _open(self, ports: list[int]) -> dict[int, int]:
        mapping = {}
        for port in ports:
            pair = await self.relay.open_pair(server=(self.server_host, port))
            mapping[port] = pair.client_port
        return mapping

    def init_script(self) -> str:
        table = {f"{self.server_host} {s}": f"{self.relay_host} {c}" for s, c in self.mapping.items()}
        return _SCRIPT % {"map": json.dumps(table)}

    def set_profile(self, profile: LinkProfile) -> None:
        async def apply() -> None:
            self.relay.profile = profile

        self._call(apply())

    def cut(self, seconds: float) -> None:
        async def apply() -> None:
            self.relay.cut(seconds)

        self._call(apply())

    def restore(self) -> None:
        """End a cut now."""

        async def apply() -> None:
            self.relay.cut_until(0.0)

        self._call(apply())

    def stats(self) -> RelayStats:
        async def read() -> RelayStats:
            return self.relay.stats

        stats: RelayStats = self._call(read())
        return stats

    def close(self) -> None:
        self._call(self.relay.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
