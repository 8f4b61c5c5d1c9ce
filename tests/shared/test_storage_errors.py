"""Storage failures a user can act on (disk full, read-only, a data folder that is a file) say so, and leave
the connection usable; cancelled transactions always end."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_suite.shared.db import Database, Migration
from mcp_suite.shared.errors import StorageError
from mcp_suite.shared.server import SuiteServer

pytestmark = pytest.mark.anyio

SCHEMA = [Migration("notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);")]


async def _fill_disk(db: Database) -> None:
    # max_page_count caps the file at its current size: the next page SQLite needs is "disk full".
    pages = await db.pragma("page_count")
    await db.conn.execute(f"PRAGMA max_page_count = {pages}")


async def test_disk_full_says_so_and_the_connection_recovers(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "x.db", SCHEMA)
    try:
        await _fill_disk(db)
        with pytest.raises(StorageError, match="is full; free some space") as caught:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO notes (body) VALUES (?)", ("x" * 100_000,))
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert not db.conn.in_transaction
        await db.conn.execute("PRAGMA max_page_count = 1000000")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('after')")
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "x.db") as check:
        assert check.execute("SELECT body FROM notes").fetchall() == [("after",)]


async def test_read_only_database_says_so(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "x.db", SCHEMA)
    try:
        await db.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(StorageError, match="is read-only"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO notes (body) VALUES ('x')")
        assert not db.conn.in_transaction
    finally:
        await db.close()


async def test_data_folder_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="is a file, not a folder; point --data-dir at a folder"):
        await Database.open(blocker / "memory.db", SCHEMA)
    with pytest.raises(StorageError, match="cannot create the data folder"):
        await Database.open(blocker / "deeper" / "memory.db", SCHEMA)


async def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="is damaged or is not an mcp-suite database"):
        await Database.open(path, SCHEMA)


async def test_cancelled_while_begin_is_awaited(tmp_path: Path) -> None:
    """The wedge of issue 8: BEGIN runs in aiosqlite's thread although its awaiter was cancelled."""
    db = await Database.open(tmp_path / "x.db", SCHEMA)
    try:
        for _ in range(50):
            with anyio.CancelScope() as scope:
                scope.cancel()  # already cancelled when BEGIN is awaited
                async with db.transaction() as conn:
                    await conn.execute("INSERT INTO notes (body) VALUES ('never')")
            with anyio.CancelScope() as scope:
                scope.cancel()
                async with db.snapshot() as conn:
                    await conn.execute("SELECT 1")
            assert not db.conn.in_transaction
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('kept')")
    finally:
        await db.close()
        await db.close()  # a second close is harmless
    with sqlite3.connect(tmp_path / "x.db") as check:
        assert check.execute("SELECT body FROM notes").fetchall() == [("kept",)]


async def test_tool_reports_a_full_disk(tmp_path: Path) -> None:
    """Through the protocol edge: the model reads what happened, not a bare 'Error executing tool'."""
    db = await Database.open(tmp_path / "x.db", SCHEMA)
    server = SuiteServer("t")

    @server.tool()
    async def remember(text: str) -> str:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (?)", (text,))
        return "ok"

    @server.tool()
    async def count() -> int:
        async with db.snapshot() as conn, conn.execute("SELECT count(*) FROM notes") as cur:
            row: Any = await cur.fetchone()
        return int(row[0])

    try:
        await _fill_disk(db)
        async with Client(server) as client:
            result = await client.call_tool("remember", {"text": "x" * 100_000})
            assert result.is_error
            text = result.content[0].text  # type: ignore[union-attr]
            assert "is full; free some space and retry" in text, text
            after = await client.call_tool("count", {})
            assert not after.is_error and after.structured_content == {"result": 0}
    finally:
        await db.close()
