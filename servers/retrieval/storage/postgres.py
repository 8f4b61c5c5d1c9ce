"""The retrieval index on PostgreSQL: every SQL statement of the PostgreSQL engine.

:class:`PostgresTx` is the :class:`~.base.Reader` and :class:`~.base.Writer` of one transaction;
:class:`PostgresStorage` the :class:`~.base.Storage` over a :class:`~mcp_suite.shared.postgres.PostgresDatabase`
pool. Writes run through ``db.run`` (SERIALIZABLE, retried on conflicts), so every change re-reads what it
depends on inside its transaction. A change to chunks bumps ``generation`` (replicas compare it to catch
their in-memory indexes up) and publishes a ``resources`` change for the other replicas' clients.

Vectors live in ``chunk_vectors``, one pgvector row per embedded window of a chunk (SQLite keeps a chunk's
windows concatenated in one blob; readers here hand back that same blob). Each recorded embedder dimension
gets a partial HNSW index (``vector_cosine_ops``) that the one-shot vector search uses, while a filtered
search scans exactly.
The SQL full-text path ranks with ``ts_rank_cd`` over the generated ``tsvector``; a running server
ranks with the in-memory BM25 index, fed from these rows through FTS5 (:func:`.fts5.rows_source`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

import psycopg
from psycopg import sql

from mcp_suite.servers.retrieval.storage import fts5, postgres_transfer
from mcp_suite.servers.retrieval.storage.base import (
    BM25_WEIGHTS,
    EVAL_FIELDS,
    NO_FILTER,
    ChunkRow,
    DocumentFilter,
    DocumentRow,
    EvalRunRow,
    IngestErrorRow,
    LexicalRow,
    LexicalSource,
    NewChunk,
    NewDocument,
    Totals,
    chunk_row,
    document_row,
    now_iso,
)
from mcp_suite.servers.retrieval.storage.postgres_filters import filter_clause
from mcp_suite.servers.retrieval.storage.postgres_schema import MIGRATIONS, TEXT_SEARCH_CONFIG
from mcp_suite.servers.retrieval.storage.postgres_vectors import (
    PgVectorSearch,
    join_windows,
    sync_connection,
    window_rows,
)
from mcp_suite.shared.changes import Change, ChangeFeed, publish
from mcp_suite.shared.database_url import Engine, PostgresUrl
from mcp_suite.shared.embeddings import EmbedderInfo
from mcp_suite.shared.errors import StorageError
from mcp_suite.shared.postgres import AsyncConnection, PostgresDatabase, PostgresSession

if TYPE_CHECKING:
    pass

T = TypeVar("T")
SERVER = "retrieval"
STREAM_ROWS = 5000  # rows per fetch when streaming chunks to the lexical index
VERSION_FRESH_S = 0.02

_DOC_COLUMNS = (
    "d.id, d.source, d.kind, d.title, d.doc_type, d.mtime, d.size, d.content_hash, d.tags, d.meta, "
    "d.chunk_count, d.ingested_at, d.updated_at, d.chunker_version"
)
_CHUNK_COLUMNS = (
    "c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.start_line, c.end_line, c.start_char, c.end_char, "
    "c.token_count, c.text_hash, d.source, d.title, d.doc_type, d.kind, c.page, c.anchor"
)
_EVAL_COLUMNS = "run, " + ", ".join(EVAL_FIELDS)
# ts_rank_cd weights are {D, C, B, A} in [0, 1]: A = chunk text, B = heading path, C = title, in the
# proportions of BM25_WEIGHTS (scaled so the largest is 1).
_SCALE = max(BM25_WEIGHTS)
_RANK_WEIGHTS = "{0, " + ", ".join(f"{BM25_WEIGHTS[i] / _SCALE:.4f}" for i in (2, 1, 0)) + "}"


def hnsw_index_name(dimension: int) -> str:
    return f"chunk_vectors_hnsw_{dimension}"


class PostgresTx:
    """Reads and writes of one transaction or snapshot on a pooled connection."""

    def __init__(self, session: PostgresSession, origin: str, indexed: set[int] | None = None) -> None:
        self.conn: AsyncConnection = session.conn
        self.session = session
        self.origin = origin
        self.indexed = indexed if indexed is not None else set()  # dimensions known to have their HNSW index

    async def _all(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self.conn.execute(query, tuple(params) or None)
        return list(await cursor.fetchall())

    async def _one(self, query: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cursor = await self.conn.execute(query, tuple(params) or None)
        return await cursor.fetchone()

    async def changed(self) -> None:
        """Chunks changed: bump the generation and tell the other replicas, both at commit."""
        await self.conn.execute("UPDATE generation SET value = value + 1")
        await publish(self.session, SERVER, Change(topic="resources", origin=self.origin))

    # -- index identity ------------------------------------------------------------------------

    async def get_info(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM index_info WHERE key = %s", (key,))
        return row[0] if row else None

    async def set_info(self, key: str, value: str) -> None:
        await self.conn.execute(
            "INSERT INTO index_info (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE index_info.value <> excluded.value",
            (key, value),
        )

    async def recorded_embedder(self) -> EmbedderInfo | None:
        raw = await self.get_info("embedder")
        if raw is None:
            return None
        data = json.loads(raw)
        return EmbedderInfo(data["provider"], data["model"], int(data["dimension"]))

    async def recorded_dimension(self) -> int:
        """The recorded embedder's dimension (0 when none): what a chunk's blob is split into windows by."""
        recorded = await self.recorded_embedder()
        return recorded.dimension if recorded else 0

    async def _insert_windows(self, rows: Sequence[tuple[int, bytes | None]]) -> None:
        windows = window_rows(rows, await self.recorded_dimension())
        if windows:
            async with self.conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO chunk_vectors (chunk_id, window_no, embedding) VALUES (%s, %s, %s::vector)", windows
                )

    async def record_embedder(self, info: EmbedderInfo) -> None:
        value = {"provider": info.provider, "model": info.model, "dimension": info.dimension}
        await self.set_info("embedder", json.dumps(value))
        if not info.dimension or info.dimension in self.indexed:
            return
        if await self._one(
            "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s",
            (hnsw_index_name(info.dimension),),
        ):
            self.indexed.add(info.dimension)  # an index never goes away while the server runs
        else:
            dim = sql.Literal(info.dimension)
            await self.conn.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON chunk_vectors "
                    "USING hnsw ((embedding::vector({})) vector_cosine_ops) WHERE vector_dims(embedding) = {}"
                ).format(sql.Identifier(hnsw_index_name(info.dimension)), dim, dim)
            )

    # -- documents -----------------------------------------------------------------------------

    async def find_document(self, source: str) -> DocumentRow | None:
        row = await self._one(f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.source = %s", (source,))
        return document_row(row) if row else None

    async def get_document(self, document_id: int) -> DocumentRow | None:
        row = await self._one(f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.id = %s", (document_id,))
        return document_row(row) if row else None

    async def documents_with_prefix(self, prefix: str, kind: str = "file") -> list[DocumentRow]:
        query = (
            f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.kind = %s AND left(d.source, %s) = %s "
            'ORDER BY d.source COLLATE "C"'
        )
        return [document_row(row) for row in await self._all(query, (kind, len(prefix), prefix))]

    async def list_documents(
        self, where: DocumentFilter = NO_FILTER, limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRow], int]:
        clause, params = filter_clause(where)
        total = await self._one(f"SELECT count(*) FROM documents d WHERE {clause}", params)
        # COLLATE "C": byte order, as SQLite sorts text, so pages come in the same order on both engines.
        query = (
            f'SELECT {_DOC_COLUMNS} FROM documents d WHERE {clause} ORDER BY d.source COLLATE "C" LIMIT %s OFFSET %s'
        )
        rows = [document_row(row) for row in await self._all(query, (*params, limit, offset))]
        return rows, int(total[0]) if total else 0

    async def matching_document_ids(self, where: DocumentFilter) -> list[int]:
        clause, params = filter_clause(where)
        return [row[0] for row in await self._all(f"SELECT d.id FROM documents d WHERE {clause}", params)]

    async def replace_document(self, doc: NewDocument, chunks: Sequence[NewChunk]) -> tuple[int, list[int], list[int]]:
        """Insert or overwrite a document and all its chunks; returns (document id, new chunk ids, removed ids)."""
        now = now_iso()
        values = (
            doc.kind,
            doc.title,
            doc.doc_type,
            doc.mtime,
            doc.size,
            doc.content_hash,
            json.dumps(doc.tags),
            json.dumps(doc.meta),
            len(chunks),
        )
        existing = await self.find_document(doc.source)
        removed: list[int] = []
        if existing is None:
            row = await self._one(
                "INSERT INTO documents (kind, title, doc_type, mtime, size, content_hash, tags, meta, chunk_count, "
                "source, ingested_at, updated_at, chunker_version) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (*values, doc.source, now, now, doc.chunker_version),
            )
            assert row is not None
            document_id = int(row[0])
        else:
            document_id = existing.id
            removed = [
                r[0] for r in await self._all("DELETE FROM chunks WHERE document_id = %s RETURNING id", (document_id,))
            ]
            removed.sort()
            await self.conn.execute(
                "UPDATE documents SET kind = %s, title = %s, doc_type = %s, mtime = %s, size = %s, content_hash = %s, "
                "tags = %s, meta = %s, chunk_count = %s, updated_at = %s, chunker_version = %s WHERE id = %s",
                (*values, now, doc.chunker_version, document_id),
            )
        await self._set_tags(document_id, doc.tags)
        new_ids: list[int] = []
        if chunks:
            # Ids from the identity sequence first, so all chunks go in with one executemany.
            new_ids = [
                r[0]
                for r in await self._all(
                    "SELECT nextval(pg_get_serial_sequence('chunks', 'id')) FROM generate_series(1, %s)", (len(chunks),)
                )
            ]
            async with self.conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO chunks (id, document_id, ordinal, text, heading_path, heading, title, start_line, "
                    "end_line, start_char, end_char, token_count, text_hash, embed_hash, page, anchor) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            chunk_id,
                            document_id,
                            chunk.ordinal,
                            chunk.text,
                            json.dumps(list(chunk.heading_path)),
                            " / ".join(chunk.heading_path),
                            doc.title,
                            chunk.start_line,
                            chunk.end_line,
                            chunk.start_char,
                            chunk.end_char,
                            chunk.token_count,
                            chunk.text_hash,
                            chunk.embed_hash if chunk.embedding is not None else None,
                            chunk.page,
                            chunk.anchor,
                        )
                        for chunk_id, chunk in zip(new_ids, chunks, strict=True)
                    ],
                )
            await self._insert_windows([(cid, c.embedding) for cid, c in zip(new_ids, chunks, strict=True)])
        await self.changed()
        return document_id, new_ids, removed

    async def update_document_metadata(
        self, document_id: int, *, mtime: float, tags: list[str], meta: dict[str, Any]
    ) -> None:
        await self.conn.execute(
            "UPDATE documents SET mtime = %s, tags = %s, meta = %s, updated_at = %s WHERE id = %s",
            (mtime, json.dumps(tags), json.dumps(meta), now_iso(), document_id),
        )
        await self._set_tags(document_id, tags)

    async def _set_tags(self, document_id: int, tags: Sequence[str]) -> None:
        await self.conn.execute("DELETE FROM doc_tags WHERE document_id = %s", (document_id,))
        if tags:
            await self.conn.execute(
                "INSERT INTO doc_tags (document_id, tag) SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                (document_id, list(tags)),
            )

    async def delete_document(self, document_id: int) -> list[int]:
        removed = [
            r[0] for r in await self._all("SELECT id FROM chunks WHERE document_id = %s ORDER BY id", (document_id,))
        ]
        await self.conn.execute("DELETE FROM documents WHERE id = %s", (document_id,))
        await self.changed()
        return removed

    # -- chunks --------------------------------------------------------------------------------

    async def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(hashes))
        if unique:
            # One chunk per hash (the lowest id), all of its windows.
            query = (
                "SELECT v.chunk_id, v.embedding, f.embed_hash FROM (SELECT DISTINCT ON (embed_hash) embed_hash, id "
                "FROM chunks c WHERE embed_hash = ANY(%s) "
                "AND EXISTS (SELECT 1 FROM chunk_vectors w WHERE w.chunk_id = c.id) "
                "ORDER BY embed_hash, id) f JOIN chunk_vectors v ON v.chunk_id = f.id ORDER BY v.chunk_id, v.window_no"
            )
            rows = await self._all(query, (unique,))
            hash_of = {int(row[0]): row[2] for row in rows}
            for cid, blob in join_windows(rows).items():
                found[hash_of[cid]] = blob
        return found

    async def stored_embed_hashes(self) -> set[str]:
        # A superset (chunks without vectors included) costs a lookup at most, never a wrong vector.
        return {
            row[0] for row in await self._all("SELECT DISTINCT embed_hash FROM chunks WHERE embed_hash IS NOT NULL")
        }

    async def get_chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        if not ids:
            return {}
        query = f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ANY(%s)"
        return {row[0]: chunk_row(row) for row in await self._all(query, (list(ids),))}

    async def identical_chunks(self, ids: Sequence[int], limit: int) -> dict[int, list[int]]:
        if not ids:
            return {}
        query = (
            "SELECT first, other FROM (SELECT a.id AS first, b.id AS other, "
            "row_number() OVER (PARTITION BY a.id ORDER BY b.id) AS n "
            "FROM chunks a JOIN chunks b ON b.text_hash = a.text_hash AND b.id <> a.id WHERE a.id = ANY(%s)) pairs "
            "WHERE n <= %s ORDER BY first, other"
        )
        found: dict[int, list[int]] = {}
        for first, other in await self._all(query, (list(ids), limit)):
            found.setdefault(first, []).append(other)
        return found

    async def chunks_in_range(self, document_id: int, first: int, last: int) -> list[ChunkRow]:
        query = (
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.document_id = %s AND c.ordinal BETWEEN %s AND %s ORDER BY c.ordinal"
        )
        return [chunk_row(row) for row in await self._all(query, (document_id, first, last))]

    async def document_chunks(self, document_id: int) -> list[ChunkRow]:
        return await self.chunks_in_range(document_id, 0, 2**31 - 1)

    async def chunk_ids(self) -> list[int]:
        return [row[0] for row in await self._all("SELECT DISTINCT chunk_id FROM chunk_vectors ORDER BY chunk_id")]

    async def all_chunk_ids(self) -> list[int]:
        return [row[0] for row in await self._all("SELECT id FROM chunks ORDER BY id")]

    async def vectors(self, ids: Sequence[int] | None = None) -> list[tuple[int, int, bytes]]:
        """(chunk id, document id, blob of its window vectors) per chunk, in id order."""
        query = (
            "SELECT v.chunk_id, v.embedding, c.document_id FROM chunk_vectors v JOIN chunks c ON c.id = v.chunk_id "
            "{} ORDER BY v.chunk_id, v.window_no"
        )
        if ids is None:
            rows = await self._all(query.format(""))
        else:
            rows = await self._all(query.format("WHERE v.chunk_id = ANY(%s)"), (list(ids),))
        docs = {int(row[0]): int(row[2]) for row in rows}
        return [(cid, docs[cid], blob) for cid, blob in join_windows(rows).items()]

    async def all_chunk_contexts(self) -> list[tuple[int, str, list[str], str]]:
        query = (
            "SELECT c.id, c.text, c.heading_path, d.title FROM chunks c JOIN documents d ON d.id = c.document_id "
            "ORDER BY c.id"
        )
        return [(row[0], row[1], json.loads(row[2]), row[3]) for row in await self._all(query)]

    async def set_embeddings(self, rows: Sequence[tuple[int, bytes | None, str | None]]) -> None:
        """Replace the windows of chunks; the recorded embedder (recorded first) gives their dimension."""
        ids = [cid for cid, _, _ in rows]
        await self.conn.execute("DELETE FROM chunk_vectors WHERE chunk_id = ANY(%s)", (ids,))
        async with self.conn.cursor() as cursor:
            await cursor.executemany(
                "UPDATE chunks SET embed_hash = %s WHERE id = %s",
                [(h if blob else None, cid) for cid, blob, h in rows],
            )
        await self._insert_windows([(cid, blob) for cid, blob, _ in rows])
        await self.changed()

    async def has_chunks(self) -> bool:
        row = await self._one("SELECT EXISTS (SELECT 1 FROM chunks)")
        return bool(row and row[0])

    async def lexical_rows(self, ids: Sequence[int]) -> list[LexicalRow]:
        if not ids:
            return []
        query = "SELECT id, document_id, text, heading, title FROM chunks WHERE id = ANY(%s) ORDER BY id"
        return [(r[0], r[1], r[2], r[3], r[4]) for r in await self._all(query, (list(ids),))]

    # -- search --------------------------------------------------------------------------------

    async def lexical_search(self, words: Sequence[str], where: DocumentFilter, limit: int) -> list[tuple[int, float]]:
        """``ts_rank_cd`` over the chunks' ``tsvector``, any word matching (OR), best first."""
        if not words:
            return []
        clause, params = filter_clause(where)
        join = "" if clause == "true" else "JOIN documents d ON d.id = c.document_id "
        query = (
            f"SELECT c.id, ts_rank_cd('{_RANK_WEIGHTS}', c.tsv, q, 1) AS score FROM chunks c {join}"
            f"CROSS JOIN websearch_to_tsquery('{TEXT_SEARCH_CONFIG}', %s) q "
            f"WHERE c.tsv @@ q AND ({clause}) ORDER BY score DESC, c.id LIMIT %s"
        )
        # websearch_to_tsquery quotes nothing itself: the words are \\w+ runs, so 'or' can only be the operator.
        return [(r[0], float(r[1])) for r in await self._all(query, (" or ".join(words), *params, limit))]

    async def phrase_scores(self, phrases: Sequence[str]) -> list[tuple[int, float]] | None:
        return None  # no positions on BM25's scale here: the in-memory index scores their terms one by one

    # -- feedback ------------------------------------------------------------------------------

    async def add_feedback(self, *, text_hash: str, chunk_id: int, query: str, query_key: str, useful: bool) -> None:
        await self.conn.execute(
            "INSERT INTO feedback (text_hash, chunk_id, query, query_key, useful, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (text_hash, chunk_id, query, query_key, int(useful), now_iso()),
        )

    async def feedback_counts(self, hashes: Sequence[str], query_key: str) -> dict[str, tuple[int, int, int, int]]:
        unique = list(dict.fromkeys(hashes))
        if not unique:
            return {}
        query = (
            "SELECT text_hash, sum(useful), sum(1 - useful), sum(CASE WHEN query_key = %s THEN useful ELSE 0 END), "
            "sum(CASE WHEN query_key = %s THEN 1 - useful ELSE 0 END) "
            "FROM feedback WHERE text_hash = ANY(%s) GROUP BY text_hash"
        )
        rows = await self._all(query, (query_key, query_key, unique))
        return {row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows}

    # -- ingest errors -------------------------------------------------------------------------

    async def set_ingest_error(self, source: str, kind: str, message: str) -> None:
        await self.conn.execute(
            "INSERT INTO ingest_errors (source, kind, message, failed_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (source) DO UPDATE SET kind = excluded.kind, message = excluded.message, "
            "failed_at = excluded.failed_at",
            (source, kind, message, now_iso()),
        )

    async def clear_ingest_errors(self, sources: Sequence[str]) -> None:
        if sources:
            await self.conn.execute("DELETE FROM ingest_errors WHERE source = ANY(%s)", (list(sources),))

    async def ingest_errors(self) -> dict[str, IngestErrorRow]:
        rows = await self._all('SELECT source, kind, message, failed_at FROM ingest_errors ORDER BY source COLLATE "C"')
        return {row[0]: IngestErrorRow(*row) for row in rows}

    # -- evaluation runs -----------------------------------------------------------------------

    async def add_eval_runs(self, rows: Sequence[dict[str, Any]]) -> int:
        found = await self._one("SELECT coalesce(max(run), 0) + 1 FROM eval_runs")
        run = int(found[0]) if found else 1
        names = _EVAL_COLUMNS.split(", ")
        async with self.conn.cursor() as cursor:
            await cursor.executemany(
                f"INSERT INTO eval_runs ({_EVAL_COLUMNS}) VALUES ({', '.join(['%s'] * len(names))})",
                [tuple(run if n == "run" else row[n] for n in names) for row in rows],
            )
        return run

    async def recent_eval_runs(self, limit: int) -> list[EvalRunRow]:
        rows = await self._all(f"SELECT id, {_EVAL_COLUMNS} FROM eval_runs ORDER BY id DESC LIMIT %s", (limit,))
        return [EvalRunRow(*row) for row in reversed(rows)]

    # -- stats ---------------------------------------------------------------------------------

    async def totals(self) -> Totals:
        docs = await self._one(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(chunk_count), 0), max(updated_at) FROM documents"
        )
        assert docs is not None
        by_type = {
            r[0]: r[1]
            for r in await self._all("SELECT doc_type, count(*) FROM documents GROUP BY doc_type ORDER BY doc_type")
        }
        chunk_stats = await self._one(
            "SELECT (SELECT count(DISTINCT chunk_id) FROM chunk_vectors), coalesce(sum(token_count), 0) FROM chunks"
        )
        assert chunk_stats is not None
        tags = {
            r[0]: r[1]
            for r in await self._all(
                "SELECT tag, count(*) FROM doc_tags GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 50"
            )
        }
        feedback = await self._one("SELECT count(*) FROM feedback")
        return Totals(
            documents=int(docs[0]),
            bytes=int(docs[1]),
            chunks=int(docs[2]),
            embedded_chunks=int(chunk_stats[0]),
            tokens=int(chunk_stats[1]),
            by_type={k: int(v) for k, v in by_type.items()},
            tags={k: int(v) for k, v in tags.items()},
            last_update=docs[3],
            feedback=int(feedback[0]) if feedback else 0,
        )


