"""Retrieval benchmark on a real corpus: the SQLite documentation that Debian's ``sqlite3-doc`` ships.

What it measures, all through the retrieval server's own MCP surface (an in-memory ``Client``, the
built-in wordllama embedder), except the synthetic scale-up, which writes its rows with the store's
own functions:

* quality — ``bench/data/sqlite_questions.jsonl`` (paraphrased questions whose answers are known
  passages) scored by :func:`mcp_suite.servers.retrieval.evaluation.evaluate` per mode: recall@5, MRR@10,
  nDCG@5, hit rate;
* the hybrid fusion weight sweep (semantic vs lexical RRF weight, RRF k fixed) on the same set;
* ingest throughput — MB/s of source and chunks/s, for the HTML corpus and for Markdown corpora
  (the Node.js API docs Debian's ``nodejs`` ships, if present, and the SQLite pages converted to
  Markdown);
* search latency p50/p95 per mode on the real index, and at 10k and 100k chunks (synthetic
  scale-up: perturbed copies of the real chunks and vectors in a scratch index).

Targets: hybrid beats lexical recall@5 (issue 3); search p50 ≤ 15 ms at 100k chunks in a running server
on SQLite, ≤ 50 ms on PostgreSQL; ingest ≥ 1 MB/s of Markdown (issue 12). Prints a Markdown table and
writes JSON to ``bench/results/``.

    python bench/retrieval_bench.py            # everything (~5-10 min on 2 cores)
    python bench/retrieval_bench.py --quick    # no 100k scale-up, shorter sweep
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcp_suite.servers.retrieval.evaluation import EvalCase, EvalReport, evaluate, load_dataset, percentile  # noqa: E402

_MAX_WAIT = 0.0  # seconds to wait for a quiet machine before each timed phase (--wait-quiet)
QUESTIONS = REPO / "bench" / "data" / "sqlite_questions.jsonl"
RESULTS = REPO / "bench" / "results"
CORPUS_CANDIDATES = (Path("/usr/share/doc/sqlite3"), Path("/usr/share/doc/sqlite3-doc"))
NODE_MARKDOWN = Path("/usr/share/doc/nodejs/api")
MODES = ("lexical", "semantic", "hybrid")
K = 5
INSTALL_HINT = (
    "The benchmark corpus is the SQLite documentation from the Debian package sqlite3-doc.\n"
    "Install it with:  sudo apt-get update && sudo apt-get install -y sqlite3-doc\n"
    "or point --corpus at a folder holding the SQLite HTML docs (lang_select.html, wal.html, ...)."
)


# ---------------------------------------------------------------------------------------------
# Corpus and dataset


def find_corpus(explicit: Path | None) -> Path | None:
    candidates = [explicit] if explicit else list(CORPUS_CANDIDATES)
    for path in candidates:
        if path and (path / "lang_select.html").is_file() and (path / "wal.html").is_file():
            return path
    return None


def corpus_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.rglob(pattern) if p.is_file())


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def verify_dataset(cases: Sequence[EvalCase], corpus: Path) -> list[str]:
    """Every expected_text must occur in the parsed text of its source, as the server will see it."""
    from mcp_suite.servers.retrieval.readers import parse_file

    problems: list[str] = []
    parsed: dict[str, str] = {}
    for case in cases:
        path = corpus / case.expected_source
        if not path.is_file():
            problems.append(f"{case.id}: source {case.expected_source} is not in the corpus")
            continue
        if case.expected_source not in parsed:
            parsed[case.expected_source] = _norm(parse_file(path).text)
        for span in case.expected_spans:
            if _norm(span) not in parsed[case.expected_source]:
                problems.append(f"{case.id}: expected_text {span!r} not in the parsed text of {case.expected_source}")
    return problems


def write_markdown_corpus(files: Sequence[Path], root: Path, out: Path) -> int:
    """Render parsed HTML pages as Markdown (headings, paragraphs, lists, fenced code); returns bytes written."""
    from mcp_suite.servers.retrieval.readers import parse_file

    total = 0
    for path in files:
        doc = parse_file(path)
        parts: list[str] = []
        for block in doc.blocks:
            if block.kind == "heading":
                parts.append("#" * max(1, min(block.level or 1, 6)) + " " + block.text.strip())
            elif block.kind == "code":
                parts.append("```\n" + block.text.rstrip() + "\n```")
            else:
                parts.append(block.text.strip())
        target = out / path.relative_to(root).with_suffix(".md")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = ("\n\n".join(p for p in parts if p) + "\n").encode("utf-8")
        target.write_bytes(data)
        total += len(data)
    return total


# ---------------------------------------------------------------------------------------------
# The server, driven through MCP


@dataclass(frozen=True)
class BenchHit:
    source: str
    text: str
    chunk_id: Any = None


def _data(result: Any) -> Any:
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"tool error: {text}")
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


class Server:
    """One retrieval server over one data dir, with an in-memory MCP client."""

    def __init__(self, data_dir: Path, roots: Sequence[Path], **settings: Any) -> None:
        from mcp_suite.servers.retrieval.settings import RetrievalSettings

        self.settings = RetrievalSettings(data_dir=data_dir, roots=list(roots), embedder="wordllama", **settings)
        self._client: Any = None
        self._stack: Any = None
        self.latency: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    async def __aenter__(self) -> Server:
        from contextlib import AsyncExitStack

        from mcp import Client

        from mcp_suite.servers.retrieval.server import build_server

        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(Client(build_server(self.settings)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def call(self, name: str, args: dict[str, Any]) -> Any:
        return _data(await self._client.call_tool(name, args))

    async def ingest(self, path: Path, include: Sequence[str]) -> Any:
        return await self.call("ingest", {"paths": [str(path)], "include": list(include)})

    async def stats(self) -> dict[str, Any]:
        return dict(await self.call("stats", {}))

    async def search(self, query: str, k: int, mode: str) -> list[BenchHit]:
        started, cpu = time.perf_counter(), time.process_time()
        data = await self.call("search", {"query": query, "k": k, "mode": mode})
        self.latency.setdefault(mode, []).append(time.perf_counter() - started)
        # CPU time of the whole process (event loop + SQLite thread): what the search costs on an idle
        # core, robust against other processes competing for the CPUs.
        self.cpu.setdefault(mode, []).append(time.process_time() - cpu)
        return [
            BenchHit(source=r["source"], text=r["text"], chunk_id=r.get("chunk_id", r.get("id"))) for r in data["hits"]
        ]


def _ms(values: Sequence[float], cpu: Sequence[float] = ()) -> dict[str, float]:
    out = {
        "p50_ms": round(1000 * percentile(values, 50), 2),
        "p95_ms": round(1000 * percentile(values, 95), 2),
        "n": len(values),
    }
    if cpu:
        out["cpu_p50_ms"] = round(1000 * percentile(cpu, 50), 2)
        out["cpu_p95_ms"] = round(1000 * percentile(cpu, 95), 2)
    return out


async def wait_for_quiet(max_wait: float) -> list[float]:
    """Give other processes up to ``max_wait`` s to finish (1-minute load below the CPU count); returns the load."""
    deadline = time.monotonic() + max_wait
    cpus = os.cpu_count() or 1
    while os.getloadavg()[0] > cpus and time.monotonic() < deadline:
        await asyncio.sleep(5)
    return [round(x, 2) for x in os.getloadavg()]


async def timed_ingest(data_dir: Path, root: Path, pattern: str, files: Sequence[Path]) -> dict[str, Any]:
    """Ingest ``root`` into a fresh index; the embedder is loaded first so model load is not counted."""
    size = sum(p.stat().st_size for p in files)
    async with Server(data_dir, [root]) as server:
        await server.call("ingest_text", {"text": "warm up the embedder", "source": "warmup"})
        before = int((await server.stats())["chunks"])
        load = await wait_for_quiet(_MAX_WAIT)
        started, cpu = time.perf_counter(), time.process_time()
        report = await server.ingest(root, [pattern])
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        chunks = int((await server.stats())["chunks"]) - before
    return {
        "files": len(files),
        "source_mb": round(size / 1e6, 3),
        "seconds": round(seconds, 2),
        "mb_per_s": round(size / 1e6 / seconds, 3),
        "chunks": chunks,
        "chunks_per_s": round(chunks / seconds, 1),
        "cpu_seconds": round(cpu_seconds, 2),
        "mb_per_cpu_s": round(size / 1e6 / cpu_seconds, 3),
        "load_avg": load,
        "report": _summarise_ingest(report),
    }


def _summarise_ingest(report: Any) -> Any:
    if isinstance(report, dict):
        return {k: v for k, v in report.items() if not isinstance(v, list) or len(v) <= 5}
    return report


# ---------------------------------------------------------------------------------------------
# Synthetic scale-up


async def build_scaled_index(
    source_db: Path, target_dir: Path, n_chunks: int, seed: int = 7, target_url: str | None = None
) -> float:
    """A scratch index of ``n_chunks`` chunks: the real chunks, then perturbed copies of them.

    Copies drop and substitute ~15% of their words (so BM25 statistics stay realistic and copies are
    not identical) and get their vector plus Gaussian noise, renormalised. Written to the SQLite file in
    ``target_dir``, or to the database ``target_url`` names. Returns seconds spent.
    """
    import hashlib

    import numpy as np

    from mcp_suite.servers.retrieval.storage import base as store
    from mcp_suite.servers.retrieval.storage.factory import open_storage
    from mcp_suite.shared.database_url import SqliteUrl, parse_database_url

    started = time.perf_counter()
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    src = await open_storage(SqliteUrl(source_db))
    async with src.snapshot() as tx:
        info = await tx.recorded_embedder()
        texts = {cid: text for cid, text, _path, _title in await tx.all_chunk_contexts()}
        vecs = {cid: blob for cid, _doc, blob in await tx.vectors()}
    await src.close()
    base = [(texts[cid], np.frombuffer(vecs[cid], dtype=np.float32)) for cid in sorted(vecs)]
    vocab = [w for text, _ in base[:2000] for w in text.split()]
    target_dir.mkdir(parents=True, exist_ok=True)
    db = await open_storage(parse_database_url(target_url) if target_url else SqliteUrl(target_dir / "retrieval.db"))
    per_doc = 50
    made = 0
    doc_no = 0
    assert info is not None
    await db.run(lambda tx: tx.record_embedder(info))
    while made < n_chunks:
        chunks = []
        for ordinal in range(min(per_doc, n_chunks - made)):
            text, vec = base[(made + ordinal) % len(base)]
            if made + ordinal >= len(base):
                words = text.split()
                words = [rng.choice(vocab) if rng.random() < 0.1 else w for w in words if rng.random() > 0.05]
                text = " ".join(words)
                # A blob holds one vector per window of the chunk (views.py): renormalise each.
                noisy = (vec + nrng.normal(0, 0.02, vec.shape).astype(np.float32)).reshape(-1, info.dimension)
                vec = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32).ravel()
            chunks.append(
                store.NewChunk(
                    ordinal=ordinal,
                    text=text,
                    heading_path=("Synthetic", f"doc {doc_no}"),
                    start_line=1,
                    end_line=1,
                    start_char=0,
                    end_char=len(text),
                    token_count=len(text.split()),
                    text_hash=hashlib.sha256(text.encode()).hexdigest(),
                    embedding=vec.tobytes(),
                )
            )
        doc = store.NewDocument(
            source=f"synthetic://doc/{doc_no}",
            kind="text",
            title=f"Synthetic document {doc_no}",
            doc_type="text",
            mtime=0.0,
            size=sum(len(c.text) for c in chunks),
            content_hash=str(doc_no),
        )
        await db.run(lambda tx: tx.replace_document(doc, chunks))  # noqa: B023 - awaited at once
        made += len(chunks)
        doc_no += 1
    await db.close()
    return time.perf_counter() - started


async def scaled_latency(
    index_dir: Path, queries: Sequence[str], repeats: int, roots: Sequence[Path], database_url: str | None = None
) -> dict[str, Any]:
    async with Server(index_dir, roots, **({"database_url": database_url} if database_url else {})) as server:
        for mode in MODES:  # warm-up: loads vectors, the embedder, SQLite pages
            await server.search(queries[0], K, mode)
        server.latency.clear()
        server.cpu.clear()
        load = await wait_for_quiet(_MAX_WAIT)
        for _ in range(repeats):
            for mode in MODES:
                for query in queries:
                    await server.search(query, K, mode)
        chunks = (await server.stats())["chunks"]
    return {
        "chunks": chunks,
        "load_avg": load,
        **{mode: _ms(server.latency[mode], server.cpu[mode]) for mode in MODES},
    }


# ---------------------------------------------------------------------------------------------
# Main


def _git_commit() -> str:
    import subprocess

    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "servers", "shared") else "")


def paired(report: EvalReport, a: str, b: str) -> dict[str, Any]:
    """Cases only ``a`` answers in the top k vs only ``b``, with a one-sided sign test (is ``a`` better?)."""
    import math

    def hit(case: Any, mode: str) -> bool:
        rank = case.modes[mode].rank
        return rank is not None and rank <= report.k

    wins = sum(hit(c, a) and not hit(c, b) for c in report.cases)
    losses = sum(hit(c, b) and not hit(c, a) for c in report.cases)
    n = wins + losses
    p = sum(math.comb(n, i) for i in range(wins, n + 1)) / 2**n if n else 1.0
    return {"a": a, "b": b, "only_a": wins, "only_b": losses, "sign_test_p": round(p, 4)}


def quality_row(report: EvalReport, mode: str) -> dict[str, float]:
    m = report.mode(mode)
    return {
        "recall@5": round(m.recall, 3),
        "mrr@10": round(m.mrr, 3),
        "ndcg@5": round(m.ndcg, 3),
        "hit_rate@5": round(m.hit_rate, 3),
        "precision@5": round(m.precision, 3),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = find_corpus(args.corpus)
    if corpus is None:
        print(INSTALL_HINT, file=sys.stderr)
        raise SystemExit(2)
    cases = load_dataset(args.questions)
    problems = verify_dataset(cases, corpus)
    for problem in problems:
        print("dataset:", problem, file=sys.stderr)
    if problems and not args.allow_bad_dataset:
        raise SystemExit(f"{len(problems)} questions do not match the parsed corpus; fix bench/data first")
    html = corpus_files(corpus, "*.html")
    print(f"corpus: {corpus} ({len(html)} HTML files); {len(cases)} questions verified", file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="retrieval-bench-"))
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_avg_at_start": os.getloadavg(),
        },
        "commit": _git_commit(),
        "corpus": str(corpus),
        "questions": len(cases),
    }
    try:
        # 1. ingest the HTML corpus through MCP
        print("ingesting the SQLite HTML docs ...", file=sys.stderr)
        main_dir = work / "sqlite"
        results["ingest_html"] = await timed_ingest(main_dir, corpus, "*.html", html)
        print(f"  {results['ingest_html']}", file=sys.stderr)

        if not args.scale_only:
            # 2. quality and latency per mode on the real index
            async with Server(main_dir, [corpus]) as server:
                for mode in MODES:
                    await server.search("warm up", K, mode)
                server.latency.clear()
                server.cpu.clear()
                load = await wait_for_quiet(_MAX_WAIT)
                report = await evaluate(cases, server.search, modes=MODES, k=K)
                latency = {mode: _ms(server.latency[mode], server.cpu[mode]) for mode in MODES}
                latency["load_avg"] = load  # type: ignore[assignment]
            results["quality"] = {mode: quality_row(report, mode) for mode in MODES}
            results["paired"] = [paired(report, "hybrid", "lexical"), paired(report, "hybrid", "semantic")]
            async with Server(main_dir, [corpus]) as server:
                page_cases = [c.model_copy(update={"expected_text": None}) for c in cases]
                page = await evaluate(page_cases, server.search, modes=MODES, k=K)
            results["quality_page"] = {mode: quality_row(page, mode) for mode in MODES}
            results["latency_real"] = latency
            results["evaluation"] = report.model_dump()
            print(report.to_markdown(failures=100), file=sys.stderr)

            # 3. hybrid weight sweep (semantic weight relative to lexical 1.0, rrf_k fixed)
            # The pooled relevant counts of the full run keep recall comparable across sweep rows.
            pooled = {c.id: c.relevant_count for c in report.cases}
            sweep_cases = [c.model_copy(update={"relevant_count": pooled[c.id or ""]}) for c in cases]
            sweep = []
            for weight in args.sweep:
                async with Server(main_dir, [corpus], lexical_weight=1.0, semantic_weight=weight) as server:
                    rep = await evaluate(sweep_cases, server.search, modes=("hybrid",), k=K)
                sweep.append({"semantic_weight": weight, "lexical_weight": 1.0, **quality_row(rep, "hybrid")})
                print(f"  sweep w_sem={weight}: {sweep[-1]}", file=sys.stderr)
            results["weight_sweep"] = {"rrf_k": 60, "rows": sweep}

            # 4. Markdown ingest throughput
            md = {}
            if NODE_MARKDOWN.is_dir():
                node_files = corpus_files(NODE_MARKDOWN, "*.md")
                md["nodejs-api"] = await timed_ingest(work / "node-md", NODE_MARKDOWN, "*.md", node_files)
                print(f"  markdown nodejs: {md['nodejs-api']}", file=sys.stderr)
            md_root = work / "sqlite-md-src"
            write_markdown_corpus(html, corpus, md_root)
            md["sqlite-as-markdown"] = await timed_ingest(
                work / "sqlite-md", md_root, "*.md", corpus_files(md_root, "*.md")
            )
            print(f"  markdown sqlite: {md['sqlite-as-markdown']}", file=sys.stderr)
            results["ingest_markdown"] = md

        # 5. search latency at scale
        queries = [c.query for c in cases[: args.scale_queries]]
        scale: dict[str, Any] = {}
        on_postgres: dict[str, Any] = {}
        for n in args.scale:
            target = work / f"scale-{n}"
            seconds = await build_scaled_index(main_dir / "retrieval.db", target, n)
            print(f"  built {n} chunk index in {seconds:.1f}s", file=sys.stderr)
            scale[str(n)] = await scaled_latency(target, queries, 1, [corpus])
            print(f"  scale {n}: {scale[str(n)]}", file=sys.stderr)
            if args.postgres_url:
                on_postgres[str(n)] = await scaled_on_postgres(args.postgres_url, target, queries, corpus)
            if not args.keep:
                shutil.rmtree(target, ignore_errors=True)
        results["latency_scaled"] = scale
        if on_postgres:
            results["latency_scaled_postgresql"] = on_postgres
    finally:
        if args.keep:
            print(f"kept scratch indexes in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return results


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    q = results["quality"]
    out: list[tuple[str, str, bool | None]] = [
        (
            "hybrid recall@5 > lexical recall@5",
            f"{q['hybrid']['recall@5']:.3f} vs {q['lexical']['recall@5']:.3f}",
            q["hybrid"]["recall@5"] > q["lexical"]["recall@5"],
        )
    ]
    for engine, key, limit in (("SQLite", "latency_scaled", 15), ("PostgreSQL", "latency_scaled_postgresql", 50)):
        big = results.get(key, {}).get("100000")
        if big:
            worst = max(MODES, key=lambda m: big[m]["p50_ms"])
            out.append(
                (
                    f"search p50 ≤ {limit} ms at 100k chunks on {engine} (every mode)",
                    f"slowest: {worst} p50 {big[worst]['p50_ms']:.1f} ms wall, "
                    f"{big[worst].get('cpu_p50_ms', 0):.1f} ms CPU (load {big['load_avg'][0]})",
                    big[worst]["p50_ms"] <= limit,
                )
            )
        elif engine == "SQLite":
            out.append((f"search p50 ≤ {limit} ms at 100k chunks", "not measured", None))
    md = results.get("ingest_markdown", {})
    if md:
        name = min(md, key=lambda n: md[n]["mb_per_s"])
        v = md[name]
        out.append(
            (
                "ingest ≥ 1 MB/s of Markdown",
                f"slowest: {name} {v['mb_per_s']:.2f} MB/s wall, {v['mb_per_cpu_s']:.2f} MB per CPU-s "
                f"(load {v['load_avg'][0]})",
                v["mb_per_s"] >= 1.0,
            )
        )
    return out


def _lat(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "—"
    cpu = f" (cpu {cell['cpu_p50_ms']:.1f})" if "cpu_p50_ms" in cell else ""
    return f"{cell['p50_ms']:.1f} / {cell['p95_ms']:.1f}{cpu}"


def render(results: dict[str, Any]) -> str:
    ingest = results["ingest_html"]
    lines = [
        f"Retrieval benchmark: SQLite docs ({ingest['files']} HTML files, {ingest['source_mb']} MB, "
        f"{ingest['chunks']} chunks), {results['questions']} questions, {results['machine']['cpus']} CPUs, "
        f"wordllama embedder, in-memory MCP client, commit {results.get('commit', '?')}",
        "",
        "Quality (passage level: a hit must come from the expected page and contain the expected passage; "
        "page level: any chunk of the expected page counts):",
        "",
        "| mode | recall@5 | MRR@10 | nDCG@5 | hit rate@5 | page hit rate@5 | page MRR@10 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for mode in MODES:
        q = results["quality"][mode]
        page = results.get("quality_page", {}).get(mode, {})
        lines.append(
            f"| {mode} | {q['recall@5']:.3f} | {q['mrr@10']:.3f} | {q['ndcg@5']:.3f} | {q['hit_rate@5']:.3f} "
            f"| {page.get('hit_rate@5', float('nan')):.3f} | {page.get('mrr@10', float('nan')):.3f} |"
        )
    if results.get("paired"):
        lines.append("")
    for pair in results.get("paired", []):
        lines.append(
            f"- {pair['a']} vs {pair['b']}: {pair['only_a']} questions answered in the top {K} only by {pair['a']}, "
            f"{pair['only_b']} only by {pair['b']} (one-sided sign test p = {pair['sign_test_p']})"
        )
    scaled = results.get("latency_scaled", {})
    sizes = [("real index", results["latency_real"]), *[(f"{int(n):,} chunks", v) for n, v in scaled.items()]]
    lines += [
        "",
        "Search latency through MCP, ms: wall p50 / p95 (process CPU p50); load average "
        + ", ".join(f"{name}: {v.get('load_avg', ['?'])[0]}" for name, v in sizes),
        "",
        "| mode | " + " | ".join(name for name, _ in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for mode in MODES:
        lines.append(f"| {mode} | " + " | ".join(_lat(v.get(mode)) for _, v in sizes) + " |")
    lines += [
        "",
        "| ingest | files | MB | seconds | MB/s | chunks | chunks/s | MB per CPU-second | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [("SQLite docs (HTML)", ingest)]
    rows += [(f"{name} (Markdown)", v) for name, v in results.get("ingest_markdown", {}).items()]
    for name, v in rows:
        lines.append(
            f"| {name} | {v['files']} | {v['source_mb']} | {v['seconds']} | {v['mb_per_s']} | {v['chunks']} "
            f"| {v['chunks_per_s']} | {v['mb_per_cpu_s']} | {v['load_avg'][0]} |"
        )
    sweep = results.get("weight_sweep", {}).get("rows", [])
    if sweep:
        lines += [
            "",
            f"Hybrid fusion sweep (RRF k = {results['weight_sweep']['rrf_k']}, lexical weight 1.0):",
            "",
            "| semantic weight | recall@5 | MRR@10 | nDCG@5 | hit rate@5 |",
            "|---:|---:|---:|---:|---:|",
        ]
        for row in sweep:
            lines.append(
                f"| {row['semantic_weight']} | {row['recall@5']:.3f} | {row['mrr@10']:.3f} | {row['ndcg@5']:.3f} "
                f"| {row['hit_rate@5']:.3f} |"
            )
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets(results):
        lines.append(f"| {name} | {measured} | {'yes' if met else ('—' if met is None else 'NO')} |")
    return "\n".join(lines) + "\n"


async def scaled_on_postgres(server_url: str, index_dir: Path, queries: Sequence[str], corpus: Path) -> dict[str, Any]:
    """The same index and queries on PostgreSQL: copied (``copy_database``) into a fresh database on the server
    ``--postgres-url`` names (or a private pgserver), then timed the same way."""
    from contextlib import ExitStack

    from pg_scratch import private_server, scratch_database

    from mcp_suite.servers.retrieval.copying import copy_database
    from mcp_suite.shared.database_url import SqliteUrl, parse_database_url

    with ExitStack() as stack:
        if server_url == "private":
            server_url = stack.enter_context(private_server())
        url = stack.enter_context(scratch_database(server_url, index_dir.name))
        started = time.perf_counter()
        await copy_database(SqliteUrl(index_dir / "retrieval.db"), parse_database_url(url))
        copied = round(time.perf_counter() - started, 1)
        print(f"  copied {index_dir.name} to PostgreSQL in {copied}s", file=sys.stderr)
        latency = await scaled_latency(index_dir, queries, 1, [corpus], database_url=url)
        print(f"  PostgreSQL {index_dir.name}: {latency}", file=sys.stderr)
    return {"copy_s": copied, **latency}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="folder of the SQLite HTML docs (default: sqlite3-doc's)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--scale", default="10000,100000", help="chunk counts for the latency scale-up")
    parser.add_argument("--scale-queries", type=int, default=60, help="queries per mode at each scale")
    parser.add_argument("--sweep", default="0.25,0.5,0.75,1,1.5,2,3", help="semantic weights to try (lexical 1.0)")
    parser.add_argument("--quick", action="store_true", help="10k scale-up only, 3-point sweep")
    parser.add_argument("--keep", action="store_true", help="keep the scratch indexes")
    parser.add_argument(
        "--wait-quiet", type=float, default=120, help="seconds to wait for a quiet machine before each timed phase"
    )
    parser.add_argument("--allow-bad-dataset", action="store_true")
    parser.add_argument("--scale-only", action="store_true", help="ingest, then only the latency scale-up")
    parser.add_argument(
        "--postgres-url",
        help="also time the scale-up on PostgreSQL: a server URL (a scratch database per size is made there), "
        "or 'private' for a throwaway pgserver",
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/retrieval-<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scale, args.sweep = "10000", "0.5,1,2"
    args.scale = [int(x) for x in str(args.scale).split(",") if x]
    args.sweep = [float(x) for x in str(args.sweep).split(",") if x]
    global _MAX_WAIT
    _MAX_WAIT = args.wait_quiet
    results = asyncio.run(run(args))
    if args.scale_only:
        scaled = {k: v for k, v in results.items() if k.startswith("latency_scaled") or k == "machine"}
        out = args.out or RESULTS / f"retrieval-scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(scaled, indent=2), encoding="utf-8")
        print(json.dumps(scaled, indent=1))
        return 0
    table = render(results)
    results["table"] = table
    out = args.out or RESULTS / f"retrieval-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(table)
    print(f"results written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
