"""PostgreSQL access for every server: a pooled async psycopg 3 connection set, the same shape as SQLite's.

Each server owns one schema (``mcp_suite_<server>``) so several servers can share one database; its tables,
and the ``_migrations`` record, live there, and every pooled connection has that schema first on its
``search_path``. Replicas may start at once: schema creation and each migration run under a transaction-scoped
advisory lock, so exactly one of them applies a step and the others see it recorded.

Writes run at SERIALIZABLE: code ported from SQLite (where writers are serialised) may read, decide and write
in one transaction without lost updates; a conflict surfaces as a serialization failure, and :meth:`run`
retries the whole change a bounded number of times. A connection that drops mid-change is retried the same
way, but one that drops during COMMIT is not: the outcome is unknown, and the caller is told so.

Round trips: a transaction starts with one statement (``BEGIN ISOLATION LEVEL …``, from the connection's
``isolation_level``/``read_only``, set without a round trip before psycopg's ``transaction()``), and the pool's
empty-query check on checkout is skipped for a connection handed back moments ago (see :class:`Checkout`): a
read is BEGIN, its statements, COMMIT.

Cancellation: every transaction sits inside the pool's connection context; a cancel at any await rolls the
transaction back (or the pool discards the connection), so no transaction is left open on the server.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TypeVar

import psycopg
from psycopg import IsolationLevel, sql
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from mcp_suite.shared.database_url import Engine, PostgresUrl
from mcp_suite.shared.engine import Migration, Row, Session, newer_schema_error
from mcp_suite.shared.errors import DatabaseConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")
AsyncConnection = psycopg.AsyncConnection[tuple[object, ...]]

DriverError = psycopg.Error
"""Whatever the driver raises for a failed statement or connection: storage modules catch it by this name, so
only the engine modules import the driver."""

MIN_SERVER_VERSION = 150000
CONNECT_TIMEOUT_S = 10
ATTEMPTS = 10  # first try + 9 retries, jittered waits capped at 0.5 s: a few seconds at most under a hot row
_SERVER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def schema_name(server: str) -> str:
    if not _SERVER_NAME.match(server):
        raise ValueError(f"server name {server!r} cannot name a schema")
    return f"mcp_suite_{server}"


def _advisory_key(what: str) -> sql.Composed:
    # hashtextextended gives a stable bigint per name, so every replica computes the same lock key.
    return sql.SQL("SELECT pg_advisory_xact_lock(hashtextextended({}, 0))").format(sql.Literal(f"mcp_suite:{what}"))


RECENT_S = 2.0
"""A connection handed back to the pool less than this long ago is not checked again on checkout."""


class Checkout:
    """The pool's check on checkout, skipped for a connection used moments ago.

    The check (an empty query) finds a connection the server or a proxy dropped while it sat idle; for one
    that finished a transaction a moment ago it is a round trip that learns nothing. The rare connection
    dropped within that moment fails at its BEGIN, before anything ran, and :meth:`PostgresDatabase._start`
    takes another one (checked, as :meth:`forget` makes every connection due for a check).
    """

    def __init__(self) -> None:
        self._returned: weakref.WeakKeyDictionary[AsyncConnection, float] = weakref.WeakKeyDictionary()
        self._unchecked: weakref.WeakSet[AsyncConnection] = weakref.WeakSet()

    def returned(self, conn: AsyncConnection) -> None:
        if not conn.broken and not conn.closed:
            self._returned[conn] = time.monotonic()

    def forget(self) -> None:
        """One recent connection was dead: the others may be too (a server restart), so check each again."""
        self._returned.clear()

    def took_unchecked(self, conn: AsyncConnection) -> bool:
        """Whether ``conn``, just checked out, skipped the check (asked once per checkout)."""
        if conn in self._unchecked:
            self._unchecked.discard(conn)
            return True
        return False

    async def check(self, conn: AsyncConnection) -> None:
        returned = self._returned.pop(conn, None)
        if returned is not None and time.monotonic() - returned < RECENT_S:
            self._unchecked.add(conn)
            return
        await AsyncConnectionPool.check_connection(conn)


class CommitUncertainError(DatabaseConfigError):
    """The connection dropped while COMMIT was in flight: the change may or may not be stored."""


class PostgresSession:
    placeholder = "%s"

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def execute(self, sql_text: str, params: Sequence[object] = ()) -> None:
        await self.conn.execute(sql_text, tuple(params) or None)

    async def fetchall(self, sql_text: str, params: Sequence[object] = ()) -> list[Row]:
        cursor = await self.conn.execute(sql_text, tuple(params) or None)
        return list(await cursor.fetchall())


def one_line(exc: BaseException) -> str:
    # libpq's first line names the failure; the lines after it are hints our message replaces.
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return " ".join(first.removeprefix("connection failed: ").split())


def config_error(url: PostgresUrl, exc: psycopg.Error) -> DatabaseConfigError:
    """Turn a failed login or connect into one line that says what to change."""
    where = url.redacted()
    detail = one_line(exc)
    if exc.sqlstate == "28P01" or "password authentication failed" in detail:
        return DatabaseConfigError(
            f"PostgreSQL at {where} refused the login (wrong user or password); fix the credentials in --database-url"
        )
    if exc.sqlstate == "3D000" or ("database" in detail and "does not exist" in detail):
        return DatabaseConfigError(f"{detail}; create it (CREATE DATABASE …) or fix the database name in {where}")
    if exc.sqlstate in ("28000", "42501"):
        return DatabaseConfigError(f"PostgreSQL at {where} refused the connection: {detail}")
    return DatabaseConfigError(
        f"cannot reach PostgreSQL at {where}: {detail}; check that the server runs and the host and port are right"
    )


async def connect(url: PostgresUrl) -> AsyncConnection:
    """One autocommit connection outside the pool (bootstrap, LISTEN), with connect errors made readable."""
    try:
        return await psycopg.AsyncConnection.connect(url.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.OperationalError as exc:
        raise config_error(url, exc) from None


async def _ensure_vector(conn: AsyncConnection) -> None:
    cursor = await conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
    if await cursor.fetchone():
        return
    database, user = conn.info.dbname, conn.info.user
    try:
        async with conn.transaction():
            await conn.execute(_advisory_key("create-extension"))  # two replicas creating it at once would clash
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except pg_errors.InsufficientPrivilege:
        raise DatabaseConfigError(
            f"the vector extension is not enabled in database '{database}' and role '{user}' may not enable it; "
            f"as a superuser, connected to '{database}', run: CREATE EXTENSION vector;"
        ) from None
    except (pg_errors.UndefinedFile, pg_errors.FeatureNotSupported) as exc:
        raise DatabaseConfigError(
            f"the PostgreSQL server has no pgvector ({one_line(exc)}); install pgvector on it "
            "(e.g. the postgresql-16-pgvector package) or use a provider that offers the vector extension"
        ) from None
    log.info("created the vector extension in database %s", database)


# Told apart by SQLSTATE, not by exception class: psycopg's class tree does not follow the SQLSTATE classes
# (SerializationFailure derives from OperationalError, not TransactionRollback).
_ROLLED_BACK = "40"  # 40001 serialization failure, 40P01 deadlock: the server rolled the transaction back
_CONNECTION_LOST = ("57P01", "57P02", "57P03")  # class 08 too: the transaction did not commit


def _rolled_back(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.Error) and (exc.sqlstate or "").startswith(_ROLLED_BACK)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, CommitUncertainError | PoolTimeout | PoolClosed):
        return False
    if _rolled_back(exc):
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith("08") or state in _CONNECTION_LOST
    return False


class PostgresDatabase:
    """A process's pool of connections to one PostgreSQL database, scoped to one server's schema."""

    engine: Engine = "postgresql"

    def __init__(
        self, pool: AsyncConnectionPool[AsyncConnection], url: PostgresUrl, schema: str, checkout: Checkout
    ) -> None:
        self.pool = pool
        self.url = url
        self.schema = schema
        self.checkout = checkout

    @classmethod
    async def open(
        cls,
        url: PostgresUrl,
        server: str,
        migrations: Sequence[Migration] = (),
        *,
        max_size: int = 10,
        require_vector: bool = True,
    ) -> PostgresDatabase:
        """Check the server (reachable, login, version, vector), open the pool, bring the schema up to date."""
        schema = schema_name(server)
        conn = await connect(url)
        try:
            if conn.info.server_version < MIN_SERVER_VERSION:
                raise DatabaseConfigError(
                    f"PostgreSQL at {url.redacted()} is version {conn.info.server_version // 10000}; "
                    "mcp-suite needs PostgreSQL 15 or newer"
                )
            if require_vector:
                await _ensure_vector(conn)
        finally:
            await conn.close()

        async def configure(conn: AsyncConnection) -> None:
            await conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
            if require_vector:
                from pgvector.psycopg import register_vector_async

                await register_vector_async(conn)

        checkout = Checkout()
        pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
            url.conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            name=f"mcp-suite-{server}",
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=configure,
            check=checkout.check,  # a connection dropped while idle is replaced, not used
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        except PoolTimeout:
            await pool.close()
            raise DatabaseConfigError(
                f"PostgreSQL at {url.redacted()} accepted one connection but the pool could not open more within "
                f"{CONNECT_TIMEOUT_S}s; check max_connections and the server's log"
            ) from None
        db = cls(pool, url, schema, checkout)
        try:
            await db.migrate(migrations)
        except BaseException:
            await pool.close()
            raise
        return db

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled autocommit connection for statements outside a transaction (each its own)."""
        async with self.pool.connection() as conn:
            try:
                yield conn
            finally:
                self.checkout.returned(conn)

    async def _start(self, stack: AsyncExitStack, level: IsolationLevel, read_only: bool) -> AsyncConnection:
        """A pooled connection inside a transaction begun with one statement, entered into ``stack``."""
        for attempt in range(2):
            held = AsyncExitStack()
            conn = await held.enter_async_context(self.pool.connection())
            held.callback(self.checkout.returned, conn)
            unchecked = self.checkout.took_unchecked(conn)
            try:
                # No round trip: psycopg keeps them, and transaction() sends them as one BEGIN.
                await conn.set_isolation_level(level)
                await conn.set_read_only(read_only)
                await held.enter_async_context(conn.transaction())
            except psycopg.OperationalError as exc:
                await held.__aexit__(type(exc), exc, exc.__traceback__)  # the pool discards the dead connection
                if attempt or not unchecked:
                    raise
                self.checkout.forget()
                log.info("a recently used connection to %s had dropped; taking another", self.url.redacted())
                continue
            except BaseException as exc:
                await held.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            stack.push_async_exit(held)
            return conn
        raise AssertionError("unreachable: the second attempt returns or raises")

    @asynccontextmanager
    async def _begin(self, level: IsolationLevel, read_only: bool = False) -> AsyncIterator[PostgresSession]:
        body_done = False
        try:
            async with AsyncExitStack() as stack:
                conn = await self._start(stack, level, read_only)
                yield PostgresSession(conn)
                body_done = True
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if body_done and not _rolled_back(exc):
                raise CommitUncertainError(
                    f"the connection to {self.url.redacted()} dropped during COMMIT ({one_line(exc)}); "
                    "the change may or may not be stored: check before repeating it"
                ) from exc
            raise

    def transaction(self) -> AbstractAsyncContextManager[PostgresSession]:
        return self._begin(IsolationLevel.SERIALIZABLE)

    def snapshot(self) -> AbstractAsyncContextManager[PostgresSession]:
        return self._begin(IsolationLevel.REPEATABLE_READ, read_only=True)

    def locked(self, key: str) -> AbstractAsyncContextManager[PostgresSession]:
        """A READ COMMITTED transaction of its own holding the advisory lock ``key`` until it ends."""
        return self._locked(key)

    @asynccontextmanager
    async def _locked(self, key: str) -> AsyncIterator[PostgresSession]:
        async with self._begin(IsolationLevel.READ_COMMITTED) as session:
            await session.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
            yield session

    async def run(self, change: Callable[[Session], Awaitable[T]]) -> T:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.01, max=0.5),
            retry=retry_if_exception(_retryable),
            reraise=True,
            before_sleep=lambda state: log.info(
                "retrying a transaction on %s after %s", self.schema, state.outcome and state.outcome.exception()
            ),
        ):
            with attempt:
                async with self.transaction() as session:
                    return await change(session)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _migration_step(self) -> AbstractAsyncContextManager[PostgresSession]:
        # READ COMMITTED, not SERIALIZABLE: the statement after the advisory lock must see what the replica
        # that held the lock before committed; a serializable snapshot would predate it.
        return self._begin(IsolationLevel.READ_COMMITTED)

    async def migrate(self, migrations: Sequence[Migration]) -> list[str]:
        schema = sql.Identifier(self.schema)
        lock = _advisory_key(f"migrate:{self.schema}")
        async with self._migration_step() as session:
            await session.conn.execute(lock)
            await session.conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            await session.conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}._migrations "
                    "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(schema)
            )
            recorded = {row[0] for row in await session.fetchall("SELECT name FROM _migrations")}
        known = {m.name for m in migrations}
        if migrations and recorded - known:
            raise newer_schema_error(f"schema {self.schema} at {self.url.redacted()}", sorted(recorded - known))
        applied: list[str] = []
        for migration in (m for m in migrations if m.name not in recorded):
            async with self._migration_step() as session:
                await session.conn.execute(lock)
                # Checked under the lock: another replica may have applied it meanwhile.
                if await session.fetchall("SELECT 1 FROM _migrations WHERE name = %s", (migration.name,)):
                    continue
                if isinstance(migration.apply, str):
                    await session.execute(migration.apply)
                else:
                    await migration.apply(session)
                await session.execute("INSERT INTO _migrations (name) VALUES (%s)", (migration.name,))
                applied.append(migration.name)
                log.info("applied migration %s to %s", migration.name, self.schema)
        return applied
