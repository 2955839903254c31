"""Audio on lossy links: RFC 2198 (RED) parsing on real Chromium packets, RED forwarded or
stripped per subscriber, losses rebuilt from redundancy, and the Opus/RED negotiation."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters
from aiortc.sdp import SessionDescription

from media import negotiation
from media.forwarding import PublishedTrack
from media.negotiation import AudioPolicy
from media.rtpwire import MediaPacket, RedBlock, red_blocks, red_payload, red_with_block_type
from tests.unit.test_media_forwarding import Publisher, _started

# Two consecutive RED payloads from Chromium 156 (20 ms Opus, one redundant block), as the
# server received them (seq 23105 and 23106, timestamps 1477911995 and 1477912955).
CHROME_RED = [
    bytes.fromhex(
        "ef0f002b6f78098a7846462ed3fd7a867aadda1bcea0f8c1bc2ef45f58502d306c0f5d4cd91e1aff355661ce1074"
        "1ed57809953db372fb6d8b4944bd60cbb6160db8acec2cbab0582e4e231c0af176d31672f5a2f1642337"
    ),
    bytes.fromhex(
        "ef0f00286f7809953db372fb6d8b4944bd60cbb6160db8acec2cbab0582e4e231c0af176d31672f5a2f1642337"
        "7809953db2ed915db487685af85cea83c9141dbf3ab2c5162b94ba4348c493f9631f0d859dcb58"
    ),
]
SEQ, TS = 23105, 1477911995


def _red(seq: int, ts: int, payload: bytes) -> MediaPacket:
    return MediaPacket(payload, seq, ts, False, keyframe=True, red=True)


def test_chromium_red_packets_parse_into_one_redundant_block_and_the_primary() -> None:
    first, second = (red_blocks(p) for p in CHROME_RED)
    assert first is not None and second is not None
    assert [(b.payload_type, b.timestamp_offset, len(b.data)) for b in first] == [
        (111, 960, 43),
        (111, 0, 40),
    ]
    assert [(b.payload_type, b.timestamp_offset) for b in second] == [(111, 960), (111, 0)]
    # each packet repeats the one before it: the redundant block is the previous primary
    assert second[0].data == first[1].data
    assert red_payload(first) == CHROME_RED[0]  # and writing it back gives the same bytes


def test_malformed_red_payloads_are_refused_not_misread() -> None:
    whole = CHROME_RED[0]
    assert red_blocks(b"") is None
    assert red_blocks(whole[:3]) is None  # a redundant block header cut short
    assert red_blocks(whole[:4]) is None  # no primary header after it
    assert red_blocks(whole[:20]) is None  # the redundant block's 43 bytes are not there
    assert red_blocks(b"\xef" * 80) is None  # header after header, never a primary
    only_primary = red_blocks(b"\x6fopus")
    assert only_primary is not None and [b.data for b in only_primary] == [b"opus"]


def test_block_payload_types_are_renumbered_in_every_header() -> None:
    renumbered = red_with_block_type(CHROME_RED[0], 96)
    assert renumbered is not None
    blocks = red_blocks(renumbered)
    assert blocks is not None and [b.payload_type for b in blocks] == [96, 96]
    assert [b.data for b in blocks] == [b.data for b in red_blocks(CHROME_RED[0]) or []]
    assert red_with_block_type(b"\xef\x0f", 96) is None


async def test_red_goes_as_is_to_red_subscribers_and_as_primary_opus_to_the_others() -> None:
    source = PublishedTrack("alice", "audio", Publisher().request, keyframe_interval=1.0)
    red_sub, red_wire = _started("audio", 1, source, payload_type=111, red_payload_type=63, clock_rate=48000)
    plain_sub, plain_wire = _started("audio", 2, source, payload_type=96, clock_rate=48000)
    assert red_sub.receives_red and not plain_sub.receives_red
    for i, payload in enumerate(CHROME_RED):
        source.on_packet(_red(SEQ + i, TS + 960 * i, payload))
    got_red, got_plain = red_wire.packets(), plain_wire.packets()
    assert [p.payload_type for p in got_red] == [63, 63]
    assert [p.payload for p in got_red] == CHROME_RED  # block types already 111: unchanged bytes
    assert [p.payload_type for p in got_plain] == [96, 96]
    assert [p.payload for p in got_plain] == [b[-1].data for b in map(red_blocks, CHROME_RED) if b]
    # a RED subscriber whose Opus has another type gets the blocks renumbered to it
    other, other_wire = _started("audio", 3, source, payload_type=100, red_payload_type=63, clock_rate=48000)
    source.on_packet(_red(SEQ + 2, TS + 1920, CHROME_RED[1]))
    (sent,) = other_wire.packets()
    blocks = red_blocks(sent.payload)
    assert blocks is not None and {b.payload_type for b in blocks} == {100}
    for track in (red_sub, plain_sub, other):
        track.stop()


async def test_a_packet_lost_upstream_is_rebuilt_from_the_next_ones_redundancy_for_plain_subscribers() -> (
    None
):
    source = PublishedTrack("alice", "audio", Publisher().request, keyframe_interval=1.0)
    plain, plain_wire = _started("audio", 2, source, payload_type=111, clock_rate=48000)
    red_sub, red_wire = _started("audio", 1, source, payload_type=111, red_payload_type=63, clock_rate=48000)
    first = red_blocks(CHROME_RED[0])
    second = red_blocks(CHROME_RED[1])
    assert first is not None and second is not None
    source.on_packet(_red(SEQ - 1, TS - 960, CHROME_RED[0]))
    # SEQ (whose primary is the first packet's) is lost on the way up; SEQ + 1 arrives
    source.on_packet(_red(SEQ + 1, TS + 960, CHROME_RED[1]))
    got = plain_wire.packets()
    assert [p.payload for p in got] == [first[1].data, second[0].data, second[1].data]
    seqs = [p.sequence_number for p in got]
    assert [(s - seqs[0]) & 0xFFFF for s in seqs] == [0, 1, 2]  # the hole is filled in its slot
    assert [(p.timestamp - got[0].timestamp) & 0xFFFFFFFF for p in got] == [0, 960, 1920]
    assert source.recovered == 1
    # the RED subscriber recovers on its own: it gets exactly what arrived
    assert [p.payload for p in red_wire.packets()] == [CHROME_RED[0], CHROME_RED[1]]
    # the lost packet arriving late changes nothing (its slot is taken)
    source.on_packet(_red(SEQ, TS, CHROME_RED[0]))
    assert len(plain_wire.packets()) == 3 and source.duplicates == 1
    plain.stop()
    red_sub.stop()


async def test_only_as_many_packets_as_the_redundancy_holds_are_rebuilt() -> None:
    source = PublishedTrack("alice", "audio", Publisher().request, keyframe_interval=1.0)
    plain, wire = _started("audio", 2, source, payload_type=111, clock_rate=48000)
    source.on_packet(_red(100, 96000, CHROME_RED[0]))
    source.on_packet(_red(104, 96000 + 4 * 960, CHROME_RED[1]))  # three lost, one block to rebuild from
    assert [p.sequence_number - wire.packets()[0].sequence_number for p in wire.packets()] == [0, 3, 4]
    assert source.recovered == 1
    plain.stop()


CHROME_OFFER = [
    RTCRtpCodecParameters(
        mimeType="audio/opus",
        clockRate=48000,
        channels=2,
        payloadType=111,
        rtcpFeedback=[RTCRtcpFeedback(type="transport-cc")],
        parameters={"minptime": 10, "useinbandfec": 1},
    ),
    RTCRtpCodecParameters(
        mimeType="audio/red", clockRate=48000, channels=2, payloadType=63, parameters={"111/111": None}
    ),
    RTCRtpCodecParameters(mimeType="audio/G722", clockRate=8000, channels=1, payloadType=9),
]


def test_a_chromium_offer_is_answered_with_red_ahead_of_opus_with_in_band_fec() -> None:
    red, opus = negotiation.answer_audio(CHROME_OFFER, AudioPolicy())
    assert (red.mimeType, red.payloadType, red.parameters) == ("audio/red", 63, {"111/111": None})
    assert (opus.mimeType, opus.payloadType) == ("audio/opus", 111)
    assert opus.parameters == {"minptime": 10, "useinbandfec": 1, "stereo": 0}
    assert opus.rtcpFeedback == []  # no transport-cc without the transport-wide feedback it needs
    (dtx,) = negotiation.answer_audio(CHROME_OFFER, AudioPolicy(red=False, dtx=True))
    assert dtx.parameters == {"minptime": 10, "useinbandfec": 1, "stereo": 0, "usedtx": 1}
    (plain,) = negotiation.answer_audio(CHROME_OFFER, AudioPolicy(red=False, fec=False))
    assert plain.parameters == {"minptime": 10, "stereo": 0}
    # RED naming another codec, or an offer without Opus
    other_red = [CHROME_OFFER[0], RTCRtpCodecParameters("audio/red", 48000, 2, 63, parameters={"9/9": None})]
    assert [c.mimeType for c in negotiation.answer_audio(other_red, AudioPolicy())] == ["audio/opus"]
    assert negotiation.answer_audio(CHROME_OFFER[2:], AudioPolicy()) == []


def test_subscribers_are_offered_red_and_keep_what_they_answer() -> None:
    offered = negotiation.offer_audio(AudioPolicy())
    assert [(c.mimeType, c.payloadType) for c in offered] == [("audio/opus", 111), ("audio/red", 63)]
    both = negotiation.accepted_audio(offered, list(reversed(offered)))
    assert [c.mimeType for c in both] == ["audio/opus", "audio/red"]  # Opus first: the sender's codec
    opus_only = negotiation.accepted_audio(offered, [offered[0]])
    assert [c.mimeType for c in opus_only] == ["audio/opus"]
    assert [c.mimeType for c in negotiation.offer_audio(AudioPolicy(red=False))] == ["audio/opus"]


def test_an_offer_rewrite_changes_the_audio_codecs_and_nothing_else() -> None:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "a=msid-semantic:WMS *\r\n"
        "m=audio 5000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\na=mid:0\r\n"
        "a=msid:s t\r\na=rtcp-mux\r\na=rtpmap:96 opus/48000/2\r\na=ssrc:1 cname:x\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        "m=video 5000 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\na=mid:1\r\n"
        "a=rtcp-mux\r\na=rtpmap:97 VP8/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
    )
    before = SessionDescription.parse(sdp)
    after = SessionDescription.parse(
        negotiation.rewrite_offer_audio(sdp, negotiation.offer_audio(AudioPolicy()))
    )
    audio, video = after.media
    assert audio.fmt == [111, 63] and [c.mimeType for c in audio.rtp.codecs] == ["audio/opus", "audio/red"]
    assert audio.rtp.codecs[0].parameters == {"minptime": 10, "useinbandfec": 1, "stereo": 0}
    assert [(c.ip, c.port) for c in audio.ice_candidates] == [("127.0.0.1", 5000)]
    assert audio.ice_candidates_complete and audio.ice is not None and audio.ice.usernameFragment == "abcd"
    assert str(video) == str(before.media[1])
    assert negotiation.audio_codecs_of(str(after))["0"][1].parameters == {"111/111": None}


def test_video_m_lines_offer_playout_delay_and_the_answer_tells_which_kept_it() -> None:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"
        "a=msid-semantic:WMS *\r\n"
        "m=audio 5000 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\na=mid:0\r\n"
        "a=rtcp-mux\r\na=rtpmap:96 opus/48000/2\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        "m=video 5000 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\na=mid:1\r\n"
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
        "a=rtcp-mux\r\na=rtpmap:97 VP8/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
    )
    codecs = negotiation.offer_audio(AudioPolicy())
    plain = SessionDescription.parse(negotiation.rewrite_offer_audio(sdp, codecs))
    assert [e.uri for e in plain.media[1].rtp.headerExtensions] == ["urn:ietf:params:rtp-hdrext:sdes:mid"]
    offer = negotiation.rewrite_offer_audio(sdp, codecs, playout_delay=True)
    audio, video = SessionDescription.parse(offer).media
    assert [(e.id, e.uri) for e in video.rtp.headerExtensions][-1] == (6, negotiation.PLAYOUT_DELAY_URI)
    assert not any(e.uri == negotiation.PLAYOUT_DELAY_URI for e in audio.rtp.headerExtensions)
    assert negotiation.rewrite_offer_audio(offer, codecs, playout_delay=True).count("playout-delay") == 1
    assert negotiation.playout_delay_ids_of(offer) == {"1": 6}
    assert negotiation.playout_delay_ids_of(sdp) == {}


def test_red_blocks_round_trip() -> None:
    blocks = [RedBlock(111, 1920, b"a" * 10), RedBlock(111, 960, b"b" * 20), RedBlock(111, 0, b"c" * 30)]
    parsed = red_blocks(red_payload(blocks))
    assert parsed is not None
    assert [(b.payload_type, b.timestamp_offset, b.data) for b in parsed] == [
        (b.payload_type, b.timestamp_offset, b.data) for b in blocks
    ]


async def test_nothing_from_a_muted_stretch_is_rebuilt_after_unmute() -> None:
    source = PublishedTrack("alice", "audio", Publisher().request, keyframe_interval=1.0)
    plain, wire = _started("audio", 2, source, payload_type=111, clock_rate=48000)
    source.on_packet(_red(SEQ - 1, TS - 960, CHROME_RED[0]))
    source.muted = True
    source.on_packet(_red(SEQ, TS, CHROME_RED[0]))  # muted: not forwarded
    source.muted = False
    source.on_packet(_red(SEQ + 1, TS + 960, CHROME_RED[1]))  # its redundancy is the muted packet
    assert len(wire.packets()) == 2 and source.recovered == 0
    plain.stop()
