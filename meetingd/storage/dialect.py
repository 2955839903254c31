"""What differs between SQLite and PostgreSQL, in one place.

The schema is portable (models.py); what is not lives here:

* **SQLite**: WAL with ``synchronous=FULL`` (acknowledged facts survive power loss),
  foreign keys on, and ``BEGIN IMMEDIATE`` so a writer takes the database's one write
  lock up front. That lock also orders the minutes journal: one writer at a time.
* **PostgreSQL** (asyncpg): many writers at once, so each meeting's journal appends take
  a transaction-scoped advisory lock, ``pg_advisory_xact_lock(LOG_LOCK_CLASS, meeting)``,
  released by COMMIT or ROLLBACK (also when the connection dies). ``UNIQUE(meeting_id,
  seq)`` (the primary key of ``minutes_entries``) is the backstop if anything bypassed it.
  ``synchronous_commit`` stays at the server's default (on): COMMIT returns after the WAL
  is flushed, so an ack still means durable.

``WITHOUT ROWID`` tables (``sqlite_with_rowid=False``) are a SQLite keyword only; on
PostgreSQL the same tables are ordinary heap tables (see docs/deploy.md for what that
means for secret ballots).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from . import aiosqlite_hooks
from .models import MinutesEntry

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock(int4, int4) key spaces: (class, object id). Distinct classes keep
# meetingd's locks apart from each other and from other applications' single-bigint locks.
LOG_LOCK_CLASS = 0x4D4C  # "ML": a meeting's minutes log
LEASE_LOCK_CLASS = 0x4D4F  # "MO": a meeting's owner lease (meetingd.cluster)
SCHEMA_LOCK = (0x4D53, 0)  # "MS": creating or migrating the schema

POSTGRES_DRIVERS = ("postgresql+asyncpg",)
SQLITE_CHECKOUT_TIMEOUT_S = 5.0
"""How long a transaction waits for SQLite's one connection (as busy_timeout did for the
lock) before it is answered ``server_busy``."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    aiosqlite_hooks.adopt(dbapi_conn)  # one trip to aiosqlite's thread per statement
    # We issue BEGIN ourselves (see _sqlite_begin), so the driver must not.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # Acknowledged facts (ballots, minutes entries, chat) must survive power loss.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    """BEGIN IMMEDIATE: take the write lock up front.

    With a deferred BEGIN, a transaction that reads and then writes must upgrade its
    lock; if another writer committed meanwhile SQLite fails at once with "database is
    locked" instead of waiting (busy_timeout does not apply). Taking the lock at BEGIN
    makes concurrent transactions queue on busy_timeout instead.
    """
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(url: str, *, echo: bool = False, application_name: str = "meetingd") -> AsyncEngine:
    """An async engine for a SQLite or PostgreSQL URL, set up as meetingd needs it."""
    if url.startswith("postgresql") and not url.startswith(POSTGRES_DRIVERS):
        raise ValueError(f"database url {url.split('://')[0]}://...: use postgresql+asyncpg://")
    if url.startswith("postgresql"):
        engine = create_async_engine(
            url,
            echo=echo,
            # A connection broken while PostgreSQL restarted is replaced, not handed out.
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            pool_timeout=10,
            connect_args={"timeout": 5, "server_settings": {"application_name": application_name}},
        )
        return engine
    if ":memory:" in url or url.rstrip("/").endswith(":"):
        engine = create_async_engine(url, echo=echo)
    else:
        # One connection, handed out in FIFO order. SQLite has one write lock and every
        # transaction takes it at BEGIN; with a pool of several connections the waiters
        # queue inside SQLite's busy handler, which sleeps (up to 100 ms a try) instead of
        # waking when the lock is freed: in a join storm the lock sat free 40 % of the time
        # while joins waited, and some waited past busy_timeout. Waiting for the one
        # connection is an asyncio queue: fair, and the next holder starts at once.
        engine = create_async_engine(
            url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=SQLITE_CHECKOUT_TIMEOUT_S
        )
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_read_pragmas(dbapi_conn: Any, _record: Any) -> None:
    aiosqlite_hooks.adopt(dbapi_conn)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")  # a reader that tries to write fails loudly
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _sqlite_read_begin(conn: Connection) -> None:
    """A deferred BEGIN: in WAL mode a reader sees the last commit and never waits for
    the writer, nor makes it wait."""
    conn.exec_driver_sql("BEGIN")


READERS = 4
"""Connections of the SQLite read pool (lookups on the join path: the meeting, the chat)."""


def create_read_engine(url: str, *, echo: bool = False) -> AsyncEngine | None:
    """A pool of read-only connections for a SQLite file, or ``None`` where the main
    engine should be used for reads too (PostgreSQL's readers never block its writers;
    an in-memory SQLite database has one connection)."""
    if not url.startswith("sqlite") or ":memory:" in url or url.rstrip("/").endswith(":"):
        return None
    engine = create_async_engine(url, echo=echo, pool_size=READERS, max_overflow=0, pool_timeout=10)
    event.listen(engine.sync_engine, "connect", _sqlite_read_pragmas)
    event.listen(engine.sync_engine, "begin", _sqlite_read_begin)
    return engine


def is_postgres(session_or_engine: AsyncSession | AsyncEngine) -> bool:
    if isinstance(session_or_engine, AsyncSession):
        return session_or_engine.get_bind().dialect.name == "postgresql"
    return session_or_engine.dialect.name == "postgresql"


async def lock_meeting_log(session: AsyncSession, meeting_id: int) -> int:
    """Make this transaction the meeting's one log writer; return the next ``seq`` on disk.

    Call first thing in the transaction. On PostgreSQL this waits for the meeting's
    advisory lock; on SQLite ``BEGIN IMMEDIATE`` already holds the database's write lock.
    The count read afterwards sees every entry committed by earlier holders.
    """
    if is_postgres(session):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :id)"), {"cls": LOG_LOCK_CLASS, "id": meeting_id}
        )
    last = await session.scalar(
        select(func.max(MinutesEntry.seq)).where(MinutesEntry.meeting_id == meeting_id)
    )
    return 0 if last is None else int(last) + 1


async def lock_schema(conn: AsyncConnection) -> None:
    """Nodes starting together migrate one at a time (PostgreSQL DDL is transactional:
    the second one then finds the schema current)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :id)"), {"cls": SCHEMA_LOCK[0], "id": SCHEMA_LOCK[1]}
        )
