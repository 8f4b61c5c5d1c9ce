"""The SQLite schema of the retrieval index, as ordered migrations, and opening a file with it.

Tables: ``documents`` (one row per source, with its metadata and content hash), ``doc_tags``,
``chunks`` (text, heading path, spans, ordinal, a hash of the text and the float32 vector as a
blob), ``chunks_fts`` (FTS5 over chunk text, heading path and title, for BM25), ``feedback``,
``index_info`` (which embedder built the vectors), ``eval_runs`` (stored evaluation scores) and
``ingest_errors`` (the last ingest error of each source), and ``vector_generation`` (what the one-shot
search's vector cache is checked against).

Migration names are ``retrieval/NNNN_what``; databases written before that recorded ``NNNN_retrieval_what``,
and :func:`open_database` renames those records first so nothing is applied twice.
"""

from __future__ import annotations

from pathlib import Path

from mcp_suite.shared.db import Database, Migration
from mcp_suite.shared.engine import newer_schema_error

MIGRATIONS = [
    Migration(
        "retrieval/0001_schema",
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
        "retrieval/0002_chunk_page_anchor",
        """
        ALTER TABLE chunks ADD COLUMN page INTEGER;
        ALTER TABLE chunks ADD COLUMN anchor TEXT;
        """,
    ),
    # Vectors are reused by a hash of the text actually embedded (title, heading path and chunk text):
    # the same chunk text under another heading is embedded anew. Older rows have none and are not reused.
    Migration(
        "retrieval/0003_chunk_embed_hash",
        """
        ALTER TABLE chunks ADD COLUMN embed_hash TEXT;
        CREATE INDEX chunks_by_embed_hash ON chunks(embed_hash);
        """,
    ),
    # The chunker version a document was chunked by: 0 for every document indexed before it was
    # recorded, so the next ingest re-chunks them (see chunking.CHUNKER_VERSION).
    Migration(
        "retrieval/0004_document_chunker_version",
        """
        ALTER TABLE documents ADD COLUMN chunker_version INTEGER NOT NULL DEFAULT 0;
        """,
    ),
    # Every evaluation run, one row per search mode: the run number ties the modes of one run together,
    # so scores can be followed over time.
    Migration(
        "retrieval/0005_eval_runs",
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
        "retrieval/0006_ingest_errors",
        """
        CREATE TABLE ingest_errors (
            source TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('file', 'url', 'text')),
            message TEXT NOT NULL,
            failed_at TEXT NOT NULL
        );
        """,
    ),
    # A counter every change to a chunk's vectors bumps, in the transaction that makes it, and a random id of
    # this database: together they say whether a one-shot search's vector cache (vector_cache.py) is current.
    # Its own table, not index_info: a copied index gets a new id and is not refused as non-empty.
    Migration(
        "retrieval/0007_vector_generation",
        """
        CREATE TABLE vector_generation (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            index_id TEXT NOT NULL,
            generation INTEGER NOT NULL
        );
        INSERT INTO vector_generation (id, index_id, generation) VALUES (1, lower(hex(randomblob(16))), 0);
        CREATE TRIGGER chunks_generation_insert AFTER INSERT ON chunks BEGIN
            UPDATE vector_generation SET generation = generation + 1 WHERE id = 1;
        END;
        CREATE TRIGGER chunks_generation_delete AFTER DELETE ON chunks BEGIN
            UPDATE vector_generation SET generation = generation + 1 WHERE id = 1;
        END;
        CREATE TRIGGER chunks_generation_update AFTER UPDATE OF embedding, document_id ON chunks BEGIN
            UPDATE vector_generation SET generation = generation + 1 WHERE id = 1;
        END;
        """,
    ),
]

# Names the migrations were recorded under before they carried the server's name.
OLD_NAMES = {
    "0001_retrieval_schema": "retrieval/0001_schema",
    "0002_retrieval_chunk_page_anchor": "retrieval/0002_chunk_page_anchor",
    "0003_retrieval_chunk_embed_hash": "retrieval/0003_chunk_embed_hash",
    "0004_retrieval_document_chunker_version": "retrieval/0004_document_chunker_version",
    "0005_retrieval_eval_runs": "retrieval/0005_eval_runs",
    "0006_retrieval_ingest_errors": "retrieval/0006_ingest_errors",
}


async def open_database(path: Path | str) -> Database:
    """Open ``path`` and bring its schema up to date; refuse a database written by a newer version."""
    db = await Database.open(path)
    try:
        async with db.transaction() as conn:
            async with conn.execute("SELECT name FROM _migrations") as cur:
                recorded = [row[0] for row in await cur.fetchall()]
            await conn.executemany(
                "UPDATE _migrations SET name = ? WHERE name = ?",
                [(new, old) for old, new in OLD_NAMES.items() if old in recorded],
            )
        known = {m.name for m in MIGRATIONS} | set(OLD_NAMES)
        unknown = [name for name in recorded if name not in known]
        if unknown:
            raise newer_schema_error(str(path), unknown)
        await db.migrate(MIGRATIONS)
    except BaseException:
        await db.close()
        raise
    return db
