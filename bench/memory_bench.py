"""Benchmark of the memory server against the reference ``@modelcontextprotocol/server-memory``.

One workload, one run, both servers, over stdio through the SDK ``Client`` (the way hosts talk to
them), reported as ratios:

* cold start: spawn → initialize + tools/list answered, median of N runs, for our console script,
  a bare SDK ``MCPServer`` with one tool (``bench/bare_server.py``) and the reference;
* at 2,000 and 20,000 entities (3 observations each, created in batches) plus 2,000 relations:
  200 ``add_observations``, 200 ``search_nodes``, 200 ``open_nodes`` (p50/p95) and one
  ``read_graph`` (time and response size);
* concurrency: 4 server processes on the same store, started at once, 100 ``add_observations``
  each; how many of the 400 observations are there afterwards;
* PostgreSQL (``postgres``: our server with ``--database-url postgresql://…``, a private ``pgserver``
  unless ``--postgres-url`` names a server whose role may create databases): the same workload, and
  replicas: 2 Streamable HTTP server processes on one database, 4 client sessions each writing 100
  ``add_observations`` at once; how many of the 800 are there afterwards.

Usage: ``python bench/memory_bench.py [--quick] [--servers ours,postgres,reference]`` (``--quick``:
2,000 entities only). The reference
server is installed into ``bench/.node`` on first use. Results: a Markdown table on stdout and
JSON in ``bench/results/``. Latencies include the SDK client's own work (JSON parsing, output
schema validation); the ``ping`` floor on the bare server shows how much that is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

BENCH = Path(__file__).resolve().parent
REFERENCE_PACKAGE = "@modelcontextprotocol/server-memory"
REFERENCE_VERSION = "2026.8.31"
NODE_PREFIX = BENCH / ".node"
REFERENCE_ENTRY = NODE_PREFIX / "node_modules" / "@modelcontextprotocol" / "server-memory" / "dist" / "index.js"
MEMORY_TOOLS = {
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "read_graph",
    "search_nodes",
    "open_nodes",
}
CALL_TIMEOUT = 300.0
BATCH = 500
RELATIONS = 2_000
OPS = 200
WRITERS = 4
WRITES_PER_WRITER = 100
REPLICAS = 2
OBSERVATIONS_PER_ENTITY = 3
ENTITY_TYPES = ["person", "project", "organization", "place", "event", "tool", "concept", "document"]
RELATION_TYPES = ["knows", "works_on", "depends_on", "mentions", "located_in"]


# --- servers under test ----------------------------------------------------------------------


@dataclass
class Target:
    """How to launch one server over stdio on a given store."""

    key: str
    label: str
    params: Callable[[Path], StdioServerParameters]
    store: Callable[[Path], Path]


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    # Settings of our own server come from MCP_SUITE_* variables; a stray one must not change the run.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_SUITE_")}
    return {**env, **(extra or {})}


def _console_script(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"console script {name} is not installed; run: pip install -e '.[dev]'")
    return found


def ensure_reference() -> str:
    """Path of the reference server's entry point, installing the pinned version on first use."""
    if not REFERENCE_ENTRY.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed to install the reference server (Node.js ≥ 18)")
        print(f"installing {REFERENCE_PACKAGE}@{REFERENCE_VERSION} into {NODE_PREFIX} …", file=sys.stderr)
        subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(NODE_PREFIX),
             f"{REFERENCE_PACKAGE}@{REFERENCE_VERSION}"],
            check=True,
        )  # fmt: skip
    return str(REFERENCE_ENTRY)


POSTGRES: dict[str, str] = {}
"""The PostgreSQL URL of each store (set by ``main_async`` when the postgres target runs)."""


def targets() -> dict[str, Target]:
    ours = _console_script("mcp-suite-memory")
    node = shutil.which("node") or "node"
    return {
        "postgres": Target(
            "postgres",
            "mcp-suite-memory on PostgreSQL",
            lambda store: StdioServerParameters(
                command=ours,
                args=["--data-dir", str(store), "--database-url", POSTGRES[str(store)]],
                env=_clean_env(),
            ),
            lambda root: root / "postgres",
        ),
        "ours": Target(
            "ours",
            "mcp-suite-memory",
            lambda store: StdioServerParameters(command=ours, args=["--data-dir", str(store)], env=_clean_env()),
            lambda root: root / "ours",
        ),
        "reference": Target(
            "reference",
            f"reference {REFERENCE_VERSION}",
            lambda store: StdioServerParameters(
                command=node, args=[ensure_reference()], env=_clean_env({"MEMORY_FILE_PATH": str(store)})
            ),
            lambda root: root / "reference" / "memory.jsonl",
        ),
        "bare": Target(
            "bare",
            "bare MCPServer",
            lambda store: StdioServerParameters(
                command=sys.executable, args=[str(BENCH / "bare_server.py")], env=_clean_env()
            ),
            lambda root: root / "bare",
        ),
    }


