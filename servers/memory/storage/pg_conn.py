"""aiosqlite's connection API over a psycopg connection, so the graph code runs unchanged on PostgreSQL.

Only what the graph uses: ``execute`` (awaited, or entered as ``async with`` for a cursor),
``execute_fetchall``, ``executemany``, and cursors with ``fetchone``/``fetchall``/``rowcount``/``async for``.
SQL is written with ``?`` placeholders, as for SQLite; they become psycopg's ``%s`` here (a literal ``%`` is
escaped).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from functools import lru_cache
from types import TracebackType
from typing import Any

import psycopg

from mcp_suite.shared.postgres import AsyncConnection

Row = tuple[Any, ...]
_WRITE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


@lru_cache(maxsize=512)
def written_table(sql: str) -> str | None:
    """The table an ``INSERT``, ``UPDATE`` or ``DELETE`` statement writes (None for anything else)."""
    match = _WRITE.match(sql)
    return match.group(1).lower() if match else None


@lru_cache(maxsize=512)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as ``%s`` (the graph's SQL has no ``?`` inside literals or operators)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgCursor:
    def __init__(self, cursor: psycopg.AsyncCursor[Row]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    async def fetchone(self) -> Row | None:
        return await self._cursor.fetchone()

    async def fetchall(self) -> list[Row]:
        return await self._cursor.fetchall()

    def __aiter__(self) -> AsyncIterator[Row]:
        return self._cursor.__aiter__()

    async def close(self) -> None:
        await self._cursor.close()


class _Execution:
    """What ``execute`` returns: awaitable for the cursor, or an ``async with`` that closes it."""

    def __init__(self, owner: PgConn, sql: str, params: Sequence[object]) -> None:
        self._owner, self._sql, self._params = owner, sql, params
        self._cursor: PgCursor | None = None

    async def _run(self) -> PgCursor:
        cursor = self._owner.raw.cursor()
        if self._params:
            await cursor.execute(to_pyformat(self._sql), tuple(self._params))
        else:  # without parameters psycopg reads no placeholders, so nothing is escaped
            await cursor.execute(self._sql)
        self._owner.count(self._sql, cursor)
        self._cursor = PgCursor(cursor)
        return self._cursor

    def __await__(self) -> Generator[Any, None, PgCursor]:
        return self._run().__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._run()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._cursor is not None:
            await self._cursor.close()


class PgConn:
    """One transaction's psycopg connection, spoken to like aiosqlite's."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.raw = conn
        self.changed: dict[str, int] = {}
        """Rows inserted, updated or deleted through this connection, per table (what planner statistics follow)."""

    def count(self, sql: str, cursor: psycopg.AsyncCursor[Row]) -> None:
        table = written_table(sql)
        if table and cursor.rowcount > 0:
            self.changed[table] = self.changed.get(table, 0) + cursor.rowcount

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _Execution:
        return _Execution(self, sql, tuple(parameters or ()))

    async def execute_fetchall(self, sql: str, parameters: Iterable[Any] | None = None) -> list[Row]:
        """Every row of one statement (as aiosqlite's helper: one call, no cursor to manage)."""
        async with self.execute(sql, parameters) as cursor:
            return await cursor.fetchall()

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> None:
        rows = [tuple(p) for p in parameters]
        if rows:
            async with self.raw.cursor() as cursor:
                await cursor.executemany(to_pyformat(sql), rows)
                self.count(sql, cursor)
