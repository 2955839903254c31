"""Janus VideoRoom as a reference target for bench/relay_bench.py.

Starts Debian's ``janus`` (1.1.x) with a generated configuration in a temp dir:
HTTP transport only, bound to 127.0.0.1, admin API off, no STUN/TURN, IPv6 off,
VideoRoom the only plugin, no event handlers or loggers. Janus never offers a
loopback ICE candidate, so inside the bench's private network namespace it is
pinned (``ice_enforce_list``) to a veth whose address (10.200.0.1) exists only in
that namespace; see :func:`ensure_veth`. Nothing here may talk to any other
address.

The VideoRoom is driven through Janus's HTTP API (sessions, handles, long-poll
for events). CPU and RSS come from ``/proc/<pid>`` like the other targets'.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

VETH, VETH_PEER = "v0", "v1"
VETH_ADDRESS = "10.200.0.1"
LIB_DIR = Path("/usr/lib/x86_64-linux-gnu/janus")
ROOM = 1234


def janus_binary() -> str | None:
    return shutil.which("janus") or next(
        (p for p in ("/usr/bin/janus", "/usr/local/bin/janus") if os.access(p, os.X_OK)), None
    )


def ensure_veth() -> str | None:
    """Create v0/v1 with 10.200.0.1/24 in this (private) namespace; an error message or None."""
    if Path(f"/sys/class/net/{VETH}").exists():
        return None
    cmds = [
        ["ip", "link", "add", VETH, "type", "veth", "peer", "name", VETH_PEER],
        ["ip", "addr", "add", f"{VETH_ADDRESS}/24", "dev", VETH],
        ["ip", "link", "set", VETH, "up"],
        ["ip", "link", "set", VETH_PEER, "up"],
    ]
    for cmd in cmds:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{' '.join(cmd)}: {done.stderr.strip()}"
    return None


def _libs(folder: str, keep: str) -> str:
    path = LIB_DIR / folder
    names = sorted(p.name for p in path.glob("*.so")) if path.is_dir() else []
    return ",".join(n for n in names if n != keep)


def write_config(conf: Path, port: int, rtp_ports: str = "40000-40999") -> None:
    conf.mkdir(parents=True, exist_ok=True)
    plugins_off = _libs("plugins", "libjanus_videoroom.so")
    transports_off = _libs("transports", "libjanus_http.so")
    loggers_off = _libs("loggers", "")
    events_off = _libs("events", "")
    (conf / "janus.jcfg").write_text(
        f"""general: {{
  configs_folder = "{conf}"
  plugins_folder = "{LIB_DIR}/plugins"
  transports_folder = "{LIB_DIR}/transports"
  events_folder = "{LIB_DIR}/events"
  loggers_folder = "{LIB_DIR}/loggers"
  debug_level = 3
  session_timeout = 120
}}
certificates: {{
}}
media: {{
  ipv6 = false
  ipv6_linklocal = false
  rtp_port_range = "{rtp_ports}"
}}
nat: {{
  nice_debug = false
  full_trickle = false
  ignore_mdns = true
  ice_enforce_list = "{VETH}"
}}
plugins: {{
  disable = "{plugins_off}"
}}
transports: {{
  disable = "{transports_off}"
}}
loggers: {{
  disable = "{loggers_off}"
}}
events: {{
  broadcast = false
  disable = "{events_off}"
}}
"""
    )
    (conf / "janus.transport.http.jcfg").write_text(
        f"""general: {{
  json = "compact"
  base_path = "/janus"
  http = true
  port = {port}
  ip = "127.0.0.1"
  https = false
}}
admin: {{
  admin_http = false
  admin_https = false
}}
"""
    )
    (conf / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")


class JanusError(RuntimeError):
    pass


class JanusRelay:
    """One Janus process with one VideoRoom; publishers and subscribers by handle."""

    def __init__(
        self, port: int, *, rtp_ports: str = "40000-40999", room: dict[str, Any] | None = None
    ) -> None:
        """``rtp_ports``: Janus's media port range; ``room``: extra VideoRoom create options."""
        self.port = port
        self.rtp_ports = rtp_ports
        self.room = room or {}
        self.base = f"http://127.0.0.1:{port}/janus"
        self.tmp = tempfile.TemporaryDirectory(prefix="meetingd-bench-janus-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.http: aiohttp.ClientSession | None = None
        self.session_id: int | None = None
        self.tx = itertools.count()
        self.waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        binary = janus_binary()
        if binary is None:
            raise JanusError("janus is not installed")
        conf = Path(self.tmp.name) / "conf"
        write_config(conf, self.port, self.rtp_ports)
        log = open(Path(self.tmp.name) / "janus.log", "wb")  # noqa: ASYNC230
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            [binary, "-C", str(conf / "janus.jcfg"), "-F", str(conf), "-o"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.tmp.name,
        )
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=40))
        for _ in range(100):
            if self.proc.poll() is not None:
                raise JanusError(f"janus exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                async with self.http.get(f"{self.base}/info") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise JanusError(f"janus did not answer on 127.0.0.1:{self.port}: {self.log_tail()}")
        reply = await self._post(self.base, {"janus": "create"})
        self.session_id = reply["data"]["id"]
        self.poller = asyncio.get_running_loop().create_task(self._poll())
        handle = await self.attach()
        created = await self.message(
            handle,
            {
                "request": "create",
                "room": ROOM,
                "publishers": 16,
                "bitrate": 0,
                "fir_freq": 0,
                "audiocodec": "opus",
                "videocodec": "vp8",
                "notify_joining": False,
                **self.room,
            },
        )
        if created.get("videoroom") != "created":
            raise JanusError(f"room create: {created}")

    def log_tail(self) -> str:
        path = Path(self.tmp.name) / "janus.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        assert self.http is not None
        body = {**body, "transaction": f"t{next(self.tx)}"}
        async with self.http.post(url, json=body) as resp:
            reply: dict[str, Any] = await resp.json(content_type=None)
        if reply.get("janus") == "error":
            raise JanusError(str(reply.get("error")))
        return reply

    async def _poll(self) -> None:
        assert self.http is not None
        url = f"{self.base}/{self.session_id}?maxev=20"
        while True:
            try:
                async with self.http.get(url) as resp:
                    events = await resp.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.1)
                continue
            for event in events if isinstance(events, list) else [events]:
                fut = self.waiters.pop(str(event.get("transaction")), None)
                if fut is not None and not fut.done():
                    fut.set_result(event)

    async def attach(self) -> int:
        reply = await self._post(
            f"{self.base}/{self.session_id}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}
        )
        return int(reply["data"]["id"])

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A plugin request; returns the plugin data (sync reply or the async event) + jsep."""
        assert self.http is not None
        tx = f"t{next(self.tx)}"
        fut = asyncio.get_running_loop().create_future()
        self.waiters[tx] = fut
        msg: dict[str, Any] = {"janus": "message", "body": body, "transaction": tx}
        if jsep is not None:
            msg["jsep"] = jsep
        async with self.http.post(f"{self.base}/{self.session_id}/{handle}", json=msg) as resp:
            reply = await resp.json(content_type=None)
        if reply.get("janus") == "success":
            self.waiters.pop(tx, None)
            event = reply
        elif reply.get("janus") == "ack":
            event = await asyncio.wait_for(fut, 30)
        else:
            self.waiters.pop(tx, None)
            raise JanusError(f"{body.get('request')}: {reply}")
        data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(f"{body.get('request')}: {data['error']}")
        if "jsep" in event:
            data = {**data, "jsep": event["jsep"]}
        return data

    async def publish(self, name: str, offer_sdp: str) -> tuple[int, str]:
        """A publisher joins the room and configures with its offer: (feed id, answer SDP)."""
        handle = await self.attach()
        join = {"request": "join", "ptype": "publisher", "room": ROOM, "display": name}
        joined = await self.message(handle, join)
        feed = int(joined["id"])
        configured = await self.message(
            handle,
            {"request": "configure", "audio": True, "video": True},
            {"type": "offer", "sdp": offer_sdp},
        )
        await self._post(
            f"{self.base}/{self.session_id}/{handle}", {"janus": "trickle", "candidate": {"completed": True}}
        )
        return feed, configured["jsep"]["sdp"]

    async def subscribe(self, feeds: list[int]) -> tuple[int, str, dict[str, int]]:
        """A subscriber to ``feeds``: (handle, Janus's offer SDP, {mid: feed id})."""
        handle = await self.attach()
        attached = await self.message(
            handle,
            {"request": "join", "ptype": "subscriber", "room": ROOM, "streams": [{"feed": f} for f in feeds]},
        )
        mids = {str(s["mid"]): int(s["feed_id"]) for s in attached.get("streams", []) if "feed_id" in s}
        return handle, attached["jsep"]["sdp"], mids

    async def start_subscriber(self, handle: int, answer_sdp: str) -> None:
        await self.message(handle, {"request": "start"}, {"type": "answer", "sdp": answer_sdp})
        await self._post(
            f"{self.base}/{self.session_id}/{handle}", {"janus": "trickle", "candidate": {"completed": True}}
        )

    def stats(self) -> dict[str, float]:
        """CPU seconds (utime + stime, all threads) and RSS bytes of the janus process."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks  # fields 14, 15 of stat(5)
        with open(f"/proc/{self.proc.pid}/statm") as f:
            rss = int(f.read().split()[1]) * resource.getpagesize()
        return {"cpu": cpu, "rss": rss}

    async def stop(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
        if self.http is not None:
            if self.session_id is not None:
                try:
                    await self._post(f"{self.base}/{self.session_id}", {"janus": "destroy"})
                except (TimeoutError, aiohttp.ClientError, JanusError):
                    pass
            await self.http.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.tmp.cleanup()
