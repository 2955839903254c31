"""Client -> server payloads, parsed into typed structures before any use.

Unknown fields, missing fields and wrong types are ``invalid_input`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meeting.errors import InvalidInput
from meeting.roles import Attendance


def _object(payload: object, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise InvalidInput("payload must be a JSON object")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field '{unknown[0]}'", field=unknown[0])
    for name in sorted(required):
        if name not in payload:
            raise InvalidInput(f"missing field '{name}'", field=name)
    return payload


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**53:
        raise InvalidInput(f"'{name}' must be a positive integer", field=name)
    return value


@dataclass(frozen=True)
class Join:
    meeting_id: int
    attendance: Attendance
    site_id: int | None

    @classmethod
    def parse(cls, payload: object) -> Join:
        p = _object(payload, {"meeting_id", "attendance", "site_id"}, {"meeting_id", "attendance"})
        try:
            attendance = Attendance(p["attendance"])
        except (ValueError, TypeError):
            raise InvalidInput(
                "'attendance' must be one of main_room, sub_site, remote", field="attendance"
            ) from None
        site = p.get("site_id")
        return cls(
            _int(p["meeting_id"], "meeting_id"), attendance, None if site is None else _int(site, "site_id")
        )


@dataclass(frozen=True)
class Empty:
    @classmethod
    def parse(cls, payload: object) -> Empty:
        _object(payload, set(), set())
        return cls()


@dataclass(frozen=True)
class SendChat:
    text: str

    MAX = 2000

    @classmethod
    def parse(cls, payload: object) -> SendChat:
        p = _object(payload, {"text"}, {"text"})
        text = p["text"]
        if not isinstance(text, str):
            raise InvalidInput("'text' must be a string", field="text")
        text = text.strip()
        if not text:
            raise InvalidInput("'text' must not be empty", field="text")
        if len(text) > cls.MAX:
            raise InvalidInput(f"'text' must be at most {cls.MAX} characters", field="text")
        return cls(text)
