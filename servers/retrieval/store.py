"""Everything the retrieval index keeps in SQLite, and every SQL statement that touches it.

Tables: ``documents`` (one row per source, with its metadata and content hash), ``doc_tags``,
``chunks`` (text, heading path, spans, ordinal, a hash of the text and the float32 vector as a
blob), ``chunks_fts`` (FTS5 over chunk text, heading path and title, for BM25), ``feedback``,
``index_info`` (which embedder built the vectors), ``eval_runs`` (stored evaluation scores) and
``ingest_errors`` (the last ingest error of each source). Callers own the transactions: each function
takes the connection of a :meth:`shared.db.Database.transaction` or ``snapshot``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mcp_suite.shared.db import Connection, Database, Migration
from mcp_suite.shared.embeddings import EmbedderInfo

MIGRATIONS = [
    Migration(
        "0001_retrieval_schema",
        """
        CREATE TABLE index_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('file', 'url', 'text')),
            title TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            mtime REAL NOT NULL,
            size INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '[]',
            meta TEXT NOT NULL DEFAULT '{}',
            chunk_count INTEGER NOT NULL DEFAULT 0,
            ingested_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE doc_tags (
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (document_id, tag)
        );
        CREATE INDEX doc_tags_by_tag ON doc_tags(tag);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading_path TEXT NOT NULL DEFAULT '[]',
            start_line INTEGER NOT NULL,
            end_line INTEGER NOT NULL,
            start_char INTEGER NOT NULL,
            end_char INTEGER NOT NULL,
            token_count INTEGER NOT NULL,
            text_hash TEXT NOT NULL,
            embedding BLOB,
            UNIQUE (document_id, ordinal)
        );
        CREATE INDEX chunks_by_hash ON chunks(text_hash);
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, heading, title, tokenize = 'porter unicode61 remove_diacritics 2'
        );
        -- Cascading deletes from documents fire this too, so the FTS index never keeps orphans.
        CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
            DELETE FROM chunks_fts WHERE rowid = old.id;
        END;
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            text_hash TEXT NOT NULL,
            chunk_id INTEGER,
            query TEXT NOT NULL,
            query_key TEXT NOT NULL,
            useful INTEGER NOT NULL CHECK (useful IN (0, 1)),
            created_at TEXT NOT NULL
        );
        CREATE INDEX feedback_by_hash ON feedback(text_hash);
        """,
    ),
    # Citations a person can follow: the PDF page and the HTML heading anchor of a chunk.
    Migration(
        "0002_retrieval_chunk_page_anchor",
        """
        ALTER TABLE chunks ADD COLUMN page INTEGER;
        ALTER TABLE chunks ADD COLUMN anchor TEXT;
        """,
    ),
    # Vectors are reused by a hash of the text actually embedded (title, heading path and chunk text):
    # the same chunk text under another heading is embedded anew. Older rows have none and are not reused.
    Migration(
        "0003_retrieval_chunk_embed_hash",
        """
        ALTER TABLE chunks ADD COLUMN embed_hash TEXT;
        CREATE INDEX chunks_by_embed_hash ON chunks(embed_hash);
        """,
    ),
    # The chunker version a document was chunked by: 0 for every document indexed before it was
    # recorded, so the next ingest re-chunks them (see chunking.CHUNKER_VERSION).
    Migration(
        "0004_retrieval_document_chunker_version",
        """
        ALTER TABLE documents ADD COLUMN chunker_version INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    # Every evaluation run, one row per search mode: the run number ties the modes of one run together,
    # so scores can be followed over time.
    Migration(
        "0005_retrieval_eval_runs",
        """
        CREATE TABLE eval_runs (
            id INTEGER PRIMARY KEY,
            run INTEGER NOT NULL,
            run_at TEXT NOT NULL,
            mode TEXT NOT NULL,
            k INTEGER NOT NULL,
            case_count INTEGER NOT NULL,
            dataset_hash TEXT NOT NULL,
            recall REAL NOT NULL,
            precision REAL NOT NULL,
            mrr REAL NOT NULL,
            ndcg REAL NOT NULL,
            hit_rate REAL NOT NULL,
            misses INTEGER NOT NULL
        );
        CREATE INDEX eval_runs_by_time ON eval_runs(run_at);
        """,
    ),
    # The last ingest error of each source (file or URL), whether or not it is indexed; a later
    # successful ingest or deleting the source clears it.
    Migration(
        "0006_retrieval_ingest_errors",
        """
        CREATE TABLE ingest_errors (
            source TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('file', 'url', 'text')),
            message TEXT NOT NULL,
            failed_at TEXT NOT NULL
        );
        """,
    ),
]

