"""Fails loudly when an aiortc/aioice upgrade moves what media/aiortc_hooks.py relies on."""

from __future__ import annotations

import inspect

import aioice.ice
import aiortc
import pylibsrtp
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs import get_encoder
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter
from aiortc.rtcicetransport import RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap, RtcpRtpfbPacket, RtpPacket

from media import aiortc_hooks
from media.aiortc_hooks import EncodedFrame, FrameAssembler, is_keyframe

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def test_aiortc_is_the_pinned_version() -> None:
    assert aiortc.__version__ == aiortc_hooks.AIORTC_VERSION == "1.16.0"


def test_receiver_feeds_every_packet_to_its_jitter_buffer_attribute() -> None:
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__jitter_buffer.add(packet)" in source
    assert "pli_flag, encoded_frame = " in source
    assert "await self._send_rtcp_pli(packet.ssrc)" in source
    assert "packet._data = depayload(codec, packet.payload)" in source
    init = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__jitter_buffer = JitterBuffer(" in init
    assert "self.__codecs: dict[int, RTCRtpCodecParameters] = {}" in init
    assert callable(RTCRtpReceiver._send_rtcp_pli)


def test_sender_packs_pre_encoded_packets_and_routes_pli_to_send_keyframe() -> None:
    frame_source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "data = await self.__track.recv()" in frame_source
    assert "self.__encoder.pack(data)" in frame_source
    assert "if isinstance(data, Frame):" in frame_source
    rtcp_source = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self._send_keyframe()" in rtcp_source
    assert "await self._retransmit(seq)" in rtcp_source
    assert "_stream_id" in inspect.getsource(RTCRtpSender.__init__)
    for mime in ("video/VP8", "audio/opus", "video/H264"):
        codec = RTCRtpCodecParameters(mimeType=mime, clockRate=90000, payloadType=96)
        assert callable(get_encoder(codec).pack)


def test_sender_internals_the_packet_link_writes_to_are_where_it_expects() -> None:
    init = inspect.getsource(RTCRtpSender.__init__)
    for name in ("packet_count", "octet_count", "ntp_timestamp", "rtp_timestamp"):
        assert f"self.__{name} = 0" in init, name
    assert "self.__rtt: Optional[float] = None" in init  # aiortc_hooks.sender_rtt
    assert "self.__rtt = rtt" in inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    rtcp = inspect.getsource(RTCRtpSender._run_rtcp)
    assert "packet_count=self.__packet_count" in rtcp and "rtp_timestamp=self.__rtp_timestamp" in rtcp
    send = inspect.getsource(RTCRtpSender.send)
    assert "if not self.__started:" in send and "self._run_rtp(parameters.codecs[0])" in send
    assert "self._ssrc = random32()" in init and "self._rtx_ssrc = random32()" in init
    dtls_send = inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "if self._state != State.CONNECTED:" in dtls_send
    assert "data = self._tx_srtp.protect(data)" in dtls_send
    assert "self.__tx_bytes += len(data)" in dtls_send and "self.__tx_packets += 1" in dtls_send
    ice_init = inspect.getsource(RTCIceTransport.__init__)
    assert "self._connection = gatherer._connection" in ice_init
    assert "self._send = self._connection.send" in ice_init
    sendto = inspect.getsource(aioice.ice.Connection.sendto)
    assert "active_pair = self._nominated.get(component)" in sendto
    assert "await active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in inspect.getsource(aioice.ice.StunProtocol.send_data)
    assert {"lost", "fmt"} <= set(inspect.signature(RtcpRtpfbPacket).parameters)
    assert callable(pylibsrtp.Session.protect)


def test_aioice_starts_its_consent_loop_through_an_overridable_method() -> None:
    connect = inspect.getsource(aioice.ice.Connection.connect)
    assert "self._query_consent_task = asyncio.create_task(self.query_consent())" in connect
    consent = inspect.getsource(aioice.ice.Connection.query_consent)
    assert "self.build_request(pair, nominate=False)" in consent
    assert "retransmissions=0" in consent and "return await self.close()" in consent
    assert aioice.ice.CONSENT_INTERVAL == 5 and aioice.ice.CONSENT_FAILURES == 6


def test_aioice_gathers_host_candidates_through_an_overridable_method() -> None:
    source = inspect.getsource(aioice.ice.Connection.gather_candidates)
    assert "self.get_component_candidates(component=component, addresses=addresses)" in source
    params = inspect.signature(aioice.ice.Connection.get_component_candidates).parameters
    assert list(params)[:3] == ["self", "component", "addresses"]
    component_source = inspect.getsource(aioice.ice.Connection.get_component_candidates)
    assert "self._protocols += host_protocols" in component_source
    assert "protocol.local_candidate = Candidate(" in component_source


async def test_hooks_install_on_a_real_peer_connection() -> None:
    pc = RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        frames: list[EncodedFrame] = []
        assembler = aiortc_hooks.install_frame_sink(transceiver.receiver, "video", frames.append)
        assert aiortc_hooks.hooked_assembler(transceiver.receiver) is assembler
        connection = transceiver.sender.transport.transport.iceGatherer._connection
        assert isinstance(connection, aioice.ice.Connection)
        assert isinstance(connection._protocols, list)
        aiortc_hooks.announce_host_candidates(pc, ["127.0.0.1"])
        assert "query_consent" in vars(connection)  # the tolerant loop, on this connection only
        assert "query_consent" not in vars(aioice.ice.Connection(ice_controlling=True))
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        sdp = pc.localDescription.sdp
        assert " 127.0.0.1 " in sdp and "typ host" in sdp
        requests: list[int] = []
        aiortc_hooks.on_keyframe_request(transceiver.sender, lambda: requests.append(1))
        transceiver.sender._send_keyframe()
        assert requests == [1]
        nacks: list[int] = []
        links: list[aiortc_hooks.SenderLink] = []
        aiortc_hooks.attach_sender(
            transceiver.sender,
            on_started=links.append,
            on_keyframe_request=lambda: None,
            on_nack=nacks.append,
        )
        await transceiver.sender._retransmit(42)
        assert nacks == [42]
    finally:
        await pc.close()


def _packet(seq: int, ts: int, payload: bytes, marker: bool = False, start: bool = False) -> RtpPacket:
    packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=ts, ssrc=1234)
    packet.marker = int(marker)
    packet.payload = (b"\x10" if start else b"\x00") + payload  # VP8 descriptor
    packet._data = payload  # type: ignore[attr-defined]
    return packet


