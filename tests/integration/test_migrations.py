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


async def test_plaintext_secret_ballots_are_retired_by_the_v5_step(tmp_path: Path) -> None:
    """Closed secret polls keep their published result; an open one is closed void;
    no plaintext secret ballot is left."""
    db = tmp_path / "v4.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        await upgrade_schema(engine)
    finally:
        await engine.dispose()
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_meta SET value = '4'")
    con.execute("INSERT INTO cells (id, name) VALUES (1, 'Cell')")
    con.execute(
        "INSERT INTO members (id, member_id, full_name, cell_id, contact, status, is_admin, "
        "language, created_at) VALUES (1, 'M-1', 'A Member', 1, '', 'active', 0, 'en', "
        "'2025-01-01 00:00:00')"
    )
    con.execute(
        "INSERT INTO meetings (id, title, cell_id, place, starts_at, state) "
        "VALUES (1, 'M', 1, '', '2025-01-01 09:00:00', 'open')"
    )
    secret = '{"question": "Q?", "options": "yes_no", "kind": "secret"}'
    published = '{"tally": {"counts": [1, 0]}, "receipts": [{"receipt": "R", "choices": [0]}]}'
    con.execute(
        "INSERT INTO polls (id, meeting_id, config, state, opened_at, closed_at, quorum_override, "
        "result) VALUES (1, 1, ?, 'closed', '2025-01-01 09:10:00', '2025-01-01 09:20:00', 0, ?)",
        (secret, published),
    )
    con.execute(
        "INSERT INTO polls (id, meeting_id, config, state, opened_at, quorum_override) "
        "VALUES (2, 1, ?, 'open', '2025-01-01 09:30:00', 0)",
        (secret,),
    )
    for poll_id in (1, 2):
        con.execute("INSERT INTO poll_voters (poll_id, member_pk) VALUES (?, 1)", (poll_id,))
        con.execute(
            "INSERT INTO secret_ballots (ballot_key, poll_id, receipt, choices) VALUES (?, ?, ?, '[1]')",
            (f"{poll_id:064x}", poll_id, f"RECEIPT-{poll_id}"),
        )
    con.commit()
    con.close()
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        assert await upgrade_schema(engine) == (4, SCHEMA_VERSION)
    finally:
        await engine.dispose()
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM secret_ballots").fetchone() == (0,)
    rows = dict(con.execute("SELECT id, result FROM polls").fetchall())
    assert rows[1] == published
    assert '"void": true' in rows[2]
    assert con.execute("SELECT state, close_reason FROM polls WHERE id = 2").fetchone() == ("closed", "void")
    assert con.execute("SELECT poll_id FROM poll_voters").fetchall() == [(1,)]
    con.close()
    wal = db.with_suffix(".db-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"RECEIPT-2" not in raw and b"RECEIPT-1" not in raw