class PostgresStorage:
    """The :class:`~.base.Storage` over the ``mcp_suite_retrieval`` schema of one PostgreSQL database."""

    engine: Engine = "postgresql"

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.url = db.url
        self.location = db.url.redacted()
        self.origin = uuid.uuid4().hex  # this process, as the origin of the changes it publishes
        self._indexed: set[int] = set()
        self._version: tuple[object, float] | None = None

    @classmethod
    async def open(cls, url: PostgresUrl) -> PostgresStorage:
        return cls(await PostgresDatabase.open(url, SERVER, MIGRATIONS))

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PostgresTx]:
        async with self.db.snapshot() as session:
            yield PostgresTx(session, self.origin)

    async def run(self, change: Callable[[PostgresTx], Awaitable[T]]) -> T:
        async def attempt(session: Any) -> T:
            return await change(PostgresTx(session, self.origin, self._indexed))

        try:
            return await self.db.run(attempt)
        finally:
            self._version = None  # this process's own change: read the counter afresh

    async def version(self) -> object:
        # One search asks up to three times (embedder check, vectors, BM25): a reading this fresh is reused
        # rather than fetched again; another replica's change is seen within VERSION_FRESH_S.
        now = time.monotonic()
        if self._version is not None and now - self._version[1] < VERSION_FRESH_S:
            return self._version[0]
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute("SELECT value FROM generation")
            row = await cursor.fetchone()
        value = row[0] if row else None
        self._version = (value, now)
        return value

    async def watch(self) -> AsyncIterator[None]:
        async with ChangeFeed(self.url, SERVER, origin=self.origin) as feed:
            async for _change in feed:  # every topic, and RESYNC after a reconnect: the index may have changed
                yield None

    def lexical_source(self) -> AbstractContextManager[LexicalSource]:
        return self._lexical_source()

    @contextmanager
    def _lexical_source(self) -> Iterator[LexicalSource]:
        try:
            with self._stream_chunks() as source:
                yield source
        except psycopg.Error as exc:
            raise StorageError(f"cannot read the chunks from {self.location}: {exc}") from exc

    @contextmanager
    def _stream_chunks(self) -> Iterator[LexicalSource]:
        # One statement is one snapshot: every chunk and its text come from the same committed state. Streamed
        # in batches on a client-side cursor: nothing is left open on the server if the connection drops.
        with sync_connection(self.url, self.db.schema) as conn, conn.cursor() as cursor:
            query = "SELECT id, document_id, text, heading, title FROM chunks ORDER BY id"
            rows = ((r[0], r[1], r[2], r[3], r[4]) for r in cursor.stream(query, size=STREAM_ROWS))
            with fts5.rows_source(fts5.DEFAULT_TOKENIZE, rows) as source:
                yield source

    def vector_search(self, dimension: int) -> PgVectorSearch:
        return PgVectorSearch(self.url, self.db.schema, dimension)

    async def size_bytes(self) -> int:
        async with self.db.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (self.db.schema,),
            )
            row = await cursor.fetchone()
        return int(cast(int, row[0])) if row else 0

    async def export_tables(self) -> dict[str, list[tuple[Any, ...]]]:
        return await postgres_transfer.export_tables(self.db)

    async def import_rows(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        async def derive(session: PostgresSession) -> None:
            tx = PostgresTx(session, self.origin)
            recorded = await tx.recorded_embedder()
            if recorded is not None:
                await tx.record_embedder(recorded)  # creates the HNSW index for its dimension
            await tx.changed()

        await postgres_transfer.import_tables(self.db, tables, derive)

    async def count_rows(self, table: str) -> int:
        return await postgres_transfer.count_rows(self.db, table)

    async def close(self) -> None:
        await self.db.close()
