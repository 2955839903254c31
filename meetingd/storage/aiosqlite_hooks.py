"""One trip to aiosqlite's thread per statement, not three or four.

SQLAlchemy's aiosqlite adapter runs each statement as separate awaits on aiosqlite's
worker thread: create a cursor, execute, fetch all rows (a SELECT), close the cursor.
Each await is a queue put, a thread wake-up and a ``call_soon_threadsafe`` back (~60 µs
on the 2-core bench machine), so a minutes append (BEGIN IMMEDIATE, the log-size read,
the insert, COMMIT) made 11 trips. :class:`OneHopCursor` runs a whole statement —
cursor, execute, fetch, close — as one function on that thread, and keeps the
description, row count and last row id it read there.

This leans on internals, all of them here and nowhere else (the pin test in
tests/unit/test_storage_hooks.py fails loudly when an upgrade moves them):

* SQLAlchemy's ``AsyncAdapt_aiosqlite_connection`` (its ``_cursor_cls``, ``_connection``
  and ``_execute_mutex``) and ``AsyncAdapt_dbapi_cursor`` (its slots and the way the
  result layer reads ``description`` / ``rowcount`` / ``lastrowid`` / ``fetch*``);
* aiosqlite's ``Connection._execute(fn, *args)`` (run ``fn`` on the connection's thread)
  and ``Connection._conn`` (the ``sqlite3.Connection``).

:func:`adopt` is called from the engine's ``connect`` event. If the classes are not the
ones this was written against it leaves the connection as it is (the stock adapter, only
slower) and logs why once.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

logger = logging.getLogger(__name__)

_Result = tuple[Any, list[Any] | None, int, int | None]


def _run_one(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Result:
    """On aiosqlite's thread: the whole statement, rows included."""
    cur = conn.cursor()
    try:
        if parameters is None:
            cur.execute(operation)
        else:
            cur.execute(operation, parameters)
        description = cur.description
        rows = cur.fetchall() if description else None
        return description, rows, cur.rowcount, cur.lastrowid
    finally:
        cur.close()


def _run_many(conn: sqlite3.Connection, operation: str, seq_of_parameters: Any) -> _Result:
    cur = conn.cursor()
    try:
        cur.executemany(operation, seq_of_parameters)
        return cur.description, None, cur.rowcount, cur.lastrowid
    finally:
        cur.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered (client-side) cursor: each execute is one call on aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor made up front: no trip
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing is open on the thread: the statement's cursor closed there."""

    def close(self) -> None:
        self._rows.clear()

    def _store(self, result: _Result) -> None:
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows) if rows else collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._execute_async(operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        try:
            return await_(self._executemany_async(operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        aio = self._connection
        async with self._adapt_connection._execute_mutex:
            self._store(await aio._execute(_run_one, aio._conn, operation, parameters))

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        aio = self._connection
        async with self._adapt_connection._execute_mutex:
            self._store(await aio._execute(_run_many, aio._conn, operation, seq_of_parameters))

    def nextset(self) -> None:
        return None  # sqlite3 has no result sets after the first


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """The stock adapter with :class:`OneHopCursor` for client-side cursors."""

    __slots__ = ()
    _cursor_cls = OneHopCursor


def _fits(dbapi_conn: Any) -> str | None:
    """Why this connection cannot be adopted, or ``None`` if it can."""
    if type(dbapi_conn) is not AsyncAdapt_aiosqlite_connection:
        return f"connection is a {type(dbapi_conn).__qualname__}"
    aio = getattr(dbapi_conn, "_connection", None)
    if not callable(getattr(aio, "_execute", None)):
        return "aiosqlite.Connection has no _execute"
    if not isinstance(getattr(aio, "_conn", None), sqlite3.Connection):
        return "aiosqlite.Connection._conn is not a sqlite3.Connection"
    return None


_warned = False


def adopt(dbapi_conn: Any) -> bool:
    """Give a freshly made aiosqlite connection one-trip statements; ``False`` (and
    the stock adapter) if the internals are not what this module expects."""
    global _warned
    why = _fits(dbapi_conn)
    if why is not None:
        if not _warned:
            _warned = True
            logger.warning("storage: one-trip SQLite statements off (%s); using the stock adapter", why)
        return False
    dbapi_conn.__class__ = OneHopConnection
    return True
