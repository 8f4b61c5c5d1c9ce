"""The retrieval index in a SQLite file: every SQL statement of the SQLite engine.

:class:`SqliteTx` wraps the connection of one :meth:`shared.db.Database.transaction` or ``snapshot`` and is
both the :class:`~.base.Reader` and the :class:`~.base.Writer`; :class:`SqliteStorage` is the
:class:`~.base.Storage`. Filters are compiled to SQL here (:func:`filter_clause`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio

from mcp_suite.servers.retrieval.storage import fts5, sqlite_transfer
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
from mcp_suite.servers.retrieval.storage.sqlite_schema import open_database
from mcp_suite.servers.retrieval.storage.vector_cache import CachedVectorSearch
from mcp_suite.shared.database_url import Engine
from mcp_suite.shared.db import Connection, Database
from mcp_suite.shared.embeddings import EmbedderInfo
from mcp_suite.shared.errors import StorageError

T = TypeVar("T")

_DOC_COLUMNS = (
    "d.id, d.source, d.kind, d.title, d.doc_type, d.mtime, d.size, d.content_hash, d.tags, d.meta, "
    "d.chunk_count, d.ingested_at, d.updated_at, d.chunker_version"
)
_CHUNK_COLUMNS = (
    "c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.start_line, c.end_line, c.start_char, c.end_char, "
    "c.token_count, c.text_hash, d.source, d.title, d.doc_type, d.kind, c.page, c.anchor"
)


_EVAL_COLUMNS = "run, " + ", ".join(EVAL_FIELDS)


def _match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: each word a quoted phrase (no operator injection), OR-ed for BM25."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def filter_clause(where: DocumentFilter) -> tuple[str, list[Any]]:
    """A WHERE clause over ``documents d`` for ``where`` (``"1"`` when it holds no condition)."""
    parts: list[str] = []
    params: list[Any] = []
    if where.source_prefix:
        parts.append("substr(d.source, 1, ?) = ?")  # not LIKE: paths may contain % and _
        params += [len(where.source_prefix), where.source_prefix]
    if where.source_glob:
        parts.append("d.source GLOB ?")
        params.append(where.source_glob)
    for tag in where.tags:
        parts.append("EXISTS (SELECT 1 FROM doc_tags t WHERE t.document_id = d.id AND t.tag = ?)")
        params.append(tag)
    if where.doc_types:
        parts.append(f"d.doc_type IN ({','.join('?' * len(where.doc_types))})")
        params += list(where.doc_types)
    if where.kinds:
        parts.append(f"d.kind IN ({','.join('?' * len(where.kinds))})")
        params += list(where.kinds)
    if where.modified_after is not None:
        parts.append("d.mtime >= ?")
        params.append(where.modified_after)
    if where.modified_before is not None:
        parts.append("d.mtime < ?")
        params.append(where.modified_before)
    for key, value in where.metadata:
        parts.append("json_extract(d.meta, ?) = ?")
        params += ['$."' + key.replace('"', '""') + '"', value]
    return (" AND ".join(parts) or "1"), params


class SqliteTx:
    """Reads and writes of one transaction or snapshot on the SQLite connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # One trip to the database thread per query (execute and fetch together), not three (execute, fetch, close):
    # a folder ingest makes a dozen queries per file, and each trip is a thread hand-off.
    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(await self.conn.execute_fetchall(sql, params))

    async def _first(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = await self.conn.execute_fetchall(sql, params)
        return next(iter(rows), None)

    # -- index identity ------------------------------------------------------------------------------

    async def get_info(self, key: str) -> str | None:
        row = await self._first("SELECT value FROM index_info WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_info(self, key: str, value: str) -> None:
        await self.conn.execute(
            "INSERT INTO index_info (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def recorded_embedder(self) -> EmbedderInfo | None:
        raw = await self.get_info("embedder")
        if raw is None:
            return None
        data = json.loads(raw)
        return EmbedderInfo(data["provider"], data["model"], int(data["dimension"]))

    async def record_embedder(self, info: EmbedderInfo) -> None:
        value = {"provider": info.provider, "model": info.model, "dimension": info.dimension}
        await self.set_info("embedder", json.dumps(value))

    # -- documents -----------------------------------------------------------------------------------

    async def find_document(self, source: str) -> DocumentRow | None:
        row = await self._first(f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.source = ?", (source,))
        return document_row(row) if row else None

    async def get_document(self, document_id: int) -> DocumentRow | None:
        row = await self._first(f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.id = ?", (document_id,))
        return document_row(row) if row else None

    async def documents_with_prefix(self, prefix: str, kind: str = "file") -> list[DocumentRow]:
        # substr() instead of LIKE: paths may contain % and _.
        sql = (
            f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.kind = ? AND substr(d.source, 1, ?) = ? ORDER BY d.source"
        )
        return [document_row(row) for row in await self._all(sql, (kind, len(prefix), prefix))]

    async def list_documents(
        self, where: DocumentFilter = NO_FILTER, limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRow], int]:
        clause, params = filter_clause(where)
        total = (await self._first(f"SELECT count(*) FROM documents d WHERE {clause}", tuple(params)))[0]
        sql = f"SELECT {_DOC_COLUMNS} FROM documents d WHERE {clause} ORDER BY d.source LIMIT ? OFFSET ?"
        rows = [document_row(row) for row in await self._all(sql, (*params, limit, offset))]
        return rows, total

    async def replace_document(self, doc: NewDocument, chunks: Sequence[NewChunk]) -> tuple[int, list[int], list[int]]:
        """Insert or overwrite a document and all its chunks; returns (document id, new chunk ids, removed ids)."""
        now = now_iso()
        existing = await self.find_document(doc.source)
        removed: list[int] = []
        if existing is None:
            cur = await self.conn.execute(
                "INSERT INTO documents (source, kind, title, doc_type, mtime, size, content_hash, tags, meta, "
                "chunk_count,"
                " ingested_at, updated_at, chunker_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc.source,
                    doc.kind,
                    doc.title,
                    doc.doc_type,
                    doc.mtime,
                    doc.size,
                    doc.content_hash,
                    json.dumps(doc.tags),
                    json.dumps(doc.meta),
                    len(chunks),
                    now,
                    now,
                    doc.chunker_version,
                ),
            )
            document_id = int(cur.lastrowid or 0)
        else:
            document_id = existing.id
            removed = [row[0] for row in await self._all("SELECT id FROM chunks WHERE document_id = ?", (document_id,))]
            await self.conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            await self.conn.execute(
                "UPDATE documents SET kind = ?, title = ?, doc_type = ?, mtime = ?, size = ?, content_hash = ?, "
                "tags = ?,"
                " meta = ?, chunk_count = ?, updated_at = ?, chunker_version = ? WHERE id = ?",
                (
                    doc.kind,
                    doc.title,
                    doc.doc_type,
                    doc.mtime,
                    doc.size,
                    doc.content_hash,
                    json.dumps(doc.tags),
                    json.dumps(doc.meta),
                    len(chunks),
                    now,
                    doc.chunker_version,
                    document_id,
                ),
            )
        if existing is not None or doc.tags:  # a new document has no tags to replace
            await self._set_tags(document_id, doc.tags)
        return document_id, await self._insert_chunks(document_id, doc.title, chunks), removed

    async def _insert_chunks(self, document_id: int, title: str, chunks: Sequence[NewChunk]) -> list[int]:
        heading_texts = [" / ".join(chunk.heading_path) for chunk in chunks]
        # Explicit ids, so all chunks go in with one executemany (one trip to the database thread, not
        # one per chunk). The caller's write transaction holds the lock, so max(id) cannot move under us.
        first_id = int((await self._first("SELECT coalesce(max(id), 0) FROM chunks"))[0]) + 1
        new_ids = list(range(first_id, first_id + len(chunks)))
        await self.conn.executemany(
            "INSERT INTO chunks (id, document_id, ordinal, text, heading_path, start_line, end_line, start_char, "
            "end_char,"
            " token_count, text_hash, embedding, page, anchor, embed_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    chunk_id,
                    document_id,
                    chunk.ordinal,
                    chunk.text,
                    json.dumps(list(chunk.heading_path)),
                    chunk.start_line,
                    chunk.end_line,
                    chunk.start_char,
                    chunk.end_char,
                    chunk.token_count,
                    chunk.text_hash,
                    chunk.embedding,
                    chunk.page,
                    chunk.anchor,
                    chunk.embed_hash if chunk.embedding is not None else None,
                )
                for chunk_id, chunk in zip(new_ids, chunks, strict=True)
            ],
        )
        await self.conn.executemany(
            "INSERT INTO chunks_fts (rowid, text, heading, title) VALUES (?, ?, ?, ?)",
            [(cid, c.text, h, title) for cid, c, h in zip(new_ids, chunks, heading_texts, strict=True)],
        )
        return new_ids

    async def update_document_metadata(
        self, document_id: int, *, mtime: float, tags: list[str], meta: dict[str, Any]
    ) -> None:
        await self.conn.execute(
            "UPDATE documents SET mtime = ?, tags = ?, meta = ?, updated_at = ? WHERE id = ?",
            (mtime, json.dumps(tags), json.dumps(meta), now_iso(), document_id),
        )
        await self._set_tags(document_id, tags)

    async def _set_tags(self, document_id: int, tags: Sequence[str]) -> None:
        await self.conn.execute("DELETE FROM doc_tags WHERE document_id = ?", (document_id,))
        if tags:
            await self.conn.executemany(
                "INSERT OR IGNORE INTO doc_tags (document_id, tag) VALUES (?, ?)", [(document_id, t) for t in tags]
            )

    async def delete_document(self, document_id: int) -> list[int]:
        """Delete a document with its chunks; returns the removed chunk ids."""
        removed = [row[0] for row in await self._all("SELECT id FROM chunks WHERE document_id = ?", (document_id,))]
        await self.conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        return removed

    # -- chunks --------------------------------------------------------------------------------------

    async def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]:
        """Vectors already computed for an identical embedded text, by ``embed_hash`` (re-ingests skip
        embedding them again)."""
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT embed_hash, embedding FROM chunks WHERE embedding IS NOT NULL AND embed_hash IN ({marks})"
            for row in await self._all(sql, part):
                found.setdefault(row[0], row[1])
        return found

    async def stored_embed_hashes(self) -> set[str]:
        sql = "SELECT DISTINCT embed_hash FROM chunks WHERE embed_hash IS NOT NULL AND embedding IS NOT NULL"
        return {row[0] for row in await self._all(sql)}

    async def get_chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        result: dict[int, ChunkRow] = {}
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            sql = (
                f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id "
                f"WHERE c.id IN ({marks})"
            )
            for row in await self._all(sql, part):
                chunk = chunk_row(row)
                result[chunk.id] = chunk
        return result

    async def identical_chunks(self, ids: Sequence[int], limit: int) -> dict[int, list[int]]:
        """For each chunk id, up to ``limit`` other chunks with exactly the same text (by ``text_hash``)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        # The window keeps a boilerplate paragraph repeated in thousands of pages to ``limit`` rows per chunk.
        sql = (
            "SELECT first, other FROM (SELECT a.id AS first, b.id AS other, "
            "row_number() OVER (PARTITION BY a.id ORDER BY b.id) AS n "
            f"FROM chunks a JOIN chunks b ON b.text_hash = a.text_hash AND b.id != a.id WHERE a.id IN ({marks})) "
            "WHERE n <= ?"
        )
        found: dict[int, list[int]] = {}
        for first, other in await self._all(sql, [*ids, limit]):
            found.setdefault(first, []).append(other)
        return found

    async def chunks_in_range(self, document_id: int, first: int, last: int) -> list[ChunkRow]:
        sql = (
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.document_id = ? AND c.ordinal BETWEEN ? AND ? ORDER BY c.ordinal"
        )
        return [chunk_row(row) for row in await self._all(sql, (document_id, first, last))]

    async def document_chunks(self, document_id: int) -> list[ChunkRow]:
        return await self.chunks_in_range(document_id, 0, 2**62)

    async def chunk_ids(self) -> list[int]:
        return [row[0] for row in await self._all("SELECT id FROM chunks WHERE embedding IS NOT NULL ORDER BY id")]

    async def vectors(self, ids: Sequence[int] | None = None) -> list[tuple[int, int, bytes]]:
        """(chunk id, document id, vector blob) for the given chunks, or for all chunks that have one."""
        if ids is None:
            sql = "SELECT id, document_id, embedding FROM chunks WHERE embedding IS NOT NULL ORDER BY id"
            return [(row[0], row[1], row[2]) for row in await self._all(sql)]
        rows: list[tuple[int, int, bytes]] = []
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            sql = f"SELECT id, document_id, embedding FROM chunks WHERE embedding IS NOT NULL AND id IN ({marks})"
            rows.extend((row[0], row[1], row[2]) for row in await self._all(sql, part))
        return rows

    async def all_chunk_contexts(self) -> list[tuple[int, str, list[str], str]]:
        """(chunk id, text, heading path, document title) of every chunk: what its vector is computed from."""
        sql = (
            "SELECT c.id, c.text, c.heading_path, d.title FROM chunks c JOIN documents d ON d.id = c.document_id "
            "ORDER BY c.id"
        )
        return [(row[0], row[1], json.loads(row[2]), row[3]) for row in await self._all(sql)]

    async def set_embeddings(self, rows: Sequence[tuple[int, bytes | None, str | None]]) -> None:
        """Set (chunk id, vector, hash of the embedded text) of chunks."""
        await self.conn.executemany(
            "UPDATE chunks SET embedding = ?, embed_hash = ? WHERE id = ?", [(blob, h, cid) for cid, blob, h in rows]
        )

    async def has_chunks(self) -> bool:
        return bool((await self._first("SELECT EXISTS (SELECT 1 FROM chunks)"))[0])

    async def count_chunks(self) -> int:
        return int((await self._first("SELECT count(*) FROM chunks"))[0])

    # -- feedback ------------------------------------------------------------------------------------

    async def add_feedback(self, *, text_hash: str, chunk_id: int, query: str, query_key: str, useful: bool) -> None:
        await self.conn.execute(
            "INSERT INTO feedback (text_hash, chunk_id, query, query_key, useful, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (text_hash, chunk_id, query, query_key, int(useful), now_iso()),
        )

    async def feedback_counts(self, hashes: Sequence[str], query_key: str) -> dict[str, tuple[int, int, int, int]]:
        """Per chunk hash: (useful, not useful) over all queries, then (useful, not useful) for this query."""
        result: dict[str, tuple[int, int, int, int]] = {}
        unique = list(dict.fromkeys(hashes))
        if not unique:
            return result
        marks = ",".join("?" * len(unique))
        sql = (
            "SELECT text_hash, sum(useful), sum(1 - useful), sum(CASE WHEN query_key = ? THEN useful ELSE 0 END), "
            "sum(CASE WHEN query_key = ? THEN 1 - useful ELSE 0 END) "
            f"FROM feedback WHERE text_hash IN ({marks}) GROUP BY text_hash"
        )
        for row in await self._all(sql, (query_key, query_key, *unique)):
            result[row[0]] = (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
        return result

    async def feedback_total(self) -> int:
        return int((await self._first("SELECT count(*) FROM feedback"))[0])

    # -- ingest errors -------------------------------------------------------------------------------

    async def set_ingest_error(self, source: str, kind: str, message: str) -> None:
        await self.conn.execute(
            "INSERT INTO ingest_errors (source, kind, message, failed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source) DO UPDATE SET kind = excluded.kind, message = excluded.message, "
            "failed_at = excluded.failed_at",
            (source, kind, message, now_iso()),
        )

    async def clear_ingest_errors(self, sources: Sequence[str]) -> None:
        await self.conn.executemany("DELETE FROM ingest_errors WHERE source = ?", [(s,) for s in sources])

    async def ingest_errors(self) -> dict[str, IngestErrorRow]:
        async with self.conn.execute(
            "SELECT source, kind, message, failed_at FROM ingest_errors ORDER BY source"
        ) as cur:
            return {row[0]: IngestErrorRow(*row) for row in await cur.fetchall()}

    # -- evaluation runs -----------------------------------------------------------------------------

    async def add_eval_runs(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store one evaluation run (a row per mode, keys as in :class:`EvalRunRow` without ``id`` and
        ``run``); returns its run number."""
        run = int((await self._first("SELECT coalesce(max(run), 0) + 1 FROM eval_runs"))[0])
        names = _EVAL_COLUMNS.split(", ")
        await self.conn.executemany(
            f"INSERT INTO eval_runs ({_EVAL_COLUMNS}) VALUES ({', '.join('?' * len(names))})",
            [tuple(run if n == "run" else row[n] for n in names) for row in rows],
        )
        return run

    async def recent_eval_runs(self, limit: int) -> list[EvalRunRow]:
        """The newest ``limit`` rows, oldest first."""
        async with self.conn.execute(
            f"SELECT id, {_EVAL_COLUMNS} FROM eval_runs ORDER BY id DESC LIMIT ?", (limit,)
        ) as cur:
            rows = await cur.fetchall()
        return [EvalRunRow(*row) for row in reversed(list(rows))]

    # -- stats ---------------------------------------------------------------------------------------

    async def totals(self) -> Totals:
        async with self.conn.execute(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(chunk_count), 0), max(updated_at) FROM documents"
        ) as cur:
            docs, size, chunk_total, last = await cur.fetchone()  # type: ignore[misc]
        async with self.conn.execute(
            "SELECT doc_type, count(*) FROM documents GROUP BY doc_type ORDER BY doc_type"
        ) as cur:
            by_type = {row[0]: row[1] for row in await cur.fetchall()}
        embedded = (await self._first("SELECT count(*) FROM chunks WHERE embedding IS NOT NULL"))[0]
        tokens = (await self._first("SELECT coalesce(sum(token_count), 0) FROM chunks"))[0]
        async with self.conn.execute(
            "SELECT tag, count(*) FROM doc_tags GROUP BY tag ORDER BY count(*) DESC LIMIT 50"
        ) as cur:
            tags = {row[0]: row[1] for row in await cur.fetchall()}
        feedback = int((await self._first("SELECT count(*) FROM feedback"))[0])
        return Totals(docs, size, chunk_total, embedded, tokens, by_type, tags, last, feedback)

    # -- search --------------------------------------------------------------------------------------

    async def lexical_search(self, words: Sequence[str], where: DocumentFilter, limit: int) -> list[tuple[int, float]]:
        """BM25 over ``chunks_fts``; scores are negated bm25() so that larger is better."""
        w_text, w_heading, w_title = BM25_WEIGHTS
        clause, params = filter_clause(where)
        if clause == "1":
            sql = (
                f"SELECT rowid, -bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) AS score FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, "
                f"{w_text}, {w_heading}, {w_title}) LIMIT ?"
            )
            args: tuple[Any, ...] = (_match(words), limit)
        else:
            sql = (
                f"SELECT f.rowid, -bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) AS score FROM chunks_fts f "
                "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id "
                f"WHERE chunks_fts MATCH ? AND ({clause}) ORDER BY bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) "
                "LIMIT ?"
            )
            args = (_match(words), *params, limit)
        return [(row[0], float(row[1])) for row in await self._all(sql, args)]

    async def matching_document_ids(self, where: DocumentFilter) -> list[int]:
        clause, params = filter_clause(where)
        return [row[0] for row in await self._all(f"SELECT d.id FROM documents d WHERE {clause}", tuple(params))]

    async def phrase_scores(self, phrases: Sequence[str]) -> list[tuple[int, float]] | None:
        """(rowid, -bm25) of every row matching ``phrases``, unordered: the part of a BM25 score that
        multi-token phrases contribute (bm25() sums over phrases, so the parts add up)."""
        w_text, w_heading, w_title = BM25_WEIGHTS
        sql = (
            f"SELECT rowid, -bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) FROM chunks_fts "
            "WHERE chunks_fts MATCH ?"
        )
        return [(row[0], float(row[1])) for row in await self._all(sql, (_match(phrases),))]

    async def all_chunk_ids(self) -> list[int]:
        return [row[0] for row in await self._all("SELECT id FROM chunks ORDER BY id")]

    async def lexical_rows(self, ids: Sequence[int]) -> list[LexicalRow]:
        """(chunk id, document id, text, heading, title) exactly as ``chunks_fts`` indexed them."""
        rows: list[LexicalRow] = []
        for start in range(0, len(ids), 500):
            part = list(ids[start : start + 500])
            marks = ",".join("?" * len(part))
            sql = (
                "SELECT f.rowid, c.document_id, f.text, f.heading, f.title FROM chunks_fts f "
                f"JOIN chunks c ON c.id = f.rowid WHERE f.rowid IN ({marks}) ORDER BY f.rowid"
            )
            rows.extend((r[0], r[1], r[2], r[3], r[4]) for r in await self._all(sql, part))
        return rows


