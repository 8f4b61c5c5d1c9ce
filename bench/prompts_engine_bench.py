"""The prompt registry on both engines: SQLite (today's default, the control) and PostgreSQL, same code above
the storage layer (:class:`mcp_suite.servers.prompts.registry.Registry` and ``Telemetry``).

* one process: publishing a 1,000-prompt × 3-version library into an empty registry (what a first start
  does), reading the whole catalog back (every start and every refresh), p50 / p95 of ``set_label``,
  ``record_run`` and ``prompt_stats`` over the runs;
* concurrency: P processes (think 2 replicas × 4 workers) each recording W runs and counting W serves
  (flushed every 10) into one registry at once: how many acknowledged runs and serves are stored;
* PostgreSQL only: a label moved through one registry → another registry's change feed hears it (the path
  a replica's ``list_changed`` takes), p50 and max.

PostgreSQL is a private ``pgserver`` (PostgreSQL 16 over a Unix socket, default durability) unless
``--postgres-url`` names one. Usage: ``python bench/prompts_engine_bench.py [--prompts 1000] [--processes 8]
[--writes 100]``. Results: a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import warnings
from contextlib import aclosing
from pathlib import Path

from mcp_suite.servers.prompts.registry import PublishItem, Registry
from mcp_suite.servers.prompts.telemetry import Run, Telemetry
from mcp_suite.shared.database_url import parse_database_url


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def items(prompts: int) -> list[PublishItem]:
    return [
        PublishItem(f"P{i:04d}", str(v), f"hash-{i}-{v}", f"name: P{i:04d}\nversion: {v}\n" + "x" * 600, f"/l/{i}.{v}")
        for i in range(prompts)
        for v in (1, 2, 3)
    ]


async def open_registry(url: str) -> Registry:
    return await Registry.open(parse_database_url(url))


async def single(url: str, prompts: int, samples: int) -> dict[str, float]:
    registry = await open_registry(url)
    try:
        start = time.perf_counter()
        await registry.publish(items(prompts), "bench", atomic=False)
        publish_s = time.perf_counter() - start
        start = time.perf_counter()
        await registry.catalog()
        catalog_ms = (time.perf_counter() - start) * 1000
        labels, runs, stats = [], [], []
        for i in range(samples):
            start = time.perf_counter()
            await registry.set_label("P0000", "production", str(1 + i % 3), "bench")
            labels.append(time.perf_counter() - start)
        telemetry = Telemetry(registry.storage)
        for i in range(samples):
            start = time.perf_counter()
            await telemetry.record_run(Run("P0001", str(1 + i % 2), 100.0 + i, 50, 20, 0.01))
            runs.append(time.perf_counter() - start)
        for _ in range(20):
            start = time.perf_counter()
            await telemetry.prompt_stats("P0001")
            stats.append(time.perf_counter() - start)
        return {
            "publish_s": publish_s,
            "catalog_ms": catalog_ms,
            "label_p50": pct(labels, 0.5),
            "label_p95": pct(labels, 0.95),
            "run_p50": pct(runs, 0.5),
            "run_p95": pct(runs, 0.95),
            "stats_p50": pct(stats, 0.5),
        }
    finally:
        await registry.close()


def writer_process(url: str, name: str, writes: int, start_at: float) -> None:
    async def main() -> None:
        registry = await open_registry(url)
        try:
            telemetry = Telemetry(registry.storage)
            time.sleep(max(0.0, start_at - time.time()))
            for i in range(writes):
                await telemetry.record_run(Run("P0002", "1", float(i), 1, 1, None, subject=name))
                telemetry.count_served("P0002", "1", "label", "production")
                if i % 10 == 9:
                    await telemetry.flush()
            await telemetry.flush()
        finally:
            await registry.close()

    asyncio.run(main())


async def stored(url: str) -> tuple[int, int]:
    registry = await open_registry(url)
    try:
        [one] = await Telemetry(registry.storage).prompt_stats("P0002")
        return one.runs, one.served
    finally:
        await registry.close()


def concurrency(url: str, processes: int, writes: int) -> tuple[int, int, float]:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 5.0  # every process opened and waiting before the first write
    procs = [ctx.Process(target=writer_process, args=(url, f"w{i}", writes, start_at)) for i in range(processes)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            print(f"writer exited with {proc.exitcode}", file=sys.stderr)
    wall = time.time() - start_at
    runs, served = asyncio.run(stored(url))
    return runs, served, wall


async def change_latency(url: str, n: int = 100) -> tuple[float, float]:
    """set_label committed on registry A → registry B's change feed yields: p50 / max in ms."""
    a, b = await open_registry(url), await open_registry(url)
    delays: list[float] = []
    try:
        async with aclosing(b.changes()) as changes:
            await anext(changes)  # listening
            for i in range(n):
                start = time.perf_counter()
                await a.set_label("P0003", "production", str(1 + i % 3), "bench")
                await asyncio.wait_for(anext(changes), 5)
                delays.append(time.perf_counter() - start)
    finally:
        await a.close()
        await b.close()
    return pct(delays, 0.5), max(delays) * 1000


def run(urls: dict[str, str], prompts: int, processes: int, writes: int, samples: int) -> None:
    print(
        f"| engine | publish {prompts * 3:,} versions (s) | catalog read (ms) | set_label p50 / p95 (ms) "
        f"| record_run p50 / p95 (ms) | prompt_stats p50 (ms) | {processes} processes × {writes}: runs kept "
        "| serves kept | wall (s) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, url in urls.items():
        r = asyncio.run(single(url, prompts, samples))
        runs, served, wall = concurrency(url, processes, writes)
        total = processes * writes
        print(
            f"| {name} | {r['publish_s']:.2f} | {r['catalog_ms']:.0f} | {r['label_p50']:.2f} / {r['label_p95']:.2f} "
            f"| {r['run_p50']:.2f} / {r['run_p95']:.2f} | {r['stats_p50']:.2f} | {runs} / {total} "
            f"| {served} / {total} | {wall:.1f} |"
        )
    for name, url in urls.items():
        if url.startswith("postgres"):
            p50, worst = asyncio.run(change_latency(url))
            print(
                f"\n{name}: label moved on one registry → another's change feed: p50 {p50:.2f} ms, max {worst:.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    sizes = (args.prompts, args.processes, args.writes, args.samples)
    with tempfile.TemporaryDirectory(prefix="mcp-suite-prompts-engine-bench-") as tmp:
        urls = {"SQLite (WAL, today's default)": f"sqlite:///{Path(tmp) / 'prompts.db'}"}
        if args.postgres_url:
            run({**urls, "PostgreSQL": args.postgres_url}, *sizes)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        try:
            urls["PostgreSQL 16 (pgserver, Unix socket)"] = server.get_uri()
            run(urls, *sizes)
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
