"""The memory graph in PostgreSQL (``--database-url postgresql://…``): schema ``mcp_suite_memory``,
``tsvector`` search, pgvector vectors, SERIALIZABLE writes retried on conflict, and change notices
between replicas over LISTEN/NOTIFY.

Several server processes may share one database: every write runs through :meth:`run`, so a
serialization failure re-runs the whole change (the graph's changes read their inputs inside the
transaction), and an acknowledged write is stored. Each write also announces its namespace
(:func:`mcp_suite.shared.changes.publish`, delivered on commit); :meth:`listen` hears the other replicas'.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import anyio
import numpy as np
from pgvector import Vector

import mcp_suite.servers.memory.storage.postgres_search as postgres_search
from mcp_suite.servers.memory.storage.pg_conn import PgConn
from mcp_suite.servers.memory.storage.postgres_schema import MIGRATIONS, NOW
from mcp_suite.shared.changes import RESYNC, ChangeFeed, publish
from mcp_suite.shared.database_url import Engine, PostgresUrl
from mcp_suite.shared.pg_statistics import PlannerStatistics
from mcp_suite.shared.postgres import PostgresDatabase, PostgresSession

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn, WordHit

T = TypeVar("T")
SERVER = "memory"
TOPIC = "graph"


def _pg(conn: Conn) -> PgConn:
    if not isinstance(conn, PgConn):
        raise TypeError("the PostgreSQL dialect was handed another engine's connection")
    return conn


class PostgresDialect:
    in_ints = postgres_search.IN_IDS
    one_of_ints = "= ANY(translate(?, '[]', '{}')::bigint[])"
    # Unnested from an array, not the JSON function's set: the planner estimates 10 rows (index lookups by name),
    # where for a set-returning JSON function it assumes 100 and scans the whole table (2.3 ms at 20,000 entities
    # for three names, against 0.13 ms).
    in_texts = "(SELECT unnest(ARRAY(SELECT jsonb_array_elements_text(?::jsonb))))"
    now = NOW
    newline = "chr(10)"
    straight_join = "JOIN"
    # pgvector's binary form (a 4-byte header, then big-endian float4s) as bytea: its text form is parsed in
    # Python, 5.1 s for 60,000 vectors of 256 dimensions against 0.6 s (the first search after a start).
    vector_column = "vector_send({})"
    insert_observations = (
        "INSERT INTO observations (entity_id, content, valid_from) "
        f"SELECT (j.value->>0)::bigint, j.value->>1, coalesce(?::text, {NOW}) "
        "FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS j(value, n) ORDER BY j.n "
        "ON CONFLICT DO NOTHING RETURNING id, entity_id, content"
    )
    current_relations = (
        "SELECT r.from_id, r.to_id, r.relation_type FROM jsonb_array_elements(?::jsonb) j JOIN relations r "
        "ON r.from_id = (j.value->>0)::bigint AND r.to_id = (j.value->>1)::bigint "
        "AND r.relation_type = j.value->>2 WHERE r.valid_to IS NULL"
    )
    store_observation_vector = (
        "INSERT INTO observation_vectors (observation_id, vector) "
        "SELECT ?::bigint, ?::vector WHERE EXISTS (SELECT 1 FROM observations WHERE id = ?::bigint) "
        "ON CONFLICT (observation_id) DO UPDATE SET vector = excluded.vector"
    )
    store_entity_vector = (
        "INSERT INTO entity_vectors (entity_id, vector) "
        "SELECT ?::bigint, ?::vector WHERE EXISTS (SELECT 1 FROM entities WHERE id = ?::bigint) "
        "ON CONFLICT (entity_id) DO UPDATE SET vector = excluded.vector, "
        "seq = nextval(pg_get_serial_sequence('entity_vectors', 'seq'))"
    )

    def aggregate(self, expression: str, separator: str) -> str:
        return f"string_agg({expression}, {separator})"

    async def unindex(self, conn: Conn, ids: Sequence[int]) -> None:
        await postgres_search.unindex(_pg(conn), ids)

    async def reindex(self, conn: Conn, ids: Sequence[int]) -> None:
        await postgres_search.reindex(_pg(conn), ids)

    async def lexical(self, conn: Conn, namespace: str, query: str, want: int) -> dict[int, WordHit]:
        return await postgres_search.lexical(_pg(conn), namespace, query, want)

    async def copied(self, conn: Conn) -> None:
        for table, column in (
            ("entities", "id"),
            ("observations", "id"),
            ("relations", "id"),
            ("entity_vectors", "seq"),
        ):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
            )
            # Planner statistics for the copied rows now, not whenever autovacuum gets to them.
            await conn.execute(f"ANALYZE {table}")

    def vector_param(self, blob: bytes) -> object:
        return np.frombuffer(blob, dtype=np.float32)

    def vector_blob(self, stored: object) -> bytes:
        if isinstance(stored, bytes):  # vector_send: dimensions (int2), unused (int2), float4s
            return np.frombuffer(stored, dtype=">f4", offset=4).astype(np.float32).tobytes()
        if isinstance(stored, Vector):
            stored = stored.to_numpy()
        if not isinstance(stored, np.ndarray):
            raise TypeError(f"a stored vector is a pgvector value, not {type(stored).__name__}")
        return stored.astype(np.float32, copy=False).tobytes()


class PostgresMemoryDatabase:
    """The memory schema in one PostgreSQL database (see the module docstring)."""

    engine: Engine = "postgresql"
    dialect = PostgresDialect()

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.where = db.url.redacted()
        self._feed = ChangeFeed(db.url, SERVER)  # its origin stamps this process's announcements
        self._writing = anyio.Lock()  # this process's writers queue here, holding one pooled connection at most
        self._lock_key = f"mcp_suite:{db.schema}:writer"
        # The tables a search's plans read statistics of (vectors are read whole, by id order).
        self.statistics = PlannerStatistics(db, ("entities", "observations", "relations", "aliases", "entity_search"))

    @classmethod
    async def open(cls, url: PostgresUrl) -> PostgresMemoryDatabase:
        return cls(await PostgresDatabase.open(url, SERVER, MIGRATIONS))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        async with self.db.transaction() as session:
            conn = PgConn(session.conn)
            yield conn
        self.statistics.wrote(conn.changed)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Conn]:
        async with self.db.snapshot() as session:
            yield PgConn(session.conn)

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Conn]:
        async with self.db.connection() as conn:
            yield PgConn(conn)

    async def run(self, change: Callable[[Conn], Awaitable[T]]) -> T:
        """``change`` at SERIALIZABLE, retried on conflict, while holding this database's writer lock.

        Every write of the graph touches a few hot rows (the entity's ``updated_at`` and search document,
        the index pages of small tables), so concurrent writers would mostly abort each other and retry
        until they give up. As SQLite's ``BEGIN IMMEDIATE`` does, writers queue instead: an advisory lock,
        taken on a second connection before the change's transaction (and so before its snapshot), and
        released with that connection's transaction however it ends. Reads take no lock.
        """

        changed: dict[str, int] = {}

        async def attempt(session: object) -> T:
            nonlocal changed
            assert isinstance(session, PostgresSession)
            conn = PgConn(session.conn)
            done = await change(conn)
            changed = conn.changed
            return done

        async with self._writing, self.db.locked(self._lock_key):
            done = await self.db.run(attempt)
        self.statistics.wrote(changed)
        return done

    async def maintain(self) -> None:
        await self.statistics.run()

    async def data_version(self) -> object:
        # What the semantic index reads incrementally: new observations, new entity vectors, ended facts.
        async with self.db.connection() as conn:
            cursor = await conn.execute(
                "SELECT (SELECT coalesce(max(id), 0) FROM observations), "
                "(SELECT coalesce(max(seq), 0) FROM entity_vectors), "
                "(SELECT max(valid_to) FROM observations WHERE valid_to IS NOT NULL)"
            )
            return await cursor.fetchone()

    async def announce(self, conn: Conn, namespace: str) -> None:
        await publish(PostgresSession(_pg(conn).raw), SERVER, self._feed.change(TOPIC, namespace))

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[str] | None]:
        async with self._feed as feed:

            async def namespaces() -> AsyncIterator[str]:
                async for change in feed:
                    yield "*" if change == RESYNC else change.key

            yield namespaces()

    async def close(self) -> None:
        await self.db.close()
