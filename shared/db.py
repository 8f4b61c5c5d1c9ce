"""SQLite access for every server: one aiosqlite connection per process, WAL, ordered migrations.

Several server processes usually share one database file (every host spawns its own stdio
process), so every write runs in ``BEGIN IMMEDIATE``: SQLite then serialises writers across
processes and ``busy_timeout`` makes the others wait instead of failing. Within one process the
connection is shared by concurrent requests, so an asyncio lock keeps their transactions apart.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

Connection = aiosqlite.Connection


@dataclass(frozen=True)
class Migration:
    """One schema step: plain SQL (several statements allowed) or an async function for data moves."""

    name: str
    apply: str | Callable[[Connection], Awaitable[None]]


async def _execute_script(conn: Connection, script: str) -> None:
    # executescript() would COMMIT first and break the one-transaction-per-migration rule,
    # so statements are split and run one by one inside the caller's transaction.
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            if statement.strip():
                await conn.execute(statement)
            statement = ""
    if statement.strip():
        await conn.execute(statement)


async def _enable_wal(conn: Connection) -> None:
    # Switching a file to WAL takes a lock SQLite does not wait for (busy_timeout is not consulted),
    # so a process opening the database while another one is setting it up retries here instead
    # of failing with "database is locked".
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


class Database:
    """A process's handle on one SQLite file."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, migrations: Sequence[Migration] = ()) -> Database:
        """Open (creating folders as needed), set the pragmas, and bring the schema up to date."""
        path = Path(path)
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _enable_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            db = cls(conn, path)
            await db.migrate(migrations)
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self.conn.close()

    async def pragma(self, name: str) -> object:
        async with self.conn.execute(f"PRAGMA {name}") as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One logical change: all of it commits, or none of it (any exception rolls back)."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        """A consistent read: several queries see the same committed state."""
        async with self._lock:
            await self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                await self.conn.execute("COMMIT")

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet recorded, each with its record in one transaction."""
        await self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT "
            "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        async with self.conn.execute("SELECT name FROM _migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        applied: list[str] = []
        # The usual start has nothing to apply: it takes no write lock, so hosts starting at once don't queue.
        for migration in (m for m in migrations if m.name not in done):
            async with self.transaction() as conn:
                # Checked inside the write lock: another process may have applied it meanwhile.
                async with conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (migration.name,)) as cur:
                    if await cur.fetchone():
                        continue
                if isinstance(migration.apply, str):
                    await _execute_script(conn, migration.apply)
                else:
                    await migration.apply(conn)
                await conn.execute("INSERT INTO _migrations (name) VALUES (?)", (migration.name,))
                applied.append(migration.name)
                log.info("applied migration %s to %s", migration.name, self.path)
        return applied
