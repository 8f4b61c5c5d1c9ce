"""A one-shot search's vectors: a memory-mapped copy of a SQLite index's vectors beside it, rebuilt when stale.

A terminal ``search`` runs once and exits. Streaming every vector blob out of SQLite costs about a
second at 40k chunks (~90k window vectors), every call. So the first search writes the rows, laid out
as the in-memory index lays them out (:class:`~mcp_suite.servers.retrieval.vectors.Rows`: chunk ids,
document ids, the renormalised coarse prefixes, the full float32 vectors), to ``<database>.vectors``;
later searches map that file and read only what they scan: the coarse prefixes and the shortlisted
rows, from the page cache. The same arrays and the same search give the running server's hits.

The file is current when its header holds the database's ``vector_generation`` row: a random id of the
database and a counter that triggers bump on every insert, delete or vector update of a chunk, in the
transaction that makes it (sqlite_schema.py). The key is read in the same read transaction as a
rebuild's rows, so a file never claims a generation its rows are not from. A stale or unreadable file
is rebuilt into a temporary file renamed over it (a concurrent search maps a whole old or a whole new
file); where the folder is not writable the rows serve from memory.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import sqlite3
import stat
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from mcp_suite.servers.retrieval.vectors import Rows, coarse_dims, coarse_rows, single_threaded_blas
from mcp_suite.shared.errors import StorageError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

MAGIC = b"MCPSVEC1"
_ALIGN = 64
_HEAD = struct.Struct("<8sI")  # magic, header JSON length
Key = tuple[str, int]  # (database id, vector generation)


def cache_path(database: Path) -> Path:
    return database.with_name(database.name + ".vectors")


class CachedVectorSearch:
    """The :meth:`~mcp_suite.servers.retrieval.vectors.VectorIndex.search` contract over the cache file of the
    SQLite index at ``database`` (vectors of ``dimension`` floats), brought up to date on first use."""

    def __init__(self, database: Path, dimension: int) -> None:
        self.database = database
        self.dimension = dimension
        self.path = cache_path(database)
        self._rows: Rows | None = None
        self._map: mmap.mmap | None = None

    def search(self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine of its best vector) for a unit ``query``; ``doc_ids`` restricts the rows."""
        if self._rows is None:
            self._rows = self.load()
        return self._rows.search(query, k, doc_ids)

    def load(self) -> Rows:
        """The current rows: mapped from the cache file when it matches the database, else read and cached."""
        single_threaded_blas()
        if not self.database.is_file():  # e.g. ":memory:": another connection cannot read it
            raise StorageError(f"{self.database} is not a file another connection can read")
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("BEGIN")  # one snapshot: the key and, on a rebuild, the rows it describes
            key = _key(conn)
            if key is not None:
                mapped = self._open(key)
                if mapped is not None:
                    return mapped
            rows = _read_rows(conn, self.dimension)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read the vectors of {self.database}: {exc}") from exc
        finally:
            conn.close()
        if key is not None:
            self._write(key, rows)
        return rows

    def _open(self, key: Key) -> Rows | None:
        """The cache file's rows if the file is whole and holds ``key`` with this dimension."""
        import numpy as np

        try:
            with open(self.path, "rb") as handle:
                magic, size = _HEAD.unpack(handle.read(_HEAD.size))
                if magic != MAGIC or size > 4096:
                    return None
                header = json.loads(handle.read(size))
                if (header.get("key") != [key[0], key[1]] or header.get("dimension") != self.dimension) or header.get(
                    "coarse_dims"
                ) != coarse_dims(self.dimension):
                    return None
                n, dims, cdims = int(header["rows"]), self.dimension, int(header["coarse_dims"])
                if n == 0:
                    return _empty(dims)
                buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, KeyError, struct.error):
            return None
        offsets = _layout(_HEAD.size + size, n, dims, cdims)
        if len(buffer) < offsets[-1]:
            buffer.close()
            return None
        self._map = buffer  # the arrays below are views of it: keep it open as long as this object lives
        return Rows(
            matrix=np.frombuffer(buffer, np.float32, n * dims, offsets[3]).reshape(n, dims),
            coarse=np.frombuffer(buffer, np.float32, n * cdims, offsets[2]).reshape(n, cdims),
            ids=np.frombuffer(buffer, np.int64, n, offsets[0]),
            docs=np.frombuffer(buffer, np.int64, n, offsets[1]),
        )

    def _write(self, key: Key, rows: Rows) -> None:
        """Write ``rows`` under ``key`` to a temporary file and rename it over the cache (best effort)."""
        import numpy as np

        header = json.dumps(
            {"key": list(key), "rows": len(rows.ids), "dimension": self.dimension, "coarse_dims": rows.coarse.shape[1]}
        ).encode()
        offsets = _layout(_HEAD.size + len(header), len(rows.ids), self.dimension, rows.coarse.shape[1])
        temp: str | None = None
        try:
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(_HEAD.pack(MAGIC, len(header)) + header)
                for offset, array in zip(offsets, (rows.ids, rows.docs, rows.coarse, rows.matrix), strict=False):
                    _pad_to(handle, offset)
                    if array.size:
                        handle.write(np.ascontiguousarray(array).data)
            # The cache holds what the database holds: readable by the same people, no more.
            os.chmod(temp, stat.S_IMODE(self.database.stat().st_mode))
            os.replace(temp, self.path)
        except OSError as exc:
            log.debug("vector cache %s not written: %s", self.path, exc)
            if temp is not None:
                Path(temp).unlink(missing_ok=True)


