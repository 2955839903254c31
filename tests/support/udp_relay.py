"""A poor link in user space: a UDP relay that delays, drops, reorders, rate-limits and cuts.

The kernel here has no ``netem`` (DESIGN.md, "How we test"), so tests put this relay
between an aiortc client and the server. Each :class:`RelayPair` is two loopback
sockets: the *client-facing* one stands in for the server (announce its port to the
client instead of the server's candidate) and the *server-facing* one stands in for the
client (announce its port to the server instead of the client's candidate). Every
datagram crosses the relay, so every ICE check, DTLS record and RTP/RTCP packet gets the
link's treatment. :func:`rewrite_candidates` does the announcing in SDP.

Bounded and safe: loopback addresses only (both the sockets and the peers), at most
``max_pending`` datagrams in flight, a tail-drop queue of ``queue_ms`` behind the rate
limit, and the relay closes itself after ``lifetime`` seconds.

    relay = UdpRelay(LinkProfile(rtt_ms=300, loss=0.03, rate_kbps=1000), seed=7)
    pair = await relay.open_pair(server=("127.0.0.1", 50000))
    ...                       # client talks to ("127.0.0.1", pair.client_port)
    relay.cut(5.0)            # the link is down for 5 s, both ways
    await relay.close()
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import re
import socket
from dataclasses import dataclass, field
from typing import Any

Address = tuple[str, int]

_CANDIDATE = re.compile(r"(a=candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ \S+)", re.IGNORECASE)


@dataclass(frozen=True)
class LinkProfile:
    """Conditions of one link, applied to each direction separately.

    ``rtt_ms`` is split evenly between the directions; ``loss`` is the probability a
    datagram is dropped (each direction); ``reorder`` the probability a datagram is
    held ``reorder_ms`` longer than the others (so later ones overtake it);
    ``rate_kbps`` the bottleneck rate per direction (None: unlimited), queueing at most
    ``queue_ms`` before tail drop.
    """

    rtt_ms: float = 0.0
    loss: float = 0.0
    reorder: float = 0.0
    reorder_ms: float = 30.0
    rate_kbps: float | None = None
    queue_ms: float = 400.0

    def __post_init__(self) -> None:
        if self.rtt_ms < 0 or self.reorder_ms < 0 or self.queue_ms <= 0:
            raise ValueError("rtt_ms and reorder_ms must be >= 0, queue_ms > 0")
        if not 0.0 <= self.loss <= 1.0 or not 0.0 <= self.reorder <= 1.0:
            raise ValueError("loss and reorder are probabilities")
        if self.rate_kbps is not None and self.rate_kbps <= 0:
            raise ValueError("rate_kbps must be positive")


@dataclass
class DirectionStats:
    received: int = 0
    sent: int = 0
    lost: int = 0  # random loss
    queue_dropped: int = 0  # rate limit: queue over queue_ms, or max_pending
    cut_dropped: int = 0
    reordered: int = 0
    bytes_sent: int = 0


@dataclass
class RelayStats:
    to_server: DirectionStats = field(default_factory=DirectionStats)
    to_client: DirectionStats = field(default_factory=DirectionStats)


def _check_loopback(address: str, allowed: frozenset[str] = frozenset()) -> None:
    if not ipaddress.ip_address(address).is_loopback and address not in allowed:
        raise ValueError(f"the test relay talks to loopback only, not {address}")


def _is_own_address(address: str) -> bool:
    """``address`` is assigned here (e.g. a veth address of the private namespace)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError:
            return False
    return True


class _Endpoint(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Any) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable: the peer is gone
        pass