# BM25 column weights: chunk text, heading path, document title.
BM25_WEIGHTS = (1.0, 1.5, 0.75)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def open_database(path: Any) -> Database:
    return await Database.open(path, MIGRATIONS)


@dataclass(frozen=True)
class DocumentRow:
    id: int
    source: str
    kind: str
    title: str
    doc_type: str
    mtime: float
    size: int
    content_hash: str
    tags: list[str]
    meta: dict[str, Any]
    chunk_count: int
    ingested_at: str
    updated_at: str
    chunker_version: int = 0


@dataclass(frozen=True)
class ChunkRow:
    id: int
    document_id: int
    ordinal: int
    text: str
    heading_path: list[str]
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    token_count: int
    text_hash: str
    source: str
    title: str
    doc_type: str
    kind: str
    page: int | None = None
    anchor: str | None = None


@dataclass(frozen=True)
class NewDocument:
    source: str
    kind: str
    title: str
    doc_type: str
    mtime: float
    size: int
    content_hash: str
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    chunker_version: int = 0


@dataclass(frozen=True)
class NewChunk:
    ordinal: int
    text: str
    heading_path: Sequence[str]
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    token_count: int
    text_hash: str
    embedding: bytes | None
    page: int | None = None
    anchor: str | None = None
    embed_hash: str | None = None  # hash of the text the vector was computed from (see ingest)


_DOC_COLUMNS = (
    "d.id, d.source, d.kind, d.title, d.doc_type, d.mtime, d.size, d.content_hash, d.tags, d.meta, "
    "d.chunk_count, d.ingested_at, d.updated_at, d.chunker_version"
)
_CHUNK_COLUMNS = (
    "c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.start_line, c.end_line, c.start_char, c.end_char, "
    "c.token_count, c.text_hash, d.source, d.title, d.doc_type, d.kind, c.page, c.anchor"
)


def _document(row: Any) -> DocumentRow:
    return DocumentRow(
        id=row[0],
        source=row[1],
        kind=row[2],
        title=row[3],
        doc_type=row[4],
        mtime=row[5],
        size=row[6],
        content_hash=row[7],
        tags=json.loads(row[8]),
        meta=json.loads(row[9]),
        chunk_count=row[10],
        ingested_at=row[11],
        updated_at=row[12],
        chunker_version=row[13],
    )


def _chunk(row: Any) -> ChunkRow:
    return ChunkRow(
        id=row[0],
        document_id=row[1],
        ordinal=row[2],
        text=row[3],
        heading_path=json.loads(row[4]),
        start_line=row[5],
        end_line=row[6],
        start_char=row[7],
        end_char=row[8],
        token_count=row[9],
        text_hash=row[10],
        source=row[11],
        title=row[12],
        doc_type=row[13],
        kind=row[14],
        page=row[15],
        anchor=row[16],
    )


# -- index identity ------------------------------------------------------------------------------


