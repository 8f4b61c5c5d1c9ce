"""Blocking PostgreSQL access for work on a thread: pgvector's nearest-neighbour search for one-shot processes;
and the conversions between the server's vector blobs and ``chunk_vectors`` rows.

The pool belongs to the event loop; a search that runs on a worker thread (as the in-memory matrix product
does) opens its own plain connection, which a one-shot CLI search does once. A chunk's blob holds its window
vectors concatenated (views.py); PostgreSQL keeps one pgvector row per window.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from mcp_suite.servers.retrieval.views import MAX_WINDOWS
from mcp_suite.shared.database_url import PostgresUrl

if TYPE_CHECKING:
    import numpy as np


def split_windows(blob: bytes, dimension: int) -> list[np.ndarray]:
    """A chunk's blob as its window vectors (one vector when ``dimension`` does not divide it: an index
    written before windows, or no recorded dimension)."""
    import numpy as np

    values = np.frombuffer(blob, dtype="<f4")
    if dimension <= 0 or len(values) % dimension or not len(values):
        return [values]
    return list(values.reshape(-1, dimension))


def window_rows(rows: Sequence[tuple[int, bytes | None]], dimension: int) -> list[tuple[int, int, np.ndarray]]:
    """``chunk_vectors`` rows (chunk id, window number, vector) for (chunk id, blob) pairs."""
    return [(cid, n, vector) for cid, blob in rows if blob for n, vector in enumerate(split_windows(blob, dimension))]


def join_windows(rows: Sequence[tuple[Any, ...]]) -> dict[int, bytes]:
    """Chunk id → its blob (window vectors concatenated), from (chunk id, pgvector) rows in window order."""
    parts: dict[int, list[bytes]] = {}
    for row in rows:
        parts.setdefault(int(row[0]), []).append(to_blob(row[1]))
    return {cid: b"".join(blobs) for cid, blobs in parts.items()}


def to_blob(vector: Any) -> bytes:
    """A loaded ``vector`` (pgvector's ``Vector``) as the float32 blob the rest of the server handles."""
    import numpy as np

    values = vector.to_numpy() if hasattr(vector, "to_numpy") else vector
    return np.asarray(values, dtype="<f4").tobytes()


class PgVectorSearch:
    """Nearest chunks by pgvector, for one-shot processes: a chunk scores by its best window, as the in-memory
    index does. The HNSW index when nothing is filtered (over-fetching windows, then collapsing them to
    chunks), an exact scan of the filtered rows otherwise (HNSW would cut the candidates before the filter)."""

    def __init__(self, url: PostgresUrl, schema: str, dimension: int) -> None:
        self.url = url
        self.schema = schema
        self.dimension = dimension

    def search(self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        import numpy as np

        if k <= 0 or not self.dimension:
            return []
        vector = np.asarray(query, dtype=np.float32)
        dim = sql.Literal(self.dimension)
        with sync_connection(self.url, self.schema) as conn, conn.transaction():
            if doc_ids is None:
                # k chunks own at most k * MAX_WINDOWS of the nearest windows.
                fetch = k * MAX_WINDOWS
                conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(40, min(fetch, 1000)))))
                statement = sql.SQL(
                    "SELECT chunk_id, max(score) AS best FROM (SELECT chunk_id, "
                    "1 - (embedding::vector({d}) <=> %s::vector({d})) AS score FROM chunk_vectors "
                    "WHERE vector_dims(embedding) = {d} ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT %s"
                    ") nearest GROUP BY chunk_id ORDER BY best DESC, chunk_id LIMIT %s"
                ).format(d=dim)
                rows = conn.execute(statement, (vector, vector, fetch, k)).fetchall()
            else:
                statement = sql.SQL(
                    "SELECT v.chunk_id, max(1 - (v.embedding <=> %s::vector)) AS best FROM chunk_vectors v "
                    "JOIN chunks c ON c.id = v.chunk_id WHERE vector_dims(v.embedding) = {d} "
                    "AND c.document_id = ANY(%s) GROUP BY v.chunk_id ORDER BY best DESC, v.chunk_id LIMIT %s"
                ).format(d=dim)
                rows = conn.execute(statement, (vector, list(doc_ids), k)).fetchall()
        ranked = sorted(((int(r[0]), float(r[1])) for r in rows), key=lambda item: (-item[1], item[0]))
        return ranked


@contextmanager
def sync_connection(url: PostgresUrl, schema: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A plain blocking connection for work on a thread (the pool is the event loop's)."""
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(url.conninfo, connect_timeout=10)
    try:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        conn.commit()
        register_vector(conn)
        conn.commit()  # start the caller's work in a transaction of its own
        yield conn
    finally:
        conn.close()