def _key(conn: sqlite3.Connection) -> Key | None:
    try:
        row = conn.execute("SELECT index_id, generation FROM vector_generation WHERE id = 1").fetchone()
    except sqlite3.OperationalError:  # a database from before the counter: no cache, read the rows
        return None
    return (str(row[0]), int(row[1])) if row else None


def _read_rows(conn: sqlite3.Connection, dimension: int) -> Rows:
    """Every stored vector of ``dimension`` floats (a chunk may hold several: its windows), in chunk id order."""
    import numpy as np

    size = 4 * dimension
    found = conn.execute(
        "SELECT id, document_id, embedding FROM chunks WHERE length(embedding) > 0 "
        "AND length(embedding) % ? = 0 ORDER BY id",
        (size,),
    ).fetchall()
    if not found:
        return _empty(dimension)
    counts = [len(row[2]) // size for row in found]
    matrix = np.frombuffer(b"".join(row[2] for row in found), dtype=np.float32).reshape(-1, dimension)
    cdims = coarse_dims(dimension)
    return Rows(
        matrix=matrix,
        coarse=coarse_rows(matrix, cdims) if cdims else np.zeros((len(matrix), 0), dtype=np.float32),
        ids=np.repeat(np.asarray([row[0] for row in found], dtype=np.int64), counts),
        docs=np.repeat(np.asarray([row[1] for row in found], dtype=np.int64), counts),
    )


def _empty(dimension: int) -> Rows:
    import numpy as np

    cdims = coarse_dims(dimension)
    empty = np.zeros(0, dtype=np.int64)
    return Rows(np.zeros((0, dimension), np.float32), np.zeros((0, cdims), np.float32), empty, empty)


def _layout(start: int, n: int, dims: int, cdims: int) -> list[int]:
    """Byte offsets of ids, docs, coarse and matrix (each 64-byte aligned), then the file's end."""
    offsets: list[int] = []
    at = start
    for size in (8 * n, 8 * n, 4 * n * cdims, 4 * n * dims):
        at = -(-at // _ALIGN) * _ALIGN
        offsets.append(at)
        at += size
    return [*offsets, at]


def _pad_to(handle: BinaryIO, offset: int) -> None:
    gap = offset - handle.tell()
    if gap:
        handle.write(b"\0" * gap)
