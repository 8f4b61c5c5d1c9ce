"""Typed single-row reads: one row, or the one value of one row, without casts or ``# type: ignore``.

aiosqlite types ``fetchone()`` as ``sqlite3.Row | None`` with untyped items, so every caller either
ignores the ``None`` or converts blindly. These helpers check the one assumption a caller makes (a row
exists; its first value has a given type) and name the query when it does not hold, which is a bug
in the query or the schema rather than a user error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TypeVar, cast

from mcp_suite.shared.db import Connection

T = TypeVar("T")

Params = Sequence[object]


async def fetch_one(conn: Connection, sql: str, params: Params = ()) -> sqlite3.Row | None:
    """The first row of ``sql``, or None when it returns none."""
    async with conn.execute(sql, params) as cur:
        return await cur.fetchone()


async def fetch_row(conn: Connection, sql: str, params: Params = ()) -> sqlite3.Row:
    """The first row of a query that always returns one (an aggregate, a row known to exist)."""
    row = await fetch_one(conn, sql, params)
    if row is None:
        raise LookupError(f"expected a row from {_short(sql)}")
    return row


async def scalar(conn: Connection, sql: str, params: Params, type_: type[T]) -> T:
    """The first value of the first row of a query that always returns one, checked to be a ``type_``."""
    return _typed((await fetch_row(conn, sql, params))[0], type_, sql)


async def scalar_or_none(conn: Connection, sql: str, params: Params, type_: type[T]) -> T | None:
    """The first value of the first row, or None when there is no row or the value is NULL."""
    row = await fetch_one(conn, sql, params)
    if row is None or row[0] is None:
        return None
    return _typed(row[0], type_, sql)


def _typed(value: object, type_: type[T], sql: str) -> T:
    if isinstance(value, type_) and not (isinstance(value, bool) and type_ is not bool):
        return value
    if type_ is float and isinstance(value, int) and not isinstance(value, bool):
        # SQLite returns integral REAL results (sum, max) as int.
        return cast(T, float(value))
    raise TypeError(f"{_short(sql)} returned {type(value).__name__}, expected {type_.__name__}")


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return repr(text if len(text) <= 120 else text[:117] + "...")
