"""The Socket.IO server: python-socketio's, reading client JSON with
:mod:`signaling.wire_json`, so that no client packet goes unanswered.

* A registered event whose payload cannot be decoded (nested too deeply, not JSON)
  reaches its handler as an :class:`~signaling.wire_json.Undecodable` payload and is
  answered through the ack with ``invalid_input``.
* An event name that is not declared is answered ``unknown_event`` (the catch-all
  handler below), instead of being dropped.
* A packet from which no event name can be read at all is refused by the decoder;
  :class:`MeetingServer` then sends that connection a ``protocol_error`` event
  (``{"message"}``) and keeps serving it.

The python-socketio internals used here and in :mod:`signaling.fanout` are pinned by
tests/unit/test_socketio_internals.py.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

from meeting.errors import NotFound, error_body

from . import fanout, wire_json
from .namespace import NAMESPACE

logger = logging.getLogger(__name__)

PROTOCOL_ERROR = "protocol_error"


class MeetingPacket(socketio.packet.Packet):  # type: ignore[misc]
    """python-socketio's packet, with the check for binary attachments done in one loop.

    Every outgoing event and ack is scanned for ``bytes`` (which would make it a binary
    packet). python-socketio recurses with ``functools.reduce`` over a list built at each
    level: 3 ms for a join ack holding a 1,000-seat roster, paid once per join of a storm.
    Same answer, without the recursion or the lists; it stops at the first ``bytes``.
    """

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, (bytes, bytearray)):
                return True
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
        return False


class MeetingServer(socketio.AsyncServer):  # type: ignore[misc]  # python-socketio has no type hints
    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:  # an undecodable packet: tell the client, keep serving
            sid = self.manager.sid_from_eio_sid(eio_sid, NAMESPACE)
            logger.info("undecodable packet sid=%s: %s", sid, exc)
            if sid is not None:
                message = f"the server could not read a packet: {exc}"
                await self.emit(PROTOCOL_ERROR, {"message": message}, to=sid, namespace=NAMESPACE)


def make_server(**options: Any) -> MeetingServer:
    """A :class:`MeetingServer` (``options`` go to ``socketio.AsyncServer``) with the
    wire JSON module and the unknown-event answer installed."""
    sio = MeetingServer(json=wire_json, serializer=MeetingPacket, **options)
    fanout.remember_websockets()  # broadcasts written as one frame per room (fanout.py)

    async def unknown_event(event: str, sid: str, *args: Any) -> dict[str, Any]:
        return error_body(NotFound(f"no event {event!r} on {NAMESPACE}", code="unknown_event"))

    sio.on("*", unknown_event, namespace=NAMESPACE)
    return sio
