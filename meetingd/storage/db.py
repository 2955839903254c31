"""Engine set-up, SQLite durability pragmas and the schema migration path."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event, inspect, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .models import Base, ChatMessage, SchemaMeta

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 5


# aiosqlite logs every statement with its parameters at DEBUG: a ballot batch's
# transaction holds voter rows and secret ballot contents side by side. Never let
# those lines out, whatever the configured level (meetingd.logs keeps it so too).
logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
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


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _migrate_1_to_2(conn: Connection) -> None:
    """v2: members choose their language; meeting chat is stored."""
    conn.execute(text("ALTER TABLE members ADD COLUMN language VARCHAR(8) NOT NULL DEFAULT 'en'"))
    ChatMessage.__table__.create(conn)  # type: ignore[attr-defined]


def _create_new_tables(conn: Connection) -> None:
    """A version that only adds tables: create the ones missing (portable DDL)."""
    Base.metadata.create_all(conn, checkfirst=True)


# v5 changes existing tables as well as adding new ones: each change is one step here
# (a function of the connection, run after the new tables exist), named after what it does.
V5_STEPS: list[Callable[[Connection], None]] = []


def _migrate_4_to_5(conn: Connection) -> None:
    """v5: the tables this version adds, then each change to an existing table."""
    _create_new_tables(conn)
    for step in V5_STEPS:
        step(conn)


# MIGRATIONS[v] turns a database at version v into version v + 1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1_to_2,
    2: _create_new_tables,  # v3: minutes_entries, minutes_checkpoints
    3: _create_new_tables,  # v4: meeting procedure, polls and ballots, officer keys
    4: _migrate_4_to_5,
}

# Table modules beyond models.py register on the same Base when imported here.
from . import e2e_models as _e2e_models  # noqa: E402
from . import minutes_models as _minutes_models  # noqa: E402,F401
from . import procedure_models as _procedure_models  # noqa: E402,F401

V5_STEPS.append(_e2e_models.retire_plaintext_secret_ballots)


def _upgrade(conn: Connection) -> tuple[int, int]:
    tables = set(inspect(conn).get_table_names())
    if "schema_meta" not in tables:
        if tables:
            raise RuntimeError(f"database has tables {sorted(tables)} but no schema_meta: not ours")
        Base.metadata.create_all(conn)
        conn.execute(SchemaMeta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))  # type: ignore[attr-defined]
        return 0, SCHEMA_VERSION
    row = conn.execute(select(SchemaMeta.value).where(SchemaMeta.key == "schema_version")).scalar_one()
    start = version = int(row)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"database schema version {version} is newer than this meetingd ({SCHEMA_VERSION}): "
            "upgrade meetingd"
        )
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](conn)
        version += 1
        conn.execute(
            SchemaMeta.__table__.update()  # type: ignore[attr-defined]
            .where(SchemaMeta.key == "schema_version")
            .values(value=str(version))
        )
    return start, version


async def upgrade_schema(engine: AsyncEngine) -> tuple[int, int]:
    """Create or migrate the schema in one transaction. Returns (from, to) versions."""
    async with engine.begin() as conn:
        start, end = await conn.run_sync(_upgrade)
    if start != end:
        logger.info("schema upgraded from=%s to=%s", start, end)
    return start, end
