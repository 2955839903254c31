"""The SFU: what the signaling layer calls, and the events it must relay.

Per participant: a *publish* connection (client offers, :meth:`Sfu.accept_offer`
answers) and a *subscribe* connection (the server offers through a
:class:`~media.events.SubscribeOffer` event, the client answers through
:meth:`Sfu.accept_answer`). RTP packets are forwarded as they arrive, still encoded; see
``media/forwarding.py`` and ``docs/media.md``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError, OperationError
from aiortc.sdp import MediaDescription, SessionDescription, candidate_from_sdp

from media import aiortc_hooks, negotiation
from media.bwe import LayerDemand, best_allowed, choose_layers, next_up_hold
from media.events import (
    ConnectionStateChanged,
    MediaEvent,
    MuteChanged,
    PublicationChanged,
    SubscribeOffer,
    WeakLinkChanged,
)
from media.forwarding import ForwardingTrack, PublishedTrack
from media.profiles import ReceiveProfile, SpeakerRanking
from media.rendition import LowRendition
from media.session import ParticipantSession, Subscription
from media.settings import MediaSettings
from meeting.errors import InvalidInput, InvalidState, NotFound, RateLimited

logger = logging.getLogger(__name__)

FORWARDABLE: dict[str, tuple[str, ...]] = {
    "audio": ("audio/opus",),
    "video": ("video/vp8", "video/h264"),
}
MAX_SDP_CHARS = 100_000
MAX_OFFERS_PER_10S = 10
MAX_ID_CHARS = 128
TARGETS = ("publish", "subscribe")

# Playout delay asked of a subscriber's video decoder (``Sfu._tune_playout_delays``): while a
# leg of the path (publisher -> relay, relay -> subscriber) lost packets in the last
# PLAYOUT_LOSS_MEMORY seconds, its round trip counts; the delay is PLAYOUT_RTT_FACTOR times
# their sum plus PLAYOUT_MARGIN_MS (a retransmission arrives a round trip after the loss is
# seen, plus queueing), at most ``MediaSettings.video_playout_delay_max_ms``. Re-tuned every
# PLAYOUT_TUNE_INTERVAL seconds; libwebrtc moves its delay ~100 ms per second towards it.
PLAYOUT_LOSS_MEMORY = 20.0
PLAYOUT_RTT_FACTOR = 1.3
PLAYOUT_MARGIN_MS = 80
PLAYOUT_TUNE_INTERVAL = 1.0
# Feedback older than this is not a reading of the link now (media/profiles.py WeakLink;
# Chrome reports on audio alone every ~5 s).
FEEDBACK_FRESH = 6.0
# transport feedback comes every ~100 ms: none for 2 s and its loss is no longer news
FEEDBACK_FRESH_US = 2_000_000

_SDP_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AssertionError,
    AttributeError,
    StopIteration,
)


def _parse_sdp(sdp: Any, expected_type: str) -> SessionDescription:
    if not isinstance(sdp, str) or not sdp.strip():
        raise InvalidInput("sdp must be a non-empty string", code="invalid_sdp")
    if len(sdp) > MAX_SDP_CHARS:
        raise InvalidInput(f"sdp longer than {MAX_SDP_CHARS} characters", code="invalid_sdp")
    if not sdp.lstrip().startswith("v=0"):
        raise InvalidInput("sdp does not start with v=0", code="invalid_sdp")
    try:
        description = SessionDescription.parse(sdp)
    except _SDP_ERRORS as exc:
        raise InvalidInput(f"unparsable sdp: {exc}", code="invalid_sdp") from None
    if not description.media:
        raise InvalidInput("sdp has no media section", code="invalid_sdp")
    for media in description.media:
        if media.kind in ("audio", "video") and (
            media.ice is None
            or not media.ice.usernameFragment
            or not media.ice.password
            or media.dtls is None
        ):
            raise InvalidInput(
                f"sdp {media.kind} section lacks ICE credentials or DTLS fingerprint",
                code="invalid_sdp",
            )
    description.type = expected_type
    return description


def _is_sending(media: Any) -> bool:
    return bool(media.port) and media.direction in ("sendonly", "sendrecv")


def _check_publish_codecs(description: SessionDescription) -> None:
    for media in description.media:
        if media.kind not in FORWARDABLE or not media.port:
            continue
        offered = {c.mimeType.lower() for c in media.rtp.codecs}
        if not offered & set(FORWARDABLE[media.kind]):
            wanted = " or ".join(FORWARDABLE[media.kind])
            raise InvalidInput(
                f"no common {media.kind} codec: the server forwards {wanted}",
                code="no_common_codec",
            )


def _first_codecs(sdp: str) -> dict[str, str]:
    """mid -> mimeType of the first media codec of each audio/video section (RED, which
    comes first when negotiated, and RTX name no codec of their own)."""
    found: dict[str, str] = {}
    for media in SessionDescription.parse(sdp).media:
        codecs = [c for c in media.rtp.codecs if c.mimeType.lower() not in ("audio/red", "video/rtx")]
        if media.kind in FORWARDABLE and codecs and media.rtp.muxId:
            found[media.rtp.muxId] = codecs[0].mimeType
    return found


def _ufrag(media: MediaDescription) -> str | None:
    return media.ice.usernameFragment if media.ice is not None else None


def _new_ice_session(pc: RTCPeerConnection, description: SessionDescription) -> bool:
    """True if ``description`` carries none of the ICE credentials ``pc`` is using."""
    if pc.remoteDescription is None:
        return False
    old = {_ufrag(m) for m in SessionDescription.parse(pc.remoteDescription.sdp).media}
    new = {_ufrag(m) for m in description.media}
    return bool(old - {None}) and old.isdisjoint(new)


def _check_id(participant_id: Any) -> str:
    if not isinstance(participant_id, str) or not 0 < len(participant_id) <= MAX_ID_CHARS:
        raise InvalidInput("participant_id must be a non-empty string")
    return participant_id


class Sfu:
    """Selective forwarding unit for one meetingd node.

    ``on_event`` receives :data:`~media.events.MediaEvent` facts, synchronously
    on the event loop: it must not block (schedule the emit).
    """

    def __init__(
        self,
        settings: MediaSettings,
        on_event: Callable[[MediaEvent], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._sessions: dict[str, ParticipantSession] = {}
        self._nack_horizon = settings.video_nack_horizon_ms / 1000
        # One lock per side of a participant: the publish connection's offers, and the
        # subscribe connection's offers and answers. The two are independent peer
        # connections, so a publish offer never holds up the answer to a subscribe offer
        # (at a join both arrive together: one lock cost ~0.1-1 s of the first video).
        self._locks: dict[str, asyncio.Lock] = {}
        self._sub_locks: dict[str, asyncio.Lock] = {}
        self._renegotiating: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._muted: set[str] = set()
        self.ranking = SpeakerRanking(self._apply_profiles)
        # Told of each published track as it comes and goes (e.g. a recorder):
        # ``track_published(track)`` / ``track_unpublished(track)``, on the event loop.
        self.observers: list[Any] = []
        # Shared low renditions (profile low_video): at most one per publisher video track,
        # alive while a subscriber reads it. ``renditions_started`` counts encoders made.
        self.renditions: dict[PublishedTrack, LowRendition] = {}
        self.renditions_started = 0
        self._tuner: asyncio.TimerHandle | None = None

    # --- public API -------------------------------------------------------------

    def client_ice_servers(self) -> list[dict[str, Any]]:
        """The ICE servers to hand to clients (``RTCConfiguration.iceServers``)."""
        return [dict(s) for s in self.settings.ice_servers]

    @property
    def participant_ids(self) -> list[str]:
        return list(self._sessions)

    def published_tracks(self) -> list[PublishedTrack]:
        """Every track being published now, of every participant."""
        return [t for s in self._sessions.values() if not s.closed for t in s.published.values()]

    async def open_participant(
        self,
        participant_id: str,
        *,
        main_room: bool = False,
        profile: Any = "full",
        publish_only: bool = False,
        owner: str | None = None,
    ) -> None:
        """Start a media session; offers the current publishers on the subscribe side
        (``publish_only``, e.g. a shared screen: no subscribe side at all; not forwarded
        to its ``owner``, the participant sharing it)."""
        _check_id(participant_id)
        parsed = ReceiveProfile.parse(profile)
        if participant_id in self._sessions:
            raise InvalidState(f"participant {participant_id} already has a media session")
        session = ParticipantSession(
            participant_id, main_room=main_room, profile=parsed, publish_only=publish_only, owner=owner
        )
        self._sessions[participant_id] = session
        self._locks[participant_id] = asyncio.Lock()
        self._sub_locks[participant_id] = asyncio.Lock()
        if self._tuner is None:
            self._tuner = asyncio.get_running_loop().call_later(PLAYOUT_TUNE_INTERVAL, self._tune_tick)
        logger.info("participant=%s media session opened", participant_id)
        self._schedule_renegotiation(session)

    async def accept_offer(self, participant_id: str, sdp: str, type: str = "offer") -> dict[str, str]:
        """Apply the client's offer on its publish connection; return the answer."""
        session = self._session(participant_id)
        if type != "offer":
            raise InvalidInput(f"expected an offer, got {type!r}", code="invalid_sdp")
        description = _parse_sdp(sdp, "offer")
        _check_publish_codecs(description)
        if session.note_offer() > MAX_OFFERS_PER_10S:
            raise RateLimited("too many offers: at most 10 in 10 s", retry_after=10.0)
        async with self._locks[participant_id]:
            if session.closed:
                raise NotFound(f"no media session for participant {participant_id}")
            answer, changed = await self._apply_publish_offer(session, description, sdp)
        if changed:
            self._publication_changed(session)
        return answer

    async def accept_answer(self, participant_id: str, sdp: str, type: str = "answer") -> None:
        """Apply the client's answer to the last :class:`SubscribeOffer`."""
        session = self._session(participant_id)
        if type != "answer":
            raise InvalidInput(f"expected an answer, got {type!r}", code="invalid_sdp")
        _parse_sdp(sdp, "answer")
        async with self._sub_locks[participant_id]:
            pc = session.subscribe_pc
            if session.closed or pc is None or not session.offer_pending:
                raise InvalidState("no subscribe offer is waiting for an answer")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except (InvalidStateError, InvalidAccessError) as exc:
                raise InvalidState(f"answer rejected: {exc}") from None
            except (OperationError, InternalError, *_SDP_ERRORS) as exc:
                raise InvalidInput(f"answer rejected: {exc}", code="invalid_sdp") from None
            aiortc_hooks.install_direct_rtcp(pc)
            self._accept_audio_codecs(pc, sdp)
            self._accept_transport_cc(pc, sdp)
            self._accept_playout_delay(session, sdp)
            session.offer_pending = False
            again = session.renegotiate_after_answer
            session.renegotiate_after_answer = False
        if again:
            self._schedule_renegotiation(session)

    async def add_ice_candidate(
        self, participant_id: str, candidate: dict[str, Any] | None, *, target: str = "publish"
    ) -> None:
        """A trickled client candidate (``RTCIceCandidateInit``); None ends gathering."""
        session = self._session(participant_id)
        if target not in TARGETS:
            raise InvalidInput(f"target must be one of {TARGETS}")
        parsed = None
        if candidate is not None:
            if not isinstance(candidate, dict):
                raise InvalidInput("candidate must be an object or null")
            line = candidate.get("candidate")
            mid, index = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
            if not isinstance(line, str) or len(line) > 1024:
                raise InvalidInput("candidate.candidate must be a string")
            if mid is not None and not isinstance(mid, str):
                raise InvalidInput("candidate.sdpMid must be a string")
            if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
                raise InvalidInput("candidate.sdpMLineIndex must be an integer")
            if line:
                if mid is None and index is None:
                    raise InvalidInput("candidate needs sdpMid or sdpMLineIndex")
                try:
                    parsed = candidate_from_sdp(line.removeprefix("candidate:"))
                except _SDP_ERRORS:
                    raise InvalidInput("unparsable ICE candidate") from None
                parsed.sdpMid, parsed.sdpMLineIndex = mid, index
        pc = session.publish_pc if target == "publish" else session.subscribe_pc
        if pc is None or pc.remoteDescription is None:
            raise InvalidState(f"no {target} connection to add a candidate to")
        if parsed is None:
            await pc.addIceCandidate(None)  # end of candidates
            return
        try:
            await pc.addIceCandidate(parsed)
        except ValueError as exc:
            raise InvalidInput(f"candidate rejected: {exc}") from None

    async def close_participant(self, participant_id: str) -> None:
        """Free the participant's connections, tracks and tasks; others renegotiate."""
        session = self._session(participant_id)
        async with self._locks[participant_id], self._sub_locks[participant_id]:
            session.closed = True
            self._sessions.pop(participant_id, None)
            was_publishing = bool(session.published)
            for track in session.published.values():
                self.ranking.remove(participant_id)
                self._notify("track_unpublished", track)
                track.close()
            session.published.clear()
            for sub in session.subscriptions:
                sub.track.stop()
            session.subscriptions.clear()
            self._reap_renditions()
            for pc in (session.publish_pc, session.subscribe_pc):
                if pc is not None:
                    pc.remove_all_listeners()
                    await pc.close()
            session.publish_pc = session.subscribe_pc = None
        self._locks.pop(participant_id, None)
        self._sub_locks.pop(participant_id, None)
        self._muted.discard(participant_id)
        logger.info("participant=%s media session closed", participant_id)
        if was_publishing:
            self._emit(PublicationChanged(participant_id, audio=False, video=False))
            for other in self._sessions.values():
                self._schedule_renegotiation(other)

    async def set_receive_profile(self, participant_id: str, profile: Any) -> dict[str, Any]:
        """Switch which videos the participant receives; audio always flows."""
        session = self._session(participant_id)
        session.profile = ReceiveProfile.parse(profile)
        self._apply_profile(session)
        return session.profile.as_dict()

    async def set_main_room(self, participant_id: str, main_room: bool) -> None:
        """Mark the participant as the main room (for the main_room_only profile)."""
        self._session(participant_id).main_room = bool(main_room)
        self._apply_profiles()

    async def mute(self, participant_id: str, muted: bool) -> None:
        """Stop (or resume) forwarding the participant's audio to everyone."""
        session = self._session(participant_id)
        if not isinstance(muted, bool):
            raise InvalidInput("muted must be a boolean")
        (self._muted.add if muted else self._muted.discard)(participant_id)
        for track in session.published.values():
            if track.kind == "audio":
                track.muted = muted
        self._emit(MuteChanged(participant_id, muted))

    def datagrams_received(self, participant_id: str) -> int | None:
        """What the participant's connections received so far (RTP, RTCP; None: none connected).

        A live browser sends something every second or so on each connection it has (media
        while it publishes, receiver reports while it receives): a count that stops moving
        is a link that went quiet (signaling/media.py turns that into ``link: "lost"``)."""
        session = self._session(participant_id)
        pcs = [pc for pc in (session.publish_pc, session.subscribe_pc) if pc is not None]
        if not any(pc.connectionState == "connected" for pc in pcs):
            return None
        return sum(aiortc_hooks.datagrams_received(pc) for pc in pcs)

    async def stats(self, participant_id: str) -> dict[str, Any]:
        """Counters and RTCP-derived quality figures for operators and the UI."""
        session = self._session(participant_id)
        publish: list[dict[str, Any]] = []
        bytes_received = 0
        if session.publish_pc is not None:
            receivers = {t.mid: t.receiver for t in session.publish_pc.getTransceivers()}
            for mid, track in session.published.items():
                entry: dict[str, Any] = {
                    "mid": mid,
                    "kind": track.kind,
                    "codec": track.codec_mime,
                    "frames": track.frames,
                    "keyframes": track.keyframes_seen,
                    "subscribers": len(track.subscribers),
                    # of a simulcast publication, the top layer's (each layer's under layers)
                    "keyframe_requests": track.keyframes.requested,
                    "keyframe_requests_sent": track.keyframes.sent,
                    "hopeless_keyframe_requests": track.hopeless_keyframe_requests,
                    "red_packets": track.red_packets,
                    "rate_bps": track.rate_bps,
                    **_nack_figures(track),
                    "recovered": track.recovered,
                    "muted": track.muted,
                }
                if track.layers:  # simulcast: each layer as it arrives, best first
                    entry["layers"] = [
                        {
                            "rid": layer.rid,
                            "rate_bps": layer.rate_bps,
                            "frames": layer.frames,
                            "keyframes": layer.keyframes_seen,
                            "subscribers": len(layer.subscribers),
                            "stalls": layer.stalls,
                            "held": layer.held(time.monotonic()),
                            "keyframe_requests_sent": layer.keyframes.sent,
                            "hopeless_keyframe_requests": layer.hopeless_keyframe_requests,
                            **_retrier_figures((layer,)),
                        }
                        for layer in track.layers
                    ]
                receiver = receivers.get(mid)
                if receiver is not None:
                    counts = aiortc_hooks.media_stream_counts(receiver)
                    if counts is not None:
                        entry.update(
                            packets_received=counts.packets_received,
                            packets_lost=counts.packets_lost,
                            jitter=counts.jitter,
                        )
                    for s in (await receiver.getStats()).values():
                        if s.type == "transport":  # one bundled transport: same for all
                            bytes_received = s.bytesReceived
                publish.append(entry)
        subscribe: list[dict[str, Any]] = []
        for sub in session.subscriptions:
            entry = {
                "mid": sub.transceiver.mid,
                "publisher_id": sub.publisher_id,
                "kind": sub.track.kind,
                "enabled": sub.track.enabled,
                "forwarded": sub.track.forwarded,
                "packets": sub.track.packets,
                "red": sub.track.receives_red,
                "dropped": sub.track.dropped,
                "nacks": sub.track.nacks,
                "retransmitted": sub.track.retransmitted,
                "nacks_forwarded": sub.track.nacks_forwarded,
                "keyframe_requests": sub.track.keyframe_requests,
                "playout_delay_ms": sub.track.playout_delay_ms if sub.track.playout_delay_id else None,
                "remb_bps": sub.track.remb_bps,
                # the simulcast layer forwarded (None: the publisher sends one stream)
                "layer": sub.track.source.rid if sub.track.source is not None else None,
                "layer_switches": sub.track.layer_switches,
            }
            if session.subscribe_pc is not None and session.subscribe_pc.connectionState != "new":
                for s in (await sub.sender.getStats()).values():
                    if s.type == "outbound-rtp":
                        entry.update(packets_sent=s.packetsSent, bytes_sent=s.bytesSent)
                    elif s.type == "remote-inbound-rtp":
                        entry.update(
                            round_trip_time=s.roundTripTime,
                            fraction_lost=s.fractionLost,
                            packets_lost=s.packetsLost,
                        )
            subscribe.append(entry)
        return {
            "participant_id": participant_id,
            "main_room": session.main_room,
            "profile": session.profile.as_dict(),
            "weak_link": {
                "weak": session.weak_link.weak,
                "reason": session.weak_link.reason,
                "auto": session.weak_link.auto,
            },
            "muted": participant_id in self._muted,
            "downlink": _downlink_figures(session),
            "publish": {
                "state": _state(session.publish_pc),
                "tracks": publish,
                "bytes_received": bytes_received,
                "transport_feedback_sent": _feedback_sent(session),
                "receive_path": _receive_path(session.publish_pc),
            },
            "subscribe": {
                "state": _state(session.subscribe_pc),
                "tracks": subscribe,
                "receive_path": _receive_path(session.subscribe_pc),
            },
        }

    async def close(self) -> None:
        if self._tuner is not None:
            self._tuner.cancel()
            self._tuner = None
        for participant_id in list(self._sessions):
            await self.close_participant(participant_id)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- publish side ---------------------------------------------------------------

    async def _apply_publish_offer(
        self, session: ParticipantSession, description: SessionDescription, sdp: str
    ) -> tuple[dict[str, str], bool]:
        pc = session.publish_pc
        if pc is not None and (
            pc.connectionState in ("failed", "closed") or _new_ice_session(pc, description)
        ):
            # The client replaces a broken connection with a new one, possibly before we
            # noticed it broke (new ICE credentials: aiortc cannot restart ICE in place).
            self._unpublish(session, set(session.published))
            pc.remove_all_listeners()  # replaced: its close is no news
            await pc.close()
            pc = session.publish_pc = None
        created = pc is None
        if pc is None:
            pc = session.publish_pc = self._new_pc(session, "publish")
        if pc.signalingState != "stable":
            raise InvalidState(f"publish connection is in state {pc.signalingState}")
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            self._answer_audio_codecs(pc, description)
            self._answer_transport_cc(pc, description)
            sending = {m.rtp.muxId for m in description.media if _is_sending(m)}
            simulcast = self._answer_simulcast(pc, session, sdp, sending)
            changed = False
            gone = {mid for mid in session.published if mid not in sending}
            if gone:
                self._unpublish(session, gone)
                changed = True
            new: list[tuple[str, Any]] = []
            for transceiver in pc.getTransceivers():
                mid = transceiver.mid
                if mid in sending and mid not in session.published:
                    new.append((mid, transceiver))
            aiortc_hooks.announce_host_candidates(
                pc,
                self.settings.announce_addresses,
                bind_address=self.settings.bind_address,
                ports=self.settings.port_range,
            )
            for mid, transceiver in new:
                self._publish(session, mid, transceiver, simulcast.get(mid))
                changed = True
            await pc.setLocalDescription(await pc.createAnswer())
            aiortc_hooks.install_direct_receive(pc)
            if self.settings.transport_cc:
                aiortc_hooks.install_transport_feedback(pc)
        except (InvalidStateError, InvalidAccessError, OperationError, InternalError, *_SDP_ERRORS) as exc:
            if created:  # a connection made for this offer must not outlive it
                self._unpublish(session, set(session.published))
                session.publish_pc = None
                pc.remove_all_listeners()
                await pc.close()
            if isinstance(exc, InvalidStateError | InvalidAccessError):
                raise InvalidState(f"offer rejected: {exc}") from None
            raise InvalidInput(f"offer rejected: {exc}", code="invalid_sdp") from None
        codecs = _first_codecs(pc.localDescription.sdp)
        for mid, track in session.published.items():
            track.codec_mime = codecs.get(mid, track.codec_mime)
            for layer in track.layers:
                layer.codec_mime = track.codec_mime
        answer = negotiation.answer_simulcast(pc.localDescription.sdp, simulcast)
        return {"sdp": answer, "type": "answer"}, changed

    def _answer_simulcast(
        self, pc: RTCPeerConnection, session: ParticipantSession, sdp: str, sending: set[str]
    ) -> dict[str, negotiation.SimulcastOffer]:
        """The video m-lines whose simulcast the answer accepts: new ones that offer it, and
        published ones that came with the same layers (a track keeps the taps it started
        with: one that started without simulcast is answered without it)."""
        if not self.settings.simulcast:
            return {}
        accepted: dict[str, negotiation.SimulcastOffer] = {}
        for mid, offer in negotiation.simulcast_offered(sdp).items():
            if mid not in sending:
                continue
            track = session.published.get(mid)
            if track is None or tuple(layer.rid for layer in track.layers) == offer.ranked:
                accepted[mid] = offer
        for transceiver in pc.getTransceivers():
            taken = accepted.get(transceiver.mid or "")
            if taken is not None:
                if transceiver.kind != "video":
                    del accepted[transceiver.mid or ""]
                    continue
                aiortc_hooks.enable_simulcast(transceiver, taken.rid_ext_id, taken.repaired_rid_ext_id)
        return accepted

    def _answer_audio_codecs(self, pc: RTCPeerConnection, description: SessionDescription) -> None:
        """Answer a publisher's audio with Opus FEC, and RED if it offers it (media/negotiation.py)."""
        offered = {m.rtp.muxId: m.rtp.codecs for m in description.media if m.kind == "audio"}
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio" and transceiver.mid in offered:
                codecs = negotiation.answer_audio(offered[transceiver.mid], self.settings.audio_policy)
                if codecs:
                    aiortc_hooks.set_codecs(transceiver, codecs)

    def _answer_transport_cc(self, pc: RTCPeerConnection, description: SessionDescription) -> None:
        """transport-cc with a publisher whose offer has it (the relay sends it transport
        feedback); REMB is then left out (aiortc_hooks.enable_transport_cc says why)."""
        if not self.settings.transport_cc:
            return
        offered = {
            m.rtp.muxId: aiortc_hooks.transport_cc_id_offered(m.rtp.headerExtensions)
            for m in description.media
            if m.kind in FORWARDABLE
        }
        for transceiver in pc.getTransceivers():
            ext_id = offered.get(transceiver.mid or "", 0)
            if ext_id:
                aiortc_hooks.enable_transport_cc(transceiver, ext_id)

    def _accept_transport_cc(self, pc: RTCPeerConnection, answer_sdp: str) -> None:
        """The subscriber's m-lines whose answer kept transport-cc: their packets are numbered
        for its estimate (aiortc would forget the extension it does not know)."""
        if not self.settings.transport_cc:
            return
        ids = negotiation.transport_cc_ids_of(answer_sdp)
        for transceiver in pc.getTransceivers():
            ext_id = ids.get(transceiver.mid or "", 0)
            if ext_id:
                aiortc_hooks.enable_transport_cc(transceiver, ext_id, drop_remb=False)

    def _accept_audio_codecs(self, pc: RTCPeerConnection, answer_sdp: str) -> None:
        """What a subscriber accepted of our audio offer (RED or not) is what its senders use."""
        answered = negotiation.audio_codecs_of(answer_sdp)
        offered = negotiation.offer_audio(self.settings.audio_policy)
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio" and transceiver.mid in answered:
                codecs = negotiation.accepted_audio(offered, answered[transceiver.mid])
                if codecs:
                    aiortc_hooks.set_codecs(transceiver, codecs)

    def _accept_playout_delay(self, session: ParticipantSession, answer_sdp: str) -> None:
        """The video m-lines whose answer kept the playout-delay extension (aiortc drops it)."""
        ids = negotiation.playout_delay_ids_of(answer_sdp)
        for sub in session.subscriptions:
            if sub.track.kind == "video" and sub.transceiver.mid is not None:
                sub.track.set_playout_delay_id(ids.get(sub.transceiver.mid, 0))

    def _tune_tick(self) -> None:
        now = time.monotonic()
        try:
            self._update_estimates(now)
            if self.settings.video_playout_delay_max_ms:
                self._tune_playout_delays(now)
            if self.settings.weak_link_audio_only:
                self._watch_weak_links(now)
        except Exception:
            logger.exception("media tuning failed")
        self._tuner = asyncio.get_running_loop().call_later(PLAYOUT_TUNE_INTERVAL, self._tune_tick)

    def _update_estimates(self, now: float) -> None:
        """Each subscriber's downlink estimate (from its transport feedback): the simulcast
        layer of each video it takes (``_apply_profile``), and whether its video from
        publishers without simulcast comes as the shared low rendition."""
        rates = {t: t.sample_rate(now) for t in self._all_layers()}
        for session in list(self._sessions.values()):
            if session.publish_only:
                continue
            bwe = aiortc_hooks.downlink_bwe(session.subscribe_pc)
            session.downlink_estimate_bps = None if bwe is None else bwe.estimate_bps
            # what the full streams it takes need: its audio and the video it wants (of a
            # simulcast publisher, the layer it gets now)
            needed = 0
            wants_video = simulcast = False
            for sub in session.subscriptions:
                origin = _origin(sub.track.source)
                if origin is None or origin not in rates:
                    continue
                if sub.track.kind == "audio":
                    needed += rates[origin]
                elif origin.layers:
                    simulcast = True
                    if sub.track.enabled and sub.track.source is not None:
                        needed += rates.get(sub.track.source, 0)
                elif sub.track.enabled:
                    needed += rates[origin]
                    wants_video = True
            if simulcast:
                self._apply_profile(session, now)  # the layers follow the estimate
            if not wants_video and not session.low_choice.low:
                continue  # no full video to weigh against the estimate
            if session.low_choice.update(now, session.downlink_estimate_bps, needed or None):
                logger.info(
                    "participant=%s downlink estimate %s bit/s: %s video",
                    session.participant_id,
                    session.downlink_estimate_bps,
                    "low" if session.low_choice.low else "full",
                )
                self._apply_profile(session, now)

    def _all_layers(self) -> list[PublishedTrack]:
        """Every published track, each simulcast layer counted."""
        return [layer for t in self.published_tracks() for layer in (t.layers or (t,))]

    def _watch_weak_links(self, now: float) -> None:
        """Each subscriber's link loss (``_link_loss``: its transport feedback, else its
        receiver reports): sound only while its link is weak."""
        sources = [*self._all_layers(), *(r.output for r in self.renditions.values())]
        upstream = {t: t.sample_loss() for t in sources}
        for session in list(self._sessions.values()):
            if session.publish_only or not session.subscriptions:
                continue
            watch = session.weak_link
            was = watch.sound_only
            if watch.update(now, self._link_loss(session, now, upstream), session.downlink_estimate_bps):
                logger.info(
                    "participant=%s link %s (%s)",
                    session.participant_id,
                    "weak" if watch.weak else "recovered",
                    watch.reason or "good",
                )
                if watch.sound_only != was:
                    self._apply_profile(session)
                self._emit_weak_link(session)

    @staticmethod
    def _link_loss(
        session: ParticipantSession, now: float, upstream: dict[PublishedTrack, float]
    ) -> float | None:
        """What the subscriber's own link loses now (None: nothing fresh to tell).

        With transport-cc, its feedback: every packet sent over the link is accounted for
        within ~100 ms, so the share lost is the link's own, before any repair. Receiver reports
        are the fallback, and a poor one: the fraction they carry is net of retransmissions,
        so on a link losing half its packets a video report that arrives just after the
        repairs of the interval before reads 0 % (seen every other second at 50 % loss), and
        audio reports come only every ~5 s; there the worst fresh report counts, less what
        its source lost upstream (those gaps stay visible downstream)."""
        bwe = aiortc_hooks.downlink_bwe(session.subscribe_pc)
        if bwe is not None:
            loss = bwe.estimator.fresh_loss(int(now * 1_000_000), FEEDBACK_FRESH_US)
            if loss is not None:
                return loss
        held_back = session.weak_link.sound_only
        losses = [
            max(0.0, s.track.fraction_lost - upstream.get(s.track.source, 0.0))
            for s in session.subscriptions
            if s.track.fraction_lost is not None
            and s.track.report_at is not None
            and now - s.track.report_at < FEEDBACK_FRESH
            and s.track.source is not None
            and (s.track.kind == "audio" or not held_back)  # held-back video tells nothing
        ]
        return max(losses) if losses else None

    def _emit_weak_link(self, session: ParticipantSession) -> None:
        watch = session.weak_link
        self._emit(
            WeakLinkChanged(session.participant_id, watch.weak, watch.reason, watch.auto, watch.recover_after)
        )

    async def set_weak_link_auto(self, participant_id: str, auto: bool) -> dict[str, Any]:
        """The member's choice: sound only by itself on a weak link (True), or video anyway."""
        session = self._session(participant_id)
        if not isinstance(auto, bool):
            raise InvalidInput("auto must be a boolean")
        watch = session.weak_link
        if watch.auto != auto:
            watch.auto = auto
            self._apply_profile(session)
            self._emit_weak_link(session)
        return {"weak": watch.weak, "reason": watch.reason, "auto": watch.auto}

    def _tune_playout_delays(self, now: float) -> None:
        """Per video subscription: the playout delay that lets a lost packet be retransmitted
        before its frame is due, over each leg of the path that is losing packets now.

        Without it a subscriber's decoder stops at the first incomplete frame and resumes when
        the retransmission comes a round trip later: at 300 ms RTT every lost packet was a
        visible freeze (Chrome's receiver knows no round trip on a receive-only connection,
        so it never adds one to its own jitter buffer)."""
        cap = self.settings.video_playout_delay_max_ms
        for session in self._sessions.values():
            for sub in session.subscriptions:
                track = sub.track
                if track.kind != "video" or not track.playout_delay_id:
                    continue
                budget = 0.0
                retrier = _upstream_retrier(track.source)
                if (
                    retrier is not None
                    and retrier.rtt_samples
                    and retrier.last_missing_at is not None
                    and now - retrier.last_missing_at < PLAYOUT_LOSS_MEMORY
                ):
                    budget += retrier.rtt
                if track.last_nack_at is not None and now - track.last_nack_at < PLAYOUT_LOSS_MEMORY:
                    budget += aiortc_hooks.sender_rtt(sub.sender) or 0.0
                delay = 0 if budget <= 0 else int(1000 * PLAYOUT_RTT_FACTOR * budget) + PLAYOUT_MARGIN_MS
                track.set_playout_delay(min(cap, delay))

    def _publish(
        self,
        session: ParticipantSession,
        mid: str,
        transceiver: Any,
        simulcast: negotiation.SimulcastOffer | None = None,
    ) -> None:
        receiver = transceiver.receiver
        kind = transceiver.kind
        pid = session.participant_id
        if simulcast is not None and kind == "video":
            track = self._publish_layers(session, receiver, simulcast)
        else:
            track = self._published_track(session, kind, lambda: aiortc_hooks.request_keyframe(receiver))
            track.muted = kind == "audio" and pid in self._muted
            tap = aiortc_hooks.install_packet_sink(
                receiver,
                kind,
                track.on_packet,
                track.on_frame,
                nack_horizon=self._nack_horizon,
                nack_repeat=self.settings.video_nack_repeat,
            )
            _wire_nacks(track, tap)
        session.published[mid] = track
        if not session.publish_only:  # a shared screen never takes a last-N speaker's place
            self.ranking.add(pid)
        self._notify("track_published", track)
        logger.info(
            "participant=%s publishes %s mid=%s%s",
            pid,
            kind,
            mid,
            "" if not track.layers else " simulcast=" + ",".join(str(t.rid) for t in track.layers),
        )

    def _published_track(
        self, session: ParticipantSession, kind: str, request_keyframe: Callable[[], Awaitable[bool]]
    ) -> PublishedTrack:
        return PublishedTrack(
            session.participant_id,
            kind,
            request_keyframe,
            keyframe_interval=self.settings.keyframe_interval_min,
            on_audio_level=self.ranking.on_audio_level if kind == "audio" else None,
        )

    def _publish_layers(
        self, session: ParticipantSession, receiver: Any, offer: negotiation.SimulcastOffer
    ) -> PublishedTrack:
        """One published track per simulcast layer, best first: the first is the publication
        (what recording and the subscriptions' origin see), the others render it (``origin``)."""
        ranked = offer.ranked
        layers: list[PublishedTrack] = []
        taps: list[aiortc_hooks.PacketTap] = []

        def keyframe_of(index: int) -> Callable[[], Awaitable[bool]]:
            async def request() -> bool:
                return await aiortc_hooks.request_layer_keyframe(receiver, taps[index])

            return request

        for index, rid in enumerate(ranked):
            layer = self._published_track(session, "video", keyframe_of(index))
            layer.rid = rid
            layers.append(layer)
        tap = aiortc_hooks.install_simulcast_sink(
            receiver,
            ranked,
            [(t.on_packet, t.on_frame) for t in layers],
            nack_horizon=self._nack_horizon,
            nack_repeat=self.settings.video_nack_repeat,
        )
        taps.extend(tap.layers)
        top = layers[0]
        top.layers = tuple(layers)
        for layer, layer_tap in zip(layers, taps, strict=True):
            _wire_nacks(layer, layer_tap)
            layer.set_layers(top.layers)
            if layer is not top:
                layer.origin = top
                top.on_close.append(layer.close)
        return top

    def _unpublish(self, session: ParticipantSession, mids: set[str]) -> None:
        for mid in mids:
            track = session.published.pop(mid, None)
            if track is not None:
                self._notify("track_unpublished", track)
                track.close()
        self._reap_renditions()
        if not session.published:
            self.ranking.remove(session.participant_id)

    def _publication_changed(self, session: ParticipantSession) -> None:
        kinds = {t.kind for t in session.published.values()}
        self._emit(PublicationChanged(session.participant_id, audio="audio" in kinds, video="video" in kinds))
        for other in self._sessions.values():
            if other is not session:
                self._schedule_renegotiation(other)

    # --- subscribe side -------------------------------------------------------------

    def _schedule_renegotiation(self, session: ParticipantSession) -> None:
        pid = session.participant_id
        if session.publish_only:
            return  # nothing to receive
        if pid in self._renegotiating:
            return  # one is queued and will see the latest publishers
        self._renegotiating.add(pid)
        task = asyncio.get_running_loop().create_task(self._renegotiate(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _renegotiate(self, session: ParticipantSession) -> None:
        pid = session.participant_id
        lock = self._sub_locks.get(pid)
        if lock is None:
            self._renegotiating.discard(pid)
            return
        try:
            async with lock:
                self._renegotiating.discard(pid)
                if session.closed:
                    return
                if session.offer_pending:
                    session.renegotiate_after_answer = True
                    return
                await self._send_subscribe_offer(session)
        except Exception:
            logger.exception("participant=%s subscribe renegotiation failed", pid)
        finally:
            self._renegotiating.discard(pid)

    async def _send_subscribe_offer(self, session: ParticipantSession) -> None:
        new_connection = False
        pc = session.subscribe_pc
        if pc is not None and pc.connectionState in ("failed", "closed"):
            for sub in session.subscriptions:
                sub.track.stop()
            session.subscriptions.clear()
            pc.remove_all_listeners()
            await pc.close()
            pc = session.subscribe_pc = None
        changed = self._sync_subscriptions(session)
        if not changed:
            return
        pc = session.subscribe_pc
        assert pc is not None
        if pc.localDescription is None:
            new_connection = True
        aiortc_hooks.announce_host_candidates(
            pc,
            self.settings.announce_addresses,
            bind_address=self.settings.bind_address,
            ports=self.settings.port_range,
        )
        offer = await pc.createOffer()
        sdp = negotiation.rewrite_offer_audio(
            offer.sdp,
            negotiation.offer_audio(self.settings.audio_policy),
            playout_delay=self.settings.video_playout_delay_max_ms > 0,
            transport_cc=self.settings.transport_cc,
        )
        await pc.setLocalDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        session.offer_pending = True
        logger.debug("participant=%s subscribe offer sent", session.participant_id)
        self._emit(
            SubscribeOffer(
                session.participant_id,
                {"sdp": pc.localDescription.sdp, "type": "offer"},
                session.streams(),
                new_connection=new_connection,
            )
        )

    def _sync_subscriptions(self, session: ParticipantSession) -> bool:
        """Point the subscribe m-lines at the current publishers; True if SDP changes."""
        wanted = [
            track
            for other in self._sessions.values()
            if other is not session and not other.closed and other.owner != session.participant_id
            for track in other.published.values()
            if track.codec_mime is not None
        ]
        changed = False
        for sub in session.subscriptions:
            if sub.track.source is not None and _origin(sub.track.source) not in wanted:
                sub.track.set_source(None)
            # A departed publisher's track detaches its subscribers when it closes, so
            # an m-line still sending with no source is one to turn idle.
            if sub.track.source is None and sub.transceiver.direction != "inactive":
                sub.transceiver.direction = "inactive"
                changed = True
        for track in wanted:
            if any(_origin(s.track.source) is track for s in session.subscriptions):
                continue
            assert track.codec_mime is not None
            idle = session.idle_subscription(track.kind, track.codec_mime)
            sub = idle if idle is not None else self._add_subscription(session, track.kind, track.codec_mime)
            sub.transceiver.direction = "sendonly"
            aiortc_hooks.set_stream_id(sub.sender, track.publisher_id)
            sub.track.set_source(track)
            changed = True
        self._apply_profile(session)
        return changed

    def _add_subscription(self, session: ParticipantSession, kind: str, codec_mime: str) -> Subscription:
        if session.subscribe_pc is None:
            session.subscribe_pc = self._new_pc(session, "subscribe")
        pc = session.subscribe_pc
        track = ForwardingTrack(kind, self.settings.nack_history_packets)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        capabilities = RTCRtpSender.getCapabilities(kind).codecs
        preferred = [c for c in capabilities if c.mimeType.lower() == codec_mime.lower()]
        preferred += [c for c in capabilities if c.mimeType.lower() == f"{kind}/rtx"]
        transceiver.setCodecPreferences(preferred)
        aiortc_hooks.attach_sender(
            transceiver.sender,
            on_started=track.on_started,
            on_keyframe_request=track.request_keyframe,
            on_nack=track.retransmit,
            on_report=track.on_report,
            on_remb=track.on_remb,
        )
        sub = Subscription(transceiver, track, codec_mime)
        session.subscriptions.append(sub)
        return sub

    def _apply_profile(self, session: ParticipantSession, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        main_room = {s.participant_id for s in self._sessions.values() if s.main_room}
        pinned = {s.participant_id for s in self._sessions.values() if s.publish_only}
        speakers = self.ranking.order
        layered: list[tuple[Subscription, PublishedTrack, LayerDemand]] = []
        reserved = 0  # what its audio takes of the estimate
        for sub in session.subscriptions:
            publisher = sub.publisher_id
            if publisher is None:
                continue
            if sub.track.kind != "video":
                reserved += sub.track.source.rate_bps if sub.track.source is not None else 0
                continue
            wants = session.profile.wants_video(publisher, main_room=main_room, recent_speakers=speakers)
            if publisher in pinned:  # a shared screen: every profile that takes video
                wants = session.profile.mode != "audio_only"
            if session.weak_link.sound_only:  # the link cannot carry video now
                wants = False
            origin = _origin(sub.track.source)
            assert origin is not None
            if origin.layers:
                if wants:
                    demand = self._layer_demand(session, sub, origin, main_room, speakers, now)
                    layered.append((sub, origin, demand))
                else:
                    sub.track.set_enabled(False)
                continue
            low = session.profile.mode == "low_video" or session.low_choice.low
            if wants and low and _can_render_low(origin):
                sub.track.set_source(self._low_rendition(origin).output)
            else:
                sub.track.set_source(origin)
            sub.track.set_enabled(wants)
        if layered:
            demands = [d for _s, _o, d in layered]
            chosen = choose_layers(now, session.downlink_estimate_bps, reserved, demands)
            for (sub, origin, demand), index in zip(layered, chosen, strict=True):
                if demand.current is not None and index > max(demand.current, best_allowed(demand)):
                    # the link, not the profile, took it down
                    sub.layer_up_hold = next_up_hold(sub.layer_up_hold, sub.layer_up_at, now)
                    sub.layer_down_at = now
                elif demand.current is not None and index < demand.current:
                    sub.layer_up_at = now
                if index != demand.current:
                    logger.info(
                        "participant=%s gets %s's layer %s (estimate %s bit/s)",
                        session.participant_id,
                        origin.publisher_id,
                        origin.layers[index].rid,
                        session.downlink_estimate_bps,
                    )
                sub.track.switch_layer(origin.layers[index])
                sub.track.set_enabled(True)
        self._reap_renditions()

    def _layer_demand(
        self,
        session: ParticipantSession,
        sub: Subscription,
        origin: PublishedTrack,
        main_room: set[str],
        speakers: list[str],
        now: float,
    ) -> LayerDemand:
        """What the layer choice needs of one video subscription to a simulcast publisher."""
        layers = origin.layers
        target = sub.track.pending or sub.track.source
        current = layers.index(target) if target in layers and sub.track.enabled else None
        return LayerDemand(
            # a layer that stopped lately counts as not sent, except to whoever is on it
            rates=tuple(0 if layer is not target and layer.held(now) else layer.rate_bps for layer in layers),
            cap=len(layers) - 1 if session.profile.mode == "low_video" else 0,
            priority=origin.publisher_id in main_room
            or (bool(speakers) and speakers[0] == origin.publisher_id),
            current=current,
            down_at=sub.layer_down_at,
            hold=sub.layer_up_hold,
        )

    def _low_rendition(self, track: PublishedTrack) -> LowRendition:
        rendition = self.renditions.get(track)
        if rendition is None:
            rendition = self.renditions[track] = LowRendition(track)
            self.renditions_started += 1
            logger.info("participant=%s low rendition started", track.publisher_id)
        return rendition

    def _reap_renditions(self) -> None:
        """Stop every low rendition nobody reads any more, or whose publisher track left."""
        published = set(self.published_tracks())
        for track, rendition in list(self.renditions.items()):
            if track not in published or not rendition.output.subscribers:
                del self.renditions[track]
                rendition.stop()
                logger.info("participant=%s low rendition stopped", track.publisher_id)

    def _apply_profiles(self) -> None:
        for session in self._sessions.values():
            if session.profile.mode != "full":
                self._apply_profile(session)

    # --- plumbing ---------------------------------------------------------------------

    def _session(self, participant_id: Any) -> ParticipantSession:
        _check_id(participant_id)
        session = self._sessions.get(participant_id)
        if session is None:
            raise NotFound(f"no media session for participant {participant_id}")
        return session

    def _new_pc(self, session: ParticipantSession, target: str) -> RTCPeerConnection:
        pc = RTCPeerConnection(configuration=self.settings.rtc_configuration())
        pid = session.participant_id

        @pc.on("connectionstatechange")
        def on_state() -> None:
            state = pc.connectionState
            current = session.publish_pc if target == "publish" else session.subscribe_pc
            if state == "closed" and pc is current and not session.closed:
                # aiortc never reports "failed" when ICE consent expires (the link went
                # away): DTLS ends and the connection closes itself. We detach listeners
                # before closing on purpose, so this close is a failure.
                state = "failed"
            logger.info("participant=%s %s connection %s", pid, target, state)
            self._emit(ConnectionStateChanged(pid, target, state))
            if target == "subscribe" and state == "failed" and not session.closed:
                session.offer_pending = False
                self._schedule_renegotiation(session)

        return pc

    def _notify(self, what: str, track: PublishedTrack) -> None:
        for observer in list(self.observers):
            try:
                getattr(observer, what)(track)
            except Exception:
                logger.exception("media observer failed on %s", what)

    def _emit(self, event: MediaEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            logger.exception("media event handler failed on %s", type(event).__name__)


def _origin(source: PublishedTrack | None) -> PublishedTrack | None:
    """The publisher's own track behind ``source`` (itself, or what a rendition renders)."""
    return source if source is None or source.origin is None else source.origin


def _upstream_retrier(source: PublishedTrack | None) -> Any:
    """The NACK retrier on the publisher's side of what a subscriber gets: a simulcast layer's
    own (each layer is a sequence space of its own, and the top one may not be flowing), the
    publisher's track behind a low rendition, or None."""
    if source is not None and source.nack_stats is None:
        source = _origin(source)
    return None if source is None else source.nack_stats


def _can_render_low(track: PublishedTrack) -> bool:
    """A publisher without simulcast, in VP8: its weak-link subscribers get the low rendition."""
    return not track.layers and (track.codec_mime or "").lower() == "video/vp8"


def _wire_nacks(track: PublishedTrack, tap: aiortc_hooks.PacketTap) -> None:
    """The track asks the publisher, through its tap's retrier, for what a subscriber NACKed
    and never got, and asks for a keyframe when a lost packet is given up on."""
    if tap.nacks is not None:
        track.upstream_nack = tap.nacks.request
        tap.nacks.on_give_up = track.recovery_hopeless
        track.on_close.append(lambda: aiortc_hooks.stop_nack_retries(tap))
    track.nack_stats = tap.nacks


def _nack_figures(track: PublishedTrack) -> dict[str, int]:
    """Upstream NACKs of a video track: sequence numbers asked for (retries included),
    packets that came back, packets given up on (too old, asked too often)."""
    return _retrier_figures(track.layers or (track,))


def _retrier_figures(tracks: tuple[PublishedTrack, ...]) -> dict[str, int]:
    retriers = [t.nack_stats for t in tracks if t.nack_stats is not None]
    if not retriers:
        return {}
    return {  # of a simulcast publication: every layer's (each has its own sequence space)
        "nacks_sent": sum(n.sent for n in retriers),
        "nacks_recovered": sum(n.recovered for n in retriers),
        "nacks_given_up": sum(n.given_up for n in retriers),
    }


def _state(pc: RTCPeerConnection | None) -> str:
    return "none" if pc is None else pc.connectionState


def _downlink_figures(session: ParticipantSession) -> dict[str, Any]:
    """The subscriber's downlink as the relay estimates it from its transport feedback."""
    bwe = aiortc_hooks.downlink_bwe(session.subscribe_pc)
    if bwe is None:
        return {"transport_cc": False, "estimate_bps": None, "low_video": session.low_choice.low}
    estimator = bwe.estimator
    return {
        "transport_cc": True,
        "estimate_bps": bwe.estimate_bps,
        "received_bps": estimator.acked_bps,
        "loss": round(estimator.loss, 4),
        "link_loss": round(estimator.baseline_loss, 4),
        "delay": estimator.trend.state,
        "feedback_packets": bwe.feedback_packets,
        "low_video": session.low_choice.low,
    }


def _receive_path(pc: RTCPeerConnection | None) -> dict[str, int] | None:
    """How a connection's packets were taken in: ``direct`` media and ``rtcp_direct`` RTCP
    (straight from the socket callback), or ``queued`` (aiortc's path: DTLS, and whatever
    arrived while others waited in its queue)."""
    path = aiortc_hooks.receive_path(pc)
    if path is None:
        return None
    return {"direct": path.direct, "rtcp_direct": path.rtcp_direct, "queued": path.queued}


def _feedback_sent(session: ParticipantSession) -> int | None:
    """Transport feedback packets sent to the publisher (None: it negotiated no transport-cc)."""
    recorder = aiortc_hooks.transport_recorder(session.publish_pc)
    return None if recorder is None else recorder.feedback_sent