def _assembler() -> tuple[FrameAssembler, list[EncodedFrame]]:
    frames: list[EncodedFrame] = []
    return FrameAssembler("video", {96: VP8}, frames.append, clock=lambda: 0.0), frames


def test_video_frame_is_released_on_its_marker_packet_not_on_the_next_frame() -> None:
    assembler, frames = _assembler()
    assembler.add(_packet(99, 0, b"x", marker=True))  # synchronises
    assembler.add(_packet(100, 3000, b"\x00ab"))
    assert frames == []
    assembler.add(_packet(101, 3000, b"cd", marker=True))
    assert [f.data for f in frames] == [b"\x00abcd"]
    assert frames[0].keyframe


def test_the_first_frame_is_kept_when_its_first_vp8_packet_is_seen() -> None:
    assembler, frames = _assembler()
    assembler.add(_packet(7, 0, b"\x00k", start=True))
    assembler.add(_packet(8, 0, b"ey", marker=True))
    assert [f.data for f in frames] == [b"\x00key"]
    assert frames[0].keyframe


def test_reordered_packets_release_frames_in_order_once_complete() -> None:
    assembler, frames = _assembler()
    assembler.add(_packet(65535, 0, b"x", marker=True))  # wraps sequence numbers
    assembler.add(_packet(1, 3000, b"b", marker=True))
    assembler.add(_packet(2, 6000, b"\x01c", marker=True))
    assert frames == []
    assembler.add(_packet(0, 3000, b"\x01a"))
    assert [f.data for f in frames] == [b"\x01ab", b"\x01c"]
    assert not frames[0].keyframe
    assembler.add(_packet(0, 3000, b"\x01a"))  # late duplicate
    assert len(frames) == 2


