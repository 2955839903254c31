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

from . import wire_json
from .namespace import NAMESPACE

logger = logging.getLogger(__name__)

PROTOCOL_ERROR = "protocol_error"


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
    sio = MeetingServer(json=wire_json, **options)

    async def unknown_event(event: str, sid: str, *args: Any) -> dict[str, Any]:
        return error_body(NotFound(f"no event {event!r} on {NAMESPACE}", code="unknown_event"))

    sio.on("*", unknown_event, namespace=NAMESPACE)
    return sio
