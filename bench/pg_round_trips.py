"""Round trips to PostgreSQL per memory ``search_nodes``: counted, not timed (wall-clock ms on a shared VM are noisy).

Every exchange with the server goes through ``AsyncConnection.wait(generator)``; a generator that waits on the
socket at least once is one round trip (setting a connection attribute runs a generator too, but never waits).
The statements sent are recorded alongside, so the report says what the trips were.

The workload is ``bench/memory_bench.py``'s (same generator and seed: half exact entity names, half topic
words), on a private ``pgserver`` or ``--postgres-url``, through the SDK ``Client`` in memory. The semantic
index is brought up to date before counting (the first search loads it), so what is counted is the steady state.
The in-process p50 printed with the counts is only for an A/B in the same minutes (``PYTHONPATH=<another
checkout>`` runs that checkout's code with this script).

Usage: ``python bench/pg_round_trips.py [--size 2000] [--searches 40] [--postgres-url URL]``
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_bench import BATCH, Workload, new_database, postgres_server

from mcp_suite.servers.memory.server import build_server
from mcp_suite.servers.memory.settings import MemorySettings


class Counter:
    """Round trips and statements seen while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.trips = 0
        self.statements: list[str] = []

    def statement(self, text: object) -> None:
        if self.on:
            raw = text.decode() if isinstance(text, bytes) else str(text)
            self.statements.append(re.sub(r"\s+", " ", raw)[:70] or "(empty query: pool check)")


@contextmanager
def counting() -> Iterator[Counter]:
    counter = Counter()
    wait = psycopg.AsyncConnection.wait
    execute = psycopg.AsyncCursor.execute
    exec_command = psycopg.AsyncConnection._exec_command

    async def counted_wait(self: psycopg.AsyncConnection[Any], gen: Any, *args: Any, **kwargs: Any) -> Any:
        waited = False

        def watched() -> Generator[Any, Any, Any]:
            nonlocal waited
            try:
                ready = next(gen)
                while True:
                    waited = True
                    ready = gen.send((yield ready))
            except StopIteration as stop:
                return stop.value

        try:
            return await wait(self, watched(), *args, **kwargs)
        finally:
            if waited and counter.on:
                counter.trips += 1

    async def counted_execute(self: psycopg.AsyncCursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        counter.statement(query if isinstance(query, str | bytes) else query.as_string(self))
        return await execute(self, query, *args, **kwargs)

    def counted_command(self: psycopg.AsyncConnection[Any], command: Any, *args: Any, **kwargs: Any) -> Any:
        counter.statement(command if isinstance(command, str | bytes) else command.as_string(self))
        return exec_command(self, command, *args, **kwargs)

    psycopg.AsyncConnection.wait = counted_wait  # type: ignore[method-assign]
    psycopg.AsyncCursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.AsyncConnection._exec_command = counted_command  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        psycopg.AsyncConnection.wait = wait  # type: ignore[method-assign]
        psycopg.AsyncCursor.execute = execute  # type: ignore[method-assign]
        psycopg.AsyncConnection._exec_command = exec_command  # type: ignore[method-assign]


async def measure(url: str, size: int, searches: int, data_dir: Path) -> None:
    from mcp import Client

    work = Workload.generate(size)
    settings = MemorySettings(data_dir=data_dir, database_url=url)
    with counting() as counter:
        async with Client(build_server(settings)) as client:
            for i in range(0, len(work.entities), BATCH):
                await client.call_tool("create_entities", {"entities": work.entities[i : i + BATCH]})
            await client.call_tool("search_nodes", {"query": "warm up"})  # loads the semantic index
            await anyio.sleep(1.0)  # the background embedder stores what the load embedded
            await client.call_tool("search_nodes", {"query": "warm up"})
            per_kind: dict[str, list[int]] = {"name": [], "word": []}
            times: list[float] = []
            seen: collections.Counter[str] = collections.Counter()
            for query in work.searches[:searches]:
                counter.on, counter.trips, counter.statements = True, 0, []
                started = time.perf_counter()
                result = await client.call_tool("search_nodes", {"query": query})
                times.append(time.perf_counter() - started)
                counter.on = False
                assert not result.is_error, result.content
                per_kind["name" if query in work.names else "word"].append(counter.trips)
                seen.update(counter.statements)
    print(f"round trips per search_nodes on PostgreSQL ({size} entities, {searches} searches):")
    for kind, trips in per_kind.items():
        if trips:
            print(f"  {kind} queries: mean {statistics.fmean(trips):.2f}, min {min(trips)}, max {max(trips)}")
    print(f"  in-process p50 {statistics.median(times) * 1000:.2f} ms (noisy: the counting wrappers add a little)")
    print("statements sent (times, over all counted searches):")
    for text, times in seen.most_common():
        print(f"  {times:4d}  {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2_000)
    parser.add_argument("--searches", type=int, default=40)
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL with pgvector (default: a private pgserver)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcp-suite-trips-") as tmp:
        root = Path(tmp)
        with postgres_server(args.postgres_url, root) as admin_url:
            url = new_database(admin_url, "mcp_suite_round_trips")
            anyio.run(measure, url, args.size, args.searches, root / "data")


if __name__ == "__main__":
    main()
