"""Engine set-up and the schema migration path (SQLite and PostgreSQL: see dialect.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from . import dialect
from .models import Base, ChatMessage, SchemaMeta

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 6


# aiosqlite logs every statement with its parameters at DEBUG: a ballot batch's
# transaction holds voter rows and secret ballot contents side by side. Never let
# those lines out, whatever the configured level (meetingd.logs keeps it so too).
logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """SQLite or PostgreSQL; what differs between them is in dialect.py."""
    return dialect.create_engine(url, echo=echo)


def create_read_engine(url: str, *, echo: bool = False) -> AsyncEngine | None:
    """Read-only connections for SQLite (dialect.py); ``None``: read with the main engine."""
    return dialect.create_read_engine(url, echo=echo)


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


# v6 (after v5 landed): new tables, then each change to an existing table, as for v5.
V6_STEPS: list[Callable[[Connection], None]] = []


def _migrate_5_to_6(conn: Connection) -> None:
    """v6: the tables this version adds, then each change to an existing table."""
    _create_new_tables(conn)
    for step in V6_STEPS:
        step(conn)


# MIGRATIONS[v] turns a database at version v into version v + 1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _migrate_1_to_2,
    2: _create_new_tables,  # v3: minutes_entries, minutes_checkpoints
    3: _create_new_tables,  # v4: meeting procedure, polls and ballots, officer keys
    4: _migrate_4_to_5,
    5: _migrate_5_to_6,
}

# Table modules beyond models.py register on the same Base when imported here.
from . import display_models as _display_models  # noqa: E402,F401
from . import e2e_models as _e2e_models  # noqa: E402
from . import fold_models as _fold_models  # noqa: E402,F401
from . import minutes_models as _minutes_models  # noqa: E402
from . import org_models as _org_models  # noqa: E402,F401
from . import participation_models as _participation_models  # noqa: E402,F401
from . import procedure_models as _procedure_models  # noqa: E402,F401
from . import security_models as _security_models  # noqa: E402,F401
from . import speaking_models as _speaking_models  # noqa: E402,F401
from . import witness_models as _witness_models  # noqa: E402,F401

V5_STEPS.append(_e2e_models.retire_plaintext_secret_ballots)
V5_STEPS.append(_minutes_models.retire_server_held_officer_keys)


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
    if version == SCHEMA_VERSION and set(Base.metadata.tables) - tables:
        # a database made before one of this version's new tables was added: create the missing ones
        _create_new_tables(conn)
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
        await dialect.lock_schema(conn)
        start, end = await conn.run_sync(_upgrade)
    if start != end:
        logger.info("schema upgraded from=%s to=%s", start, end)
    return start, end
