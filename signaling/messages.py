"""The session's client→server commands: ``join``, ``leave``, ``send_chat``.

Payloads are parsed into typed structures before any use (field readers in
:mod:`signaling.fields`); see :mod:`signaling.command` for how an event is declared.
"""

from __future__ import annotations

from dataclasses import dataclass

from meeting.errors import InvalidInput
from meeting.roles import Attendance

from .command import Access, command
from .fields import boolean, optional_positive_int, positive_int, read_object


@dataclass(frozen=True)
class Join:
    meeting_id: int
    attendance: Attendance
    site_id: int | None
    keep_attendance: bool = False  # a second device: join the way the member already attends

    @classmethod
    def parse(cls, payload: object) -> Join:
        p = read_object(
            payload, {"meeting_id", "attendance", "site_id", "keep_attendance"}, {"meeting_id", "attendance"}
        )
        try:
            attendance = Attendance(p["attendance"])
        except (ValueError, TypeError):
            raise InvalidInput(
                "'attendance' must be one of main_room, sub_site, remote", field="attendance"
            ) from None
        return cls(
            positive_int(p["meeting_id"], "meeting_id"),
            attendance,
            optional_positive_int(p.get("site_id"), "site_id"),
            boolean(p, "keep_attendance"),
        )


@dataclass(frozen=True)
class JoinDisplay:
    meeting_id: int

    @classmethod
    def parse(cls, payload: object) -> JoinDisplay:
        p = read_object(payload, {"meeting_id"}, {"meeting_id"})
        return cls(positive_int(p["meeting_id"], "meeting_id"))


@dataclass(frozen=True)
class Empty:
    """A command without arguments: ``{}`` (or no payload at all)."""

    @classmethod
    def parse(cls, payload: object) -> Empty:
        read_object(payload, set(), set())
        return cls()


@dataclass(frozen=True)
class SendChat:
    text: str

    MAX = 2000

    @classmethod
    def parse(cls, payload: object) -> SendChat:
        p = read_object(payload, {"text"}, {"text"})
        text = p["text"]
        if not isinstance(text, str):
            raise InvalidInput("'text' must be a string", field="text")
        text = text.strip()
        if not text:
            raise InvalidInput("'text' must not be empty", field="text")
        if len(text) > cls.MAX:
            raise InvalidInput(f"'text' must be at most {cls.MAX} characters", field="text")
        return cls(text)


JOIN = command("join", Join, Access.connected(), "take a seat in a meeting", also="a participant of it")
LEAVE = command("leave", Empty, Access.anyone(), "leave the meeting")
SEND_CHAT = command("send_chat", SendChat, Access.anyone(), "post a chat message")
JOIN_DISPLAY = command(
    "join_display",
    JoinDisplay,
    Access.connected(),
    "watch a meeting as its paired display",
    also="a paired display",
)
