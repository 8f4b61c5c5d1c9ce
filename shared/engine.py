"""What every storage engine offers a server, whichever database runs underneath.

:class:`Database` is the small protocol both engines satisfy: :class:`SqliteEngine` (an adapter over
:class:`mcp_suite.shared.db.Database`) and :class:`mcp_suite.shared.postgres.PostgresDatabase`. Storage modules
keep their SQL per engine (placeholders, types and full-text syntax differ); what they share is the shape of a
change — one transaction per logical change, consistent snapshots for reads, ordered named migrations — and
the :class:`Session` they write through. ``session.conn`` is the engine's own connection for what the protocol
does not cover (bulk copies, vector adapters).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from mcp_suite.shared import db as sqlite_db
from mcp_suite.shared.database_url import DatabaseUrl, Engine, SqliteUrl
from mcp_suite.shared.errors import DatabaseConfigError

T = TypeVar("T")
Row = tuple[Any, ...]


class Session(Protocol):
    """One open transaction or snapshot. ``placeholder`` is the engine's parameter marker (``?`` or ``%s``)."""

    placeholder: str

    async def execute(self, sql: str, params: Sequence[object] = ()) -> None: ...

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...


@dataclass(frozen=True)
class Migration:
    """One schema step for either engine: SQL text (several statements allowed) or a function of the session."""

    name: str
    apply: str | Callable[[Session], Awaitable[None]]


class Database(Protocol):
    engine: Engine

    def transaction(self) -> AbstractAsyncContextManager[Session]:
        """One logical change: all of it commits or none of it. Not retried: the block runs once."""
        ...

    async def run(self, change: Callable[[Session], Awaitable[T]]) -> T:
        """``change`` in one transaction, run again (bounded) when the engine reports a retryable conflict."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Session]:
        """A read-only, consistent view: every query inside sees the same committed state."""
        ...

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        """Apply the migrations not yet recorded, in order; refuse a database that recorded ones unknown here."""
        ...

    async def close(self) -> None: ...


def newer_schema_error(where: str, unknown: Sequence[str]) -> DatabaseConfigError:
    return DatabaseConfigError(
        f"{where} was written by a newer mcp-suite (it has migrations this version does not know: "
        f"{', '.join(sorted(unknown))}); upgrade mcp-suite, or point --database-url at another database"
    )


class SqliteSession:
    placeholder = "?"

    def __init__(self, conn: sqlite_db.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        await self.conn.execute(sql, tuple(params))

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        async with self.conn.execute(sql, tuple(params)) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]


class SqliteEngine:
    """:class:`mcp_suite.shared.db.Database` seen through the :class:`Database` protocol."""

    engine: Engine = "sqlite"

    def __init__(self, db: sqlite_db.Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, url: SqliteUrl, migrations: Sequence[Migration] = ()) -> SqliteEngine:
        engine = cls(await sqlite_db.Database.open(url.path))
        try:
            await engine.migrate(migrations)
        except BaseException:
            await engine.close()
            raise
        return engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        async with self.db.transaction() as conn:
            yield SqliteSession(conn)

    async def run(self, change: Callable[[Session], Awaitable[T]]) -> T:
        # BEGIN IMMEDIATE serialises writers and busy_timeout waits for the lock: nothing to retry.
        async with self.transaction() as session:
            return await change(session)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Session]:
        async with self.db.snapshot() as conn:
            yield SqliteSession(conn)

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        known = {m.name for m in migrations}
        await self.db.migrate([])  # creates the _migrations table
        async with self.snapshot() as session:
            recorded = [row[0] for row in await session.fetchall("SELECT name FROM _migrations")]
        unknown = [name for name in recorded if name not in known]
        if unknown and migrations:
            raise newer_schema_error(str(self.db.path), unknown)
        return await self.db.migrate([sqlite_db.Migration(m.name, _sqlite_step(m)) for m in migrations])

    async def close(self) -> None:
        await self.db.close()


def _sqlite_step(migration: Migration) -> str | Callable[[sqlite_db.Connection], Awaitable[None]]:
    apply = migration.apply
    if isinstance(apply, str):
        return apply

    async def step(conn: sqlite_db.Connection) -> None:
        await apply(SqliteSession(conn))

    return step


async def open_database(url: DatabaseUrl, server: str, migrations: Sequence[Migration] = ()) -> Database:
    """Open the engine ``url`` names for ``server`` (its schema on PostgreSQL) and bring its schema up to date."""
    if isinstance(url, SqliteUrl):
        return await SqliteEngine.open(url, migrations)
    try:
        from mcp_suite.shared.postgres import PostgresDatabase
    except ImportError as exc:
        raise DatabaseConfigError(
            f"PostgreSQL needs the postgres extra ({exc.name} is missing); run: pip install 'mcp-suite[postgres]'"
        ) from None
    return await PostgresDatabase.open(url, server, migrations)
