"""shared.db on real SQLite files: pragmas, migrations (once, atomically, across processes), transactions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mcp_suite.shared.db import BUSY_TIMEOUT_MS, Connection, Database, Migration

pytestmark = pytest.mark.anyio


async def _seed(conn: Connection) -> None:
    await conn.execute("INSERT INTO notes (body) VALUES ('seeded once')")


MIGRATIONS = [
    Migration(
        "001_notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\nCREATE INDEX notes_body ON notes (body);",
    ),
    Migration("002_seed", _seed),
]


async def rows(db: Database, sql: str) -> list[tuple[object, ...]]:
    async with db.conn.execute(sql) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def test_pragmas_are_set(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "sub" / "x.db")
    try:
        assert (tmp_path / "sub" / "x.db").exists()  # folders are created
        assert await db.pragma("journal_mode") == "wal"
        assert await db.pragma("busy_timeout") == BUSY_TIMEOUT_MS
        assert await db.pragma("foreign_keys") == 1
        assert await db.pragma("synchronous") == 1  # NORMAL
    finally:
        await db.close()


async def test_migrations_apply_once_each(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    db = await Database.open(path, MIGRATIONS)
    assert await rows(db, "SELECT body FROM notes") == [("seeded once",)]
    assert await db.migrate(MIGRATIONS) == []  # nothing left to apply
    await db.close()

    later = [*MIGRATIONS, Migration("003_tags", "ALTER TABLE notes ADD COLUMN tag TEXT")]
    db = await Database.open(path, later)
    try:
        assert await rows(db, "SELECT body, tag FROM notes") == [("seeded once", None)]
        assert await rows(db, "SELECT name FROM _migrations ORDER BY name") == [
            ("001_notes",),
            ("002_seed",),
            ("003_tags",),
        ]
    finally:
        await db.close()


async def test_failing_migration_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    broken = [
        MIGRATIONS[0],
        Migration("002_half", "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);"),
    ]
    with pytest.raises(Exception, match="no_such_table"):
        await Database.open(path, broken)

    db = await Database.open(path)
    try:
        assert await rows(db, "SELECT name FROM _migrations") == [("001_notes",)]
        tables = await rows(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'half'")
        assert tables == []  # the statement that ran before the failure was rolled back too
    finally:
        await db.close()


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "x.db", MIGRATIONS)
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO notes (body) VALUES ('half-written')")
                raise RuntimeError("the second half failed")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES ('whole')")
        async with db.snapshot() as conn, conn.execute("SELECT body FROM notes ORDER BY id") as cursor:
            assert [row["body"] for row in await cursor.fetchall()] == ["seeded once", "whole"]
    finally:
        await db.close()


WRITERS = 4
RACER = textwrap.dedent(
    """
    import asyncio, sys, time
    from mcp_suite.shared.db import Database, Migration

    async def slow_seed(conn):
        await conn.execute("INSERT INTO notes (body) VALUES ('seeded once')")
        await asyncio.sleep(0.3)  # hold the write lock: the other process must wait, then skip

    async def main(path, start):
        time.sleep(max(0.0, start - time.time()))
        db = await Database.open(path, [
            Migration("001_notes", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"),
            Migration("002_seed", slow_seed),
        ])
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO notes (body) VALUES (?)", (sys.argv[3],))
        await db.close()

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    """
)


@pytest.mark.slow
async def test_processes_opening_a_new_database_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    start = time.time() + 1.5  # both processes are up (imports done) before either touches the file
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, str(path), str(start), f"writer-{i}"], stderr=subprocess.PIPE)
        for i in range(WRITERS)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()

    db = await Database.open(path)
    try:
        assert await rows(db, "SELECT name FROM _migrations ORDER BY name") == [("001_notes",), ("002_seed",)]
        bodies = sorted(str(row[0]) for row in await rows(db, "SELECT body FROM notes"))
        assert bodies == ["seeded once", *(f"writer-{i}" for i in range(WRITERS))]
    finally:
        await db.close()


async def test_a_snapshot_does_not_wait_for_a_write_in_progress(tmp_path: Path) -> None:
    """Reads run on their own connection: a search is not queued behind a long write of the same process,
    sees only what was committed, and cannot write."""
    import anyio

    db = await Database.open(tmp_path / "x.db", MIGRATIONS)
    try:
        writing, release = anyio.Event(), anyio.Event()

        async def long_write() -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO notes (body) VALUES ('not yet committed')")
                writing.set()
                await release.wait()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(long_write)
            await writing.wait()
            with anyio.fail_after(5):  # on one shared connection this would wait for the write forever
                async with db.snapshot() as conn:
                    seen = [tuple(r) for r in await conn.execute_fetchall("SELECT body FROM notes")]
            assert seen == [("seeded once",)]
            release.set()
        async with db.snapshot() as conn:
            seen = [tuple(r) for r in await conn.execute_fetchall("SELECT body FROM notes ORDER BY id")]
            assert seen == [("seeded once",), ("not yet committed",)]  # committed: the next snapshot sees it
        with pytest.raises(Exception, match=r"readonly|read-only|query_only"):
            async with db.snapshot() as conn:
                await conn.execute("DELETE FROM notes")
        assert await rows(db, "SELECT count(*) FROM notes") == [(2,)]
    finally:
        await db.close()


async def test_an_in_memory_database_reads_on_its_one_connection() -> None:
    db = await Database.open(":memory:", MIGRATIONS)
    try:
        async with db.snapshot() as conn:
            assert [tuple(r) for r in await conn.execute_fetchall("SELECT body FROM notes")] == [("seeded once",)]
    finally:
        await db.close()
