"""A database made by an older meetingd opens in this one, data intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateTable

from meetingd.storage.db import SCHEMA_VERSION, create_engine, upgrade_schema
from meetingd.storage.models import Base


def make_v1_database(path: Path) -> None:
    """The schema as version 1 shipped it: no members.language, no chat_messages."""
    con = sqlite3.connect(path)
    for table in Base.metadata.sorted_tables:
        if table.name == "chat_messages":
            continue
        ddl = str(CreateTable(table).compile(dialect=sqlite_dialect.dialect()))
        if table.name == "members":
            ddl = "\n".join(line for line in ddl.splitlines() if "language" not in line)
        con.execute(ddl)
    con.execute("INSERT INTO schema_meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO cells (id, name) VALUES (1, 'Old cell')")
    con.execute(
        "INSERT INTO members (id, member_id, full_name, cell_id, contact, status, "
        "is_admin, created_at) VALUES (1, 'OLD-1', 'Old Member', 1, '', 'active', 0, "
        "'2025-01-01 00:00:00')"
    )
    con.commit()
    con.close()


async def test_v1_database_is_migrated_to_current(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    make_v1_database(db)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        assert await upgrade_schema(engine) == (1, SCHEMA_VERSION)
        assert await upgrade_schema(engine) == (SCHEMA_VERSION, SCHEMA_VERSION)  # idempotent
    finally:
        await engine.dispose()
    con = sqlite3.connect(db)
    assert con.execute("SELECT member_id, language FROM members").fetchall() == [("OLD-1", "en")]
    assert con.execute("SELECT count(*) FROM chat_messages").fetchone() == (0,)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    make_v1_database(db)
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_meta SET value = '99'")
    con.commit()
    con.close()
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        with pytest.raises(RuntimeError, match="newer than this meetingd"):
            await upgrade_schema(engine)
    finally:
        await engine.dispose()