def test_a_lost_packet_is_given_up_and_the_next_frame_flags_a_discontinuity() -> None:
    now = [0.0]
    frames: list[EncodedFrame] = []
    assembler = FrameAssembler("video", {96: VP8}, frames.append, clock=lambda: now[0])
    assembler.add(_packet(9, 0, b"x", marker=True))
    assembler.add(_packet(11, 3000, b"b", marker=True))  # 10 lost
    assembler.add(_packet(12, 6000, b"\x01c", marker=True))
    assert frames == []
    now[0] = 5.0
    pli, _ = assembler.add(_packet(13, 9000, b"\x00d", marker=True))
    assert pli
    assert [f.data for f in frames] == [b"\x01c", b"\x00d"]
    assert frames[0].discontinuity and not frames[1].discontinuity


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("VP8", b"\x10\x02\x00", True),
        ("VP8", b"\x11\x02\x00", False),
        ("H264", b"\x00\x00\x00\x01\x67abc\x00\x00\x00\x01\x65", True),
        ("H264", b"\x00\x00\x00\x01\x41abc", False),
        ("opus", b"\xfc", True),
    ],
)
def test_keyframes_are_detected_from_the_bitstream(name: str, data: bytes, expected: bool) -> None:
    assert is_keyframe(name, data) is expected


def test_receiver_keeps_per_ssrc_statistics_and_its_rtx_map() -> None:
    """media_stream_counts reads these (getStats() files every SSRC under one report id)."""
    from aiortc.rtcdtlstransport import RTCCertificate
    from aiortc.rtcicetransport import RTCIceGatherer
    from aiortc.rtcrtpreceiver import StreamStatistics

    init = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__remote_streams: dict[int, StreamStatistics] = {}" in init
    assert "self.__rtx_ssrc: dict[int, int] = {}" in init
    dtls = RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()])
    receiver = RTCRtpReceiver("video", dtls)
    assert aiortc_hooks.media_stream_counts(receiver) is None
    streams = getattr(receiver, aiortc_hooks._RECEIVER_REMOTE_STREAMS)
    rtx = getattr(receiver, aiortc_hooks._RECEIVER_RTX_SSRC)
    media, retransmissions = StreamStatistics(90000), StreamStatistics(90000)
    for seq in range(50):
        media.add(RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 3000, ssrc=1))
    for seq in range(80):  # more RTX than media: still left out by its SSRC
        retransmissions.add(RtpPacket(payload_type=97, sequence_number=seq, ssrc=2))
    streams[1], streams[2] = media, retransmissions
    rtx[2] = 1
    counts = aiortc_hooks.media_stream_counts(receiver)
    assert counts is not None and counts.packets_received == 50 and counts.packets_lost == 0


def test_receiver_asks_its_nack_generator_attribute_what_to_nack() -> None:
    source = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__nack_generator is not None and self.__nack_generator.add(packet)" in source
    assert "sorted(self.__nack_generator.missing)" in source
    assert "self.__nack_generator = NackGenerator()" in inspect.getsource(RTCRtpReceiver.__init__)
    assert callable(RTCRtpReceiver._send_rtcp_nack)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rtp(seq: int) -> RtpPacket:
    return RtpPacket(payload_type=96, sequence_number=seq & 0xFFFF, timestamp=seq * 3000, ssrc=42)


def test_missing_packets_are_nacked_at_once_then_again_each_round_trip_until_too_old() -> None:
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock)
    assert not nacks.add(_rtp(10))
    assert nacks.add(_rtp(13))  # 11 and 12 missing: aiortc sends a NACK for them now
    assert nacks.missing == [11, 12] and nacks.missing == []
    clock.now += 0.1
    assert nacks.due() == []  # not a round trip yet (rtt starts at 0.2 s)
    clock.now += 0.2
    assert nacks.due() == [11, 12]  # asked again: aiortc's generator never would
    assert not nacks.add(_rtp(11))  # 11 came back, 0.3 s after its first NACK: the round trip
    clock.now += 0.4
    assert nacks.due() == [12]
    for _ in range(10):
        clock.now += 0.3
        nacks.due()
    assert nacks.outstanding == 0 and nacks.given_up == 1 and nacks.recovered == 1
    assert nacks.sent <= 2 + aiortc_hooks.NACK_MAX_TRIES * 2