class _Direction:
    """One way through the link: loss, rate limit with a bounded queue, delay, reordering."""

    def __init__(self, relay: UdpRelay, stats: DirectionStats) -> None:
        self.relay = relay
        self.stats = stats
        self.next_free = 0.0  # when the bottleneck is free to start the next datagram

    def push(self, data: bytes, send: Any) -> None:
        relay, p, st = self.relay, self.relay.profile, self.stats
        loop = asyncio.get_running_loop()
        now = loop.time()
        st.received += 1
        if relay.is_cut(now):
            st.cut_dropped += 1
            return
        if p.loss and relay.rng.random() < p.loss:
            st.lost += 1
            return
        if relay.pending >= relay.max_pending:
            st.queue_dropped += 1
            return
        depart = now
        if p.rate_kbps is not None:
            start = max(now, self.next_free)
            if (start - now) * 1000 > p.queue_ms:
                st.queue_dropped += 1
                return
            depart = start + len(data) * 8 / (p.rate_kbps * 1000)
            self.next_free = depart
        arrive = depart + p.rtt_ms / 2000
        if p.reorder and relay.rng.random() < p.reorder:
            arrive += p.reorder_ms / 1000
            st.reordered += 1
        relay.pending += 1
        loop.call_at(arrive, self._deliver, data, send)

    def _deliver(self, data: bytes, send: Any) -> None:
        relay = self.relay
        relay.pending -= 1
        if relay.closed:
            return
        if relay.is_cut(asyncio.get_running_loop().time()):  # in flight when the link went down
            self.stats.cut_dropped += 1
            return
        if send(data):
            self.stats.sent += 1
            self.stats.bytes_sent += len(data)


class RelayPair:
    """Two sockets carrying one client <-> server UDP flow (one ICE candidate pair).

    The pair carries one flow at a time, as a NAT mapping does: datagrams from a second
    client address are dropped while the first one is live. Once the first has been quiet
    for ``REBIND_AFTER_S`` the next address to send takes the pair over, so a server that
    restarts on the same ports (or a browser's new connection that lands on a port an old,
    closed one used) gets through instead of being dropped for the relay's lifetime.
    """

    REBIND_AFTER_S = 3.0

    def __init__(self, relay: UdpRelay, server: Address | None, client: Address | None) -> None:
        self.relay = relay
        self.server = server
        self.client = client
        self.rebinds = 0
        self._client_heard = float("-inf")
        self._to_server = _Direction(relay, relay.stats.to_server)
        self._to_client = _Direction(relay, relay.stats.to_client)
        self._client_side = _Endpoint(self._from_client)
        self._server_side = _Endpoint(self._from_server)

    async def _open(self, host: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self._client_side, local_addr=(host, 0))
        await loop.create_datagram_endpoint(lambda: self._server_side, local_addr=(host, 0))

    @property
    def client_port(self) -> int:
        """Announce this to the client as the server's port."""
        assert self._client_side.transport is not None
        return int(self._client_side.transport.get_extra_info("sockname")[1])

    @property
    def server_port(self) -> int:
        """Announce this to the server as the client's port."""
        assert self._server_side.transport is not None
        return int(self._server_side.transport.get_extra_info("sockname")[1])

    def set_server(self, address: Address) -> None:
        _check_loopback(address[0], self.relay.allowed)
        self.server = address

    def set_client(self, address: Address) -> None:
        _check_loopback(address[0])
        self.client = address
        self._client_heard = asyncio.get_running_loop().time()

    def _from_client(self, data: bytes, addr: Address) -> None:
        if not ipaddress.ip_address(addr[0]).is_loopback and addr[0] not in self.relay.allowed:
            return
        now = asyncio.get_running_loop().time()
        if self.client is None:
            self.client = addr
        elif addr != self.client:
            if now - self._client_heard < self.REBIND_AFTER_S:
                return  # one live flow per pair
            self.client = addr  # the old flow went quiet: the mapping expired
            self.rebinds += 1
        self._client_heard = now
        self._to_server.push(data, self._send_to_server)

    def _from_server(self, data: bytes, addr: Address) -> None:
        if self.server is None or addr != self.server:
            return
        self._to_client.push(data, self._send_to_client)

    def _send_to_server(self, data: bytes) -> bool:
        t = self._server_side.transport
        if t is None or t.is_closing() or self.server is None:
            return False
        t.sendto(data, self.server)
        return True

    def _send_to_client(self, data: bytes) -> bool:
        t = self._client_side.transport
        if t is None or t.is_closing() or self.client is None:
            return False
        t.sendto(data, self.client)
        return True

    def close(self) -> None:
        for end in (self._client_side, self._server_side):
            if end.transport is not None:
                end.transport.close()


