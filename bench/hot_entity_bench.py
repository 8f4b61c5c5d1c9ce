"""``add_observations`` to one entity as it grows, on SQLite, on PostgreSQL and on the reference: a write's cost
should follow what it adds, not the size of the entity it adds to.

Agents keep a few entities busy (the user, the current project), so those collect hundreds of facts. Each write
re-indexes the entity's text for the word and substring tiers; on PostgreSQL, taking that text's trigrams in SQL
(``substr`` walks a UTF-8 text from its start) made a write to an entity of 1,000 facts take 15 s, and held the
write lock meanwhile. The workload: one entity, facts added 100 at a time up to each ``--sizes`` step, then ten
writes of one fact timed there (the p50 is printed); each server a fresh process over stdio as
``bench/memory_bench.py`` starts it (ours with the embedder off: this is about the store). ``PYTHONPATH=<another
checkout>`` runs that checkout's code, for an A/B.

Usage: ``python bench/hot_entity_bench.py [--sizes 100 300 1000] [--postgres-url URL]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory_bench import POSTGRES, Target, connect, new_database, postgres_server, targets

WRITES = 10


async def grow(target: Target, store: Path, sizes: list[int]) -> dict[int, float]:
    """p50 ms of a one-fact ``add_observations`` to an entity holding each of ``sizes`` facts."""
    out: dict[int, float] = {}
    params = target.params(store)
    if target.key != "reference":
        params.args = [*params.args, "--embedder", "none"]
    async with connect(params, sys.stderr) as client:
        await client.call_tool(
            "create_entities", {"entities": [{"name": "Hot", "entityType": "thing", "observations": []}]}
        )
        held = 0
        for size in sizes:
            while held < size:
                step = min(100, size - held)
                facts = [f"note {held + j} from the weekly planning meeting" for j in range(step)]
                await client.call_tool("add_observations", {"observations": [{"entityName": "Hot", "contents": facts}]})
                held += step
            samples = []
            for k in range(WRITES):
                start = time.perf_counter()
                result = await client.call_tool(
                    "add_observations", {"observations": [{"entityName": "Hot", "contents": [f"fact {size}-{k}"]}]}
                )
                samples.append(time.perf_counter() - start)
                assert not result.is_error, result.content
            held += WRITES
            out[size] = round(statistics.median(samples) * 1000, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000], help="facts held when timed")
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL with pgvector (default: a private pgserver)")
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    chosen = targets()
    found: dict[str, dict[int, float]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="hot-entity-") as tmp,
        postgres_server(args.postgres_url, Path(tmp)) as admin,
    ):
        for key in ("ours", "postgres", "reference"):
            store = chosen[key].store(Path(tmp) / "stores")
            store.parent.mkdir(parents=True, exist_ok=True)
            if key == "postgres":
                POSTGRES[str(store)] = new_database(admin, "mcp_suite_bench_hot_entity")
            found[key] = anyio.run(grow, chosen[key], store, sizes)
    print("| facts on the entity | SQLite p50 ms | PostgreSQL p50 ms | reference p50 ms |\n|---:|---:|---:|---:|")
    for size in sizes:
        print(f"| {size:,} | {found['ours'][size]} | {found['postgres'][size]} | {found['reference'][size]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
