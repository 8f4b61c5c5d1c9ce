"""Whole tables in and out of a PostgreSQL index, for ``db copy`` (see :data:`.base.COPY_TABLES`).

The engine-neutral chunk row carries a chunk's window vectors as one blob (SQLite's shape); here they are
gathered from, and split back into, ``chunk_vectors`` rows by the recorded embedder's dimension.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from psycopg import sql

from mcp_suite.servers.retrieval.storage.base import COPY_TABLES
from mcp_suite.servers.retrieval.storage.postgres_vectors import join_windows, window_rows
from mcp_suite.shared.engine import Session
from mcp_suite.shared.errors import DatabaseConfigError
from mcp_suite.shared.postgres import PostgresDatabase, PostgresSession

_IDENTITY_TABLES = ("documents", "chunks", "feedback", "eval_runs")
_EMBEDDING = COPY_TABLES["chunks"].index("embedding")


async def export_tables(db: PostgresDatabase) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with db.snapshot() as session:
        for table, columns in COPY_TABLES.items():
            names = sql.SQL(", ").join(sql.SQL("NULL") if c == "embedding" else sql.Identifier(c) for c in columns)
            cursor = await session.conn.execute(
                sql.SQL("SELECT {} FROM {} ORDER BY 1").format(names, sql.Identifier(table))
            )
            tables[table] = [tuple(row) for row in await cursor.fetchall()]
        cursor = await session.conn.execute(
            "SELECT chunk_id, embedding FROM chunk_vectors ORDER BY chunk_id, window_no"
        )
        blobs = join_windows(await cursor.fetchall())
    tables["chunks"] = [(*row[:_EMBEDDING], blobs.get(row[0]), *row[_EMBEDDING + 1 :]) for row in tables["chunks"]]
    return tables


async def import_tables(
    db: PostgresDatabase,
    tables: dict[str, list[tuple[Any, ...]]],
    derive: Callable[[PostgresSession], Awaitable[None]],
) -> None:
    """Insert ``tables`` into an empty schema in one transaction; ``derive`` then rebuilds what the engine derives
    (the HNSW index) and announces the change, in the same transaction."""

    async def change(session: Session) -> None:
        assert isinstance(session, PostgresSession)
        conn = session.conn
        for table in COPY_TABLES:
            cursor = await conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table)))
            row = await cursor.fetchone()
            if row and row[0]:
                raise DatabaseConfigError(
                    f"the target schema {db.schema} at {db.url.redacted()} already holds a retrieval index "
                    f"(table {table} has rows); copy into a new, empty database"
                )
        titles = {row[0]: row[3] for row in tables["documents"]}
        rows = dict(tables)
        # heading and title feed the generated tsvector; the vectors go to chunk_vectors, a row per window.
        rows["chunks"] = [
            (*r[:_EMBEDDING], *r[_EMBEDDING + 1 :], " / ".join(json.loads(r[4])), titles[r[1]])
            for r in tables["chunks"]
        ]
        for table, columns in COPY_TABLES.items():
            names = [c for c in columns if c != "embedding"]
            if table == "chunks":
                names += ["heading", "title"]
            statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Identifier(n) for n in names),
                sql.SQL(", ".join(["%s"] * len(names))),
            )
            async with conn.cursor() as cursor:
                await cursor.executemany(statement, rows[table])
        windows = window_rows([(r[0], r[_EMBEDDING]) for r in tables["chunks"]], _dimension(tables))
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO chunk_vectors (chunk_id, window_no, embedding) VALUES (%s, %s, %s::vector)", windows
            )
        for table in _IDENTITY_TABLES:  # the next id past the copied ones
            await conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({}, 'id'), coalesce(max(id), 0) + 1, false) FROM {}"
                ).format(sql.Literal(table), sql.Identifier(table))
            )
        await derive(session)
        # Planner statistics for the copied rows now, not whenever autovacuum gets to them: until then a
        # fresh copy is read with plans made for empty tables.
        for table in [*COPY_TABLES, "chunk_vectors"]:
            await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))

    await db.run(change)


def _dimension(tables: dict[str, list[tuple[Any, ...]]]) -> int:
    """The recorded embedder's dimension in the copied ``index_info`` rows (0 when none)."""
    for key, value in tables["index_info"]:
        if key == "embedder":
            return int(json.loads(value).get("dimension") or 0)
    return 0


async def count_rows(db: PostgresDatabase, table: str) -> int:
    if table not in COPY_TABLES:
        raise ValueError(f"unknown table {table!r}")
    async with db.snapshot() as session:
        cursor = await session.conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        row = await cursor.fetchone()
    return int(cast(int, row[0])) if row else 0
