"""Live media's client→server commands (docs/protocol.md, "Media"): typed payloads and
their declarations. The handlers are :class:`signaling.media.MediaSignaling`'s; see
:mod:`signaling.command` for how to add an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from meeting.errors import InvalidInput
from meeting.roles import Role

from .command import Access, command
from .fields import boolean, member_id, read_object
from .messages import Empty

CHAIR = Access.roles(Role.CHAIR)
ICE_CANDIDATE_FIELDS = {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"}
DEVICE_MAX = 64


@dataclass(frozen=True)
class MediaOpen:
    main_room: bool
    profile: object  # checked by the SFU's receive profiles (precise codes)
    display: bool
    device: str = ""  # the client's id for this browser tab: a reload is not a second device
    take_over: bool = False  # "use this device for video": replace the member's other device

    @classmethod
    def parse(cls, payload: object) -> MediaOpen:
        p = read_object(payload, {"main_room", "profile", "display", "device", "take_over"}, set())
        main_room, display = boolean(p, "main_room"), boolean(p, "display")
        if display and main_room:
            raise InvalidInput("a display does not publish: 'main_room' is not allowed", field="main_room")
        device = p.get("device", "")
        if not isinstance(device, str) or len(device) > DEVICE_MAX:
            raise InvalidInput(
                f"'device' must be a string of at most {DEVICE_MAX} characters", field="device"
            )
        return cls(main_room, p.get("profile", "full"), display, device, boolean(p, "take_over"))


def _description(payload: object, expected: str) -> str:
    p = read_object(payload, {"sdp", "type"}, {"sdp", "type"})
    if p["type"] != expected:
        raise InvalidInput(f"'type' must be '{expected}'", field="type", code="invalid_sdp")
    if not isinstance(p["sdp"], str):
        raise InvalidInput("'sdp' must be a string", field="sdp", code="invalid_sdp")
    return p["sdp"]


@dataclass(frozen=True)
class Offer:
    sdp: str

    @classmethod
    def parse(cls, payload: object) -> Offer:
        return cls(_description(payload, "offer"))


@dataclass(frozen=True)
class Answer:
    sdp: str

    @classmethod
    def parse(cls, payload: object) -> Answer:
        return cls(_description(payload, "answer"))


@dataclass(frozen=True)
class IceCandidate:
    target: Literal["publish", "subscribe", "screen"]
    candidate: dict[str, Any] | None  # None: end of candidates

    @classmethod
    def parse(cls, payload: object) -> IceCandidate:
        p = read_object(payload, {"target", "candidate"}, {"target", "candidate"})
        target = p["target"]
        if target not in ("publish", "subscribe", "screen"):
            raise InvalidInput("'target' must be 'publish', 'subscribe' or 'screen'", field="target")
        candidate = p["candidate"]
        if candidate is not None and not isinstance(candidate, dict):
            raise InvalidInput("'candidate' must be an object or null", field="candidate")
        if isinstance(candidate, dict):
            extra = set(candidate) - ICE_CANDIDATE_FIELDS
            if extra:
                raise InvalidInput(f"unknown field 'candidate.{sorted(extra)[0]}'", field="candidate")
            candidate = {k: v for k, v in candidate.items() if k != "usernameFragment"}
        return cls(target, candidate)


@dataclass(frozen=True)
class ReceiveProfile:
    profile: object  # checked by the SFU's receive profiles (precise codes)

    @classmethod
    def parse(cls, payload: object) -> ReceiveProfile:
        return cls(read_object(payload, {"profile"}, {"profile"})["profile"])


@dataclass(frozen=True)
class WeakLinkAuto:
    """``auto``: sound only by itself while one's link is weak (the default); False keeps video."""

    auto: bool

    @classmethod
    def parse(cls, payload: object) -> WeakLinkAuto:
        return cls(boolean(read_object(payload, {"auto"}, {"auto"}), "auto"))


@dataclass(frozen=True)
class MainRoomCamera:
    member_id: str
    main_room: bool

    @classmethod
    def parse(cls, payload: object) -> MainRoomCamera:
        p = read_object(payload, {"member_id", "main_room"}, {"member_id", "main_room"})
        return cls(member_id(p["member_id"]), boolean(p, "main_room"))


@dataclass(frozen=True)
class MuteParticipant:
    member_id: str
    muted: bool

    @classmethod
    def parse(cls, payload: object) -> MuteParticipant:
        p = read_object(payload, {"member_id", "muted"}, {"member_id", "muted"})
        return cls(member_id(p["member_id"]), boolean(p, "muted"))


@dataclass(frozen=True)
class MediaState:
    """A participant's own switches: ``microphone`` and ``camera`` on or off."""

    microphone: bool
    camera: bool

    @classmethod
    def parse(cls, payload: object) -> MediaState:
        p = read_object(payload, {"microphone", "camera"}, {"microphone", "camera"})
        return cls(boolean(p, "microphone"), boolean(p, "camera"))


@dataclass(frozen=True)
class Spotlight:
    member_id: str | None  # None: nobody

    @classmethod
    def parse(cls, payload: object) -> Spotlight:
        value = read_object(payload, {"member_id"}, {"member_id"})["member_id"]
        return cls(None if value is None else member_id(value))


MEDIA_OPEN = command(
    "media_open", MediaOpen, Access.anyone(), "open a media session", also="display: officers or an observer"
)
MEDIA_CLOSE = command("media_close", Empty, Access.anyone(), "close one's media session")
PUBLISH_OFFER = command("publish_offer", Offer, Access.anyone(), "publish media", also="not a display")
SUBSCRIBE_ANSWER = command("subscribe_answer", Answer, Access.anyone(), "answer the subscription offer")
ICE_CANDIDATE = command("ice_candidate", IceCandidate, Access.anyone(), "send an ICE candidate")
SET_RECEIVE_PROFILE = command(
    "set_receive_profile", ReceiveProfile, Access.anyone(), "choose what to receive"
)
SET_WEAK_LINK_AUTO = command(
    "set_weak_link_auto", WeakLinkAuto, Access.anyone(), "choose sound only on a weak link"
)
SET_MAIN_ROOM_CAMERA = command("set_main_room_camera", MainRoomCamera, CHAIR, "choose the main-room camera")
MUTE_PARTICIPANT = command("mute_participant", MuteParticipant, CHAIR, "mute a participant")
SET_MEDIA_STATE = command(
    "set_media_state", MediaState, Access.anyone(), "switch one's microphone or camera", also="not a display"
)
SPOTLIGHT = command("spotlight", Spotlight, CHAIR, "spotlight a speaker")
GET_MEDIA_STATS = command(
    "get_media_stats",
    Empty,
    Access.roles(Role.CHAIR, Role.SECRETARY, Role.OPERATOR),
    "read the media statistics",
)
SHARE_SCREEN = command(
    "share_screen",
    Offer,
    Access.roles(Role.CHAIR, Role.SECRETARY, Role.MEMBER, Role.OPERATOR),
    "share a screen",
    also="a member or an operator only while holding the floor; one share at a time",
)
STOP_SCREEN_SHARE = command(
    "stop_screen_share", Empty, Access.anyone(), "stop the screen share", also="the sharer or the chair"
)
START_RECORDING = command("start_recording", Empty, CHAIR, "record the meeting")
STOP_RECORDING = command("stop_recording", Empty, CHAIR, "stop the recording")