def test_a_packet_is_asked_for_while_an_answer_can_come_within_the_horizon_then_given_up() -> None:
    """300 ms round trips, 1.6 s horizon: tries at 0, 0.375, 0.75 and 1.125 s (the fourth's
    answer, ~1.43 s, is still in time; the old fixed 1.0 s age gave up before it), none at
    1.5 s (its answer would come after 1.6 s): given up when that try would be due."""
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock, horizon=1.6)
    given_up: list[int] = []
    nacks.on_give_up = given_up.append
    nacks.rtt, nacks.rtt_samples = 0.3, 1
    nacks.add(_rtp(1))
    nacks.add(_rtp(3))  # 2 missing, NACKed at once
    assert nacks.missing == [2]
    tries: list[float] = []
    start = clock.now
    while clock.now - start < 2.0:
        clock.now += 0.025
        if 2 in nacks.due():
            tries.append(round(clock.now - start, 3))
    assert tries == [0.375, 0.75, 1.125] and given_up == [2]
    # the fourth try's answer arrives in time and is recovered, not given up
    nacks.add(_rtp(3))  # a late copy of 3: the link carries packets now, 4 is lost just now
    nacks.add(_rtp(5))  # 4 missing
    for _ in range(int(1.125 / 0.025)):
        clock.now += 0.025
        nacks.due()
    clock.now += 0.3
    nacks.add(_rtp(4))
    assert nacks.recovered == 1 and given_up == [2]


def test_the_retry_interval_follows_the_measured_round_trip() -> None:
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock)
    nacks.add(_rtp(1))
    for i in range(30):  # each loss answered 0.6 s after its first NACK
        base = 2 + 2 * i
        nacks.add(_rtp(base + 1))
        assert nacks.missing == [base]
        clock.now += 0.6
        nacks.add(_rtp(base))
    assert 0.5 < nacks.rtt < 0.65
    nacks.add(_rtp(200))
    assert len(nacks.missing) == 200 - 2 - 2 * 30  # found missing now (NACKed by aiortc)
    clock.now += 0.5
    assert nacks.due() == []  # 1.25 round trips have not passed
    clock.now += 0.3
    assert len(nacks.due()) > 0


def test_each_packet_given_up_on_is_reported_once_and_the_first_answer_sets_the_round_trip() -> None:
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock)
    given_up: list[int] = []
    nacks.on_give_up = given_up.append
    nacks.add(_rtp(1))
    nacks.add(_rtp(4))  # 2, 3 missing
    assert nacks.last_missing_at == clock.now and nacks.rtt_samples == 0
    clock.now += 0.3
    nacks.add(_rtp(2))
    assert nacks.rtt_samples == 1 and nacks.rtt == pytest.approx(0.3)  # not averaged with the guess
    # a longer round trip than the estimate: the answer comes after a retry, and still counts
    nacks.add(_rtp(6))  # 5 missing
    clock.now += 0.4
    assert 5 in nacks.due()  # asked again after 1.25 x 0.3 s
    clock.now += 0.2
    nacks.add(_rtp(5))
    assert nacks.rtt_samples == 2 and nacks.rtt == pytest.approx(0.8 * 0.3 + 0.2 * 0.6)
    for _ in range(30):
        clock.now += 0.1
        nacks.due()
    assert given_up == [3] and nacks.given_up == 1


def test_a_packet_a_subscriber_asked_for_and_we_never_had_is_asked_of_the_publisher() -> None:
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock)
    nacks.add(_rtp(100))
    nacks.add(_rtp(101))
    nacks.request(90)  # lost upstream and already given up on, say
    nacks.request(500)  # not sent yet: nothing to ask
    assert nacks.due() == [90]


def test_transport_cc_hooks_find_the_internals_they_replace() -> None:
    """What install_transport_feedback, DirectReceive, _sender_bwe and enable_transport_cc use."""
    from aiortc.rtcrtptransceiver import RTCRtpTransceiver
    from aiortc.rtp import HeaderExtensionsMap

    handle = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "RtpPacket.parse(data, self._rtp_header_extensions_map)" in handle
    assert "receiver = self._rtp_router.route_rtp(packet)" in handle
    assert "await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)" in handle
    recv = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "data = await self.transport._recv()" in recv
    assert "await self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)" in recv
    assert "await self._handle_rtcp_data(data)" in recv
    assert "RtcpPacket.parse(data)" in inspect.getsource(RTCDtlsTransport._handle_rtcp_data)
    assert "self._recv = self._connection.recv" in inspect.getsource(RTCIceTransport.__init__)
    assert "self._queue.put_nowait((data, component))" in inspect.getsource(
        aioice.ice.Connection.data_received
    )
    assert "self.receiver.data_received(" in inspect.getsource(aioice.ice.StunProtocol.datagram_received)
    receiver_init = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__remote_bitrate_estimator = RemoteBitrateEstimator()" in receiver_init
    assert "self._headerExtensions: list[RTCRtpHeaderExtensionParameters] = []" in inspect.getsource(
        RTCRtpTransceiver.__init__
    )
    assert "transport-wide-cc-extensions-01" in inspect.getsource(HeaderExtensionsMap.configure)
    assert "headerExtensions=transceiver._headerExtensions" in inspect.getsource(RTCPeerConnection)