class UdpRelay:
    """A poor link shared by any number of :class:`RelayPair` (one per connection).

    The pairs share the profile, the random generator, the cut and the stats; each
    pair and direction has its own bottleneck queue.
    """

    def __init__(
        self,
        profile: LinkProfile,
        *,
        seed: int | None = None,
        host: str = "127.0.0.1",
        lifetime: float = 300.0,
        max_pending: int = 5000,
        allow: tuple[str, ...] = (),
    ) -> None:
        """``allow``: non-loopback addresses the relay may bind and talk to; each must be an
        address of this host (in tests, of the private namespace, e.g. a veth's)."""
        for address in allow:
            if not ipaddress.ip_address(address).is_loopback and not _is_own_address(address):
                raise ValueError(f"{address} is not an address of this host: the relay will not talk to it")
        self.allowed = frozenset(allow)
        if host not in self.allowed:
            _check_loopback(host)
        self.profile = profile
        self.rng = random.Random(seed)
        self.host = host
        self.max_pending = max_pending
        self.pending = 0
        self.closed = False
        self.stats = RelayStats()
        self.pairs: list[RelayPair] = []
        self._cut_until = 0.0
        self._expiry = asyncio.get_running_loop().call_later(lifetime, self._expire)

    async def open_pair(self, server: Address | None = None, client: Address | None = None) -> RelayPair:
        if self.closed:
            raise RuntimeError("relay closed")
        for address in (server, client):
            if address is not None:
                _check_loopback(address[0], self.allowed)
        pair = RelayPair(self, server, client)
        await pair._open(self.host)
        self.pairs.append(pair)
        return pair

    def cut(self, seconds: float) -> None:
        """Drop everything, both ways, for ``seconds`` from now (in-flight datagrams too)."""
        loop = asyncio.get_running_loop()
        self._cut_until = max(self._cut_until, loop.time() + seconds)

    def cut_until(self, when: float) -> None:
        """Set when the cut ends (loop time); 0 ends it now."""
        self._cut_until = when

    def is_cut(self, now: float | None = None) -> bool:
        if now is None:
            now = asyncio.get_running_loop().time()
        return now < self._cut_until

    def _expire(self) -> None:
        self._close()

    def _close(self) -> None:
        self.closed = True
        self._expiry.cancel()
        for pair in self.pairs:
            pair.close()

    async def close(self) -> None:
        self._close()
        await asyncio.sleep(0)


# --- SDP ------------------------------------------------------------------------------


def candidate_addresses(sdp: str) -> list[Address]:
    """The distinct (address, port) of the UDP candidates in ``sdp``, in order."""
    seen: list[Address] = []
    for m in _CANDIDATE.finditer(sdp):
        address = (m.group(2), int(m.group(3)))
        if address not in seen:
            seen.append(address)
    return seen


def rewrite_candidates(sdp: str, mapping: dict[Address, Address]) -> str:
    """Replace each candidate address/port found in ``mapping``; others are removed.

    Removing the unmapped candidates keeps ICE from finding a path that bypasses the
    relay.
    """
    out: list[str] = []
    for line in sdp.splitlines(keepends=True):
        m = _CANDIDATE.match(line)
        if m is None:
            out.append(line)
            continue
        new = mapping.get((m.group(2), int(m.group(3))))
        if new is None:
            continue
        out.append(f"{line[: m.start()]}{m.group(1)}{new[0]} {new[1]}{m.group(4)}{line[m.end() :]}")
    return "".join(out)
