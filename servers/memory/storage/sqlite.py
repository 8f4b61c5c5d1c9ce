"""The memory graph in a SQLite file (the default engine): today's schema, FTS5 search, float32 blobs.

Writers are serialised by ``BEGIN IMMEDIATE`` (several processes on one file queue rather than
conflict), so :meth:`SqliteMemoryDatabase.run` runs a change once. Nothing is announced to replicas:
processes sharing a file see each other's writes on their next read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import aiosqlite

import mcp_suite.servers.memory.storage.sqlite_search as sqlite_search
from mcp_suite.servers.memory.storage.sqlite_schema import MIGRATIONS, NOW, RENAMED
from mcp_suite.shared import db as sqlite_db
from mcp_suite.shared.database_url import Engine, SqliteUrl
from mcp_suite.shared.engine import Migration, SqliteEngine

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn, WordHit

T = TypeVar("T")


def _sqlite(conn: Conn) -> aiosqlite.Connection:
    if not isinstance(conn, aiosqlite.Connection):
        raise TypeError("the SQLite dialect was handed another engine's connection")
    return conn


class SqliteDialect:
    in_ints = in_texts = "(SELECT value FROM json_each(?))"
    one_of_ints = f"IN {in_ints}"
    now = NOW
    newline = "char(10)"
    straight_join = "CROSS JOIN"
    vector_column = "{}"
    insert_observations = (
        "INSERT INTO observations (entity_id, content, valid_from) "
        f"SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), coalesce(?, {NOW}) "
        "FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING id, entity_id, content"
    )
    current_relations = (
        "SELECT r.from_id, r.to_id, r.relation_type FROM json_each(?) j JOIN relations r "
        "ON r.from_id = json_extract(j.value, '$[0]') AND r.to_id = json_extract(j.value, '$[1]') "
        "AND r.relation_type = json_extract(j.value, '$[2]') WHERE r.valid_to IS NULL"
    )
    store_observation_vector = (
        "INSERT OR REPLACE INTO observation_vectors (observation_id, vector) "
        "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM observations WHERE id = ?)"
    )
    store_entity_vector = (
        "INSERT OR REPLACE INTO entity_vectors (entity_id, vector) "
        "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM entities WHERE id = ?)"
    )

    def aggregate(self, expression: str, separator: str) -> str:
        return f"group_concat({expression}, {separator})"

    async def unindex(self, conn: Conn, ids: Sequence[int]) -> None:
        await sqlite_search.unindex(_sqlite(conn), ids)

    async def reindex(self, conn: Conn, ids: Sequence[int]) -> None:
        await sqlite_search.reindex(_sqlite(conn), ids)

    async def lexical(self, conn: Conn, namespace: str, query: str, want: int) -> dict[int, WordHit]:
        return await sqlite_search.lexical(_sqlite(conn), namespace, query, want)

    async def copied(self, conn: Conn) -> None:
        return None  # INTEGER PRIMARY KEY and AUTOINCREMENT continue after the largest id inserted

    def vector_param(self, blob: bytes) -> object:
        return blob

    def vector_blob(self, stored: object) -> bytes:
        if not isinstance(stored, bytes):
            raise TypeError(f"a stored vector is a blob, not {type(stored).__name__}")
        return stored


async def _rename_old_migrations(conn: aiosqlite.Connection) -> None:
    for old, new in RENAMED.items():
        await conn.execute(
            "UPDATE _migrations SET name = ? WHERE name = ? AND NOT EXISTS (SELECT 1 FROM _migrations WHERE name = ?)",
            (new, old, new),
        )


class SqliteMemoryDatabase:
    """The memory schema in one SQLite file (see the module docstring)."""

    engine: Engine = "sqlite"
    dialect = SqliteDialect()

    def __init__(self, db: sqlite_db.Database) -> None:
        self.db = db
        self.where = str(db.path)

    @classmethod
    async def open(cls, url: SqliteUrl) -> SqliteMemoryDatabase:
        engine = SqliteEngine(await sqlite_db.Database.open(url.path))
        try:
            async with engine.db.snapshot() as conn, conn.execute("SELECT name FROM _migrations") as cur:
                old = {row[0] for row in await cur.fetchall()} & RENAMED.keys()
            if old:  # the usual start skips this: no write lock, so processes starting at once don't queue
                async with engine.db.transaction() as conn:
                    await _rename_old_migrations(conn)
            await engine.migrate([Migration(m.name, m.apply) for m in MIGRATIONS if isinstance(m.apply, str)])
        except BaseException:
            await engine.close()
            raise
        return cls(engine.db)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self.db.transaction() as conn:
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Conn]:
        async with self.db.snapshot() as conn:
            yield conn

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Conn]:
        async with self.db.reads() as conn:
            yield conn

    async def run(self, change: Callable[[Conn], Awaitable[T]]) -> T:
        # BEGIN IMMEDIATE serialises writers and busy_timeout waits for the lock: nothing to retry.
        async with self.db.transaction() as conn:
            return await change(conn)

    async def data_version(self) -> object:
        # Asked before every search: one call into aiosqlite's thread (a cursor would take three).
        rows = list(await self.db.conn.execute_fetchall("PRAGMA data_version"))
        return rows[0][0] if rows else None

    async def announce(self, conn: Conn, namespace: str) -> None:
        return None

    async def maintain(self) -> None:
        return None  # nothing to keep up: SQLite plans these queries from its indexes, without statistics

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[str] | None]:
        yield None

    async def close(self) -> None:
        await self.db.close()