def test_simulcast_relies_on_the_receiver_routing_by_payload_type_and_unwrapping_rtx_from_its_table() -> None:
    """install_simulcast_sink: every SSRC of the m-line reaches one receiver (the router
    learns an unknown SSRC by payload type), the receiver unwraps RTX by its ``__rtx_ssrc``
    table (which the tap fills from repaired-rid), and the rid extensions are parsed once
    negotiated (enable_simulcast)."""
    route = inspect.getsource(RtpRouter.route_rtp)
    assert "if ssrc_receiver is None and len(pt_receivers) == 1:" in route
    assert "self.ssrc_table[packet.ssrc] = pt_receiver" in route
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "original_ssrc = self.__rtx_ssrc.get(packet.ssrc)" in handle
    assert "self.__rtx_ssrc: dict[int, int] = {}" in inspect.getsource(RTCRtpReceiver.__init__)
    configure = inspect.getsource(HeaderExtensionsMap.configure)
    assert "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in configure
    assert "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id" in configure
    assert "_headerExtensions" in inspect.getsource(RTCRtpTransceiver.__init__)


def test_the_direct_receive_path_does_what_the_receive_methods_it_bypasses_do() -> None:
    """DirectReceive._media re-does RTCRtpReceiver._handle_rtp_packet for a tapped receiver
    and DirectReceive.data_received the SRTP branch of RTCDtlsTransport._recv_next. Any change
    to either method (the hash) means reading it again against DirectReceive and moving the
    pin; the names the copy reads are checked one by one."""
    import hashlib

    def digest(f: object) -> str:
        return hashlib.sha256(inspect.getsource(f).encode()).hexdigest()[:16]  # type: ignore[arg-type]

    assert digest(RTCRtpReceiver._handle_rtp_packet) == "4e54983d021a6336"
    assert digest(RTCDtlsTransport._recv_next) == "998076720c05aa13"
    init = inspect.getsource(RTCRtpReceiver.__init__)
    for name in (
        "self.__active_ssrc",
        "self.__codecs",
        "self.__decoder_error",
        "self.__kind",
        "self.__nack_generator",
        "self.__remote_bitrate_estimator",
        "self.__remote_streams",
        "self.__rtcp_ssrc",
        "self.__rtx_ssrc",
        "self._enabled",
    ):
        assert name in init, name
    dtls_init = inspect.getsource(RTCDtlsTransport.__init__)
    for name in ("self.__rx_bytes = 0", "self.__rx_packets = 0", "self._rx_srtp"):
        assert name in dtls_init, name
    assert "self._queue: asyncio.Queue" in inspect.getsource(aioice.ice.Connection.__init__)


def test_the_direct_rtcp_path_does_what_the_rtcp_methods_it_bypasses_do() -> None:
    """handle_rtcp_now re-does RTCDtlsTransport._handle_rtcp_data and, for a REMB, the
    router's pick of senders and the sender's handling (which only sets its encoder's
    bitrate, an encoder our senders never make); every other packet still goes to aiortc's
    handlers, driven to their end at once, which holds only while they never wait for
    anything. A change to any of them (the hash) means reading it again."""
    import hashlib

    from aiortc.rtcdtlstransport import RtpRouter

    def digest(f: object) -> str:
        return hashlib.sha256(inspect.getsource(f).encode()).hexdigest()[:16]  # type: ignore[arg-type]

    assert digest(RTCDtlsTransport._handle_rtcp_data) == "5469e786d77b37b2"
    assert digest(RtpRouter.route_rtcp) == "199bd7e279f1945a"
    assert digest(RTCRtpSender._handle_rtcp_packet) == "a4ee4c7355f8de7a"
    assert digest(RTCRtpReceiver._handle_rtcp_packet) == "ec9f46214c3495b2"
    sender = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self.__encoder.target_bitrate = bitrate" in sender
    assert "if self._ssrc in ssrcs:" in sender


