"""What signaling needs from the rest of the server (implemented in ``meetingd``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from meeting.roster import Entitlement, Site


class Caller(Protocol):
    """An authenticated member (the storage row satisfies it)."""

    id: int
    member_id: str
    full_name: str


class Admission(Protocol):
    """Read-only, so a frozen dataclass satisfies it."""

    @property
    def meeting(self) -> dict[str, Any]: ...

    @property
    def entitlement(self) -> Entitlement: ...

    @property
    def sites(self) -> list[Site]: ...

    @property
    def member_pk(self) -> int: ...


class DisplayCaller(Caller, Protocol):
    """A paired main-room display: not a member, scoped to one meeting."""

    meeting_id: int


class Backend(Protocol):
    async def redeem_socket_token(self, token: object, address: str = "?") -> Caller: ...

    async def redeem_display_token(self, token: object) -> DisplayCaller: ...

    async def admit(self, meeting_id: int, member: Any) -> Admission: ...

    async def meeting_summary(self, meeting_id: int) -> dict[str, Any]: ...

    async def start_interval(
        self, meeting_id: int, member_pk: int, attendance: str, site_id: int | None, at: datetime
    ) -> None: ...

    async def end_interval(self, meeting_id: int, member_pk: int, at: datetime) -> None: ...

    async def post_chat(self, meeting_id: int, member: Any, text: str) -> dict[str, Any]: ...

    async def chat_history(self, meeting_id: int, limit: int) -> list[dict[str, Any]]: ...
