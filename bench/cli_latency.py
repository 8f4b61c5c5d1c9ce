"""End-to-end latency of ``mcp-suite retrieval search`` from a terminal on a 40,000-chunk index (issue 12 item 6).

Builds (once, kept in ``--data-dir``) an index of the SQLite documentation from Debian's ``sqlite3-doc``
scaled up to ``--chunks`` chunks with the benchmark's synthetic copies (perturbed text and vectors,
see ``retrieval_bench.build_scaled_index``), then times whole CLI processes — interpreter start,
imports, opening the database, the search and printing — per mode, against the target of 1.5 s.
The control is the in-process server path (``search`` with the in-memory indexes already built), as a
running server answers.

    python bench/cli_latency.py                      # 40k chunks, 5 queries x 3 modes
    python bench/cli_latency.py --chunks 10000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

QUERIES = (
    "how do I enable write-ahead logging",
    "maximum length of a string or BLOB",
    "what does the VACUUM command do",
    "foreign key constraints are not enforced",
    "datetime functions modifiers",
)
MODES = ("hybrid", "lexical", "semantic")


def _mcp_suite() -> str:
    return str(Path(sys.executable).with_name("mcp-suite"))


async def _build(data_dir: Path, chunks: int, corpus: Path) -> None:
    from retrieval_bench import build_scaled_index  # type: ignore[import-not-found]

    from mcp_suite.servers.retrieval.factory import build_embedder
    from mcp_suite.servers.retrieval.ingest import IngestOptions, Ingestor
    from mcp_suite.servers.retrieval.library import KnowledgeBase
    from mcp_suite.servers.retrieval.settings import RetrievalSettings

    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "base.db"
        kb = await KnowledgeBase.open(base, build_embedder(RetrievalSettings(data_dir=Path(scratch))))
        report = await Ingestor(kb, IngestOptions(include=["*.html"])).ingest_paths([corpus])
        await kb.close()
        print(f"base index: {report.summary()}", file=sys.stderr)
        seconds = await build_scaled_index(base, data_dir, chunks)
        print(f"scaled to {chunks} chunks in {seconds:.1f}s", file=sys.stderr)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time_cli(data_dir: Path, query: str, mode: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one whole CLI search process."""
    argv = [_mcp_suite(), "retrieval", "search", query, "--mode", mode, "-k", "5", "--data-dir", str(data_dir)]
    cpu = _cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"search failed: {done.stderr}")
    return elapsed, _cpu() - cpu


async def _server_path(data_dir: Path) -> dict[str, float]:
    from mcp_suite.servers.retrieval.factory import build_embedder
    from mcp_suite.servers.retrieval.library import KnowledgeBase
    from mcp_suite.servers.retrieval.search import search
    from mcp_suite.servers.retrieval.settings import RetrievalSettings

    kb = await KnowledgeBase.open(data_dir / "retrieval.db", build_embedder(RetrievalSettings(data_dir=data_dir)))
    try:
        result: dict[str, float] = {}
        for mode in MODES:
            await search(kb, QUERIES[0], k=5, mode=mode)  # warm: builds the in-memory indexes once
            times = []
            for query in QUERIES:
                started = time.perf_counter()
                await search(kb, query, k=5, mode=mode)
                times.append(time.perf_counter() - started)
            result[mode] = 1000 * statistics.median(times)
        return result
    finally:
        await kb.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "mcp-suite-cli-bench")
    parser.add_argument("--chunks", type=int, default=40_000)
    parser.add_argument("--corpus", type=Path, default=Path("/usr/share/doc/sqlite3"))
    parser.add_argument("--runs", type=int, default=1, help="CLI runs per query and mode")
    args = parser.parse_args()
    if not (args.data_dir / "retrieval.db").exists():
        if not args.corpus.is_dir():
            raise SystemExit(f"{args.corpus} is missing: apt-get install sqlite3-doc, or pass --corpus")
        asyncio.run(_build(args.data_dir, args.chunks, args.corpus))
    _time_cli(args.data_dir, QUERIES[0], "hybrid")  # warm the page cache, as a user's second search would be
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores (wall time includes waiting for a core)\n")
    print("| mode | CLI wall p50 (s) | CLI wall max (s) | CLI CPU p50 (s) | server path p50 (ms) |")
    print("|---|---|---|---|---|")
    server = asyncio.run(_server_path(args.data_dir))
    worst = 0.0
    for mode in MODES:
        runs = [_time_cli(args.data_dir, q, mode) for q in QUERIES for _ in range(args.runs)]
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        worst = max(worst, max(walls))
        print(
            f"| {mode} | {statistics.median(walls):.2f} | {max(walls):.2f} | {statistics.median(cpus):.2f} "
            f"| {server[mode]:.1f} |"
        )
    print(f"\nslowest CLI search: {worst:.2f}s wall (target < 1.5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
