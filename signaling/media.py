"""Socket.IO events of live media (docs/protocol.md, "Media").

One :class:`~media.sfu.Sfu` per meeting (a meeting's media lives on one node; one
SFU per meeting keeps meetings apart). A participant's media session is keyed by
member id and owned by the connection that sent ``media_open``; a display page gets
a receive-only session of its own. This module handles the media commands (declared,
with their typed payloads, in :mod:`signaling.media_commands`), and
turns the SFU's facts (:mod:`media.events`) into messages; the SFU does the media.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from media.events import (
    ConnectionStateChanged,
    MediaEvent,
    MuteChanged,
    PublicationChanged,
    SubscribeOffer,
    WeakLinkChanged,
)
from media.sfu import Sfu
from meeting.errors import InvalidInput, InvalidState, MeetingError, NotAuthorised, NotFound
from meeting.roles import Attendance, Role
from meeting.roster import ConnState, Seat

from . import media_commands as cmd
from .command import Command, Payload
from .messages import Empty
from .namespace import NAMESPACE, Call, Connection, Handler, MeetingNamespace

logger = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
SfuFactory = Callable[[int, Callable[[MediaEvent], None]], Sfu]
IceServersFor = Callable[[str], list[dict[str, Any]]]
FloorOf = Callable[[int], str | None]  # meeting id -> the member holding the floor

# A shared screen is a publish-only SFU session of its own, "screen:<member id>"; its
# subscribers see it as that member's stream with source "screen".
SCREEN_PREFIX = "screen:"
SHARE_ANY_TIME = (Role.CHAIR, Role.SECRETARY)

DISPLAY_ROLES = (Role.CHAIR, Role.SECRETARY, Role.OBSERVER)
# Quality thresholds (loss as a fraction, RTT in seconds): poor links are the norm here.
FAIR_LOSS, POOR_LOSS = 0.03, 0.10
FAIR_RTT, POOR_RTT = 0.4, 0.8
# A participant whose connections received nothing (no media, no RTCP) for this long has
# lost its link: the chair is told at once (media_quality, link "lost").
LINK_LOST_AFTER = 3.0


class MediaRouter(Protocol):
    """Where a meeting's media runs (meetingd.cluster.routing on a cluster node): its owner
    node holds the SFU, so a member connected to another node has its media commands run
    there, and its ICE goes straight to the owner's announced addresses (the owner writes
    the SDP). ``route_media`` returns None when the media runs here."""

    async def route_media(
        self, name: str, meeting_id: int, call: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def media_closed(self, meeting_id: int, sid: str, reason: str) -> None: ...

    def owns_now(self, meeting_id: int) -> bool: ...


@dataclass
class _RemoteCaller:
    """The member behind a connection held by another node (signaling's Caller)."""

    id: int
    member_id: str
    full_name: str


def forwardable(call: Call) -> dict[str, Any]:
    """What the owner node needs to run a media command for a connection held here."""
    member = call.conn.member
    return {
        "sid": call.sid,
        "member": {"id": member.id, "member_id": member.member_id, "full_name": member.full_name},
        "meeting_id": call.meeting_id,
        "display_meeting": call.conn.display_meeting,
        "seat": call.seat.to_dict() if call.seat is not None else None,
        "data": call.data,
    }


# --- quality -----------------------------------------------------------------------


@dataclass
class _Sample:
    at: float
    bytes_received: int
    packets_received: int
    packets_lost: int


def _stream_entry(stream: dict[str, object]) -> dict[str, object]:
    """A subscribe offer's stream as the client sees it: a shared screen is its member's
    stream with source "screen"."""
    pid = stream.get("participant_id")
    if isinstance(pid, str) and pid.startswith(SCREEN_PREFIX):
        return {**stream, "participant_id": pid.removeprefix(SCREEN_PREFIX), "source": "screen"}
    return {**stream, "source": "camera"}


def classify(loss: float | None, rtt: float | None) -> str:
    """good / fair / poor from loss (fraction) and round-trip time (s); unknown without data."""
    if loss is None and rtt is None:
        return "unknown"
    if (loss or 0.0) >= POOR_LOSS or (rtt or 0.0) >= POOR_RTT:
        return "poor"
    if (loss or 0.0) >= FAIR_LOSS or (rtt or 0.0) >= FAIR_RTT:
        return "fair"
    return "good"


def summarise(stats: dict[str, Any], previous: _Sample | None, now: float) -> tuple[dict[str, Any], _Sample]:
    """One participant's quality figures from :meth:`Sfu.stats` and the previous sample."""
    tracks = stats["publish"]["tracks"]
    sample = _Sample(
        now,
        int(stats["publish"].get("bytes_received", 0)),
        sum(int(t.get("packets_received", 0)) for t in tracks),
        sum(max(0, int(t.get("packets_lost", 0))) for t in tracks),
    )
    bitrate = up_loss = None
    if previous is not None and now > previous.at:
        bitrate = max(0, sample.bytes_received - previous.bytes_received) * 8 / (now - previous.at)
        got = sample.packets_received - previous.packets_received
        lost = sample.packets_lost - previous.packets_lost
        if got + lost > 0:
            up_loss = max(0.0, lost / (got + lost))
    rtts = [
        t["round_trip_time"] for t in stats["subscribe"]["tracks"] if t.get("round_trip_time") is not None
    ]
    down = [
        t["fraction_lost"] / 256 for t in stats["subscribe"]["tracks"] if t.get("fraction_lost") is not None
    ]
    rtt = sorted(rtts)[len(rtts) // 2] if rtts else None
    losses = [x for x in (up_loss, max(down) if down else None) if x is not None]
    loss = max(losses) if losses else None
    return {
        "member_id": stats["participant_id"],
        "quality": classify(loss, rtt),
        "bitrate_kbps": None if bitrate is None else round(bitrate / 1000),
        "loss": None if loss is None else round(loss, 3),
        "rtt_ms": None if rtt is None else round(rtt * 1000),
        "publish_state": stats["publish"]["state"],
        "subscribe_state": stats["subscribe"]["state"],
    }, sample


@dataclass
class _Link:
    """When a participant's connections last received something (server side)."""

    count: int
    changed_at: float
    lost: bool = False


def link_state(quality: str, lost: bool) -> str:
    """ok / weak / lost: what the chair sees of a site's link."""
    return "lost" if lost else "weak" if quality == "poor" else "ok"


# --- the events ----------------------------------------------------------------------


@dataclass
class _Session:
    meeting_id: int
    pid: str
    member_id: str
    sid: str
    display: bool
    device: str = ""  # the client's own id for this browser tab (a reload keeps it)
    screen: bool = False  # a shared screen's publish-only session


class MediaSignaling:
    """Registers the media events on the namespace and relays the SFUs' facts."""

    def __init__(
        self,
        namespace: MeetingNamespace,
        sfu_factory: SfuFactory,
        ice_servers_for: IceServersFor,
        *,
        tick_seconds: float = 1.0,
        quality_every: int = 2,
    ) -> None:
        self.ns = namespace
        self._factory = sfu_factory
        self._ice_servers_for = ice_servers_for
        self._tick, self._quality_every = tick_seconds, quality_every
        self.sfus: dict[int, Sfu] = {}
        self._sessions: dict[tuple[int, str], _Session] = {}
        self._closing: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._publications: dict[int, dict[str, dict[str, bool]]] = {}
        self._main_room: dict[int, set[str]] = {}
        self._muted: dict[int, set[str]] = {}
        # each participant's own switches (set_media_state), shown on their tile
        self._switches: dict[int, dict[str, tuple[bool, bool]]] = {}
        self._spotlight: dict[int, str | None] = {}
        self._speaker: dict[int, str | None] = {}
        self._screen: dict[int, str] = {}  # meeting id -> the member sharing a screen
        self._floor_of: FloorOf = lambda _meeting_id: None
        self._samples: dict[tuple[int, str], _Sample] = {}
        self._links: dict[tuple[int, str], _Link] = {}
        self.quality: dict[int, list[dict[str, Any]]] = {}
        self._display_ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.recording: Any | None = None  # meetingd.recording.RecordingService
        # a cluster node: media runs at the meeting's owner (None: one node, all here)
        self.router: MediaRouter | None = None
        # owner side: connections held by other nodes whose media runs here, by sid
        self._remote_conns: dict[str, Connection] = {}
        # the other side: connections held here whose media runs at an owner, by sid
        self._forwarded: dict[str, int] = {}
        self._commands: dict[str, tuple[Command[Any], Handler[Any]]] = {}
        self._handle(cmd.MEDIA_OPEN, self._open)
        self._handle(cmd.MEDIA_CLOSE, self._close)
        self._handle(cmd.PUBLISH_OFFER, self._publish_offer)
        self._handle(cmd.SUBSCRIBE_ANSWER, self._subscribe_answer)
        self._handle(cmd.ICE_CANDIDATE, self._ice_candidate)
        self._handle(cmd.SET_RECEIVE_PROFILE, self._set_receive_profile)
        self._handle(cmd.SET_WEAK_LINK_AUTO, self._set_weak_link_auto)
        self._handle(cmd.SET_MAIN_ROOM_CAMERA, self._set_main_room_camera)
        self._handle(cmd.MUTE_PARTICIPANT, self._mute_participant)
        self._handle(cmd.SET_MEDIA_STATE, self._set_media_state)
        self._handle(cmd.SPOTLIGHT, self._spotlight_event)
        self._handle(cmd.GET_MEDIA_STATS, self._get_stats)
        self._handle(cmd.SHARE_SCREEN, self._share_screen)
        self._handle(cmd.STOP_SCREEN_SHARE, self._stop_screen_share)
        self._handle(cmd.START_RECORDING, self._start_recording)
        self._handle(cmd.STOP_RECORDING, self._stop_recording)
        namespace.on_connection_closed(self._connection_closed)

    def _handle(self, command: Command[P], handler: Handler[P]) -> None:
        """Bind a media command; on a cluster node it runs at the meeting's owner."""
        self._commands[command.name] = (command, handler)

        async def run(call: Call, payload: P) -> dict[str, Any]:
            if self.router is not None and not self._runs_here(call.meeting_id):
                # noted before the wait: a request that times out may still have opened a
                # session at the owner, and this connection's close must then reach it
                self._forwarded[call.sid] = call.meeting_id
                reply = await self.router.route_media(command.name, call.meeting_id, forwardable(call))
                if reply is not None:
                    return reply
                self._forwarded.pop(call.sid, None)  # this node became the owner meanwhile
            return await handler(call, payload)

        self.ns.handle(command, run)

    async def run_forwarded(self, name: str, info: dict[str, Any]) -> dict[str, Any]:
        """Run a media command another node forwarded (this node owns the meeting): parsed
        and access-checked again here, on a stand-in for that node's connection (kept by
        sid, so the media session stays tied to it)."""
        command, handler = self._commands[name]
        sid, meeting_id = str(info["sid"]), int(info["meeting_id"])
        conn = self._remote_conns.get(sid)
        if conn is None:
            m = info["member"]
            conn = Connection(
                member=_RemoteCaller(int(m["id"]), str(m["member_id"]), str(m["full_name"])), bucket=None
            )
            self._remote_conns[sid] = conn
        conn.meeting_id = meeting_id
        display = info.get("display_meeting")
        conn.display_meeting = None if display is None else int(display)
        seat = Seat.from_dict(info["seat"]) if info.get("seat") is not None else None
        payload = command.parse(info.get("data"))
        if seat is not None and not command.access.allows(seat.role):
            raise NotAuthorised(f"only {command.access.describe()} may {command.doc}")
        return await handler(Call(sid, conn, seat, info.get("data")), payload)

    async def remote_closed(self, meeting_id: int, sid: str, reason: str) -> None:
        """Another node's connection whose media runs here left or dropped."""
        conn = self._remote_conns.pop(sid, None)
        if conn is not None:
            await self._connection_closed(sid, conn, meeting_id, reason)

    def meeting_lost(self, meeting_id: int) -> None:
        """The lease on the meeting was lost: end its media here in the background."""
        self._spawn(self.drop_meeting(meeting_id))

    async def drop_meeting(self, meeting_id: int) -> None:
        """This node no longer owns the meeting (its lease was lost): end its media here and
        tell each client, which opens its media again, now at the new owner."""
        for (m, pid), session in list(self._sessions.items()):
            if m != meeting_id:
                continue
            if not session.screen:
                self._emit_to(session.sid, "media_closed", {"reason": "owner_changed"})
            await self._end_session(meeting_id, pid, "owner_changed")
        for sid in [sid for sid, c in self._remote_conns.items() if c.meeting_id == meeting_id]:
            self._remote_conns.pop(sid, None)

    def _runs_here(self, meeting_id: int) -> bool:
        return meeting_id in self.sfus and self.router is not None and self.router.owns_now(meeting_id)

    def _connection(self, sid: str) -> Connection | None:
        return self.ns.connection(sid) or self._remote_conns.get(sid)

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for timer in self._closing.values():
            timer.cancel()
        self._closing.clear()
        for sfu in list(self.sfus.values()):
            await sfu.close()
        self.sfus.clear()
        self._sessions.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def use_recording(self, recording: Any) -> None:
        """Recording (chair's start/stop; everyone is told through ``recording_changed``)."""
        self.recording = recording

        def changed(meeting_id: int, state: dict[str, Any]) -> None:
            self._emit(meeting_id, "recording_changed", state)

        recording.on_change = changed

    def use_floor(self, floor_of: FloorOf) -> None:
        """Who holds the floor (the procedure's list of speakers): a member may share a
        screen while speaking."""
        self._floor_of = floor_of

    def _recording_state(self, meeting_id: int) -> dict[str, Any]:
        if self.recording is None:
            return {"recording": False, "started_at": None}
        return dict(self.recording.state(meeting_id))

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    # -- helpers ----------------------------------------------------------------

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception:
                logger.exception("media background task failed")

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _own_session(self, conn: Connection, event: str) -> tuple[Sfu, _Session]:
        assert conn.meeting_id is not None
        pid = conn.extra.get("media_pid")
        session = self._sessions.get((conn.meeting_id, pid)) if isinstance(pid, str) else None
        sfu = self.sfus.get(conn.meeting_id)
        if session is None or sfu is None:
            raise InvalidState(
                f"'{event}' before 'media_open'", code="media_not_open", hint="send media_open first"
            )
        return sfu, session

    def _member_session(self, meeting_id: int, member_id: str) -> tuple[Sfu, _Session]:
        session = self._sessions.get((meeting_id, member_id))
        sfu = self.sfus.get(meeting_id)
        if session is None or sfu is None:
            raise NotFound(f"{member_id} has no media session", code="no_media_session")
        return sfu, session

    def _publication(self, meeting_id: int, pid: str) -> dict[str, Any]:
        pub = self._publications.get(meeting_id, {}).get(pid, {"audio": False, "video": False})
        mic_on, camera_on = self._switches.get(meeting_id, {}).get(pid, (True, True))
        return {
            "member_id": pid,
            "audio": pub["audio"],
            "video": pub["video"],
            "main_room": pid in self._main_room.get(meeting_id, set()),
            "muted": pid in self._muted.get(meeting_id, set()),
            "mic_on": mic_on,
            "camera_on": camera_on,
        }

    def _emit(self, meeting_id: int, event: str, data: dict[str, Any]) -> None:
        self._spawn(self.ns.emit_to_meeting(meeting_id, event, data))

    def _emit_to(self, sid: str, event: str, data: dict[str, Any]) -> None:
        self._spawn(self.ns.sio.emit(event, data, to=sid, namespace=NAMESPACE))

    # -- SFU facts -> messages ----------------------------------------------------

    def _on_sfu_event(self, meeting_id: int, event: MediaEvent) -> None:
        session = self._sessions.get((meeting_id, event.participant_id))
        if isinstance(event, SubscribeOffer):
            if session is not None:
                self._emit_to(
                    session.sid,
                    "subscribe_offer",
                    {
                        **event.description,
                        "streams": [_stream_entry(s) for s in event.streams],
                        "new_connection": event.new_connection,
                    },
                )
        elif event.participant_id.startswith(SCREEN_PREFIX):
            # a shared screen's facts are screen_share_changed; a failed link ends it
            if isinstance(event, ConnectionStateChanged) and event.state in ("failed", "closed"):
                if session is not None:
                    self._spawn(self._end_session(meeting_id, session.pid, "failed"))
        elif isinstance(event, PublicationChanged):
            pubs = self._publications.setdefault(meeting_id, {})
            if event.audio or event.video:
                pubs[event.participant_id] = {"audio": event.audio, "video": event.video}
            else:
                pubs.pop(event.participant_id, None)
            self._emit(meeting_id, "publication_changed", self._publication(meeting_id, event.participant_id))
        elif isinstance(event, MuteChanged):
            muted = self._muted.setdefault(meeting_id, set())
            (muted.add if event.muted else muted.discard)(event.participant_id)
            self._emit(
                meeting_id, "participant_muted", {"member_id": event.participant_id, "muted": event.muted}
            )
        elif isinstance(event, WeakLinkChanged):
            if session is not None:
                self._emit_to(
                    session.sid,
                    "media_weak_link",
                    {
                        "weak": event.weak,
                        "reason": event.reason,
                        "auto": event.auto,
                        "retry_seconds": round(event.retry_seconds),
                    },
                )
        elif isinstance(event, ConnectionStateChanged):
            if session is not None and not session.display:
                self._emit(
                    meeting_id,
                    "media_connection_changed",
                    {"member_id": event.participant_id, "target": event.target, "state": event.state},
                )

    # -- events -------------------------------------------------------------------

    def _sfu(self, meeting_id: int) -> Sfu:
        """The meeting's SFU, made on first use."""
        sfu = self.sfus.get(meeting_id)
        if sfu is None:

            def relay(event: MediaEvent, m: int = meeting_id) -> None:
                self._on_sfu_event(m, event)

            sfu = self.sfus[meeting_id] = self._factory(meeting_id, relay)
            if self.recording is not None:
                self.recording.attach(meeting_id, sfu)
        return sfu

    async def _open(self, call: Call, p: cmd.MediaOpen) -> dict[str, Any]:
        sid, conn = call.sid, call.conn
        main_room, display, profile = p.main_room, p.display, p.profile
        if conn.display_meeting is not None:  # a paired display: no seat, receives only
            if not display:
                raise NotAuthorised("a paired display receives only: send 'display': true")
            role, attendance = Role.OBSERVER, Attendance.MAIN_ROOM
        else:
            assert call.seat is not None
            role, attendance = call.seat.role, call.seat.attendance
        meeting_id, member_id = call.meeting_id, call.member_id
        if main_room and attendance != Attendance.MAIN_ROOM and role != Role.CHAIR:
            raise NotAuthorised("only a computer attending in the main room is the main-room camera")
        if display and role not in DISPLAY_ROLES:
            raise NotAuthorised(
                "a main-room display signs in as the chair, the secretary or an observer account"
            )
        previous = conn.extra.get("media_pid")
        if isinstance(previous, str):  # the same connection starts over
            await self._end_session(meeting_id, previous, "reopened")
        pid = f"display:{member_id}:{next(self._display_ids)}" if display else member_id
        other = self._sessions.get((meeting_id, pid)) if not display else None
        second_device = other is not None and other.device and p.device and other.device != p.device
        if second_device and other is not None and other.sid != sid and not p.take_over:
            # A second device: the first keeps its media until the member says so here.
            # (A client that names no device, e.g. a bare reconnect, replaces as before.)
            raise InvalidState(
                "your camera and microphone are on another device; send take_over to use this one",
                code="media_elsewhere",
            )
        if other is not None:
            await self._end_session(meeting_id, pid, "replaced")  # the same tab reloaded, or take_over
        sfu = self._sfu(meeting_id)
        self._sessions[(meeting_id, pid)] = _Session(meeting_id, pid, member_id, sid, display, p.device)
        conn.extra["media_pid"] = pid
        try:
            await sfu.open_participant(pid, main_room=main_room, profile=profile)
        except MeetingError:
            self._sessions.pop((meeting_id, pid), None)
            conn.extra.pop("media_pid", None)
            raise
        if main_room:
            await self._set_main_room(meeting_id, pid, True)
        logger.info("meeting=%s member=%s media opened display=%s", meeting_id, member_id, display)
        if self._recording_state(meeting_id)["recording"]:  # the indicator, for a late joiner
            self._emit_to(sid, "recording_changed", self._recording_state(meeting_id))
        return {
            "participant_id": pid,
            "ice_servers": self._ice_servers_for(member_id),
            "profile": (await sfu.set_receive_profile(pid, profile)),
            "main_room": main_room,
            "display": display,
            "publications": [
                self._publication(meeting_id, m) for m in self._publications.get(meeting_id, {})
            ],
            "spotlight": self._spotlight.get(meeting_id),
            "active_speaker": self._speaker.get(meeting_id),
            "recording": self._recording_state(meeting_id),
            "screen_share": self._screen.get(meeting_id),
        }

    async def _close(self, call: Call, _p: Empty) -> dict[str, Any]:
        _, session = self._own_session(call.conn, "media_close")
        await self._end_session(session.meeting_id, session.pid, "closed")
        return {}

    async def _publish_offer(self, call: Call, p: cmd.Offer) -> dict[str, Any]:
        sfu, session = self._own_session(call.conn, "publish_offer")
        if session.display:
            raise NotAuthorised("a display session receives only")
        return {"answer": await sfu.accept_offer(session.pid, p.sdp, "offer")}

    async def _subscribe_answer(self, call: Call, p: cmd.Answer) -> dict[str, Any]:
        sfu, session = self._own_session(call.conn, "subscribe_answer")
        await sfu.accept_answer(session.pid, p.sdp, "answer")
        return {}

    async def _ice_candidate(self, call: Call, p: cmd.IceCandidate) -> dict[str, Any]:
        if p.target == "screen":
            sfu, session = self._screen_session(call)
            await sfu.add_ice_candidate(session.pid, p.candidate, target="publish")
            return {}
        sfu, session = self._own_session(call.conn, "ice_candidate")
        await sfu.add_ice_candidate(session.pid, p.candidate, target=p.target)
        return {}

    # -- screen sharing -------------------------------------------------------------

    def _screen_session(self, call: Call) -> tuple[Sfu, _Session]:
        pid = call.conn.extra.get("screen_pid")
        session = self._sessions.get((call.meeting_id, pid)) if isinstance(pid, str) else None
        sfu = self.sfus.get(call.meeting_id)
        if session is None or sfu is None:
            raise InvalidState("this connection shares no screen", code="not_sharing")
        return sfu, session

    async def _share_screen(self, call: Call, p: cmd.Offer) -> dict[str, Any]:
        """Publish a screen (``getDisplayMedia``) on a publish-only session of its own;
        everyone's stage and the display show it. One share at a time per meeting."""
        assert call.seat is not None
        meeting_id, member_id = call.meeting_id, call.member_id
        if call.seat.role not in SHARE_ANY_TIME and self._floor_of(meeting_id) != member_id:
            raise NotAuthorised(
                "only the chair, the secretary or the member who has the floor may share a screen"
            )
        sharer = self._screen.get(meeting_id)
        if sharer is not None and sharer != member_id:
            raise InvalidState(f"{sharer} is sharing a screen; one share at a time", code="screen_share_busy")
        pid = SCREEN_PREFIX + member_id
        if (meeting_id, pid) in self._sessions:  # the sharer starts over (a new screen or window)
            await self._end_session(meeting_id, pid, "replaced")
        sfu = self._sfu(meeting_id)
        session = _Session(meeting_id, pid, member_id, call.sid, display=False, screen=True)
        self._sessions[(meeting_id, pid)] = session
        call.conn.extra["screen_pid"] = pid
        await sfu.open_participant(pid, publish_only=True, owner=member_id)
        try:
            answer = await sfu.accept_offer(pid, p.sdp, "offer")
        except MeetingError:
            await self._end_session(meeting_id, pid, "refused")
            raise
        if not any(t.kind == "video" for t in sfu.published_tracks() if t.publisher_id == pid):
            await self._end_session(meeting_id, pid, "refused")
            raise InvalidInput("a screen share needs a video track", field="sdp", code="invalid_sdp")
        self._screen[meeting_id] = member_id
        logger.info("meeting=%s member=%s shares a screen", meeting_id, member_id)
        self._emit(meeting_id, "screen_share_changed", {"member_id": member_id, "stopped_by": None})
        return {"answer": answer}

    async def _stop_screen_share(self, call: Call, _p: Empty) -> dict[str, Any]:
        meeting_id = call.meeting_id
        sharer = self._screen.get(meeting_id)
        if sharer is None:
            raise InvalidState("nobody is sharing a screen", code="not_sharing")
        is_chair = call.seat is not None and call.seat.role == Role.CHAIR
        if sharer != call.member_id and not is_chair:
            raise NotAuthorised("only the sharer or the chair may stop the screen share")
        await self._end_session(meeting_id, SCREEN_PREFIX + sharer, "stopped", by=call.member_id)
        return {"member_id": sharer}

    async def _set_receive_profile(self, call: Call, p: cmd.ReceiveProfile) -> dict[str, Any]:
        sfu, session = self._own_session(call.conn, "set_receive_profile")
        return {"profile": await sfu.set_receive_profile(session.pid, p.profile)}

    async def _set_weak_link_auto(self, call: Call, p: cmd.WeakLinkAuto) -> dict[str, Any]:
        sfu, session = self._own_session(call.conn, "set_weak_link_auto")
        return await sfu.set_weak_link_auto(session.pid, p.auto)

    async def _set_main_room_camera(self, call: Call, p: cmd.MainRoomCamera) -> dict[str, Any]:
        self._member_session(call.meeting_id, p.member_id)
        await self._set_main_room(call.meeting_id, p.member_id, p.main_room)
        return {}

    async def _set_main_room(self, meeting_id: int, pid: str, flag: bool) -> None:
        await self.sfus[meeting_id].set_main_room(pid, flag)
        rooms = self._main_room.setdefault(meeting_id, set())
        (rooms.add if flag else rooms.discard)(pid)
        self._emit(meeting_id, "publication_changed", self._publication(meeting_id, pid))

    async def unmute_speaker(self, meeting_id: int, member_id: str) -> None:
        """The chair gave this member the floor: forward their microphone again."""
        if member_id in self._muted.get(meeting_id, set()):
            sfu, _ = self._member_session(meeting_id, member_id)
            await sfu.mute(member_id, False)
            logger.info("meeting=%s member=%s unmuted: floor given", meeting_id, member_id)

    async def _mute_participant(self, call: Call, p: cmd.MuteParticipant) -> dict[str, Any]:
        sfu, _ = self._member_session(call.meeting_id, p.member_id)
        await sfu.mute(p.member_id, p.muted)
        logger.info("meeting=%s member=%s muted=%s by chair", call.meeting_id, p.member_id, p.muted)
        return {"member_id": p.member_id, "muted": p.muted}

    async def _set_media_state(self, call: Call, p: cmd.MediaState) -> dict[str, Any]:
        """A participant's own microphone and camera switches, relayed to everyone
        (``publication_changed``). The client stops sending when a switch is off; the
        chair's mute (``mute_participant``) is apart from this and wins."""
        mic_on, camera_on = p.microphone, p.camera
        _, session = self._own_session(call.conn, "set_media_state")
        if session.display:
            raise NotAuthorised("a display session does not publish")
        switches = self._switches.setdefault(session.meeting_id, {})
        if switches.get(session.pid) != (mic_on, camera_on):
            switches[session.pid] = (mic_on, camera_on)
            self._emit(
                session.meeting_id, "publication_changed", self._publication(session.meeting_id, session.pid)
            )
        return {"microphone": mic_on, "camera": camera_on}

    async def _spotlight_event(self, call: Call, p: cmd.Spotlight) -> dict[str, Any]:
        meeting_id, member_id = call.meeting_id, p.member_id
        if member_id is not None:
            roster = self.ns.roster(meeting_id)
            seat = roster.seat(member_id) if roster else None
            here = seat is not None and seat.state != ConnState.LEFT
            # on a cluster the roster here holds this node's members only; a member on
            # another node whose media runs here is in the meeting too
            if not here and (meeting_id, member_id) not in self._sessions:
                raise NotFound(f"{member_id} is not in the meeting", field="member_id")
        self._spotlight[meeting_id] = member_id
        self._emit(meeting_id, "spotlight_changed", {"member_id": member_id})
        return {"member_id": member_id}

    async def _start_recording(self, call: Call, _p: Empty) -> dict[str, Any]:
        if self.recording is None:
            raise InvalidState("recording is not available on this server", code="recording_unavailable")
        meeting_id = call.meeting_id
        return dict(await self.recording.start(meeting_id, call.member_id, self.sfus.get(meeting_id)))

    async def _stop_recording(self, call: Call, _p: Empty) -> dict[str, Any]:
        if self.recording is None:
            raise InvalidState("the meeting is not being recorded", code="not_recording")
        entry = await self.recording.stop(call.meeting_id, call.member_id, "chair")
        return {
            **self._recording_state(call.meeting_id),
            "files": [
                {k: f[k] for k in ("member_id", "kind", "name", "sha256", "bytes")} for f in entry["files"]
            ],
        }

    async def _get_stats(self, call: Call, _p: Empty) -> dict[str, Any]:
        sfu = self.sfus.get(call.meeting_id)
        participants = []
        if sfu is not None:
            for pid in sfu.participant_ids:
                try:
                    participants.append(await sfu.stats(pid))
                except NotFound:
                    continue  # closed meanwhile
        return {"participants": participants, "quality": self.quality.get(call.meeting_id, [])}

    # -- leaving ------------------------------------------------------------------

    async def _connection_closed(self, sid: str, conn: Connection, meeting_id: int, reason: str) -> None:
        forwarded_to = self._forwarded.pop(sid, None)
        if forwarded_to is not None and self.router is not None:
            await self.router.media_closed(forwarded_to, sid, reason)
        screen = conn.extra.pop("screen_pid", None)
        if isinstance(screen, str):  # a shared screen ends with its connection
            await self._end_session(meeting_id, screen, reason)
        pid = conn.extra.pop("media_pid", None)
        session = self._sessions.get((meeting_id, pid)) if isinstance(pid, str) else None
        if session is None or session.sid != sid:
            return
        if reason == "leave" or session.display:
            await self._end_session(meeting_id, session.pid, reason)
            return
        # A dropped connection keeps its media for the reconnect grace: the client's
        # peer connections may well still be up. A new media_open replaces it.
        key = (meeting_id, session.pid)
        grace = self.ns.limits.reconnect_grace_seconds

        def expire() -> None:
            self._closing.pop(key, None)
            current = self._sessions.get(key)
            if current is session:
                self._spawn(self._end_session(meeting_id, session.pid, "disconnected"))

        self._closing[key] = asyncio.get_running_loop().call_later(grace, expire)

    async def _end_session(self, meeting_id: int, pid: str, reason: str, *, by: str | None = None) -> None:
        key = (meeting_id, pid)
        session = self._sessions.pop(key, None)
        timer = self._closing.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._samples.pop(key, None)
        self._links.pop(key, None)
        sfu = self.sfus.get(meeting_id)
        if session is None or sfu is None:
            return
        conn = self._connection(session.sid)
        if session.screen:
            if conn is not None and conn.extra.get("screen_pid") == pid:
                conn.extra.pop("screen_pid", None)
            if self._screen.get(meeting_id) == session.member_id:
                del self._screen[meeting_id]
                stopped_by = by if by is not None else session.member_id
                self._emit(meeting_id, "screen_share_changed", {"member_id": None, "stopped_by": stopped_by})
        elif conn is not None and conn.extra.get("media_pid") == pid:
            conn.extra.pop("media_pid", None)
            if reason == "replaced":
                self._emit_to(session.sid, "media_closed", {"reason": "replaced"})
        try:
            await sfu.close_participant(pid)
        except NotFound:
            pass
        self._main_room.get(meeting_id, set()).discard(pid)
        self._muted.get(meeting_id, set()).discard(pid)
        self._switches.get(meeting_id, {}).pop(pid, None)
        if self._publications.get(meeting_id, {}).pop(pid, None) is not None:
            self._emit(meeting_id, "publication_changed", self._publication(meeting_id, pid))
        if reason in ("leave", "disconnected", "closed") and self._spotlight.get(meeting_id) == pid:
            self._spotlight[meeting_id] = None
            self._emit(meeting_id, "spotlight_changed", {"member_id": None})
        logger.info("meeting=%s participant=%s media closed reason=%s", meeting_id, pid, reason)
        if not sfu.participant_ids:
            self.sfus.pop(meeting_id, None)
            await sfu.close()
            for table in (
                self._publications,
                self._main_room,
                self._muted,
                self._speaker,
                self._screen,
                self.quality,
                self._switches,
            ):
                table.pop(meeting_id, None)

    # -- periodic: active speaker and quality ----------------------------------------

    async def _tick_loop(self) -> None:
        for n in itertools.count():
            await asyncio.sleep(self._tick)
            for meeting_id, sfu in list(self.sfus.items()):
                try:
                    self._check_speaker(meeting_id, sfu)
                    if self._check_links(meeting_id, sfu) or n % self._quality_every == 0:
                        await self._broadcast_quality(meeting_id, sfu)
                except Exception:
                    logger.exception("meeting=%s media tick failed", meeting_id)

    def _check_speaker(self, meeting_id: int, sfu: Sfu) -> None:
        spoke = sfu.ranking.last_spoke
        order = [p for p in sfu.ranking.order if p in spoke]
        speaker = order[0] if order else None
        if speaker != self._speaker.get(meeting_id):
            self._speaker[meeting_id] = speaker
            self._emit(meeting_id, "active_speaker_changed", {"member_id": speaker})

    def _check_links(self, meeting_id: int, sfu: Sfu) -> bool:
        """Note who received nothing for LINK_LOST_AFTER; True if someone's link came or went."""
        now = asyncio.get_running_loop().time()
        changed = False
        for pid in sfu.participant_ids:
            session = self._sessions.get((meeting_id, pid))
            if session is None or session.display:
                continue
            try:
                count = sfu.datagrams_received(pid)
            except NotFound:
                continue
            link = self._links.get((meeting_id, pid))
            if count is None:  # not connected (yet, or being replaced): not "lost" either
                if link is not None and link.lost:
                    changed = True
                self._links.pop((meeting_id, pid), None)
                continue
            if link is None or count != link.count:
                if link is not None and link.lost:
                    changed = True
                self._links[(meeting_id, pid)] = _Link(count, now)
                continue
            lost = now - link.changed_at > LINK_LOST_AFTER
            if lost != link.lost:
                link.lost = lost
                changed = True
                logger.info("meeting=%s participant=%s link %s", meeting_id, pid, "lost" if lost else "back")
        return changed

    async def _broadcast_quality(self, meeting_id: int, sfu: Sfu) -> None:
        now = asyncio.get_running_loop().time()
        rows = []
        for pid in sfu.participant_ids:
            session = self._sessions.get((meeting_id, pid))
            if session is None or session.display or session.screen:
                continue
            try:
                stats = await sfu.stats(pid)
            except NotFound:
                continue
            row, sample = summarise(stats, self._samples.get((meeting_id, pid)), now)
            self._samples[(meeting_id, pid)] = sample
            link = self._links.get((meeting_id, pid))
            row["link"] = link_state(row["quality"], link is not None and link.lost)
            rows.append(row)
        self.quality[meeting_id] = rows
        if rows:
            await self.ns.emit_to_meeting(meeting_id, "media_quality", {"participants": rows})
