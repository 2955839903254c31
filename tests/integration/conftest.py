"""A real meetingd server on 127.0.0.1, port 0, SQLite under a temp dir, demo data.

Modules (or tests) marked ``@pytest.mark.both_stores`` run once on SQLite and once on a
real PostgreSQL (a throwaway cluster for the session, one fresh database per test): the
``store`` fixture gives the config sections of the test's database; ``server`` uses it, and
tests that start servers themselves pass ``**store`` to :func:`start_server`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web

from meeting.clock import Clock, utc_now
from meetingd.app import build_app
from meetingd.config import load_config
from meetingd.demo import DEMO_PASSWORD, seed_demo
from meetingd.keystore import write_credentials_file
from meetingd.services import Services, services_key
from tests.support.polling import wait_for
from tests.support.postgres import PostgresCluster, find_pg_bin
from tests.support.redis_server import RedisServer, find_redis

__all__ = ["wait_for"]  # re-exported for the test modules

STORES = ("sqlite", "postgresql")


@dataclass
class Server:
    url: str
    app: web.Application
    data_dir: Path

    @property
    def svc(self) -> Services:
        return self.app[services_key]


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Any:
    """Test config: 127.0.0.1, port 0, data under tmp_path; ``sections`` add overrides.

    The minutes key's passphrase is in ``tmp_path/data.credentials/minutes-key``: the
    default credentials file, beside (not in) the data directory, as ``keys init`` writes
    it, so ``meetingd ... --data-dir tmp_path/data`` subprocesses find it too.
    """
    credentials = tmp_path / "data.credentials" / "minutes-key"
    if not credentials.exists():
        write_credentials_file(credentials, "test passphrase of the minutes key")
    return load_config(
        environ={},
        overrides={
            **sections,
            "server": {
                "host": "127.0.0.1",
                "port": 0,
                "data_dir": str(tmp_path / "data"),
                "reconnect_grace_seconds": 1.0,
                **sections.get("server", {}),
            },
            "logging": {"format": "text"},
            # The demo officers have no second factor; tests of strict identity turn the
            # production default (admins and officers must have one) back on.
            "security": {"second_factor_required_for": [], **sections.get("security", {})},
        },
    )


async def start_server(
    tmp_path: Path, *, clock: Clock = utc_now, **sections: dict[str, Any]
) -> tuple[Server, web.AppRunner]:
    cfg = make_config(tmp_path, **sections)
    app = build_app(cfg, clock)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    app[services_key].public_url = url
    await seed_demo(app[services_key])
    return Server(url, app, tmp_path / "data"), runner


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_stores"):
        metafunc.parametrize("store", STORES, indirect=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    if find_pg_bin() is None:
        if os.environ.get("CI"):
            raise RuntimeError("PostgreSQL binaries missing in CI: ./dev test installs them")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if find_redis() is None:
        if os.environ.get("CI"):
            raise RuntimeError("redis-server missing in CI: ./dev test installs it")
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def store(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """Config sections naming this test's database: SQLite in data_dir unless parametrized."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        return {}
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return {"database": {"url": cluster.create_database()}}


@pytest.fixture
async def server(tmp_path: Path, store: dict[str, dict[str, Any]]) -> AsyncIterator[Server]:
    srv, runner = await start_server(tmp_path, **store)
    yield srv
    await runner.cleanup()


class Member:
    """One signed-in member: an HTTP session with its cookie, and socket helpers."""

    def __init__(self, server: Server, http: aiohttp.ClientSession, member_id: str) -> None:
        self.server, self.http, self.member_id = server, http, member_id
        self.events: list[tuple[str, Any]] = []
        self.sio: socketio.AsyncClient | None = None

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        async with self.http.request(
            method, self.server.url + path, json=body, headers={"Origin": self.server.url}
        ) as r:
            return r.status, await r.json()

    async def token(self) -> str:
        status, body = await self.call("POST", "/api/socket-token")
        assert status == 200, body
        return str(body["token"])

    async def connect(self) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("*", namespace="/meeting")
        async def record(event: str, data: Any) -> None:
            self.events.append((event, data))

        await sio.connect(
            self.server.url,
            namespaces=["/meeting"],
            transports=["websocket"],
            auth={"token": await self.token()},
            headers={"Origin": self.server.url},
        )
        self.sio = sio
        return sio

    async def emit(self, event: str, data: Any = None) -> dict[str, Any]:
        assert self.sio is not None
        result = await self.sio.call(event, data, namespace="/meeting", timeout=10)
        assert isinstance(result, dict)
        return result

    async def join(self, meeting_id: int = 1, attendance: str = "remote", **extra: Any) -> dict[str, Any]:
        if self.sio is None:
            await self.connect()
        return await self.emit("join", {"meeting_id": meeting_id, "attendance": attendance, **extra})

    def seen(self, event: str) -> list[Any]:
        return [d for e, d in self.events if e == event]

    def roster_changes(self, kind: str) -> list[dict[str, Any]]:
        """The ``{"kind", "participant"}`` changes of that kind from every ``roster_changed``."""
        return [c for d in self.seen("roster_changed") for c in d["changes"] if c["kind"] == kind]

    async def close(self) -> None:
        if self.sio is not None and self.sio.connected:
            await self.sio.disconnect()
        await self.http.close()


@pytest.fixture
async def sign_in(server: Server) -> AsyncIterator[Callable[[str], Awaitable[Member]]]:
    opened: list[Member] = []

    async def login(member_id: str, password: str = DEMO_PASSWORD) -> Member:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        m = Member(server, http, member_id)
        opened.append(m)
        status, body = await m.call("POST", "/api/login", {"member_id": member_id, "password": password})
        assert status == 200, body
        return m

    yield login
    for m in opened:
        await m.close()


@pytest.fixture(autouse=True)
def collect_garbage_after_each_test() -> Iterator[None]:
    """Collect garbage at teardown, so an unclosed socket or transport is reported
    against the test that leaked it, not against whichever test runs the GC next."""
    yield
    gc.collect()
