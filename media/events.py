"""Facts the SFU reports to the signaling layer (which turns them into messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SubscribeOffer:
    """The server's new offer for the participant's *subscribe* connection.

    Send it to the client, which applies it (``setRemoteDescription``), answers
    and returns the answer through ``Sfu.accept_answer``. ``streams`` maps each
    m-line (``mid``) to the publisher and kind it carries now; an entry with
    ``participant_id`` None is an idle m-line (its publisher left).
    ``new_connection``: the client must close its old subscribe connection (if
    any) and apply this offer to a new one (first offer, or after a failure).
    """

    participant_id: str
    description: dict[str, str]
    streams: list[dict[str, Any]] = field(default_factory=list)
    new_connection: bool = False


@dataclass(frozen=True, slots=True)
class PublicationChanged:
    """A participant started or stopped publishing audio and/or video."""

    participant_id: str
    audio: bool
    video: bool


@dataclass(frozen=True, slots=True)
class MuteChanged:
    """The chair muted or unmuted a participant: the server forwards no audio of theirs."""

    participant_id: str
    muted: bool


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged:
    """``target`` is ``"publish"`` or ``"subscribe"``; ``state`` is the WebRTC connection state."""

    participant_id: str
    target: str
    state: str


@dataclass(frozen=True, slots=True)
class WeakLinkChanged:
    """The participant's downlink turned weak (``weak``; ``reason`` "loss") or
    recovered. While weak and ``auto`` it gets sound only; ``auto`` False is the member's
    override (video kept). ``retry_seconds``: how long the link must stay good for video."""

    participant_id: str
    weak: bool
    reason: str | None
    auto: bool
    retry_seconds: float


MediaEvent = SubscribeOffer | PublicationChanged | MuteChanged | ConnectionStateChanged | WeakLinkChanged
