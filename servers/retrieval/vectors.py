"""The in-memory vector index: a contiguous matrix of unit float32 rows searched by brute force.

At 100k chunks × 256 dims a matrix-vector product is ~25 MFLOP, a few milliseconds on one core,
so exact search needs no ANN structure. The matrix grows by doubling its capacity; removed rows
are tombstoned and the matrix compacted once a quarter of it is dead, so incremental updates from
ingests never copy the whole matrix per document.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class VectorIndex:
    """Chunk id → unit vector, with the document id of each row for pre-ranking filters."""

    def __init__(self, dimension: int) -> None:
        import numpy as np

        self.dimension = dimension
        self._matrix = np.zeros((0, dimension), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._used = 0
        self._row: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self._row

    def ids(self) -> set[int]:
        return set(self._row)

    def add(self, chunk_ids: Sequence[int], doc_ids: Sequence[int], vectors: np.ndarray) -> None:
        import numpy as np

        if len(chunk_ids) == 0:
            return
        if vectors.shape != (len(chunk_ids), self.dimension):
            raise ValueError(f"expected {len(chunk_ids)} vectors of {self.dimension} dims, got {vectors.shape}")
        self.remove([cid for cid in chunk_ids if cid in self._row])
        need = self._used + len(chunk_ids)
        if need > len(self._ids):
            self._grow(max(need, 2 * len(self._ids), 1024))
        start, end = self._used, need
        self._matrix[start:end] = vectors
        self._ids[start:end] = np.asarray(chunk_ids, dtype=np.int64)
        self._docs[start:end] = np.asarray(doc_ids, dtype=np.int64)
        self._alive[start:end] = True
        for offset, cid in enumerate(chunk_ids):
            self._row[int(cid)] = start + offset
        self._used = end

    def add_blobs(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Add ``(chunk id, document id, float32 blob)`` rows as the store returns them."""
        import numpy as np

        rows = [row for row in rows if row[2] is not None and len(row[2]) == 4 * self.dimension]
        if not rows:
            return
        matrix = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32).reshape(len(rows), self.dimension)
        self.add([row[0] for row in rows], [row[1] for row in rows], matrix)

    def remove(self, chunk_ids: Sequence[int]) -> None:
        for cid in chunk_ids:
            row = self._row.pop(int(cid), None)
            if row is not None:
                self._alive[row] = False
        if self._used > 4096 and len(self._row) < 0.75 * self._used:
            self._compact()

    def search(self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine) for a unit ``query``; ``doc_ids`` restricts the rows searched."""
        import numpy as np

        if self._used == 0 or k <= 0:
            return []
        used = self._used
        scores = self._matrix[:used] @ query.astype(np.float32, copy=False)
        mask = self._alive[:used]
        if doc_ids is not None:
            mask = mask & np.isin(self._docs[:used], np.asarray(doc_ids, dtype=np.int64))
        scores = np.where(mask, scores, -np.inf)
        candidates = int(mask.sum())
        if candidates == 0:
            return []
        k = min(k, candidates)
        top = np.argpartition(-scores, k - 1)[:k] if k < used else np.arange(used)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._ids[i]), float(scores[i])) for i in top[:k] if mask[i]]

    def _grow(self, capacity: int) -> None:
        import numpy as np

        matrix = np.zeros((capacity, self.dimension), dtype=np.float32)
        matrix[: self._used] = self._matrix[: self._used]
        ids = np.zeros(capacity, dtype=np.int64)
        ids[: self._used] = self._ids[: self._used]
        docs = np.zeros(capacity, dtype=np.int64)
        docs[: self._used] = self._docs[: self._used]
        alive = np.zeros(capacity, dtype=bool)
        alive[: self._used] = self._alive[: self._used]
        self._matrix, self._ids, self._docs, self._alive = matrix, ids, docs, alive

    def _compact(self) -> None:
        keep = self._alive[: self._used].nonzero()[0]
        n = len(keep)
        self._matrix[:n] = self._matrix[keep]
        self._ids[:n] = self._ids[keep]
        self._docs[:n] = self._docs[keep]
        self._alive[:n] = True
        self._alive[n:] = False
        self._used = n
        self._row = {int(cid): row for row, cid in enumerate(self._ids[:n])}