class SqliteStorage:
    """The :class:`~.base.Storage` over one SQLite file (WAL: other processes may read and write it too)."""

    engine: Engine = "sqlite"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.path = Path(db.path)
        self.location = str(db.path)

    @classmethod
    async def open(cls, path: Path | str) -> SqliteStorage:
        return cls(await open_database(path))

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[SqliteTx]:
        async with self.db.snapshot() as conn:
            yield SqliteTx(conn)

    async def run(self, change: Callable[[SqliteTx], Awaitable[T]]) -> T:
        # BEGIN IMMEDIATE serialises writers and busy_timeout waits for the lock: nothing to retry.
        async with self.db.transaction() as conn:
            return await change(SqliteTx(conn))

    async def version(self) -> object:
        # data_version changes when another connection commits; our own commits are tracked by the caller.
        return await self.db.pragma("data_version")

    async def watch(self) -> AsyncIterator[None]:
        # Processes sharing a SQLite file announce nothing; each notices the others' commits by data_version.
        await anyio.sleep_forever()
        yield  # pragma: no cover - makes this an async generator

    def lexical_source(self) -> AbstractContextManager[LexicalSource]:
        return self._lexical_source()

    @contextmanager
    def _lexical_source(self) -> Iterator[LexicalSource]:
        if not self.path.is_file():  # e.g. ":memory:": another connection cannot read it
            raise StorageError(f"{self.location} is not a file another connection can read")
        try:
            with fts5.lexical_source(self.path) as source:
                yield source
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the full-text index of {self.location}: {exc}") from exc

    def vector_search(self, dimension: int) -> CachedVectorSearch:
        return CachedVectorSearch(self.path, dimension)

    async def size_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    async def export_tables(self) -> dict[str, list[tuple[Any, ...]]]:
        return await sqlite_transfer.export_tables(self.db)

    async def import_rows(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        await sqlite_transfer.import_tables(self.db, tables)

    async def count_rows(self, table: str) -> int:
        return await sqlite_transfer.count_rows(self.db, table)

    async def close(self) -> None:
        await self.db.close()