def connect(params: StdioServerParameters, errlog: TextIO) -> Client:
    # mode="legacy": the initialize handshake every host in the field (Claude Desktop, the
    # Inspector) uses and the reference speaks; the same protocol path for every server.
    return Client(stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=CALL_TIMEOUT)


# --- measurements ----------------------------------------------------------------------------


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class OpStats:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(self.samples), "errors": self.errors, **self.extra}
        if self.samples:
            out |= {
                "p50_ms": round(percentile(self.samples, 50) * 1000, 3),
                "p95_ms": round(percentile(self.samples, 95) * 1000, 3),
                "total_s": round(sum(self.samples), 3),
            }
        if self.first_error:
            out["first_error"] = self.first_error[:300]
        return out


def payload(result: CallToolResult) -> Any:
    """The result's data: structured content when present, else the JSON text block."""
    if result.structured_content is not None:
        return result.structured_content
    for block in result.content:
        text = getattr(block, "text", None)
        if text is not None:
            try:
                return json.loads(text)
            except ValueError:
                return text
    return None


def result_text(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


async def timed_call(client: Client, stats: OpStats, name: str, args: dict[str, Any]) -> CallToolResult | None:
    start = time.perf_counter()
    try:
        result = await client.call_tool(name, args)
    # A failed call is a measured outcome (counted, its type and text kept), not a reason to stop the run.
    except Exception as exc:
        stats.errors += 1
        stats.first_error = stats.first_error or f"{type(exc).__name__}: {exc}"
        return None
    stats.samples.append(time.perf_counter() - start)
    if result.is_error:
        stats.errors += 1
        stats.first_error = stats.first_error or result_text(result)
    return result


# --- workload --------------------------------------------------------------------------------


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "shi", "dun", "pel", "ar", "quo", "zim", "bex", "nor", "ule"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(3, 4))))
    return sorted(words)


@dataclass
class Workload:
    """Everything sent to both servers: identical requests, generated from one seed."""

    size: int
    names: set[str]
    entities: list[dict[str, Any]]
    relations: list[dict[str, str]]
    adds: list[dict[str, Any]]
    searches: list[str]
    opens: list[list[str]]

    @classmethod
    def generate(cls, size: int, seed: int = 7) -> Workload:
        rng = random.Random(seed + size)
        vocab = _vocabulary(rng, 5_000)
        names = [f"Entity{i:05d}" for i in range(size)]
        entities = [
            {
                "name": name,
                "entityType": rng.choice(ENTITY_TYPES),
                "observations": [" ".join(rng.sample(vocab, 5)) for _ in range(OBSERVATIONS_PER_ENTITY)],
            }
            for name in names
        ]
        triples: set[tuple[str, str, str]] = set()
        while len(triples) < RELATIONS:
            a, b = rng.sample(names, 2)
            triples.add((a, b, rng.choice(RELATION_TYPES)))
        relations = [{"from": a, "to": b, "relationType": t} for a, b, t in sorted(triples)]
        adds = [
            {"observations": [{"entityName": rng.choice(names), "contents": [f"bench note {k} {rng.choice(vocab)}"]}]}
            for k in range(OPS)
        ]
        # Half exact entity names (one hit), half topic words (tens of hits): what agents look up.
        searches = [rng.choice(names) if k % 2 == 0 else rng.choice(vocab) for k in range(OPS)]
        opens = [rng.sample(names, 3) for _ in range(OPS)]
        return cls(size, set(names), entities, relations, adds, searches, opens)


def _graph_counts(data: Any) -> tuple[int, int]:
    if isinstance(data, dict):
        return len(data.get("entities") or []), len(data.get("relations") or [])
    return 0, 0


