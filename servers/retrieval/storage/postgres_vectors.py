"""Blocking PostgreSQL access for work on a thread: pgvector's nearest-neighbour search for one-shot processes.

The pool belongs to the event loop; a search that runs on a worker thread (as the in-memory matrix product
does) opens its own plain connection, which a one-shot CLI search does once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from mcp_suite.shared.database_url import PostgresUrl

if TYPE_CHECKING:
    import numpy as np


def to_pgvector(blob: bytes | None) -> np.ndarray | None:
    import numpy as np

    return None if blob is None else np.frombuffer(blob, dtype="<f4")


def to_blob(vector: Any) -> bytes:
    """A loaded ``vector`` (pgvector's ``Vector``) as the float32 blob the rest of the server handles."""
    import numpy as np

    values = vector.to_numpy() if hasattr(vector, "to_numpy") else vector
    return np.asarray(values, dtype="<f4").tobytes()


class PgVectorSearch:
    """Nearest stored vectors by pgvector, for one-shot processes: the HNSW index when nothing is filtered,
    an exact scan of the filtered rows otherwise (HNSW would cut the candidates before the filter)."""

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
                conn.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(40, min(k, 1000)))))
                statement = sql.SQL(
                    "SELECT id, 1 - (embedding::vector({d}) <=> %s::vector({d})) AS score FROM chunks "
                    "WHERE vector_dims(embedding) = {d} ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT %s"
                ).format(d=dim)
                rows = conn.execute(statement, (vector, vector, k)).fetchall()
            else:
                statement = sql.SQL(
                    "SELECT id, 1 - (embedding <=> %s::vector) AS score FROM chunks "
                    "WHERE vector_dims(embedding) = {d} AND document_id = ANY(%s) ORDER BY score DESC, id LIMIT %s"
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
