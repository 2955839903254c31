"""One participant's media: a publish connection and a subscribe connection.

The client offers on its *publish* connection (its camera and microphone, the
server answers). The server offers on the *subscribe* connection (one
``sendonly`` m-line per forwarded publisher track, the client answers). Each
side only ever offers on its own connection, so there is no glare.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver

from media.bwe import LAYER_UP_HOLD, LowStreamChoice
from media.forwarding import ForwardingTrack, PublishedTrack
from media.profiles import ReceiveProfile, WeakLink

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscription:
    """A sendonly m-line of the subscribe connection and the track its sender reads."""

    transceiver: RTCRtpTransceiver
    track: ForwardingTrack
    codec_mime: str
    # when its video last had to move to a lower simulcast layer (monotonic; see
    # media/bwe.py choose_layers)
    layer_down_at: float | None = None
    layer_up_at: float | None = None  # when the link last let it move up
    layer_up_hold: float = LAYER_UP_HOLD  # how long after layer_down_at it stays down

    @property
    def publisher_id(self) -> str | None:
        source = self.track.source
        return None if source is None else source.publisher_id

    @property
    def sender(self) -> RTCRtpSender:
        return self.transceiver.sender


@dataclass(eq=False)
class ParticipantSession:
    participant_id: str
    main_room: bool = False
    # publishes only (a shared screen): never offered a subscribe connection, and its
    # video reaches every subscriber whose profile takes any video
    publish_only: bool = False
    owner: str | None = None  # a publish-only session's participant: not forwarded back to them
    profile: ReceiveProfile = field(default_factory=ReceiveProfile)
    publish_pc: RTCPeerConnection | None = None
    subscribe_pc: RTCPeerConnection | None = None
    # mid of the publish connection -> the track it publishes
    published: dict[str, PublishedTrack] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    offer_pending: bool = False  # a subscribe offer awaits the client's answer
    renegotiate_after_answer: bool = False
    offer_times: deque[float] = field(default_factory=lambda: deque(maxlen=16))
    closed: bool = False
    # the automatic weak-link profile: sound only while its link cannot carry video
    weak_link: WeakLink = field(default_factory=WeakLink)
    # What the relay estimates the subscriber's downlink carries (bit/s), from its transport
    # feedback (media/bwe.py); None: no estimate (yet, or no transport-cc negotiated).
    # Updated every second; the simulcast layer choice reads it too.
    downlink_estimate_bps: int | None = None
    # whether its video from publishers without simulcast comes as the shared low rendition
    low_choice: LowStreamChoice = field(default_factory=LowStreamChoice)

    def published_track(self, kind: str) -> PublishedTrack | None:
        for track in self.published.values():
            if track.kind == kind:
                return track
        return None

    def subscription_for(self, source: PublishedTrack) -> Subscription | None:
        for sub in self.subscriptions:
            if sub.track.source is source:
                return sub
        return None

    def idle_subscription(self, kind: str, codec_mime: str) -> Subscription | None:
        for sub in self.subscriptions:
            if sub.track.source is None and sub.track.kind == kind and sub.codec_mime == codec_mime:
                return sub
        return None

    def note_offer(self, now: float | None = None) -> int:
        """Record a client offer; return how many arrived in the last 10 s."""
        now = time.monotonic() if now is None else now
        self.offer_times.append(now)
        return sum(1 for t in self.offer_times if now - t <= 10.0)

    def streams(self) -> list[dict[str, object]]:
        return [
            {"mid": s.transceiver.mid, "participant_id": s.publisher_id, "kind": s.track.kind}
            for s in self.subscriptions
        ]