async def run_workload(target: Target, store: Path, work: Workload, errlog: TextIO) -> dict[str, Any]:
    ops: dict[str, OpStats] = {
        name: OpStats()
        for name in ("create_entities", "create_relations", "add_observations", "search_nodes", "open_nodes")
    }
    async with connect(target.params(store), errlog) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        missing = sorted(MEMORY_TOOLS - tools)
        if missing:
            return {"skipped": f"server lacks tools: {', '.join(missing)}"}

        load_start = time.perf_counter()
        for i in range(0, len(work.entities), BATCH):
            await timed_call(
                client, ops["create_entities"], "create_entities", {"entities": work.entities[i : i + BATCH]}
            )
        for i in range(0, len(work.relations), BATCH):
            await timed_call(
                client, ops["create_relations"], "create_relations", {"relations": work.relations[i : i + BATCH]}
            )
        load_s = time.perf_counter() - load_start

        for args in work.adds:
            await timed_call(client, ops["add_observations"], "add_observations", args)

        hits: list[int] = []
        name_first: list[bool] = []
        # The two halves apart: a p50 of the mix is the border between them when one half is all faster.
        kinds = {"names": OpStats(), "words": OpStats()}
        for query in work.searches:
            result = await timed_call(client, ops["search_nodes"], "search_nodes", {"query": query})
            if result is not None:
                kinds["names" if query in work.names else "words"].samples.append(ops["search_nodes"].samples[-1])
            if result is not None and not result.is_error:
                data = payload(result)
                hits.append(_graph_counts(data)[0])
                if query in work.names:
                    first = (data.get("entities") or [{}])[0] if isinstance(data, dict) else {}
                    name_first.append(first.get("name") == query)
        ops["search_nodes"].extra |= {
            "mean_entities_returned": round(statistics.fmean(hits), 1) if hits else None,
            # Sanity check that both sides did real work: a name query should put that entity first.
            "name_queries_entity_first": f"{sum(name_first)}/{len(name_first)}",
            **{f"p50_ms_{kind}": stats.summary().get("p50_ms") for kind, stats in kinds.items()},
        }

        opened: list[int] = []
        for names in work.opens:
            result = await timed_call(client, ops["open_nodes"], "open_nodes", {"names": names})
            if result is not None and not result.is_error:
                opened.append(_graph_counts(payload(result))[0])
        ops["open_nodes"].extra["mean_entities_returned"] = round(statistics.fmean(opened), 2) if opened else None

        read = OpStats()
        result = await timed_call(client, read, "read_graph", {})
        if result is not None:
            entities, relations = _graph_counts(payload(result))
            read.extra |= {
                "response_bytes": len(result.model_dump_json(by_alias=True, exclude_none=True).encode()),
                "text_bytes": len(result_text(result).encode()),
                "entities_returned": entities,
                "relations_returned": relations,
            }
        ops["read_graph"] = read

    return {"load_s": round(load_s, 3), "ops": {name: stats.summary() for name, stats in ops.items()}}


async def run_concurrency(target: Target, store: Path, work: Workload, errlog: TextIO) -> dict[str, Any]:
    """4 server processes on one store, spawned at once, 100 add_observations each."""
    hot = [entity["name"] for entity in work.entities[:10]]
    stats = OpStats()
    ready = anyio.Event()
    connected = 0

    async def writer(w: int) -> None:
        nonlocal connected
        async with connect(target.params(store), errlog) as client:
            connected += 1
            if connected == WRITERS:
                ready.set()
            await ready.wait()
            for k in range(WRITES_PER_WRITER):
                contents = [f"concurrent w{w} n{k}"]
                args = {"observations": [{"entityName": hot[(w + k) % len(hot)], "contents": contents}]}
                await timed_call(client, stats, "add_observations", args)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for w in range(WRITERS):
            tg.start_soon(writer, w)
    wall_s = time.perf_counter() - start

    async with connect(target.params(store), errlog) as client:
        result = await client.call_tool("open_nodes", {"names": hot})
    kept: set[str] = set()
    data = payload(result)
    for entity in data.get("entities", []) if isinstance(data, dict) else []:
        kept.update(o for o in entity.get("observations", []) if re.fullmatch(r"concurrent w\d+ n\d+", o))
    return {"attempted": WRITERS * WRITES_PER_WRITER, "kept": len(kept), "wall_s": round(wall_s, 3)} | {
        "calls": stats.summary()
    }


