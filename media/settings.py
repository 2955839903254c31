"""Media settings: what the SFU binds, announces and hands to clients."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from media.negotiation import AudioPolicy
from meeting.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Network settings of the SFU (the ``[media]`` config section maps onto this).

    ``announce_addresses``: host candidates the server offers; an address that
    is not on this host (a public address behind 1:1 NAT) is announced while
    binding ``bind_address``. Empty: aioice's own interface gathering (which
    skips loopback). ``ice_servers``: WebRTC ``RTCIceServer`` dicts (``urls``,
    ``username``, ``credential``) used by the server's peer connections and
    handed to clients; empty means none (aiortc's default Google STUN server
    is never used).
    """

    announce_addresses: tuple[str, ...] = ()
    ice_servers: tuple[dict[str, Any], ...] = ()
    udp_port_min: int | None = None
    udp_port_max: int | None = None
    bind_address: str = "0.0.0.0"  # noqa: S104
    keyframe_interval_min: float = 0.5
    # Sent video packets each subscriber keeps to answer its NACKs (a power of two).
    nack_history_packets: int = 512
    # Audio on lossy links (media/negotiation.py): RED with publishers that offer it,
    # Opus in-band FEC, Opus DTX.
    audio_red: bool = True
    opus_fec: bool = True
    opus_dtx: bool = False
    # The most a subscriber's video is held back so that retransmissions arrive in time on a
    # lossy long link (the playout-delay extension; 0: never asked, extension not offered).
    video_playout_delay_max_ms: int = 800
    # How long after it went missing a publisher's video packet is still asked for again
    # (NACK): a try is only made if its answer can come within this (aiortc_hooks.NackRetrier).
    # Past it the packet is given up and a keyframe requested.
    video_nack_horizon_ms: int = 1600
    # Every upstream video NACK goes out twice, a quarter round trip apart, so that one lost
    # NACK does not cost its packet a whole retry interval (aiortc_hooks NACK_REPEAT_RTTS).
    video_nack_repeat: bool = True
    # A subscriber whose link cannot carry video gets sound only until it recovers
    # (media/profiles.py WeakLink); the member can override.
    weak_link_audio_only: bool = True
    # transport-cc both ways (media/twcc.py, media/bwe.py): feedback to publishers that
    # offer it, and a send-side estimate per subscriber that takes it.
    transport_cc: bool = True
    # Simulcast from publishers that offer it (media/negotiation.py simulcast_offered): each
    # subscriber gets the layer its estimate and profile allow (media/bwe.py choose_layers).
    simulcast: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "announce_addresses", tuple(self.announce_addresses))
        object.__setattr__(self, "ice_servers", tuple(self.ice_servers))
        for address in (*self.announce_addresses, self.bind_address):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise InvalidInput(f"media: not an IP address: {address!r}") from None
        if (self.udp_port_min is None) != (self.udp_port_max is None):
            raise InvalidInput("media: set both udp_port_min and udp_port_max, or neither")
        if self.udp_port_min is not None and self.udp_port_max is not None:
            if not 1024 <= self.udp_port_min <= self.udp_port_max <= 65535:
                raise InvalidInput("media: UDP port range must lie within 1024-65535")
        for server in self.ice_servers:
            if not isinstance(server, dict) or "urls" not in server:
                raise InvalidInput("media: each ICE server needs 'urls'")
        if not 0 <= self.video_playout_delay_max_ms <= 4000:
            raise InvalidInput("media: video_playout_delay_max_ms must lie within 0-4000")
        if not 200 <= self.video_nack_horizon_ms <= 5000:
            raise InvalidInput("media: video_nack_horizon_ms must lie within 200-5000")
        if self.keyframe_interval_min <= 0 or not (
            16 <= self.nack_history_packets <= 8192
            and self.nack_history_packets & (self.nack_history_packets - 1) == 0
        ):
            raise InvalidInput(
                "media: keyframe_interval_min must be positive and nack_history_packets"
                " a power of two in 16-8192"
            )

    @property
    def audio_policy(self) -> AudioPolicy:
        return AudioPolicy(red=self.audio_red, fec=self.opus_fec, dtx=self.opus_dtx)

    @property
    def port_range(self) -> tuple[int, int] | None:
        if self.udp_port_min is None or self.udp_port_max is None:
            return None
        return (self.udp_port_min, self.udp_port_max)

    def rtc_configuration(self) -> RTCConfiguration:
        """An explicit configuration: never aiortc's default STUN server."""
        servers = [
            RTCIceServer(
                urls=s["urls"],
                username=s.get("username"),
                credential=s.get("credential"),
            )
            for s in self.ice_servers
        ]
        # max-bundle: aiortc's default (balanced) leaves a second m-line of a kind on a
        # transport that BUNDLE then discards when both arrive in one initial offer.
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