def _rtcp_transport() -> RTCDtlsTransport:
    from aiortc.rtcdtlstransport import RTCCertificate
    from aiortc.rtcicetransport import RTCIceGatherer

    return RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()])


async def test_rtcp_handled_where_it_arrives_has_reached_every_sender_when_the_call_returns() -> None:
    """A subscriber's compound RTCP (report, NACK, PLI, REMB) is handled within
    handle_rtcp_now, with no task: each sender's callbacks have run when it returns."""
    from aiortc.rtp import (
        RTCP_PSFB_APP,
        RTCP_PSFB_PLI,
        RTCP_RTPFB_NACK,
        RtcpPsfbPacket,
        RtcpReceiverInfo,
        RtcpRrPacket,
        pack_remb_fci,
    )

    dtls = _rtcp_transport()
    senders = [RTCRtpSender("video", dtls) for _ in range(2)]
    got: list[list[object]] = [[], []]
    for i, sender in enumerate(senders):
        seen = got[i]
        aiortc_hooks.attach_sender(
            sender,
            on_started=lambda link: None,
            on_keyframe_request=lambda seen=seen: seen.append("pli"),
            on_nack=lambda seq, seen=seen: seen.append(("nack", seq)),
            on_report=lambda lost, seen=seen: seen.append(("lost", lost)),
            on_remb=lambda bps, seen=seen: seen.append(("remb", bps)),
        )
        dtls._rtp_router.register_sender(sender, sender._ssrc)
    a, b = (s._ssrc for s in senders)
    report = RtcpReceiverInfo(
        ssrc=a, fraction_lost=64, packets_lost=3, highest_sequence=100, jitter=0, lsr=0, dlsr=0
    )
    packets = [
        RtcpRrPacket(ssrc=1, reports=[report]),
        RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=a, lost=[7, 9]),
        RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=b, fci=b""),
        RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(300_000, [b, 12345])),
    ]
    aiortc_hooks.handle_rtcp_now(dtls, b"".join(bytes(p) for p in packets))
    assert got[0] == [("lost", 0.25), ("nack", 7), ("nack", 9)]
    assert got[1] == ["pli", ("remb", 300_000)]
    # what aiortc would drop is dropped: a truncated packet, a REMB naming nobody we know
    aiortc_hooks.handle_rtcp_now(dtls, bytes(packets[0])[:-3])
    stray = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(1, [999]))
    aiortc_hooks.handle_rtcp_now(dtls, bytes(stray))
    assert got == [[("lost", 0.25), ("nack", 7), ("nack", 9)], ["pli", ("remb", 300_000)]]


async def test_an_rtcp_handler_that_has_to_wait_is_finished_once_what_it_waits_for_is_done() -> None:
    import asyncio

    woken: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def handler() -> None:
        steps.append("start")
        steps.append(await woken)
        await asyncio.sleep(0)
        steps.append("end")

    aiortc_hooks._run_now(handler())
    assert steps == ["start"]
    woken.set_result("woken")
    for _ in range(100):  # bounded: a busy machine may take a while
        if "end" in steps:
            break
        await asyncio.sleep(0.01)
    assert steps == ["start", "woken", "end"]