async def run_replicas(url: str, store: Path, work: Workload, errlog: TextIO) -> dict[str, Any]:
    """2 HTTP replicas on one PostgreSQL database, 4 sessions per replica writing 100 observations each at once."""
    from mcp.client.streamable_http import streamable_http_client

    hot = [entity["name"] for entity in work.entities[:10]]
    stats = OpStats()
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(REPLICAS):
            port = _free_port()
            argv = [_console_script("mcp-suite-memory"), "--transport", "streamable-http", "--port", str(port)]
            argv += ["--data-dir", str(store), "--database-url", url]
            procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errlog, env=_clean_env()))
            urls.append(f"http://127.0.0.1:{port}/mcp")
        for port_url in urls:
            await _wait_for_http(port_url)

        async def writer(replica: int, w: int) -> None:
            async with Client(streamable_http_client(urls[replica]), read_timeout_seconds=CALL_TIMEOUT) as client:
                for k in range(WRITES_PER_WRITER):
                    contents = [f"replica r{replica} w{w} n{k}"]
                    args = {"observations": [{"entityName": hot[(w + k) % len(hot)], "contents": contents}]}
                    await timed_call(client, stats, "add_observations", args)

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for replica in range(REPLICAS):
                for w in range(WRITERS):
                    tg.start_soon(writer, replica, w)
        wall_s = time.perf_counter() - start
        async with Client(streamable_http_client(urls[-1]), read_timeout_seconds=CALL_TIMEOUT) as client:
            result = await client.call_tool("open_nodes", {"names": hot})
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    kept: set[str] = set()
    data = payload(result)
    for entity in data.get("entities", []) if isinstance(data, dict) else []:
        kept.update(o for o in entity.get("observations", []) if re.fullmatch(r"replica r\d+ w\d+ n\d+", o))
    attempted = REPLICAS * WRITERS * WRITES_PER_WRITER
    return {"attempted": attempted, "kept": len(kept), "wall_s": round(wall_s, 3), "calls": stats.summary()}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_http(url: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            try:
                await http.get(url.removesuffix("/mcp") + "/", timeout=0.5)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} did not start within {timeout}s") from None
                await anyio.sleep(0.1)


