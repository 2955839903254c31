"""Roles in a meeting and how members attend."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CHAIR = "chair"
    SECRETARY = "secretary"
    MEMBER = "member"  # a voting member
    OBSERVER = "observer"  # a non-voting guest
    OPERATOR = "operator"  # runs a remote sub-site

    @property
    def is_officer(self) -> bool:
        return self in (Role.CHAIR, Role.SECRETARY)

    @property
    def can_vote(self) -> bool:
        return self in (Role.CHAIR, Role.SECRETARY, Role.MEMBER)


class Attendance(StrEnum):
    MAIN_ROOM = "main_room"
    SUB_SITE = "sub_site"
    REMOTE = "remote"


class MeetingState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
