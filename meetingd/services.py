"""The daemon's services, assembled once and shared by the HTTP and Socket.IO adapters."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from meeting.clock import Clock
from signaling.namespace import MeetingNamespace

from .accounts import Accounts
from .committee.service import CommitteeServices, committee_services
from .config import Config
from .directory import Directory
from .journal import Journal
from .meetings import Admission, Meetings
from .minutes import MinutesService
from .procedure import Procedure
from .recording import RecordingService
from .storage.models import Member


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass
class Services:
    config: Config
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    accounts: Accounts
    directory: Directory
    meetings: Meetings
    journal: Journal
    version: str
    public_url: str = ""
    namespace: MeetingNamespace | None = None  # type: ignore[assignment]
    recording: RecordingService | None = None
    procedure: Procedure | None = None

    @cached_property
    def minutes(self) -> MinutesService:
        """Officer keys, sealing, cosigning, export (meetingd/minutes.py)."""
        return MinutesService(self.db, self.journal, self.clock, self.config)

    @cached_property
    def committee(self) -> CommitteeServices:
        """Organisation tree, e-profiles, participation figures (meetingd/committee/)."""
        return committee_services(self.db, self.journal, self.clock, self.config.minutes.origin_prefix)

    def origin_ok(self, origin: str | None) -> bool:
        """Same-origin only (plus configured extras). No Origin: a non-browser client."""
        if origin is None:
            return True
        allowed = {_origin(self.public_url)} | {_origin(o) for o in self.config.server.allowed_origins}
        return origin.lower().rstrip("/") in allowed


services_key = web.AppKey("services", Services)


class SignalingBackend:
    """Implements :class:`signaling.backend.Backend` over the daemon's services."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc

    async def redeem_socket_token(self, token: object) -> Member:
        return await self._svc.accounts.redeem_socket_token(token)

    async def admit(self, meeting_id: int, member: Any) -> Admission:
        return await self._svc.meetings.admit(meeting_id, member)

    async def start_interval(self, *args: Any) -> None:
        await self._svc.meetings.start_interval(*args)

    async def end_interval(self, *args: Any) -> None:
        await self._svc.meetings.end_interval(*args)

    async def post_chat(self, meeting_id: int, member: Any, text: str) -> dict[str, Any]:
        return await self._svc.meetings.post_chat(meeting_id, member, text)

    async def chat_history(self, meeting_id: int, limit: int) -> list[dict[str, Any]]:
        return await self._svc.meetings.chat_history(meeting_id, limit)