async def get_info(conn: Connection, key: str) -> str | None:
    async with conn.execute("SELECT value FROM index_info WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return row[0] if row else None


async def set_info(conn: Connection, key: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO index_info (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def recorded_embedder(conn: Connection) -> EmbedderInfo | None:
    raw = await get_info(conn, "embedder")
    if raw is None:
        return None
    data = json.loads(raw)
    return EmbedderInfo(data["provider"], data["model"], int(data["dimension"]))


async def record_embedder(conn: Connection, info: EmbedderInfo) -> None:
    value = {"provider": info.provider, "model": info.model, "dimension": info.dimension}
    await set_info(conn, "embedder", json.dumps(value))


# -- documents -----------------------------------------------------------------------------------


async def find_document(conn: Connection, source: str) -> DocumentRow | None:
    async with conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.source = ?", (source,)) as cur:
        row = await cur.fetchone()
    return _document(row) if row else None


async def get_document(conn: Connection, document_id: int) -> DocumentRow | None:
    async with conn.execute(f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.id = ?", (document_id,)) as cur:
        row = await cur.fetchone()
    return _document(row) if row else None


async def documents_with_prefix(conn: Connection, prefix: str, kind: str = "file") -> list[DocumentRow]:
    # substr() instead of LIKE: paths may contain % and _.
    sql = f"SELECT {_DOC_COLUMNS} FROM documents d WHERE d.kind = ? AND substr(d.source, 1, ?) = ? ORDER BY d.source"
    async with conn.execute(sql, (kind, len(prefix), prefix)) as cur:
        return [_document(row) for row in await cur.fetchall()]


async def list_documents(
    conn: Connection, where: str = "1", params: Sequence[Any] = (), limit: int = 100, offset: int = 0
) -> tuple[list[DocumentRow], int]:
    async with conn.execute(f"SELECT count(*) FROM documents d WHERE {where}", tuple(params)) as cur:
        total = (await cur.fetchone())[0]  # type: ignore[index]
    sql = f"SELECT {_DOC_COLUMNS} FROM documents d WHERE {where} ORDER BY d.source LIMIT ? OFFSET ?"
    async with conn.execute(sql, (*params, limit, offset)) as cur:
        rows = [_document(row) for row in await cur.fetchall()]
    return rows, total


async def replace_document(
    conn: Connection, doc: NewDocument, chunks: Sequence[NewChunk]
) -> tuple[int, list[int], list[int]]:
    """Insert or overwrite a document and all its chunks; returns (document id, new chunk ids, removed chunk ids)."""
    now = now_iso()
    existing = await find_document(conn, doc.source)
    removed: list[int] = []
    if existing is None:
        cur = await conn.execute(
            "INSERT INTO documents (source, kind, title, doc_type, mtime, size, content_hash, tags, meta, chunk_count,"
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
        async with conn.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,)) as cur:
            removed = [row[0] for row in await cur.fetchall()]
        await conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
        await conn.execute(
            "UPDATE documents SET kind = ?, title = ?, doc_type = ?, mtime = ?, size = ?, content_hash = ?, tags = ?,"
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
    await _set_tags(conn, document_id, doc.tags)
    heading_texts = [" / ".join(chunk.heading_path) for chunk in chunks]
    # Explicit ids, so all chunks go in with one executemany (one trip to the database thread, not
    # one per chunk). The caller's write transaction holds the lock, so max(id) cannot move under us.
    async with conn.execute("SELECT coalesce(max(id), 0) FROM chunks") as cur:
        first_id = int((await cur.fetchone())[0]) + 1  # type: ignore[index]
    new_ids = list(range(first_id, first_id + len(chunks)))
    await conn.executemany(
        "INSERT INTO chunks (id, document_id, ordinal, text, heading_path, start_line, end_line, start_char, end_char,"
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
    await conn.executemany(
        "INSERT INTO chunks_fts (rowid, text, heading, title) VALUES (?, ?, ?, ?)",
        [(cid, c.text, h, doc.title) for cid, c, h in zip(new_ids, chunks, heading_texts, strict=True)],
    )
    return document_id, new_ids, removed


async def update_document_metadata(
    conn: Connection, document_id: int, *, mtime: float, tags: list[str], meta: dict[str, Any]
) -> None:
    await conn.execute(
        "UPDATE documents SET mtime = ?, tags = ?, meta = ?, updated_at = ? WHERE id = ?",
        (mtime, json.dumps(tags), json.dumps(meta), now_iso(), document_id),
    )
    await _set_tags(conn, document_id, tags)


async def _set_tags(conn: Connection, document_id: int, tags: Sequence[str]) -> None:
    await conn.execute("DELETE FROM doc_tags WHERE document_id = ?", (document_id,))
    await conn.executemany(
        "INSERT OR IGNORE INTO doc_tags (document_id, tag) VALUES (?, ?)", [(document_id, t) for t in tags]
    )


async def delete_document(conn: Connection, document_id: int) -> list[int]:
    """Delete a document with its chunks; returns the removed chunk ids."""
    async with conn.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,)) as cur:
        removed = [row[0] for row in await cur.fetchall()]
    await conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
    return removed


# -- chunks --------------------------------------------------------------------------------------


async def embeddings_by_hash(conn: Connection, hashes: Sequence[str]) -> dict[str, bytes]:
    """Vectors already computed for an identical embedded text, by ``embed_hash`` (re-ingests skip
    embedding them again)."""
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), 500):
        part = unique[start : start + 500]
        marks = ",".join("?" * len(part))
        sql = f"SELECT embed_hash, embedding FROM chunks WHERE embedding IS NOT NULL AND embed_hash IN ({marks})"
        async with conn.execute(sql, part) as cur:
            for row in await cur.fetchall():
                found.setdefault(row[0], row[1])
    return found


async def get_chunks(conn: Connection, ids: Sequence[int]) -> dict[int, ChunkRow]:
    result: dict[int, ChunkRow] = {}
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({marks})"
        async with conn.execute(sql, part) as cur:
            for row in await cur.fetchall():
                chunk = _chunk(row)
                result[chunk.id] = chunk
    return result


async def identical_chunks(conn: Connection, ids: Sequence[int], limit: int) -> dict[int, list[int]]:
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
    async with conn.execute(sql, [*ids, limit]) as cur:
        for first, other in await cur.fetchall():
            found.setdefault(first, []).append(other)
    return found


async def chunks_in_range(conn: Connection, document_id: int, first: int, last: int) -> list[ChunkRow]:
    sql = (
        f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id "
        "WHERE c.document_id = ? AND c.ordinal BETWEEN ? AND ? ORDER BY c.ordinal"
    )
    async with conn.execute(sql, (document_id, first, last)) as cur:
        return [_chunk(row) for row in await cur.fetchall()]


async def document_chunks(conn: Connection, document_id: int) -> list[ChunkRow]:
    return await chunks_in_range(conn, document_id, 0, 2**62)


async def chunk_ids(conn: Connection) -> list[int]:
    async with conn.execute("SELECT id FROM chunks WHERE embedding IS NOT NULL ORDER BY id") as cur:
        return [row[0] for row in await cur.fetchall()]


async def vectors(conn: Connection, ids: Sequence[int] | None = None) -> list[tuple[int, int, bytes]]:
    """(chunk id, document id, vector blob) for the given chunks, or for all chunks that have one."""
    if ids is None:
        sql = "SELECT id, document_id, embedding FROM chunks WHERE embedding IS NOT NULL ORDER BY id"
        async with conn.execute(sql) as cur:
            return [(row[0], row[1], row[2]) for row in await cur.fetchall()]
    rows: list[tuple[int, int, bytes]] = []
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        sql = f"SELECT id, document_id, embedding FROM chunks WHERE embedding IS NOT NULL AND id IN ({marks})"
        async with conn.execute(sql, part) as cur:
            rows.extend((row[0], row[1], row[2]) for row in await cur.fetchall())
    return rows


async def all_chunk_texts(conn: Connection) -> list[tuple[int, str]]:
    async with conn.execute("SELECT id, text FROM chunks ORDER BY id") as cur:
        return [(row[0], row[1]) for row in await cur.fetchall()]


async def all_chunk_contexts(conn: Connection) -> list[tuple[int, str, list[str], str]]:
    """(chunk id, text, heading path, document title) of every chunk: what its vector is computed from."""
    sql = (
        "SELECT c.id, c.text, c.heading_path, d.title FROM chunks c JOIN documents d ON d.id = c.document_id "
        "ORDER BY c.id"
    )
    async with conn.execute(sql) as cur:
        return [(row[0], row[1], json.loads(row[2]), row[3]) for row in await cur.fetchall()]


async def set_embeddings(conn: Connection, rows: Sequence[tuple[int, bytes | None, str | None]]) -> None:
    """Set (chunk id, vector, hash of the embedded text) of chunks."""
    await conn.executemany(
        "UPDATE chunks SET embedding = ?, embed_hash = ? WHERE id = ?", [(blob, h, cid) for cid, blob, h in rows]
    )


async def has_chunks(conn: Connection) -> bool:
    async with conn.execute("SELECT EXISTS (SELECT 1 FROM chunks)") as cur:
        return bool((await cur.fetchone())[0])  # type: ignore[index]


async def count_chunks(conn: Connection) -> int:
    async with conn.execute("SELECT count(*) FROM chunks") as cur:
        return int((await cur.fetchone())[0])  # type: ignore[index]


# -- search --------------------------------------------------------------------------------------


async def lexical_search(
    conn: Connection, match: str, where: str, params: Sequence[Any], limit: int
) -> list[tuple[int, float]]:
    """BM25 over ``chunks_fts``; scores are negated bm25() so that larger is better."""
    w_text, w_heading, w_title = BM25_WEIGHTS
    if where == "1":
        sql = (
            f"SELECT rowid, -bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) AS score FROM chunks_fts "
            "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, "
            f"{w_text}, {w_heading}, {w_title}) LIMIT ?"
        )
        args: tuple[Any, ...] = (match, limit)
    else:
        sql = (
            f"SELECT f.rowid, -bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) AS score FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id "
            f"WHERE chunks_fts MATCH ? AND ({where}) ORDER BY bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) "
            "LIMIT ?"
        )
        args = (match, *params, limit)
    async with conn.execute(sql, args) as cur:
        return [(row[0], float(row[1])) for row in await cur.fetchall()]


async def matching_document_ids(conn: Connection, where: str, params: Sequence[Any]) -> list[int]:
    async with conn.execute(f"SELECT d.id FROM documents d WHERE {where}", tuple(params)) as cur:
        return [row[0] for row in await cur.fetchall()]


def filter_clause(
    *,
    source_prefix: str | None = None,
    source_glob: str | None = None,
    tags: Sequence[str] = (),
    doc_types: Sequence[str] = (),
    kinds: Sequence[str] = (),
    modified_after: float | None = None,
    modified_before: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause over ``documents d`` for the given filters (``"1"`` when there are none)."""
    parts: list[str] = []
    params: list[Any] = []
    if source_prefix:
        parts.append("substr(d.source, 1, ?) = ?")
        params += [len(source_prefix), source_prefix]
    if source_glob:
        parts.append("d.source GLOB ?")
        params.append(source_glob)
    for tag in tags:
        parts.append("EXISTS (SELECT 1 FROM doc_tags t WHERE t.document_id = d.id AND t.tag = ?)")
        params.append(tag)
    if doc_types:
        parts.append(f"d.doc_type IN ({','.join('?' * len(doc_types))})")
        params += list(doc_types)
    if kinds:
        parts.append(f"d.kind IN ({','.join('?' * len(kinds))})")
        params += list(kinds)
    if modified_after is not None:
        parts.append("d.mtime >= ?")
        params.append(modified_after)
    if modified_before is not None:
        parts.append("d.mtime < ?")
        params.append(modified_before)
    for key, value in (metadata or {}).items():
        parts.append("json_extract(d.meta, ?) = ?")
        params += ['$."' + key.replace('"', '""') + '"', value]
    return (" AND ".join(parts) or "1"), params


# -- the in-memory lexical index's sources --------------------------------------------------------
# The lexical index (lexical.py) takes its terms from FTS5 itself so that tokenizing never drifts
# from the SQL index. Posting codes are ``rowid << 2 | column`` per token instance, joined with
# commas on the SQL side (one row per term, not per instance; numpy parses the string).

FTS_COLUMNS = ("text", "heading", "title")  # chunks_fts column order; BM25_WEIGHTS follows it
_CODE = "(doc << 2) | CASE col WHEN 'text' THEN 0 WHEN 'heading' THEN 1 ELSE 2 END"


def fts_tokenizer_option(create_sql: str) -> str:
    """The ``tokenize`` argument of a ``CREATE VIRTUAL TABLE … USING fts5(…)`` statement."""
    import re

    found = re.search(r"tokenize\s*=\s*'((?:[^']|'')*)'", create_sql)
    return found.group(1).replace("''", "'") if found else "unicode61"


@contextmanager
def lexical_source(path: Any) -> Iterator[tuple[str, list[tuple[int, int]], Iterator[tuple[str, str]]]]:
    """(tokenizer option, (chunk id, document id) by id, (term, posting codes) by term): one snapshot of the index.

    Runs on its own read-only plain sqlite3 connection, meant for a worker thread: reading every
    posting takes seconds at 100k chunks, and the shared aiosqlite connection stays free meanwhile
    (WAL lets both read at once). The postings iterator is valid inside the ``with`` block only.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {30_000}")
        conn.execute("BEGIN")
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
        tokenize = fts_tokenizer_option(row[0] if row else "")
        chunks = [(r[0], r[1]) for r in conn.execute("SELECT id, document_id FROM chunks ORDER BY id")]
        conn.execute("CREATE VIRTUAL TABLE temp.lexical_vocab USING fts5vocab(main, chunks_fts, instance)")
        # fts5vocab yields rows in term order, so GROUP BY term streams without a sort.
        cursor = conn.execute(f"SELECT term, group_concat({_CODE}) FROM temp.lexical_vocab GROUP BY term")
        yield tokenize, chunks, ((r[0], r[1]) for r in cursor)
    finally:
        conn.close()


def vector_batches(path: Any, dimension: int, batch: int) -> Iterator[tuple[list[int], list[int], bytes]]:
    """(chunk id, document id) per vector and the float32 vectors concatenated, for every stored vector of
    ``dimension`` floats (a chunk may hold several: its windows), ``batch`` chunks at a time, in chunk id
    order, from one snapshot on a read-only plain connection."""
    size = 4 * dimension
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {30_000}")
        cursor = conn.execute(
            "SELECT id, document_id, embedding FROM chunks WHERE length(embedding) > 0 "
            "AND length(embedding) % ? = 0 ORDER BY id",
            (size,),
        )
        while rows := cursor.fetchmany(batch):
            counts = [len(r[2]) // size for r in rows]
            ids = [r[0] for r, n in zip(rows, counts, strict=True) for _ in range(n)]
            docs = [r[1] for r, n in zip(rows, counts, strict=True) for _ in range(n)]
            yield ids, docs, b"".join(r[2] for r in rows)
    finally:
        conn.close()


async def all_chunk_ids(conn: Connection) -> list[int]:
    async with conn.execute("SELECT id FROM chunks ORDER BY id") as cur:
        return [row[0] for row in await cur.fetchall()]


async def fts_rows(conn: Connection, ids: Sequence[int]) -> list[tuple[int, int, str, str, str]]:
    """(chunk id, document id, text, heading, title) exactly as ``chunks_fts`` indexed them."""
    rows: list[tuple[int, int, str, str, str]] = []
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        marks = ",".join("?" * len(part))
        sql = (
            "SELECT f.rowid, c.document_id, f.text, f.heading, f.title FROM chunks_fts f "
            f"JOIN chunks c ON c.id = f.rowid WHERE f.rowid IN ({marks}) ORDER BY f.rowid"
        )
        async with conn.execute(sql, part) as cur:
            rows.extend((r[0], r[1], r[2], r[3], r[4]) for r in await cur.fetchall())
    return rows


async def phrase_scores(conn: Connection, match: str) -> list[tuple[int, float]]:
    """(rowid, -bm25) of every row matching ``match``, unordered: the part of a BM25 score that
    multi-token phrases contribute (bm25() sums over phrases, so the parts add up)."""
    w_text, w_heading, w_title = BM25_WEIGHTS
    sql = f"SELECT rowid, -bm25(chunks_fts, {w_text}, {w_heading}, {w_title}) FROM chunks_fts WHERE chunks_fts MATCH ?"
    async with conn.execute(sql, (match,)) as cur:
        return [(row[0], float(row[1])) for row in await cur.fetchall()]


class FtsTokenizer:
    """A private in-memory FTS5 table with the index's tokenizer: text in, the index's terms out.

    Thread-safe (one lock); used for chunks added after the lexical index was built and for query words.
    """

    def __init__(self, tokenize: str) -> None:
        import threading

        self.tokenize = tokenize
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        quoted = "'" + tokenize.replace("'", "''") + "'"
        self._conn.execute(f"CREATE VIRTUAL TABLE scratch USING fts5(text, heading, title, tokenize = {quoted})")
        self._conn.execute("CREATE VIRTUAL TABLE scratch_vocab USING fts5vocab(scratch, instance)")

    def postings(self, rows: Sequence[tuple[int, str, str, str]]) -> list[tuple[str, str]]:
        """(term, posting codes) by term for ``(rowid, text, heading, title)`` rows."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT INTO scratch (rowid, text, heading, title) VALUES (?, ?, ?, ?)", rows)
                sql = f"SELECT term, group_concat({_CODE}) FROM scratch_vocab GROUP BY term"
                result = [(r[0], r[1]) for r in self._conn.execute(sql)]
            finally:
                self._conn.execute("ROLLBACK")
        return result

    def terms(self, text: str) -> list[str]:
        """The terms FTS5 makes of ``text``, in order."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("INSERT INTO scratch (rowid, text) VALUES (1, ?)", (text,))
                sql = "SELECT term FROM scratch_vocab ORDER BY offset"
                result = [r[0] for r in self._conn.execute(sql)]
            finally:
                self._conn.execute("ROLLBACK")
        return result

    def close(self) -> None:
        self._conn.close()


# -- feedback ------------------------------------------------------------------------------------


async def add_feedback(
    conn: Connection, *, text_hash: str, chunk_id: int, query: str, query_key: str, useful: bool
) -> None:
    await conn.execute(
        "INSERT INTO feedback (text_hash, chunk_id, query, query_key, useful, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (text_hash, chunk_id, query, query_key, int(useful), now_iso()),
    )


async def feedback_counts(
    conn: Connection, hashes: Sequence[str], query_key: str
) -> dict[str, tuple[int, int, int, int]]:
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
    async with conn.execute(sql, (query_key, query_key, *unique)) as cur:
        for row in await cur.fetchall():
            result[row[0]] = (int(row[1]), int(row[2]), int(row[3]), int(row[4]))
    return result


async def feedback_total(conn: Connection) -> int:
    async with conn.execute("SELECT count(*) FROM feedback") as cur:
        return int((await cur.fetchone())[0])  # type: ignore[index]


# -- ingest errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestErrorRow:
    source: str
    kind: str
    message: str
    failed_at: str


async def set_ingest_error(conn: Connection, source: str, kind: str, message: str) -> None:
    await conn.execute(
        "INSERT INTO ingest_errors (source, kind, message, failed_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (source) DO UPDATE SET kind = excluded.kind, message = excluded.message, "
        "failed_at = excluded.failed_at",
        (source, kind, message, now_iso()),
    )


async def clear_ingest_errors(conn: Connection, sources: Sequence[str]) -> None:
    await conn.executemany("DELETE FROM ingest_errors WHERE source = ?", [(s,) for s in sources])


async def ingest_errors(conn: Connection) -> dict[str, IngestErrorRow]:
    async with conn.execute("SELECT source, kind, message, failed_at FROM ingest_errors ORDER BY source") as cur:
        return {row[0]: IngestErrorRow(*row) for row in await cur.fetchall()}


# -- evaluation runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalRunRow:
    """One search mode's scores in one stored evaluation run."""

    id: int
    run: int
    run_at: str
    mode: str
    k: int
    case_count: int
    dataset_hash: str
    recall: float
    precision: float
    mrr: float
    ndcg: float
    hit_rate: float
    misses: int


_EVAL_COLUMNS = "run, run_at, mode, k, case_count, dataset_hash, recall, precision, mrr, ndcg, hit_rate, misses"


async def add_eval_runs(conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Store one evaluation run (a row per mode, keys as in :class:`EvalRunRow` without ``id`` and
    ``run``); returns its run number."""
    async with conn.execute("SELECT coalesce(max(run), 0) + 1 FROM eval_runs") as cur:
        run = int((await cur.fetchone())[0])  # type: ignore[index]
    names = _EVAL_COLUMNS.split(", ")
    await conn.executemany(
        f"INSERT INTO eval_runs ({_EVAL_COLUMNS}) VALUES ({', '.join('?' * len(names))})",
        [tuple(run if n == "run" else row[n] for n in names) for row in rows],
    )
    return run


async def recent_eval_runs(conn: Connection, limit: int) -> list[EvalRunRow]:
    """The newest ``limit`` rows, oldest first."""
    async with conn.execute(f"SELECT id, {_EVAL_COLUMNS} FROM eval_runs ORDER BY id DESC LIMIT ?", (limit,)) as cur:
        rows = await cur.fetchall()
    return [EvalRunRow(*row) for row in reversed(list(rows))]


# -- stats ---------------------------------------------------------------------------------------


async def totals(conn: Connection) -> dict[str, Any]:
    async with conn.execute(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(chunk_count), 0), max(updated_at) FROM documents"
    ) as cur:
        docs, size, chunk_total, last = await cur.fetchone()  # type: ignore[misc]
    async with conn.execute("SELECT doc_type, count(*) FROM documents GROUP BY doc_type ORDER BY doc_type") as cur:
        by_type = {row[0]: row[1] for row in await cur.fetchall()}
    async with conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NOT NULL") as cur:
        embedded = (await cur.fetchone())[0]  # type: ignore[index]
    async with conn.execute("SELECT coalesce(sum(token_count), 0) FROM chunks") as cur:
        tokens = (await cur.fetchone())[0]  # type: ignore[index]
    async with conn.execute("SELECT tag, count(*) FROM doc_tags GROUP BY tag ORDER BY count(*) DESC LIMIT 50") as cur:
        tags = {row[0]: row[1] for row in await cur.fetchall()}
    return {
        "documents": docs,
        "bytes": size,
        "chunks": chunk_total,
        "embedded_chunks": embedded,
        "tokens": tokens,
        "by_type": by_type,
        "tags": tags,
        "last_update": last,
    }