@contextmanager
def postgres_server(url: str | None, root: Path) -> Iterator[str]:
    """An admin URL: the one given, or a private pgserver (PostgreSQL 16 + pgvector) in ``root``."""
    if url:
        yield url
        return
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(root / "pgdata", cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def new_database(admin_url: str, name: str) -> str:
    """Create database ``name`` (dropped first if it exists) and return its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def cold_start_once(target: Target, store: Path, errlog: TextIO) -> tuple[float, float]:
    """Wall time to the first answered tools/list, and the CPU time the server process used.

    CPU time (user + sys of the reaped child, start-up to exit) barely moves when other work
    competes for the cores, so it backs up the wall-clock figure on a busy machine.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    async with connect(target.params(store), errlog) as client:
        await client.list_tools()
        elapsed = time.perf_counter() - start
    return elapsed, _children_cpu() - cpu_before


async def run_cold_start(chosen: list[Target], root: Path, runs: int, errlog: TextIO) -> dict[str, Any]:
    wall: dict[str, list[float]] = {t.key: [] for t in chosen}
    cpu: dict[str, list[float]] = {t.key: [] for t in chosen}
    for t in chosen:  # warm the page cache and create the stores; not counted
        t.store(root).parent.mkdir(parents=True, exist_ok=True)
        await cold_start_once(t, t.store(root), errlog)
    for run in range(runs):
        # Rotate the order so drift in machine load does not always hit the same server.
        for t in chosen[run % len(chosen) :] + chosen[: run % len(chosen)]:
            elapsed, used = await cold_start_once(t, t.store(root), errlog)
            wall[t.key].append(elapsed)
            cpu[t.key].append(used)
    out: dict[str, Any] = {}
    for key, values in wall.items():
        out[key] = {
            "median_ms": round(statistics.median(values) * 1000, 1),
            "min_ms": round(min(values) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            "cpu_median_ms": round(statistics.median(cpu[key]) * 1000, 1),
            "runs": len(values),
        }
        if key != "bare" and "bare" in wall:
            # Each run's servers start back to back, so a per-run ratio cancels slow drift in load.
            paired = [v / b for v, b in zip(values, wall["bare"], strict=True)]
            out[key]["paired_ratio_median"] = round(statistics.median(paired), 3)
    return out


async def client_floor(root: Path, errlog: TextIO) -> dict[str, Any]:
    """Round trip of a trivial tool on the bare server: the SDK client+server floor under every latency."""
    stats = OpStats()
    async with connect(targets()["bare"].params(root), errlog) as client:
        await client.list_tools()
        for _ in range(OPS):
            await timed_call(client, stats, "ping", {})
    return stats.summary()


# --- report ----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else (f"{value:.1f}" if value >= 10 else f"{value:.2f}")


def _size(read: dict[str, Any]) -> str:
    if "response_bytes" not in read:
        return "—"
    return (
        f"{read['text_bytes'] / 1024:,.0f} KB / {read['response_bytes'] / 1024:,.0f} KB "
        f"({read['entities_returned']:,} entities)"
    )


def _ratio(num: float | None, den: float | None) -> str:
    if not num or not den:
        return "—"
    # Two decimals where the question is "within 1.2×?", one where it is "how many times faster?".
    return f"{num / den:.1f}×" if num / den >= 3 else f"{num / den:.2f}×"


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    cold = results.get("cold_start", {})
    if cold:
        bare = cold.get("bare", {}).get("median_ms")
        lines += ["### Cold start (spawn → initialize + tools/list), median", ""]
        bare_cpu = cold.get("bare", {}).get("cpu_median_ms")
        lines += [
            "| server | median ms | min–max ms | vs bare (median) | vs bare (paired runs) | CPU ms | CPU vs bare |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for key, label in (
            ("bare", "bare MCPServer (1 tool)"),
            ("ours", "mcp-suite-memory"),
            ("reference", "reference"),
        ):
            if key in cold:
                c = cold[key]
                paired = c.get("paired_ratio_median")
                lines.append(
                    f"| {label} | {c['median_ms']:.0f} | {c['min_ms']:.0f}–{c['max_ms']:.0f} | "
                    f"{_ratio(c['median_ms'], bare)} | {'—' if paired is None else f'{paired:.2f}×'} | "
                    f"{c['cpu_median_ms']:.0f} | {_ratio(c['cpu_median_ms'], bare_cpu)} |"
                )
        lines.append("")
    for size, by_target in results.get("sizes", {}).items():
        ours = by_target.get("ours", {})
        pg = by_target.get("postgres", {})
        ref = by_target.get("reference", {})
        lines += [f"### {int(size):,} entities × 3 observations, 2,000 relations", ""]
        for label, res in (("ours", ours), ("postgres", pg), ("reference", ref)):
            if "skipped" in res:
                lines += [f"_{label}: skipped — {res['skipped']}_", ""]
        lines += [
            "| operation | SQLite p50 / p95 ms | PostgreSQL p50 / p95 ms | reference p50 / p95 ms "
            "| speed-up p50 ref/SQLite | speed-up p50 ref/PostgreSQL |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for op in (
            "create_entities",
            "create_relations",
            "add_observations",
            "search_nodes",
            "open_nodes",
            "read_graph",
        ):
            o = ours.get("ops", {}).get(op, {})
            q = pg.get("ops", {}).get(op, {})
            r = ref.get("ops", {}).get(op, {})
            name = f"{op} (batch of {BATCH})" if op.startswith("create") else op
            lines.append(
                f"| {name} | {_ms(o.get('p50_ms'))} / {_ms(o.get('p95_ms'))} | {_ms(q.get('p50_ms'))} / "
                f"{_ms(q.get('p95_ms'))} | {_ms(r.get('p50_ms'))} / {_ms(r.get('p95_ms'))} | "
                f"{_ratio(r.get('p50_ms'), o.get('p50_ms'))} | {_ratio(r.get('p50_ms'), q.get('p50_ms'))} |"
            )
        reads = [res.get("ops", {}).get("read_graph", {}) for res in (ours, pg, ref)]
        if any(reads):
            lines.append(f"| read_graph response: text / whole result | {' | '.join(_size(x) for x in reads)} | | |")
        searches = [res.get("ops", {}).get("search_nodes", {}) for res in (ours, pg, ref)]
        if any(searches):
            shown = " | ".join(str(x.get("mean_entities_returned", "—")) for x in searches)
            lines.append(f"| search_nodes mean entities returned | {shown} | | |")
            shown = " | ".join(str(x.get("name_queries_entity_first", "—")) for x in searches)
            lines.append(f"| search_nodes name query → that entity first | {shown} | | |")
            for kind, label in (("names", "entity names"), ("words", "topic words")):
                o, q, r = (x.get(f"p50_ms_{kind}") for x in searches)
                lines.append(
                    f"| search_nodes p50 of the {label} alone | {_ms(o)} | {_ms(q)} | {_ms(r)} "
                    f"| {_ratio(r, o)} | {_ratio(r, q)} |"
                )
        loads = [res.get("load_s") for res in (ours, pg, ref)]
        if any(loads):
            lines.append(
                f"| load (all batches), s | {' | '.join(str(x or '—') for x in loads)} | "
                f"{_ratio(loads[2], loads[0])} | {_ratio(loads[2], loads[1])} |"
            )
        conc = [res.get("concurrency", {}) for res in (ours, pg, ref)]
        if any(conc):
            shown = " | ".join(f"{c.get('kept', '—')}/{c.get('attempted', '—')}" for c in conc)
            lines.append(f"| concurrent writes kept ({WRITERS} stdio processes × {WRITES_PER_WRITER}) | {shown} | | |")
        replicas = pg.get("replicas")
        if replicas:
            calls = replicas["calls"]
            kept = f"{replicas['kept']}/{replicas['attempted']}"
            detail = f"({replicas['wall_s']} s, {_ms(calls.get('p50_ms'))})"
            label = f"{REPLICAS} HTTP replicas × {WRITERS} sessions × {WRITES_PER_WRITER}: kept (wall s, call p50 ms)"
            lines.append(f"| {label} | — | {kept} {detail} | — | | |")
        errors = {
            f"{who}.{op}": st["errors"]
            for who, res in (("ours", ours), ("postgres", pg), ("reference", ref))
            for op, st in res.get("ops", {}).items()
            if st.get("errors")
        }
        if errors:
            lines += ["", f"Errors: {errors}"]
        lines.append("")
    floor = results.get("client_floor")
    if floor:
        lines.append(
            f"SDK client floor (ping on the bare server): p50 {_ms(floor.get('p50_ms'))} ms, "
            f"p95 {_ms(floor.get('p95_ms'))} ms."
        )
    return "\n".join(lines)


def check_targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    checks: list[tuple[str, str, bool | None]] = []
    cold = results.get("cold_start", {})
    if "ours" in cold and "bare" in cold:
        ratio = cold["ours"]["median_ms"] / cold["bare"]["median_ms"]
        cpu_ratio = cold["ours"]["cpu_median_ms"] / cold["bare"]["cpu_median_ms"]
        measured = f"{ratio:.2f}× (paired {cold['ours']['paired_ratio_median']:.2f}×, CPU {cpu_ratio:.2f}×)"
        checks.append(("cold start ≤ 1.2× bare MCPServer", measured, ratio <= 1.2))
    big = results.get("sizes", {}).get(str(max((int(s) for s in results.get("sizes", {})), default=0)))
    for key, engine in (("ours", "SQLite"), ("postgres", "PostgreSQL")):
        if big and "ops" in big.get(key, {}) and "ops" in big.get("reference", {}):
            size = max(int(s) for s in results["sizes"])
            for op in ("add_observations", "search_nodes"):
                ours, ref = big[key]["ops"][op], big["reference"]["ops"][op]
                # For searches, each half of the mix must hold on its own too (see run_workload).
                parts = ["p50_ms"] + (["p50_ms_names", "p50_ms_words"] if op == "search_nodes" else [])
                ok = all(ours.get(p) and ref.get(p) and ref[p] / ours[p] >= 5 for p in parts) and size >= 20_000
                measured = _ratio(ref.get("p50_ms"), ours.get("p50_ms"))
                if op == "search_nodes":
                    halves = (_ratio(ref.get(p), ours.get(p)) for p in parts[1:])
                    measured += " (names {}, words {})".format(*halves)
                note = "" if size >= 20_000 else f" (only measured at {size:,})"
                checks.append(
                    (f"{op} p50 on {engine} ≥ 5× faster at 20,000{note}", measured, ok if size >= 20_000 else None)
                )
    for size, by_target in results.get("sizes", {}).items():
        for key, what in (("ours", "concurrency"), ("postgres", "concurrency"), ("postgres", "replicas")):
            conc = by_target.get(key, {}).get(what)
            if conc:
                checks.append(
                    (f"{key} {what}: {conc['attempted']}/{conc['attempted']} kept ({int(size):,})",
                     f"{conc['kept']}/{conc['attempted']}", conc["kept"] == conc["attempted"])
                )  # fmt: skip
    return checks


# --- main ------------------------------------------------------------------------------------


@contextmanager
def scratch(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _revision() -> str:
    """The commit our server was measured at, marked dirty when its files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=BENCH.parent, capture_output=True, text=True)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--", "servers/memory", "shared") else "")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    all_targets = targets()
    chosen = [all_targets[k] for k in args.servers]
    if "reference" in args.servers:
        ensure_reference()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
            "node": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip(),
        },
        "reference": f"{REFERENCE_PACKAGE}@{REFERENCE_VERSION}",
        "ours": _revision(),
        "sizes": {},
    }
    with (
        scratch(args.keep) as root,
        (root / "servers-stderr.log").open("w") as errlog,
        postgres_server(args.postgres_url if "postgres" in args.servers else "-", root) as admin_url,
    ):
        print(f"scratch dir {root}; server stderr → {errlog.name}", file=sys.stderr)
        if args.cold_runs:
            # The PostgreSQL target starts like ours (same script); its stores exist only per size.
            cold_targets = [all_targets["bare"], *(t for t in chosen if t.key not in ("bare", "postgres"))]
            print(f"cold start × {args.cold_runs} …", file=sys.stderr)
            results["cold_start"] = await run_cold_start(cold_targets, root / "cold", args.cold_runs, errlog)
            results["client_floor"] = await client_floor(root / "cold", errlog)
        for size in args.sizes:
            work = Workload.generate(size)
            per: dict[str, Any] = {}
            for t in chosen:
                if t.key == "bare":
                    continue
                store = t.store(root / f"n{size}")
                store.parent.mkdir(parents=True, exist_ok=True)
                if t.key == "postgres":
                    POSTGRES[str(store)] = new_database(admin_url, f"memory_bench_{size}")
                print(f"{size:,} entities: {t.label} workload …", file=sys.stderr)
                began = time.perf_counter()
                per[t.key] = await run_workload(t, store, work, errlog)
                if "skipped" not in per[t.key] and not args.no_concurrency:
                    print(f"{size:,} entities: {t.label} concurrency …", file=sys.stderr)
                    per[t.key]["concurrency"] = await run_concurrency(t, store, work, errlog)
                if t.key == "postgres" and "skipped" not in per[t.key] and not args.no_concurrency:
                    print(f"{size:,} entities: {REPLICAS} HTTP replicas …", file=sys.stderr)
                    per[t.key]["replicas"] = await run_replicas(POSTGRES[str(store)], store, work, errlog)
                print(f"  done in {time.perf_counter() - began:.1f}s", file=sys.stderr)
            results["sizes"][str(size)] = per
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["targets"] = [{"target": n, "measured": m, "met": ok} for n, m, ok in check_targets(results)]
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2,000 entities only")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="entity counts, e.g. 2000,20000")
    parser.add_argument(
        "--servers",
        type=lambda s: s.split(","),
        default=["ours", "postgres", "reference"],
        help="comma-separated: ours,postgres,reference (bare is always in the cold-start set)",
    )
    parser.add_argument("--cold-runs", type=int, default=10, help="cold-start runs per server (0 to skip)")
    parser.add_argument("--no-concurrency", action="store_true", help="skip the concurrent-writers phase")
    parser.add_argument("--postgres-url", help="admin URL of a PostgreSQL with pgvector (default: a private pgserver)")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/memory-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch stores and the servers' stderr log")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [2_000] if args.quick else [2_000, 20_000]
    unknown = set(args.servers) - {"ours", "postgres", "reference", "bare"}
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    results = anyio.run(main_async, args)
    results["elapsed_s"] = round(time.perf_counter() - began, 1)
    out = args.out or BENCH / "results" / f"memory-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print()
    print("| target | measured | met |\n|---|---:|:---:|")
    for item in results["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[item["met"]]
        print(f"| {item['target']} | {item['measured']} | {met} |")
    print(f"\nours at {results['ours']}, {results['reference']}; {results['elapsed_s']} s; JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
