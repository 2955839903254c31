"""The python-socketio / python-engineio internals signaling relies on, pinned: if an
upgrade moves or renames one, this fails loudly here instead of quietly elsewhere.

Used by signaling/fanout.py (encode-once broadcasts, the Redis manager's delivery),
signaling/server.py (the decoder hook, unreadable packets) and
signaling/namespace.py (shutdown).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import engineio
import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager
from socketio.async_redis_manager import AsyncRedisManager

from signaling import wire_json
from signaling.namespace import NAMESPACE
from signaling.server import MeetingServer, make_server


def params(fn: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_server_hooks_signaling_overrides_keep_their_signatures() -> None:
    assert params(socketio.AsyncServer._handle_eio_message) == ["self", "eio_sid", "data"]
    assert inspect.iscoroutinefunction(socketio.AsyncServer._handle_eio_message)
    assert MeetingServer._handle_eio_message is not socketio.AsyncServer._handle_eio_message
    assert params(socketio.AsyncManager.sid_from_eio_sid) == ["self", "eio_sid", "namespace"]
    assert params(socketio.AsyncManager.get_participants) == ["self", "namespace", "room"]


def test_the_json_option_replaces_the_packet_decoder_of_both_layers() -> None:
    sio = make_server(async_mode="aiohttp")
    assert sio.packet_class.json is wire_json
    assert engineio.packet.Packet.json is wire_json
    # the catch-all handler is how unknown events get an answer
    assert "*" in sio.handlers[NAMESPACE]


def test_socketio_packets_still_decode_through_the_json_module() -> None:
    sio = make_server(async_mode="aiohttp")
    encoded = sio.packet_class(
        socketio.packet.EVENT, namespace=NAMESPACE, data=["x", {"n": 1}], id=7
    ).encode()
    assert isinstance(encoded, str) and encoded.startswith("2/meeting,7")
    decoded = sio.packet_class(encoded_packet="2/meeting,7" + '["x",{"n":' + "9" * 200 + "}]")
    assert decoded.id == 7 and decoded.data[0] == "x"
    assert isinstance(decoded.data[1]["n"], wire_json.OversizedInt)  # kept for the dispatcher to refuse
    deep = sio.packet_class(encoded_packet='2/meeting,8["join",' + "[" * 20_000 + "]" * 20_000 + "]")
    assert deep.id == 8 and isinstance(deep.data[1], wire_json.Undecodable)


def test_an_encoded_value_goes_out_as_its_text_in_the_packet_that_carries_it() -> None:
    """The join ack's roster is encoded once per roster tick (wire_json.Encoded) and
    spliced into each ack: the packet must decode to what encoding the value in place
    would give, whatever the strings around it hold."""
    sio = make_server(async_mode="aiohttp")
    seats = [{"member_id": f"M{i}", "full_name": 'Nguyễn Văn "An"\x00', "site": None} for i in range(3)]
    tricky = {"chat": [{"text": wire_json._MARK + "0"}, {"text": '"\\u0000'}], "n": 2}
    # the mark itself in a string before the value (only this process knows it): still right
    ack = [{"ok": True, **tricky, "roster": wire_json.Encoded(seats), "again": wire_json.Encoded([1])}]
    plain = [{"ok": True, **tricky, "roster": seats, "again": [1]}]

    def wire(data: Any) -> str:
        text = sio.packet_class(socketio.packet.ACK, namespace=NAMESPACE, data=data, id=3).encode()
        assert isinstance(text, str)
        return text

    sent = wire(ack)
    assert sent.startswith("3/meeting,3")
    assert sio.packet_class(encoded_packet=sent).data == sio.packet_class(encoded_packet=wire(plain)).data
    del tricky["chat"][0]
    assert wire(ack).count("M2") == 1 and "wire-json" not in wire(ack)
    assert wire_json.dumps({"a": wire_json.Encoded({"b": "é"})}, ensure_ascii=False) == '{"a": {"b":"é"}}'
    try:
        wire_json.dumps({"a": object()})
    except TypeError as exc:
        assert "object" in str(exc)
    else:
        raise AssertionError("an object JSON cannot hold was encoded")


def test_the_encode_once_broadcast_path_exists() -> None:
    assert socketio.packet.EVENT == 2
    assert engineio.packet.MESSAGE == 4
    assert params(engineio.packet.Packet.__init__)[:3] == ["self", "packet_type", "data"]
    assert params(engineio.AsyncServer.send_packet) == ["self", "sid", "pkt"]
    server = engineio.AsyncServer(async_mode="aiohttp")
    assert isinstance(server.sockets, dict)  # namespace.shutdown() checks it before disconnect()
    assert "sid" in params(engineio.AsyncServer.disconnect)


def test_the_redis_manager_hooks_the_fanout_overrides_exist() -> None:
    for name in ("_redis_connect", "_handle_emit", "emit"):
        assert hasattr(AsyncRedisManager, name), name
    assert params(AsyncPubSubManager._handle_emit) == ["self", "message"]
    source = inspect.getsource(AsyncRedisManager._redis_connect)
    assert "self.redis" in source and "self.pubsub" in source  # the clients fanout closes


def test_outgoing_packets_are_checked_for_binary_by_the_one_loop_with_the_same_answers() -> None:
    from signaling.server import MeetingPacket

    sio = make_server(async_mode="aiohttp")
    assert sio.packet_class is MeetingPacket
    # python-socketio still asks the packet class whether data is binary
    assert "data_is_binary" in inspect.getsource(socketio.packet.Packet.__init__)
    cases: list[Any] = [
        None,
        "x",
        1,
        b"raw",
        [1, [2, {"a": bytearray(b"z")}]],
        {"roster": [{"member_id": f"M{i}", "site": None} for i in range(50)]},
        {"a": [{"b": ({"c": b"in a tuple"},)}]},  # tuples are not looked into, as before
        [[[[["deep"]]]]],
    ]
    for data in cases:
        assert MeetingPacket.data_is_binary(data) == socketio.packet.Packet.data_is_binary(data), data


def test_the_direct_frame_write_finds_the_engineio_and_aiohttp_internals_it_reads() -> None:
    """fanout._write_now writes a broadcast's frame straight to a WebSocket connection only
    while its engine.io writer waits on an empty queue: that writer must still take every
    message from the queue and send it whole before waiting again, and the socket must
    still be served over the aiohttp response the driver keeps as ``_sock``."""
    import asyncio

    from aiohttp._websocket.writer import WebSocketWriter
    from engineio.async_drivers.aiohttp import WebSocket
    from engineio.async_socket import AsyncSocket
    from engineio.base_socket import BaseSocket

    original = inspect.unwrap(AsyncSocket._websocket_handler)  # under fanout's hook, once made
    handler = inspect.getsource(original)
    assert "packets = await self.poll()" in handler
    assert "await ws.send(pkt.encode())" in handler
    assert params(original) == ["self", "ws"]
    poll = inspect.getsource(AsyncSocket.poll)
    assert "self.queue.get()" in poll and "self.queue.get_nowait()" in poll
    assert "self._sock = WebSocketResponse(" in inspect.getsource(WebSocket.__call__)
    init = inspect.getsource(BaseSocket.__init__)
    for name in (
        "self.queue",
        "self.upgrading",
        "self.upgraded",
        "self.closing",
        "self.closed",
        "self.last_ping",
    ):
        assert name in init, name
    assert "self._getters" in inspect.getsource(asyncio.Queue)
    writer = inspect.getsource(WebSocketWriter.__init__)
    for name in (
        "self.transport = transport",
        "self.protocol = protocol",
        "self.compress",
        "self.notakeover",
    ):
        assert name in writer, name
    from aiohttp.base_protocol import BaseProtocol

    assert "_paused" in BaseProtocol.__slots__
