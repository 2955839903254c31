"""The WebSocket frames a room broadcast is written as (signaling/fanout.py)."""

from __future__ import annotations

from signaling import fanout


def test_one_compressed_frame_decodes_for_any_connection_without_context_takeover() -> None:
    import zlib

    message = '42/t,["m",' + '{"member":"m-0001","state":"present"},' * 40 + "0]"
    plain = fanout.text_frame(message)
    packed = fanout.text_frame(message, 15)
    assert plain[0] == 0x81 and packed[0] == 0xC1  # RSV1: compressed
    assert len(packed) < len(plain) // 4
    assert packed[1] < 126  # a 7-bit length: the payload follows the 2-byte header
    payload = packed[2:]
    assert zlib.decompressobj(-15).decompress(payload + fanout.DEFLATE_TRAILER) == message.encode()
    frames = fanout.RoomFrames(message)
    assert frames.frame_for(0, server_takeover=True) == plain
    assert frames.frame_for(15, server_takeover=False) == packed
    assert frames.frame_for(15, server_takeover=True) is None  # too big to send uncompressed
    assert fanout.RoomFrames('42/t,["m",1]').frame_for(15, server_takeover=True) == fanout.text_frame(
        '42/t,["m",1]'
    )
