"""Semantic search for a one-shot process: a streaming scan of the stored vectors, no in-memory matrix.

A terminal ``search`` runs once and exits, so loading every vector into a :class:`~.vectors.VectorIndex`
(three copies of a 40 MB matrix at 40k chunks) costs more than the one matrix-vector product it
serves. The scan reads the vectors in batches on its own read-only connection (one WAL snapshot),
scores each batch and keeps the running top ``k``: the same cosine ranking, at a fraction of the
memory and time. A long-running server keeps the in-memory index instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


# batch size -> (chunk ids, document ids, their float32 vectors concatenated), in chunk id order
Batches = Callable[[int], Iterator[tuple[list[int], list[int], bytes]]]


class VectorScan:
    """The :meth:`~.vectors.VectorIndex.search` contract over stored vectors, read in ``batches``."""

    def __init__(self, batches: Batches, dimension: int, batch: int = 8192) -> None:
        self.batches = batches
        self.dimension = dimension
        self.batch = batch

    def search(self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, cosine) for a unit ``query``; ``doc_ids`` restricts the rows searched."""
        import numpy as np

        if k <= 0:
            return []
        query = query.astype(np.float32, copy=False)
        allowed = np.asarray(doc_ids, dtype=np.int64) if doc_ids is not None else None
        best_ids = np.zeros(0, dtype=np.int64)
        best_scores = np.zeros(0, dtype=np.float32)
        for ids, docs, blob in self.batches(self.batch):
            scores = np.frombuffer(blob, dtype=np.float32).reshape(len(ids), self.dimension) @ query
            chunk_ids = np.asarray(ids, dtype=np.int64)
            if allowed is not None:
                keep = np.isin(np.asarray(docs, dtype=np.int64), allowed)
                scores, chunk_ids = scores[keep], chunk_ids[keep]
            best_ids, best_scores = _best_per_chunk(
                np.concatenate([best_ids, chunk_ids]), np.concatenate([best_scores, scores])
            )
            if len(best_ids) > k:
                top = np.argpartition(-best_scores, k - 1)[:k]
                best_ids, best_scores = best_ids[top], best_scores[top]
        # Highest score first; equal scores by chunk id, as the in-memory index (rows in id order) ranks them.
        order = np.lexsort((best_ids, -best_scores))
        return [(int(best_ids[i]), float(best_scores[i])) for i in order[:k]]


def _best_per_chunk(ids: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each chunk id once, with the best score of its vectors (a chunk may hold one per window)."""
    import numpy as np

    order = np.lexsort((-scores, ids))
    ids, scores = ids[order], scores[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    return ids[first], scores[first]
