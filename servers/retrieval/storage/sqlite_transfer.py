"""Whole tables in and out of a SQLite index, for ``db copy`` (see :data:`.base.COPY_TABLES`)."""

from __future__ import annotations

import json
from typing import Any

from mcp_suite.servers.retrieval.storage.base import COPY_TABLES
from mcp_suite.shared.db import Database
from mcp_suite.shared.errors import DatabaseConfigError


async def export_tables(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with db.snapshot() as conn:
        for table, columns in COPY_TABLES.items():
            async with conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1") as cur:
                tables[table] = [tuple(row) for row in await cur.fetchall()]
    return tables


async def import_tables(db: Database, tables: dict[str, list[tuple[Any, ...]]]) -> None:
    async with db.transaction() as conn:
        for table in COPY_TABLES:
            async with conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})") as cur:
                if (await cur.fetchone())[0]:  # type: ignore[index]
                    raise DatabaseConfigError(
                        f"the target {db.path} already holds a retrieval index (table {table} has rows); "
                        "copy into a new, empty database"
                    )
        for table, columns in COPY_TABLES.items():
            marks = ", ".join("?" * len(columns))
            await conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", tables[table])
        # chunks_fts is derived: text, heading path joined as ingest joins it, and the document title.
        titles = {row[0]: row[3] for row in tables["documents"]}
        await conn.executemany(
            "INSERT INTO chunks_fts (rowid, text, heading, title) VALUES (?, ?, ?, ?)",
            [(row[0], row[3], " / ".join(json.loads(row[4])), titles[row[1]]) for row in tables["chunks"]],
        )


async def count_rows(db: Database, table: str) -> int:
    if table not in COPY_TABLES:
        raise ValueError(f"unknown table {table!r}")
    async with db.snapshot() as conn, conn.execute(f"SELECT count(*) FROM {table}") as cur:
        return int((await cur.fetchone())[0])  # type: ignore[index]
