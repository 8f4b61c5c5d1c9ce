"""The storage engines side by side: SQLite (today's default, the control) and PostgreSQL through the
same :class:`mcp_suite.shared.engine.Database` protocol, before any server runs on PostgreSQL.

* one process: p50 / p95 of a one-row write transaction (``run``) and of a point read (``snapshot``);
* concurrency: P processes opening the same database at once (migrations race), W writes each through
  ``run``; how many acknowledged writes are there afterwards, and the wall time;
* PostgreSQL only: a change published in a transaction → another connection's ``ChangeFeed`` yields it
  (the path ``list_changed`` between replicas will take), p50 and max of 200.

PostgreSQL is a private ``pgserver`` (PostgreSQL 16 over a Unix socket, durability settings left at their
defaults) unless ``--postgres-url`` names one. Usage: ``python bench/engine_bench.py [--writers 4]
[--writes 200]``. Results: a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import warnings
from pathlib import Path

from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.engine import Database, Migration, Session, open_database

SCHEMA = {
    "sqlite": "CREATE TABLE notes (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, body TEXT NOT NULL)",
    "postgresql": "CREATE TABLE notes (id bigserial PRIMARY KEY, writer text NOT NULL, body text NOT NULL)",
}


async def open_bench(url: str) -> Database:
    parsed = parse_database_url(url)
    return await open_database(parsed, "bench", [Migration("001_notes", SCHEMA[parsed.engine])])


async def write(db: Database, writer: str, body: str) -> None:
    async def change(session: Session) -> None:
        p = session.placeholder
        await session.execute(f"INSERT INTO notes (writer, body) VALUES ({p}, {p})", (writer, body))

    await db.run(change)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def latencies(url: str, n: int) -> dict[str, float]:
    db = await open_bench(url)
    try:
        writes, reads = [], []
        for i in range(n):
            start = time.perf_counter()
            await write(db, "solo", f"note {i}")
            writes.append(time.perf_counter() - start)
        for i in range(n):
            start = time.perf_counter()
            async with db.snapshot() as session:
                p = session.placeholder
                await session.fetchall(f"SELECT body FROM notes WHERE id = {p}", (i + 1,))
            reads.append(time.perf_counter() - start)
        return {"write_p50": pct(writes, 0.5), "write_p95": pct(writes, 0.95), "read_p50": pct(reads, 0.5)}
    finally:
        await db.close()


def writer_process(url: str, name: str, writes: int, start_at: float) -> None:
    if url.startswith("postgres"):
        import mcp_suite.shared.postgres  # noqa: F401 - the driver's import (numpy via pgvector) is not a write

    async def main() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        db = await open_bench(url)
        try:
            for i in range(writes):
                await write(db, name, f"{name}-{i}")
        finally:
            await db.close()

    asyncio.run(main())


async def count(url: str) -> int:
    db = await open_bench(url)
    try:
        async with db.snapshot() as session:
            return int((await session.fetchall("SELECT count(*) FROM notes WHERE writer <> 'solo'"))[0][0])
    finally:
        await db.close()


def concurrency(url: str, writers: int, writes: int) -> tuple[int, float]:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 4.0  # every process imported and waiting before the first one opens the database
    procs = [ctx.Process(target=writer_process, args=(url, f"w{i}", writes, start_at)) for i in range(writers)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            print(f"writer exited with {proc.exitcode}", file=sys.stderr)
    wall = time.time() - start_at  # includes each process's exit, not the count below
    return asyncio.run(count(url)), wall


async def notify_latency(url: str, n: int = 200) -> tuple[float, float]:
    """Commit of a change with publish() → the other replica's ChangeFeed yields it: p50 / max in ms."""
    from mcp_suite.shared.changes import ChangeFeed, publish
    from mcp_suite.shared.database_url import PostgresUrl
    from mcp_suite.shared.postgres import PostgresDatabase, PostgresSession

    parsed = PostgresUrl(url)
    db = await PostgresDatabase.open(parsed, "bench")
    delays: list[float] = []
    try:
        async with ChangeFeed(parsed, "bench", origin="b") as feed:
            changes = aiter(feed)
            for i in range(n):
                start = time.perf_counter()
                async with db.transaction() as session:
                    assert isinstance(session, PostgresSession)
                    await publish(session, "bench", feed.change("prompts", f"p{i}").model_copy(update={"origin": "a"}))
                await asyncio.wait_for(anext(changes), 5)
                delays.append(time.perf_counter() - start)
    finally:
        await db.close()
    return pct(delays, 0.5), max(delays) * 1000


def run(urls: dict[str, str], writers: int, writes: int, n: int) -> None:
    print(
        f"| engine | write p50 / p95 (ms) | point read p50 (ms) "
        f"| {writers} processes × {writes} writes: kept | wall (s) |"
    )
    print("|---|---|---|---|---|")
    for name, url in urls.items():
        lat = asyncio.run(latencies(url, n))
        kept, wall = concurrency(url, writers, writes)
        print(
            f"| {name} | {lat['write_p50']:.2f} / {lat['write_p95']:.2f} | {lat['read_p50']:.2f} | "
            f"{kept} / {writers * writes} | {wall:.1f} |"
        )
    for name, url in urls.items():
        if url.startswith("postgres"):
            p50, worst = asyncio.run(notify_latency(url))
            print(f"\n{name}: change committed → other replica's feed has it: p50 {p50:.2f} ms, max {worst:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-suite-engine-bench-") as tmp:
        urls = {"SQLite (WAL, today's default)": f"sqlite:///{Path(tmp) / 'bench.db'}"}
        if args.postgres_url:
            run({**urls, "PostgreSQL": args.postgres_url}, args.writers, args.writes, args.samples)
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        try:
            urls["PostgreSQL 16 (pgserver, Unix socket)"] = server.get_uri()
            run(urls, args.writers, args.writes, args.samples)
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
