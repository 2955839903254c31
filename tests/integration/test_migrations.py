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


async def test_server_held_officer_keys_are_deleted_and_retired_by_the_v5_step(tmp_path: Path) -> None:
    """The first versions kept officers' private keys sealed on the server: the upgrade
    deletes every one of them (the bytes are gone from the file), keeps the public keys
    (old cosignatures still show) and retires them, so their officers re-enrol."""
    db = tmp_path / "v4.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        await upgrade_schema(engine)
    finally:
        await engine.dispose()
    sealed = '{"format": "meetingd-key/v1", "sealed": "PRIVATE-KEY-MATERIAL-' + "x" * 200 + '"}'
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_meta SET value = '4'")
    con.execute("DROP TABLE officer_keys")
    con.execute(  # the table as version 4 shipped it
        "CREATE TABLE officer_keys (id INTEGER NOT NULL PRIMARY KEY, member_pk INTEGER NOT NULL "
        "REFERENCES members (id), public_key VARCHAR(64) NOT NULL, key_file TEXT NOT NULL, "
        "created_at DATETIME NOT NULL, retired_at DATETIME)"
    )
    con.execute("INSERT INTO cells (id, name) VALUES (1, 'Cell')")
    con.execute(
        "INSERT INTO members (id, member_id, full_name, cell_id, contact, status, is_admin, "
        "language, created_at) VALUES (1, 'M-1', 'An Officer', 1, '', 'active', 0, 'en', "
        "'2025-01-01 00:00:00')"
    )
    for i, retired in ((1, "'2025-01-02 00:00:00'"), (2, "NULL")):
        con.execute(
            "INSERT INTO officer_keys (id, member_pk, public_key, key_file, created_at, retired_at) "
            f"VALUES (?, 1, ?, ?, '2025-01-01 00:00:00', {retired})",
            (i, f"PUBLIC-{i}", sealed),
        )
    con.commit()
    con.close()
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        assert await upgrade_schema(engine) == (4, SCHEMA_VERSION)
    finally:
        await engine.dispose()
    con = sqlite3.connect(db)
    columns = {row[1] for row in con.execute("PRAGMA table_info(officer_keys)")}
    assert "key_file" not in columns and "origin" in columns
    rows = con.execute("SELECT id, public_key, origin, retired_at IS NOT NULL FROM officer_keys").fetchall()
    assert rows == [(1, "PUBLIC-1", "server", 1), (2, "PUBLIC-2", "server", 1)]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    wal = db.with_suffix(".db-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert b"PRIVATE-KEY-MATERIAL" not in raw
