"""The daemon's services, assembled once and shared by the HTTP and Socket.IO adapters.

:class:`CoreServices` is storage and the services over it (what the CLI's commands
need); :class:`Services` adds the live adapters (signaling, procedure, media,
recording). Both are built whole, in order, by ``meetingd.app``: nothing is patched
onto them afterwards except ``public_url``, which is known only once the listening
socket is bound (port 0 in tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from meeting.clock import Clock
from signaling.media import MediaSignaling
from signaling.namespace import MeetingNamespace

from .accounts import Accounts
from .cluster.node import ClusterNode
from .committee.service import CommitteeServices
from .config import Config
from .directory import Directory
from .displays import DisplayCaller, Displays
from .journal import Journal
from .meetings import Admission, Meetings
from .minutes import MinutesService
from .procedure import Procedure
from .recording import RecordingService
from .security.service import Security
from .storage.models import Member
from .witness_push import WitnessPusher


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class PublicOrigin:
    """The server's public URL and the origins allowed to call it. Shared by the HTTP
    and Socket.IO adapters; ``url`` is set once the listening socket is bound."""

    def __init__(self, url: str, extra_origins: Sequence[str]) -> None:
        self.url = url.rstrip("/")
        self._extra = frozenset(_origin(o) for o in extra_origins)

    def allows(self, origin: str | None) -> bool:
        """Same-origin only (plus configured extras). No Origin at all is not allowed:
        the HTTP adapter accepts an explicit bearer token instead (``check_origin``)."""
        if origin is None:
            return False
        return origin.lower().rstrip("/") in self._extra | {_origin(self.url)}


@dataclass(kw_only=True)
class CoreServices:
    config: Config
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    accounts: Accounts
    directory: Directory
    meetings: Meetings
    journal: Journal
    minutes: MinutesService  # officer keys, sealing, cosigning, export
    displays: Displays  # paired main-room displays (not people)
    committee: CommitteeServices  # organisation tree, e-profiles, participation figures
    version: str
    security: Security
    origin: PublicOrigin
    read_engine: AsyncEngine | None = None
    """SQLite's read-only pool (storage/dialect.py); ``None`` on PostgreSQL."""

    async def dispose_engines(self) -> None:
        await self.security.sessions.drain()  # the last-seen times still queued
        if self.read_engine is not None:
            await self.read_engine.dispose()
        await self.engine.dispose()

    @property
    def public_url(self) -> str:
        return self.origin.url

    @public_url.setter
    def public_url(self, url: str) -> None:
        self.origin.url = url.rstrip("/")

    def origin_ok(self, origin: str | None) -> bool:
        return self.origin.allows(origin)


@dataclass(kw_only=True)
class Services(CoreServices):
    """Everything the running daemon serves with."""

    namespace: MeetingNamespace
    procedure: Procedure
    media: MediaSignaling
    recording: RecordingService
    witness_push: WitnessPusher  # checkpoints to the configured witnesses (witness_push.py)
    cluster: ClusterNode | None = None  # [cluster] redis_url set: leases, adoption (cluster/)


services_key = web.AppKey("services", Services)


class SignalingBackend:
    """Implements :class:`signaling.backend.Backend` over the daemon's services."""

    def __init__(self, svc: CoreServices) -> None:
        self._svc = svc

    async def redeem_socket_token(self, token: object, address: str = "?") -> Member:
        return await self._svc.accounts.redeem_socket_token(token, address)

    async def redeem_display_token(self, token: object) -> DisplayCaller:
        return await self._svc.displays.redeem_socket_token(token)

    async def admit(self, meeting_id: int, member: Any) -> Admission:
        return await self._svc.meetings.admit(meeting_id, member)

    async def meeting_summary(self, meeting_id: int) -> dict[str, Any]:
        return await self._svc.meetings.public_detail(meeting_id)

    async def start_interval(self, *args: Any) -> None:
        await self._svc.meetings.start_interval(*args)

    async def end_interval(self, *args: Any) -> None:
        await self._svc.meetings.end_interval(*args)

    async def post_chat(self, meeting_id: int, member: Any, text: str) -> dict[str, Any]:
        return await self._svc.meetings.post_chat(meeting_id, member, text)

    async def chat_history(self, meeting_id: int, limit: int) -> list[dict[str, Any]]:
        return await self._svc.meetings.chat_history(meeting_id, limit)
