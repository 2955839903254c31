"""meetingd/storage/aiosqlite_hooks.py: one trip per statement, same results as the stock
adapter, and a loud failure when a SQLAlchemy or aiosqlite upgrade moves its internals."""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncAdapt_dbapi_cursor
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.ext.asyncio import AsyncEngine

from meetingd.storage import aiosqlite_hooks
from meetingd.storage.aiosqlite_hooks import OneHopConnection, OneHopCursor
from meetingd.storage.dialect import create_engine, create_read_engine


def test_internals_are_where_the_hooks_expect_them() -> None:
    assert AsyncAdapt_aiosqlite_connection._cursor_cls.__mro__[1] is AsyncAdapt_dbapi_cursor
    assert {"_adapt_connection", "_connection", "_cursor", "_rows", "_soft_closed_memoized"} <= set(
        AsyncAdapt_dbapi_cursor.__slots__
    )
    assert "_execute_mutex" in AsyncAdapt_dbapi_connection.__slots__
    cursor_src = inspect.getsource(AsyncAdapt_dbapi_connection.cursor)
    assert "self._cursor_cls(self)" in cursor_src
    assert "_async_soft_close" in inspect.getsource(AsyncAdapt_dbapi_cursor)
    assert inspect.iscoroutinefunction(aiosqlite.Connection._execute)
    assert isinstance(inspect.getattr_static(aiosqlite.Connection, "_conn"), property)
    # the class swap in adopt() needs the same instance layout
    assert OneHopConnection.__slots__ == ()
    assert OneHopConnection.__mro__[1] is AsyncAdapt_aiosqlite_connection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    yield eng
    await eng.dispose()


async def _trips(engine: AsyncEngine) -> tuple[Any, list[int]]:
    """The raw connection, and a counter of its trips to aiosqlite's thread."""
    trips = [0]
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        dbapi = raw.dbapi_connection  # the pool's one connection: the same one later
    aio = dbapi._connection  # type: ignore[union-attr]
    real = aio._execute

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[0] += 1
        return await real(fn, *args, **kwargs)

    aio._execute = counting
    return dbapi, trips


async def test_engines_adopt_and_a_statement_is_one_trip(engine: AsyncEngine, tmp_path: Path) -> None:
    dbapi, trips = await _trips(engine)
    assert type(dbapi) is OneHopConnection
    async with engine.begin() as conn:  # BEGIN IMMEDIATE ... COMMIT around the statements
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
    trips[0] = 0
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT 1, 'a' UNION ALL SELECT 2, 'b'"))).all()
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    # BEGIN IMMEDIATE, the SELECT, the pool's rollback on return: one trip each (the
    # stock adapter makes 8: cursor, execute, close for BEGIN; the same and a fetch for
    # the SELECT)
    assert trips[0] == 3
    reader = create_read_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    assert reader is not None
    try:
        rdbapi, _ = await _trips(reader)
        assert type(rdbapi) is OneHopConnection
    finally:
        await reader.dispose()


async def test_results_match_the_sqlite3_driver(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        ins = await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        assert ins.lastrowid == 1 and ins.rowcount == 1
        many = await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": f"m{i}"} for i in range(5)])
        assert many.rowcount == 5
        upd = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 2"))
        assert upd.rowcount == 4
        ret = (await conn.execute(text("INSERT INTO t (v) VALUES ('r') RETURNING id, v"))).one()
        assert tuple(ret) == (7, "r")
        empty = await conn.execute(text("SELECT id FROM t WHERE id < 0"))
        assert empty.all() == [] and list(empty.keys()) == ["id"]
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 7
        streamed = [r[0] async for r in await conn.stream(text("SELECT id FROM t ORDER BY id"))]
        assert streamed == list(range(1, 8))  # server-side cursors keep the stock path


async def test_errors_surface_as_the_drivers_errors_and_the_connection_lives_on(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
    with pytest.raises(exc.IntegrityError) as caught:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
    assert isinstance(caught.value.orig, sqlite3.IntegrityError)
    with pytest.raises(exc.OperationalError):
        async with engine.connect() as conn:
            await conn.execute(text("SELECT nope FROM t"))
    async with engine.connect() as conn:  # the one pooled connection still serves
        assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == "x"


def test_adopt_leaves_what_it_does_not_know_alone(caplog: pytest.LogCaptureFixture) -> None:
    class Other:
        pass

    other = Other()
    assert aiosqlite_hooks.adopt(other) is False
    assert type(other) is Other
    assert OneHopCursor.__slots__  # its own state, nothing added to instances of the stock cursor
