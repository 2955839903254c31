"""Live media in the daemon: ``[media]`` config -> SFU settings, TURN credentials,
and the media signaling's lifecycle.

TURN credentials follow coturn's ``use-auth-secret`` (the "TURN REST API"):
username ``<expiry unix time>:<member id>``, credential
``base64(HMAC-SHA1(static-auth-secret, username))``. See docs/coturn.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from media.events import MediaEvent
from media.settings import MediaSettings
from media.sfu import Sfu
from meeting.clock import Clock
from signaling.media import MediaSignaling
from signaling.namespace import MeetingNamespace

from .config import Config, ConfigError

logger = logging.getLogger(__name__)

media_key = web.AppKey("media", MediaSignaling)


def _is_turn(url: str) -> bool:
    return url.lower().startswith(("turn:", "turns:"))


def media_settings(cfg: Config) -> MediaSettings:
    """The SFU's settings. The server's own peer connections get the STUN URLs only:
    it is reachable at its announced address, and clients relay through TURN to it."""
    m = cfg.media
    ports = (m.udp_port_min or None, m.udp_port_max or None)
    stun = tuple({"urls": u} for u in m.ice_servers if not _is_turn(u))
    try:
        return MediaSettings(
            announce_addresses=tuple(m.announce_addresses),
            ice_servers=stun,
            udp_port_min=ports[0],
            udp_port_max=ports[1],
            audio_red=m.audio_red,
            opus_fec=m.opus_fec,
            opus_dtx=m.opus_dtx,
            video_playout_delay_max_ms=m.video_playout_delay_max_ms,
            video_nack_horizon_ms=m.video_nack_horizon_ms,
            video_nack_repeat=m.video_nack_repeat,
            weak_link_audio_only=m.weak_link_audio_only,
            transport_cc=m.transport_cc,
            simulcast=m.simulcast,
        )
    except Exception as exc:  # InvalidInput from the settings' own checks
        raise ConfigError(f"{cfg.source}: [media] {exc}") from None


def turn_credentials(secret: bytes, member_id: str, expires_at: int) -> tuple[str, str]:
    """coturn ``use-auth-secret`` credentials valid until ``expires_at`` (unix time)."""
    username = f"{expires_at}:{member_id}"
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def read_turn_secret(cfg: Config) -> bytes | None:
    path = cfg.media.turn_secret_file
    if not path:
        return None
    try:
        secret = Path(path).expanduser().read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{cfg.source}: [media] turn_secret_file: {exc}") from None
    if not secret:
        raise ConfigError(f"{cfg.source}: [media] turn_secret_file {path} is empty")
    return secret.encode()


def client_ice_servers(cfg: Config, clock: Clock) -> Callable[[str], list[dict[str, Any]]]:
    """A function giving a member the ``RTCConfiguration.iceServers`` for their browser."""
    secret = read_turn_secret(cfg)
    stun = [u for u in cfg.media.ice_servers if not _is_turn(u)]
    turn = [u for u in cfg.media.ice_servers if _is_turn(u)]
    if turn and secret is None:
        logger.warning(
            "media: TURN URLs configured without turn_secret_file; clients get them without credentials"
        )
    ttl = cfg.media.turn_credential_seconds

    def for_member(member_id: str) -> list[dict[str, Any]]:
        servers: list[dict[str, Any]] = [{"urls": u} for u in stun]
        if turn:
            entry: dict[str, Any] = {"urls": list(turn)}
            if secret is not None:
                expires = int(clock().timestamp()) + ttl
                user, credential = turn_credentials(secret, member_id, expires)
                entry["username"], entry["credential"] = user, credential
            servers.append(entry)
        return servers

    return for_member


def install_media(cfg: Config, namespace: MeetingNamespace, clock: Clock) -> MediaSignaling:
    """Register the media events on ``namespace``; one SFU per meeting, made on demand."""
    settings = media_settings(cfg)

    def make_sfu(meeting_id: int, on_event: Callable[[MediaEvent], None]) -> Sfu:
        logger.info("meeting=%s media relay started", meeting_id)
        return Sfu(settings, on_event)

    signaling = MediaSignaling(namespace, make_sfu, client_ice_servers(cfg, clock))
    signaling.start()
    return signaling