async def test_every_upstream_video_nack_goes_out_twice_a_quarter_round_trip_apart() -> None:
    """A lost NACK must not cost its packet a whole retry interval: the first NACK for a gap
    (from aiortc's own receive path) and each retry are sent again, 30-100 ms later."""
    import asyncio
    import time

    from aiortc.rtcdtlstransport import RTCCertificate
    from aiortc.rtcicetransport import RTCIceGatherer

    dtls = RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()])
    receiver = RTCRtpReceiver("video", dtls)
    sent: list[tuple[float, int, list[int]]] = []

    async def send_rtcp_nack(media_ssrc: int, lost: list[int]) -> None:
        sent.append((time.monotonic(), media_ssrc, lost))

    receiver._send_rtcp_nack = send_rtcp_nack  # type: ignore[method-assign]
    tap = aiortc_hooks.install_packet_sink(receiver, "video", lambda packet: None, lambda frame: None)
    assert tap.nacks is not None
    tap.nacks.rtt = 0.3  # a satellite link: the copy goes 75 ms after
    start = time.monotonic()
    await receiver._send_rtcp_nack(42, [11, 12])
    for _ in range(100):  # a bounded wait: a busy machine may run the timer late
        if len(sent) >= 2:
            break
        await asyncio.sleep(0.02)
    assert [(ssrc, lost) for _, ssrc, lost in sent] == [(42, [11, 12]), (42, [11, 12])]
    assert sent[1][0] - start >= 0.07, sent  # not before a quarter of the round trip
    aiortc_hooks.stop_nack_retries(tap)
    plain = RTCRtpReceiver("video", dtls)
    plain._send_rtcp_nack = send_rtcp_nack  # type: ignore[method-assign]
    once = aiortc_hooks.install_packet_sink(plain, "video", lambda p: None, lambda f: None, nack_repeat=False)
    sent.clear()
    await plain._send_rtcp_nack(42, [13])
    await asyncio.sleep(0.3)  # three times the longest delay a copy could have
    assert len(sent) == 1  # turned off (media.video_nack_repeat = false)
    aiortc_hooks.stop_nack_retries(once)


def test_after_a_cut_the_packets_lost_in_it_are_not_asked_for_but_given_up_at_the_next_tick() -> None:
    """5 s without a packet, then a gap of 150: the packets are dated by their place in the
    gap, so those lost more than a horizon (less a round trip) ago are given up at once
    (their frames' keyframe is asked for now) and only the last ones are NACKed."""
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock, horizon=1.6)
    nacks.rtt, nacks.rtt_samples = 0.3, 1
    given_up: list[int] = []
    nacks.on_give_up = given_up.append
    nacks.add(_rtp(100))
    clock.now += 5.0
    assert nacks.add(_rtp(251))  # 101..250 missing, sent over the 5 s
    asked = nacks.missing
    # sent in the last 1.3 s (horizon less a round trip): ~39 of the 150, the newest
    assert 35 <= len(asked) <= 42 and asked == list(range(251 - len(asked), 251)), asked
    assert given_up == []
    clock.now += aiortc_hooks.NACK_TICK
    assert nacks.due() == []
    assert given_up == list(range(101, 251 - len(asked)))  # no NACK, a keyframe at once
    assert nacks.outstanding == len(asked)


def test_a_gap_in_a_flowing_stream_is_asked_for_whole() -> None:
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock)
    for seq in range(10):
        nacks.add(_rtp(seq))
        clock.now += 0.01
    assert nacks.add(_rtp(15))
    assert nacks.missing == [10, 11, 12, 13, 14]


def test_a_gap_after_an_idle_stream_on_a_live_transport_is_asked_for_whole() -> None:
    """A still screen share sends nothing for seconds while the transport carries audio: a
    frame lost then was lost just now, so all of it is NACKed. Only when the transport
    itself went silent (a cut) after the stream's last packet are the packets dated."""
    clock = Clock()
    nacks = aiortc_hooks.NackRetrier(clock, horizon=1.6)
    nacks.rtt, nacks.rtt_samples = 0.3, 1
    silence_ended: list[float | None] = [None]
    nacks.link_silence_ended = lambda: silence_ended[0]
    nacks.add(_rtp(100))
    clock.now += 5.0
    assert nacks.add(_rtp(151))
    assert nacks.missing == list(range(101, 151))  # the transport never went quiet
    clock.now += 5.0
    silence_ended[0] = clock.now  # cut for 5 s, back just now
    assert nacks.add(_rtp(301))
    asked = nacks.missing
    assert 35 <= len(asked) <= 42 and asked[-1] == 300, asked


def test_the_nack_copy_of_a_simulcast_link_waits_on_the_round_trip_its_layers_measured() -> None:
    """Layers without an answered NACK still hold the 0.2 s guess; the link's round trip is
    what the others measured (the copy would otherwise wait 50 ms on a 40 ms link)."""
    layers = [aiortc_hooks.NackRetrier(Clock()) for _ in range(3)]
    assert aiortc_hooks._measured_rtt(layers) == 0.2  # nothing measured: the guess
    layers[1].rtt, layers[1].rtt_samples = 0.04, 3
    assert aiortc_hooks._measured_rtt(layers) == 0.04
    layers[2].rtt, layers[2].rtt_samples = 0.06, 1
    assert aiortc_hooks._measured_rtt(layers) == 0.06
