"""The in-memory vector index's fast paths: the sampled shortlist threshold and one BLAS thread."""

from __future__ import annotations

import numpy as np
import pytest

from mcp_suite.servers.retrieval import vectors
from mcp_suite.servers.retrieval.vectors import VectorIndex, top_rows


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = matrix.astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.mark.parametrize("n", [50, 5_000, 100_000])
def test_top_rows_holds_every_score_at_or_above_the_cut(n: int) -> None:
    rng = np.random.default_rng(n)
    for scores in (rng.standard_normal(n).astype(np.float32), np.round(rng.random(n), 2)):  # with many ties
        for count in (1, 10, 400, n):
            rows = top_rows(scores, count)
            assert len(np.unique(rows)) == len(rows) >= min(count, n)
            kth = np.sort(scores)[::-1][min(count, n) - 1]
            assert set(np.flatnonzero(scores > kth)) <= set(rows.tolist())  # nothing better left out
            assert len(rows) <= max(4 * count, n if count >= n else 0)  # a shortlist, not everything


def test_top_rows_falls_back_when_the_sample_misleads() -> None:
    # Every sampled position (multiples of the stride) scores low, every other row high: the estimated
    # threshold admits far too many rows, and the exact partition takes over.
    n = 100_000
    scores = np.ones(n, dtype=np.float32)
    scores[:: n // vectors._SAMPLE] = 0.0
    rows = top_rows(scores, 100)
    assert len(rows) == 100 and scores[rows].min() == 1.0


def test_sampled_shortlist_returns_the_exact_top_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``COARSE_FROM`` rows the index shortlists on the 64-dim prefix (threshold from a sample), then
    rescores on every dimension: on vectors whose prefix carries their meaning (as Matryoshka-trained ones
    do), its top 10 is the exact scan's."""
    monkeypatch.setattr(vectors, "COARSE_FROM", 1_000)
    monkeypatch.setattr(vectors, "SHORTLIST", 500)
    monkeypatch.setattr(vectors, "_SAMPLE", 1_000)  # 12k rows: the threshold comes from every 12th score
    rng = np.random.default_rng(11)
    chunks, dims = 6_000, 256
    topics = _unit(rng.standard_normal((60, dims)))
    # Each chunk: 2 windows near one topic, so rows of one chunk and of one topic compete.
    base = np.repeat(topics[rng.integers(0, 60, chunks)], 2, axis=0)
    matrix = _unit(base + 0.9 * rng.standard_normal((2 * chunks, dims)) / np.sqrt(dims))
    index = VectorIndex(dims)
    index.add(list(range(chunks)), [i % 7 for i in range(chunks)], matrix, counts=[2] * chunks)
    owner = np.repeat(np.arange(chunks), 2)

    def exact(query: np.ndarray, k: int, docs: set[int] | None = None) -> list[int]:
        order = np.argsort(-(matrix @ query), kind="stable")
        found: list[int] = []
        for row in order:
            cid = int(owner[row])
            if cid not in found and (docs is None or cid % 7 in docs):
                found.append(cid)
            if len(found) == k:
                break
        return found

    for q in range(20):
        query = _unit(matrix[rng.integers(0, 2 * chunks)][None] + 0.5 * rng.standard_normal((1, dims)) / 16)[0]
        assert [cid for cid, _ in index.search(query, 10)] == exact(query, 10), q
        filtered = index.search(query, 10, doc_ids=[2, 5])
        assert [cid for cid, _ in filtered] == exact(query, 10, {2, 5}), q
    index.remove(list(range(0, chunks, 3)))  # tombstones mask rows out of the shortlist
    query = matrix[2 * 4]
    assert index.search(query, 1)[0] == (4, pytest.approx(1.0, abs=1e-5))
    assert all(cid % 3 for cid, _ in index.search(query, 50))


def test_vector_search_runs_blas_on_one_thread() -> None:
    from threadpoolctl import threadpool_info

    VectorIndex(8)
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)
