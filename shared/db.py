"""SQLite access for every server: one aiosqlite connection per process, WAL, ordered migrations.

Several server processes usually share one database file (every host spawns its own stdio
process), so every write runs in ``BEGIN IMMEDIATE``: SQLite then serialises writers across
processes and ``busy_timeout`` makes the others wait instead of failing. Within one process the
connection is shared by concurrent requests, so an asyncio lock keeps their transactions apart.

Reads (:meth:`Database.snapshot`) run on a second, query-only connection: under WAL a reader never
waits for a writer, so a search or an ingest's lookups do not queue behind a long write of the same
process. A ``:memory:`` database, which another connection cannot open, reads on the one connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiosqlite
import anyio

from mcp_suite.shared.errors import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000

Connection = aiosqlite.Connection
T = TypeVar("T")


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


async def _open_reader(path: Path) -> Connection | None:
    """The query-only connection snapshots read on, or None (reads then share the writer's connection)."""
    try:
        conn = await aiosqlite.connect(str(path), isolation_level=None)
    except sqlite3.Error as exc:
        log.debug("reading %s on the writer's connection: %s", path, exc)
        return None
    conn.row_factory = aiosqlite.Row
    try:
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        log.debug("reading %s on the writer's connection: %s", path, exc)
        with anyio.CancelScope(shield=True):
            await conn.close()
        return None
    return conn


# Primary SQLite result codes (the low byte of an extended code) that describe the file or the disk,
# not the query: they become a StorageError whose message says what the user can do about it.
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 10, 11, 13, 14, 26


async def in_thread(conn: Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    """``work`` run on ``conn``'s own thread with its ``sqlite3`` connection: several statements for one
    await, where each aiosqlite call is a hop to that thread and back (and a hop waits for the event loop,
    so statements run while the loop is busy elsewhere only if they are issued together). aiosqlite runs
    every call this way but offers no public hook for it."""
    run: Callable[..., Awaitable[T]] = conn._execute
    return await run(work, conn._conn)


def storage_error(exc: BaseException, path: Path | str | None = None) -> StorageError | None:
    """The :class:`StorageError` a user should see for a SQLite failure about the file or disk, else None."""
    if not isinstance(exc, sqlite3.Error):
        return None
    database = f"the database {path}" if path else "the database"
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary == _SQLITE_FULL or "disk is full" in text:
        message = f"the disk holding {database} is full; free some space and retry (nothing was saved)"
    elif primary == _SQLITE_READONLY or "readonly database" in text:
        message = (
            f"{database} is read-only; make the file and its folder writable, "
            "or point --data-dir at a writable folder (nothing was saved)"
        )
    elif primary in (_SQLITE_BUSY, _SQLITE_LOCKED) or "database is locked" in text:
        message = (
            f"{database} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s; retry when it has finished"
        )
    elif primary in (_SQLITE_CANTOPEN, _SQLITE_PERM) or "unable to open database" in text:
        message = f"cannot open {database}: check that its folder exists and is writable (--data-dir)"
    elif primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        name = path or "the database file"
        message = f"{name} is damaged or is not an mcp-suite database ({text}); restore it from a backup or move it"
    elif primary == _SQLITE_IOERR:
        message = f"the disk holding {database} reported an I/O error ({text}); check the disk and retry"
    else:
        return None
    return StorageError(message)


def _raise_translated(exc: BaseException, path: Path | str) -> None:
    translated = storage_error(exc, path)
    if translated is not None:
        raise translated from exc


def check_data_dir(folder: Path) -> None:
    """Make sure ``folder`` can hold the databases (creating it); raise :class:`StorageError` saying why not.

    Checked before a server starts, so a wrong ``--data-dir`` is one clear line instead of a failure deep in
    the first request. A probe file is written and removed: permissions alone miss read-only file systems.
    """
    _prepare_folder(folder)
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".mcp-suite-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageError(f"cannot write to the data folder {folder}: {reason}; point --data-dir elsewhere") from exc


def _prepare_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise StorageError(f"the data folder {folder} is a file, not a folder; point --data-dir at a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StorageError(f"cannot create the data folder {folder}: {reason}; point --data-dir elsewhere") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(
            f"the data folder {folder} is not writable; fix its permissions or point --data-dir elsewhere"
        )


class Database:
    """A process's handle on one SQLite file."""

    def __init__(self, conn: Connection, path: Path, reader: Connection | None = None) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._reader = reader
        self._read_lock = asyncio.Lock() if reader is not None else self._lock
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str, migrations: Sequence[Migration] = ()) -> Database:
        """Open (creating folders as needed), set the pragmas, and bring the schema up to date.

        A path that cannot hold a database (the folder is a file, not writable, the file is not SQLite …)
        raises :class:`StorageError` naming the path and what to change.
        """
        path = Path(path)
        if str(path) != ":memory:":
            _prepare_folder(path.parent)
            if path.is_dir():
                raise StorageError(f"the database path {path} is a folder; move it away or point --data-dir elsewhere")
        try:
            conn = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            _raise_translated(exc, path)
            raise
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await _enable_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            db = cls(conn, path)
            await db.migrate(migrations)
            if str(path) != ":memory:":
                db._reader = await _open_reader(path)
                db._read_lock = asyncio.Lock() if db._reader is not None else db._lock
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await conn.close()
            _raise_translated(exc, path)
            raise
        return db

    async def close(self) -> None:
        """Close the connection; an open transaction (there should be none) is rolled back first.

        Safe to call twice and from a cancelled task: shutdown always releases the file.
        """
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if self._reader is not None:
                await self._end(self._reader, "ROLLBACK")
                await self._reader.close()
            await self._end(self.conn, "ROLLBACK")
            await self.conn.close()

    async def pragma(self, name: str) -> object:
        # One trip to aiosqlite's thread (a cursor's execute, fetchone and close would be three): searches ask
        # for data_version several times each.
        rows = list(await self.conn.execute_fetchall(f"PRAGMA {name}"))
        return rows[0][0] if rows else None

    @staticmethod
    async def _to_completion(conn: Connection, sql: str) -> None:
        """Run a transaction-control statement to its end even if the caller is cancelled meanwhile.

        aiosqlite runs each statement in its worker thread, which finishes it whether or not the awaiting
        task is still there; awaiting it to the end is the only way to know the transaction's state. The
        cancellation (an anyio scope or a plain ``Task.cancel()``) is re-raised afterwards.
        """
        # execute_fetchall: one trip to the worker thread (execute + close would be two, on every BEGIN and COMMIT).
        task = asyncio.ensure_future(conn.execute_fetchall(sql))
        interrupted: BaseException | None = None
        with anyio.CancelScope(shield=True):
            while True:
                try:
                    await asyncio.shield(task)
                    break
                except asyncio.CancelledError as exc:
                    if task.cancelled():
                        raise
                    interrupted = exc
        if interrupted is not None:
            raise interrupted

    async def _end(self, conn: Connection, sql: str) -> None:
        """ROLLBACK (or COMMIT) if a transaction is open; never raises for "no transaction is active"."""
        try:
            await self._to_completion(conn, sql)
        except sqlite3.OperationalError as exc:
            if "no transaction is active" not in str(exc):
                log.warning("%s on %s failed: %s", sql, self.path, exc)

    async def _begin(self, conn: Connection, sql: str) -> None:
        try:
            await self._to_completion(conn, sql)
        except BaseException as exc:
            # Cancelled while BEGIN ran in the worker thread: it did run, so the transaction is open; end it.
            with anyio.CancelScope(shield=True):
                await self._end(conn, "ROLLBACK")
            _raise_translated(exc, self.path)
            raise

    async def _finish(self, conn: Connection, body_error: BaseException | None) -> None:
        """End the open transaction: COMMIT after a clean body, ROLLBACK after an error or a cancellation."""
        if body_error is not None:
            with anyio.CancelScope(shield=True):
                await self._end(conn, "ROLLBACK")
            return
        try:
            await self._to_completion(conn, "COMMIT")
        except BaseException as exc:
            # A COMMIT that failed (disk full, I/O error) or was cancelled mid-way may leave the transaction
            # open; SQLite's advice is an explicit ROLLBACK, which is a no-op if the COMMIT went through.
            with anyio.CancelScope(shield=True):
                await self._end(conn, "ROLLBACK")
            _raise_translated(exc, self.path)
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """One logical change: all of it commits, or none of it (any exception or cancellation rolls back).

        The transaction ends wherever a cancellation lands (while ``BEGIN`` is awaited, in the body or during
        ``COMMIT``), so a cancelled call can never leave the shared connection inside a transaction.
        """
        async with self._lock:
            await self._begin(self.conn, "BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException as exc:
                await self._finish(self.conn, exc)
                _raise_translated(exc, self.path)
                raise
            await self._finish(self.conn, None)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        """A consistent read: several queries see the same committed state (ended however the body exits).

        It runs on the query-only reader connection (a write in it fails), so it never waits for a write of
        this process; it sees every transaction committed before it began.
        """
        conn = self._reader or self.conn
        async with self._read_lock:
            await self._begin(conn, "BEGIN")
            try:
                yield conn
            except BaseException as exc:
                await self._finish(conn, exc)
                _raise_translated(exc, self.path)
                raise
            await self._finish(conn, None)

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Connection]:
        """The reader connection with no transaction around its statements: each sees the latest commit.
        For a read whose statements need not agree with each other, it saves ``BEGIN`` and ``COMMIT``."""
        async with self._read_lock:
            try:
                yield self._reader or self.conn
            except BaseException as exc:
                _raise_translated(exc, self.path)
                raise

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
