"""shared.rows on real SQLite: typed single rows and values, and a clear error when the assumption breaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_suite.shared.db import Database, Migration
from mcp_suite.shared.rows import fetch_one, fetch_row, scalar, scalar_or_none

pytestmark = pytest.mark.anyio

MIGRATIONS = [Migration("001_notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL);")]


async def test_rows_and_values_come_back_typed(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "rows.db", MIGRATIONS)
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body, score) VALUES ('one', 2), ('two', NULL)")
        async with db.snapshot() as conn:
            assert await scalar(conn, "SELECT count(*) FROM notes", (), int) == 2
            assert await scalar(conn, "SELECT sum(score) FROM notes", (), float) == 2.0
            assert await scalar_or_none(conn, "SELECT body FROM notes WHERE id = ?", (1,), str) == "one"
            assert await scalar_or_none(conn, "SELECT body FROM notes WHERE id = ?", (9,), str) is None
            assert await scalar_or_none(conn, "SELECT score FROM notes WHERE id = ?", (2,), float) is None
            assert await fetch_one(conn, "SELECT 1 FROM notes WHERE id = 9") is None
            row = await fetch_row(conn, "SELECT id, body FROM notes WHERE id = ?", (2,))
            assert tuple(row) == (2, "two")
    finally:
        await db.close()


async def test_a_broken_assumption_names_the_query(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "rows.db", MIGRATIONS)
    try:
        async with db.snapshot() as conn:
            with pytest.raises(LookupError, match="SELECT body FROM notes"):
                await fetch_row(conn, "SELECT body FROM notes")
            with pytest.raises(TypeError, match="returned int, expected str"):
                await scalar(conn, "SELECT count(*) FROM notes", (), str)
    finally:
        await db.close()
