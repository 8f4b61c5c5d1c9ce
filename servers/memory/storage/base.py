"""The storage interface of the memory server: what the graph code asks of an engine.

The graph (:mod:`mcp_suite.servers.memory.graph_core` and its siblings) writes the SQL both engines
share (plain joins, ``ON CONFLICT``, ``RETURNING``) against a :data:`Conn`, and takes everything that
differs from the engine's :class:`Dialect`: how a JSON list of ids becomes a set, the clock, string
aggregation, the full-text index (FTS5 or ``tsvector``), how vectors are stored (float32 blobs or
pgvector). A :class:`MemoryDatabase` gives transactions, snapshots and retried writes, and tells the
other replicas (PostgreSQL) what changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias, TypeVar

from mcp_suite.shared.database_url import Engine

if TYPE_CHECKING:
    import aiosqlite

    from mcp_suite.servers.memory.storage.pg_conn import PgConn

    Conn: TypeAlias = aiosqlite.Connection | PgConn
    """One open transaction or snapshot: aiosqlite's connection, or the same API over psycopg."""

T = TypeVar("T")
Row: TypeAlias = Sequence[Any]  # a database row: its column types are the query's business


class WordHit(NamedTuple):
    """An entity the word search found: its tier, and (tier 0) its name and aliases as one text, read with
    the hit so that "every query word is in the name" costs no second query."""

    tier: int
    names: str = ""


class Dialect(Protocol):
    """The SQL and index work that differs between engines (``?`` placeholders in every engine)."""

    in_ints: str
    """``(…)`` set expression of the integers in one JSON-list parameter: ``x IN {in_ints}``."""
    in_texts: str
    """The same for a JSON list of strings."""
    one_of_ints: str
    """``x {one_of_ints}``: x is one of the integers of one JSON-list parameter, each looked up in x's index
    (PostgreSQL ``= ANY(array)``; its ``IN (SELECT unnest(…))`` hash-joins and scans a small table instead)."""
    now: str
    """The current UTC time as ISO-8601 text with milliseconds (how every timestamp is stored)."""
    newline: str
    """A newline character as an SQL expression."""
    straight_join: str
    vector_column: str
    """How a vector column is selected for :meth:`vector_blob` (``{}``: the column), e.g. in a form that parses fast."""
    """A join the planner must not reorder (SQLite ``CROSS JOIN``); a plain ``JOIN`` elsewhere."""
    insert_observations: str
    """Insert ``(entity id, content)`` pairs of a JSON-list parameter from ``valid_from`` (or now),
    skipping facts that are current already; returns ``id, entity_id, content`` of the new rows."""
    current_relations: str
    """``from_id, to_id, relation_type`` of the current relations among the ``[from, to, type]``
    triples of a JSON-list parameter."""
    store_observation_vector: str
    """Upsert ``(observation id, vector, observation id)`` if the observation still exists."""
    store_entity_vector: str
    """Upsert ``(entity id, vector, entity id)`` with a new sequence number, if the entity exists."""

    def aggregate(self, expression: str, separator: str) -> str:
        """SQL aggregating ``expression`` over rows into one text joined by ``separator`` (SQL)."""
        ...

    async def unindex(self, conn: Conn, ids: Sequence[int]) -> None:
        """Remove these entities' search documents."""
        ...

    async def reindex(self, conn: Conn, ids: Sequence[int]) -> None:
        """Rewrite the search documents of ``ids`` from name (and aliases), type and current observations."""
        ...

    async def lexical(self, conn: Conn, namespace: str, query: str, want: int) -> dict[int, WordHit]:
        """Up to ``want`` entities matching ``query`` now, best first, each with its tier: 0 every word (or
        prefix), 1 the query as a case-insensitive substring, 2 any word (see ``GraphSearch.search``);
        tier-0 hits carry their names."""
        ...

    async def copied(self, conn: Conn) -> None:
        """Rows were inserted with their ids (``db copy``): make the next generated ids follow them (and, where the
        engine plans by statistics, give the planner the copied rows' statistics)."""
        ...

    def vector_param(self, blob: bytes) -> object:
        """A float32 blob as this engine stores a vector."""
        ...

    def vector_blob(self, stored: object) -> bytes:
        """A vector selected as :attr:`vector_column` says, back as a float32 blob."""
        ...


class MemoryDatabase(Protocol):
    """One open memory database: transactions, snapshots, retried writes, change notices."""

    engine: Engine
    where: str
    """Where the data is, for messages (a path, or a URL without its password)."""

    @property
    def dialect(self) -> Dialect:
        """The engine's SQL and index work."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Conn]:
        """One change, run once (use :meth:`run` for changes that may be retried)."""
        ...

    def snapshot(self) -> AbstractAsyncContextManager[Conn]:
        """A consistent read-only view."""
        ...

    def reads(self) -> AbstractAsyncContextManager[Conn]:
        """A connection for reads, outside any transaction: each statement sees what was committed when it
        ran. Cheaper than :meth:`snapshot` (no ``BEGIN`` and ``COMMIT``: two round trips on PostgreSQL), for
        reads whose statements need not see one state, as a search that ranks and then reads its hits."""
        ...

    async def run(self, change: Callable[[Conn], Awaitable[T]]) -> T:
        """``change`` in one transaction, run again when the engine reports a conflict: it must
        read what it depends on inside the transaction and keep no state between attempts."""
        ...

    async def data_version(self) -> object:
        """A value that changes whenever another connection committed (cheap to ask)."""
        ...

    async def announce(self, conn: Conn, namespace: str) -> None:
        """Tell other replicas, once this transaction commits, that the graph of ``namespace`` changed."""
        ...

    async def maintain(self) -> None:
        """Background upkeep for the server's lifetime, run as a task until cancelled (PostgreSQL: planner
        statistics after bulk writes, see :mod:`mcp_suite.shared.pg_statistics`); returns at once if none."""
        ...

    def listen(self) -> AbstractAsyncContextManager[AsyncIterator[str] | None]:
        """The namespaces other replicas changed (``"*"``: any may have changed while the feed was
        deaf), or None on an engine without replicas."""
        ...

    async def close(self) -> None: ...


async def fetch_one(conn: Conn, sql: str, params: Sequence[object] = ()) -> Row | None:
    async with conn.execute(sql, params) as cur:
        row: Row | None = await cur.fetchone()
        return row


async def fetch_row(conn: Conn, sql: str, params: Sequence[object] = ()) -> Row:
    row = await fetch_one(conn, sql, params)
    if row is None:
        raise LookupError(f"expected a row from {' '.join(sql.split())[:120]!r}")
    return row


async def scalar(conn: Conn, sql: str, params: Sequence[object], type_: type[T]) -> T:
    """The first value of the first row of a query that always returns one, checked to be a ``type_``."""
    value = (await fetch_row(conn, sql, params))[0]
    if not isinstance(value, type_):
        raise TypeError(f"{' '.join(sql.split())[:120]!r} returned {type(value).__name__}, expected {type_.__name__}")
    return value


async def scalar_or_none(conn: Conn, sql: str, params: Sequence[object], type_: type[T]) -> T | None:
    row = await fetch_one(conn, sql, params)
    if row is None or row[0] is None:
        return None
    if not isinstance(row[0], type_):
        raise TypeError(f"{' '.join(sql.split())[:120]!r} returned {type(row[0]).__name__}, expected {type_.__name__}")
    return row[0]
