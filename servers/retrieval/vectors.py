"""The in-memory vector index: a contiguous matrix of unit float32 rows searched by brute force.

A chunk may own several consecutive rows, one per embedded window (views.py); it scores by its
best row. At 100k chunks × 256 dims a matrix-vector product is ~25 MFLOP per vector per chunk,
a few milliseconds on one core, so exact search needs no ANN structure. Past ``COARSE_FROM`` rows
the product runs first on each row's leading ``COARSE_DIMS`` dimensions (renormalised; the
built-in wordllama vectors are Matryoshka-trained, so a prefix is a coarser embedding of the same
text) and only the best ``SHORTLIST`` rows (or a few more) are scored on every dimension: a quarter
of the memory read, so several windows per chunk cost about what one vector per chunk did. The
shortlist is cut at a threshold estimated from a strided sample of the coarse scores, one linear
pass instead of a partition of every row (an exact partition is the fallback when the estimate falls
short).

BLAS runs on one thread (:func:`single_threaded_blas`): a matrix-vector product is bound by memory,
not arithmetic, so a second thread gains little, and on a busy machine OpenBLAS's threads spin
waiting for a core: the search measured 8 ms p50 single-threaded against 33 ms with two threads
at 100k chunks under load.

The matrix grows by doubling its capacity; removed rows are tombstoned and the matrix compacted
once a quarter of it is dead, so incremental updates from ingests never copy the whole matrix per
document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


COARSE_DIMS = 64
COARSE_FROM = 50_000  # rows; below this the exact product is already cheap
SHORTLIST = 4_000  # rows (at least) rescored on every dimension after the coarse pass
_SAMPLE = 8_192  # coarse scores sampled to estimate the shortlist's threshold

_blas_limited = False


def single_threaded_blas() -> None:
    """Limit BLAS to one thread in this process (once; see the module docstring for why)."""
    global _blas_limited
    if _blas_limited:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _blas_limited = True


def coarse_rows(vectors: np.ndarray, dims: int) -> np.ndarray:
    """The leading ``dims`` dimensions of each row, renormalised (the coarse pass's matrix)."""
    import numpy as np

    prefix = vectors[:, :dims]
    norms = np.linalg.norm(prefix, axis=1, keepdims=True)
    out: np.ndarray = (prefix / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)
    return out


def coarse_dims(dimension: int) -> int:
    """Prefix width of the coarse pass for vectors of ``dimension`` (0: none, too narrow to save anything)."""
    return COARSE_DIMS if dimension >= 2 * COARSE_DIMS else 0


@dataclass(frozen=True)
class Rows:
    """Vector rows as parallel arrays (the index's live part, or a memory-mapped cache): each row's full
    vector, its coarse prefix (``coarse_dims`` columns, possibly none), and its chunk and document ids."""

    matrix: np.ndarray
    coarse: np.ndarray
    ids: np.ndarray
    docs: np.ndarray

    def search(
        self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None, alive: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine of its best row) for a unit ``query``, among ``alive`` rows (all when
        None) of the documents ``doc_ids`` (all when None)."""
        import numpy as np

        used = len(self.ids)
        if used == 0 or k <= 0:
            return []
        query = query.astype(np.float32, copy=False)
        mask = alive if alive is not None else np.ones(used, dtype=bool)
        if doc_ids is not None:
            mask = mask & np.isin(self.docs, np.asarray(doc_ids, dtype=np.int64))
        masked = doc_ids is not None or alive is not None  # the common case (no filter, nothing dead) skips the mask
        candidates = int(mask.sum()) if masked else used
        if candidates == 0:
            return []
        if self.coarse.shape[1] and used >= COARSE_FROM and candidates > SHORTLIST:
            rows = self._shortlist(query, mask if masked else None)
            return self._best_chunks(rows, self.matrix[rows] @ query, k)
        scores = self.matrix @ query
        if masked:
            scores = np.where(mask, scores, -np.inf)
        # Rows of one chunk may crowd the top: widen the cut until it holds k distinct chunks.
        take = min(candidates, 4 * k)
        while True:
            top = np.argpartition(-scores, take - 1)[:take] if take < used else np.arange(used)
            top = top[np.argsort(-scores[top], kind="stable")]
            top = top[mask[top]]
            _, first = np.unique(self.ids[top], return_index=True)
            if len(first) >= k or take >= candidates:
                break
            take = min(candidates, 4 * take)
        best = top[np.sort(first)][:k]  # each chunk's best row, best first
        return [(int(self.ids[i]), float(scores[i])) for i in best]

    def _shortlist(self, query: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """At least ``SHORTLIST`` rows whose coarse prefix best matches ``query``'s (live, filtered rows only)."""
        import numpy as np

        prefix = query[: self.coarse.shape[1]]
        norm = float(np.linalg.norm(prefix))
        coarse = self.coarse @ (prefix / norm if norm > 0 else prefix)
        if mask is not None:
            coarse = np.where(mask, coarse, -np.inf)
        rows = top_rows(coarse, SHORTLIST)
        return rows if mask is None else rows[mask[rows]]

    def _best_chunks(self, rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` chunks among ``rows`` (scored ``scores``), each by its best row."""
        import numpy as np

        # Sort only the best few rows (8 per chunk wanted), widening while they hold fewer than k chunks.
        take = min(len(rows), 8 * k)
        while True:
            top = np.argpartition(-scores, take - 1)[:take] if take < len(rows) else np.arange(len(rows))
            top = np.sort(top)  # row order first, so equal scores keep it (as a full stable sort would)
            top = top[np.argsort(-scores[top], kind="stable")]
            _, first = np.unique(self.ids[rows[top]], return_index=True)
            if len(first) >= k or take >= len(rows):
                break
            take = min(len(rows), 4 * take)
        best = top[np.sort(first)[:k]]
        return [(int(self.ids[rows[i]]), float(scores[i])) for i in best]


class VectorIndex:
    """Chunk id → its unit vectors (consecutive rows), with the document id of each row for pre-ranking filters."""

    def __init__(self, dimension: int) -> None:
        import numpy as np

        single_threaded_blas()
        self.dimension = dimension
        self._matrix = np.zeros((0, dimension), dtype=np.float32)
        # The coarse prefix matrix, kept only when it is a real saving (wide vectors).
        self._coarse_dims = coarse_dims(dimension)
        self._coarse = np.zeros((0, self._coarse_dims), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._used = 0
        self._row: dict[int, tuple[int, int]] = {}  # chunk id -> (first row, row count)
        self._dead = 0  # tombstoned rows below ``_used``

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self._row

    def ids(self) -> set[int]:
        return set(self._row)

    def add(
        self,
        chunk_ids: Sequence[int],
        doc_ids: Sequence[int],
        vectors: np.ndarray,
        counts: Sequence[int] | None = None,
    ) -> None:
        """Add (or replace) chunks; ``counts`` gives how many consecutive rows of ``vectors`` each
        chunk owns (one each when not given)."""
        import numpy as np

        if len(chunk_ids) == 0:
            return
        counts = [1] * len(chunk_ids) if counts is None else list(counts)
        if len(counts) != len(chunk_ids) or vectors.shape != (sum(counts), self.dimension):
            raise ValueError(
                f"expected {sum(counts)} vectors of {self.dimension} dims for {len(chunk_ids)} chunks, "
                f"got {vectors.shape}"
            )
        self.remove([cid for cid in chunk_ids if cid in self._row])
        need = self._used + len(vectors)
        if need > len(self._ids):
            self._grow(max(need, 2 * len(self._ids), 1024))
        start, end = self._used, need
        self._matrix[start:end] = vectors
        if self._coarse_dims:
            self._coarse[start:end] = coarse_rows(vectors, self._coarse_dims)
        self._ids[start:end] = np.repeat(np.asarray(chunk_ids, dtype=np.int64), counts)
        self._docs[start:end] = np.repeat(np.asarray(doc_ids, dtype=np.int64), counts)
        self._alive[start:end] = True
        row = start
        for cid, count in zip(chunk_ids, counts, strict=True):
            self._row[int(cid)] = (row, count)
            row += count
        self._used = end

    def add_blobs(self, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Add ``(chunk id, document id, float32 blob)`` rows as the store returns them; a blob holds one
        vector or several (a chunk's windows) concatenated."""
        import numpy as np

        size = 4 * self.dimension
        rows = [row for row in rows if row[2] is not None and row[2] and len(row[2]) % size == 0]
        if not rows:
            return
        matrix = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32).reshape(-1, self.dimension)
        self.add([row[0] for row in rows], [row[1] for row in rows], matrix, [len(row[2]) // size for row in rows])

    def remove(self, chunk_ids: Sequence[int]) -> None:
        for cid in chunk_ids:
            found = self._row.pop(int(cid), None)
            if found is not None:
                self._alive[found[0] : found[0] + found[1]] = False
                self._dead += found[1]
        if self._used > 4096 and self._dead > 0.25 * self._used:
            self._compact()

    def search(self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine of its best vector) for a unit ``query``; ``doc_ids`` restricts the rows."""
        used = self._used
        rows = Rows(self._matrix[:used], self._coarse[:used], self._ids[:used], self._docs[:used])
        return rows.search(query, k, doc_ids, self._alive[:used] if self._dead else None)

    def _grow(self, capacity: int) -> None:
        import numpy as np

        matrix = np.zeros((capacity, self.dimension), dtype=np.float32)
        matrix[: self._used] = self._matrix[: self._used]
        coarse = np.zeros((capacity, self._coarse_dims), dtype=np.float32)
        coarse[: self._used] = self._coarse[: self._used]
        self._coarse = coarse
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
        self._coarse[:n] = self._coarse[keep]
        self._ids[:n] = self._ids[keep]
        self._docs[:n] = self._docs[keep]
        self._alive[:n] = True
        self._alive[n:] = False
        self._used = n
        self._dead = 0
        self._row = {}
        ids = self._ids[:n].tolist()
        for row, cid in enumerate(ids):
            first, count = self._row.get(cid, (row, 0))
            self._row[cid] = (first, count + 1)


def top_rows(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of at least ``count`` highest ``scores`` (every score at or above the ``count``-th), unordered.

    The threshold comes from a strided sample (a quarter more than the expected share, so it rarely
    falls short), then one comparison over all scores; a short cut falls back to an exact partition.
    """
    import numpy as np

    n = len(scores)
    if count >= n:
        return np.arange(n)
    step = n // _SAMPLE
    if step >= 4:
        sample = scores[::step]
        kth = min(len(sample), int(len(sample) * count / n * 1.25) + 8)
        threshold = np.partition(sample, len(sample) - kth)[len(sample) - kth]
        rows = np.flatnonzero(scores >= threshold)
        if count <= len(rows) <= 4 * count:
            return rows
    return np.argpartition(scores, n - count)[n - count :]
