"""The in-memory vector index alone, on a real index: search time and agreement with the exact scan.

Loads every stored vector of a retrieval database into a :class:`~mcp_suite.servers.retrieval.vectors.VectorIndex`,
embeds the benchmark questions with the built-in wordllama model, and times ``VectorIndex.search`` per
query (p50/p95, one thread, no MCP). The control is the exact scan: every row scored on every dimension
(the naive ``matrix @ query``, each chunk by its best row). Reported: the top-10 overlap with that scan,
and how often the exact top hit is the index's top hit. ``--coarse-from`` lowers the row count from which
the shortlist path runs, so a small real index exercises it too.

    python bench/vector_bench.py DB                      # e.g. a --keep'd scale-100000/retrieval.db
    python bench/vector_bench.py DB --coarse-from 1000   # force the shortlist on a small index
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = REPO / "bench" / "data" / "sqlite_questions.jsonl"


async def _load(db: Path) -> tuple[list[tuple[int, int, bytes]], int]:
    from mcp_suite.servers.retrieval.storage.factory import open_storage
    from mcp_suite.shared.database_url import SqliteUrl

    storage = await open_storage(SqliteUrl(db))
    try:
        async with storage.snapshot() as tx:
            info = await tx.recorded_embedder()
            rows = await tx.vectors()
    finally:
        await storage.close()
    return rows, (info.dimension if info else 256)


def _queries(path: Path, limit: int) -> list[str]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [case["query"] for case in lines][:limit]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="a retrieval SQLite database")
    parser.add_argument("--queries", type=int, default=78)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--coarse-from", type=int, help="rows from which the shortlist runs (default: the module's)")
    parser.add_argument("--coarse-dims", type=int, help="prefix dimensions of the coarse pass (default: the module's)")
    parser.add_argument("--shortlist", type=int, help="rows rescored on every dimension (default: the module's)")
    parser.add_argument("-k", type=int, default=50, help="chunks asked for per search (the server asks 50)")
    args = parser.parse_args()

    import numpy as np

    from mcp_suite.servers.retrieval import vectors
    from mcp_suite.shared.embeddings import WordLlamaEmbedder

    if args.coarse_from is not None:
        vectors.COARSE_FROM = args.coarse_from
    if args.coarse_dims is not None:
        vectors.COARSE_DIMS = args.coarse_dims
    if args.shortlist is not None:
        vectors.SHORTLIST = args.shortlist
    rows, dimension = asyncio.run(_load(args.db))
    index = vectors.VectorIndex(dimension)
    started = time.perf_counter()
    index.add_blobs(rows)
    load_s = time.perf_counter() - started
    queries = _queries(QUESTIONS, args.queries)
    embedded = WordLlamaEmbedder().embed_sync(queries)

    # The exact control: every row on every dimension, each chunk by its best row.
    size = 4 * dimension
    full = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(-1, dimension)
    owner = np.repeat(np.asarray([r[0] for r in rows], dtype=np.int64), [len(r[2]) // size for r in rows])

    def exact(query: np.ndarray, k: int) -> list[int]:
        scores = full @ query
        order = np.argsort(-scores, kind="stable")
        _, first = np.unique(owner[order], return_index=True)
        return [int(owner[order[i]]) for i in np.sort(first)[:k]]

    times: list[float] = []
    overlap: list[float] = []
    top1 = 0
    for repeat in range(args.repeats):
        for query in embedded:
            t = time.perf_counter()
            found = index.search(query, args.k)
            times.append(time.perf_counter() - t)
            if repeat == 0:
                want = exact(query, 10)
                got = [cid for cid, _ in found[:10]]
                overlap.append(len(set(want) & set(got)) / len(want))
                top1 += bool(got) and got[0] == want[0]
    times.sort()
    print(
        json.dumps(
            {
                "db": str(args.db),
                "chunks": len(index),
                "rows": len(full),
                "coarse_from": vectors.COARSE_FROM,
                "coarse_dims": vectors.COARSE_DIMS,
                "shortlist": vectors.SHORTLIST,
                "load_s": round(load_s, 2),
                "search_p50_ms": round(1000 * statistics.median(times), 2),
                "search_p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 2),
                "top10_overlap_with_exact": round(statistics.mean(overlap), 4),
                "top1_agrees": f"{top1}/{len(embedded)}",
                "load_avg": [round(x, 2) for x in os.getloadavg()],
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
