"""A Socket.IO client that speaks the wire protocol itself (engine.io v4 over a
websocket), so a test can send what python-socketio's client would refuse to encode:
20,000-deep nesting, packets that are not JSON at all."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

NAMESPACE = "/meeting"


class RawSocket:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http, self.ws = http, ws
        self._next_id = 0

    @classmethod
    async def connect(cls, url: str, token: str, origin: str) -> RawSocket:
        http = aiohttp.ClientSession()
        ws = await http.ws_connect(
            url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", headers={"Origin": origin}
        )
        sock = cls(http, ws)
        assert (await sock.receive("0")).startswith("0{")  # engine.io open
        await ws.send_str(f"40{NAMESPACE}," + json.dumps({"token": token}))
        answer = await sock.receive("4")
        assert answer.startswith(f"40{NAMESPACE},"), answer
        return sock

    async def receive(self, prefix: str, seconds: float = 10.0) -> str:
        """The next message starting with ``prefix`` (answering pings meanwhile)."""
        async with asyncio.timeout(seconds):
            while True:
                msg = await self.ws.receive_str()
                if msg == "2":
                    await self.ws.send_str("3")
                    continue
                if msg.startswith(prefix):
                    return msg

    async def call_raw(self, event: str, payload_json: str, seconds: float = 10.0) -> Any:
        """Emit ``[event, <payload_json>]`` with an ack id, written as given; the ack's data."""
        self._next_id += 1
        ack_id = self._next_id
        await self.ws.send_str(f'42{NAMESPACE},{ack_id}["{event}",{payload_json}]')
        answer = await self.receive(f"43{NAMESPACE},{ack_id}", seconds)
        return json.loads(answer[len(f"43{NAMESPACE},{ack_id}") :])[0]

    async def send_packet(self, text: str) -> None:
        await self.ws.send_str(text)

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()
