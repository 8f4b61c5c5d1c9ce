"""Benchmark of the prompts server with a generated library of 1,000 prompts × 3 versions (3,000 files).

Everything runs over stdio through the SDK ``Client`` in handshake mode (as Claude Desktop and the
Inspector connect), in one run, reported next to a bare SDK ``MCPServer`` with one tool
(``bench/bare_server.py``):

* start: spawn → ``initialize`` answered (+ ``tools/list`` for the bare server), median of N runs;
  for the prompts server also spawn → first ``prompts/list`` answered (the library is loaded after
  the handshake), with an empty data folder (cold: all 3,000 versions get published) and with the
  registry already filled (warm);
* ``prompts/list`` (every page, following ``nextCursor``) and ``prompts/get`` p50/p95 seen by the
  client (200 gets over random prompts);
* ``prompts/get`` inside the server: the handler's own timing, read from its debug log (serve
  counting on: every get is counted, and the bench checks the stored counts afterwards);
* one library poll with nothing changed (in process: a stat per file);
* file change on disk → ``notifications/prompts/list_changed`` received, at the default poll
  interval (1 s) and at 0.1 s.

Usage: ``python bench/prompts_bench.py [--quick]`` (``--quick``: 300 prompts, fewer repeats).
Results: a Markdown table on stdout and JSON in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CALL_TIMEOUT = 120.0
_BUMPS = itertools.count(100)
TIMING = re.compile(r"prompts/get \S+ served \S+ \(\w+\) in ([0-9.]+) ms")


def script(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


def prompt_file(index: int, version: int) -> str:
    tones = ["warm", "formal", "brief"]
    return (
        f"name: Prompt{index:04d}\n"
        f'description: "Generated prompt {index} for the benchmark (version {version})."\n'
        f"version: {version}\n"
        f"tags: [bench, group{index % 10}]\n"
        "input_variables:\n"
        "  - name: text\n"
        "    description: the text to work on\n"
        "  - name: tone\n"
        "    description: how to answer\n"
        "    required: false\n"
        "    default: warm\n"
        f"    enum: [{', '.join(tones)}]\n"
        "execution_settings:\n"
        "  model: some-model\n"
        "  temperature: 0.2\n"
        "  max_tokens: 256\n"
        "tests:\n"
        "  - name: smoke\n"
        "    inputs: {text: hello}\n"
        "    assertions:\n"
        "      - max_length: 500\n"
        "messages:\n"
        "  - role: system\n"
        f"    content: You are assistant number {index}, revision {version}. Answer in a {{{{ tone }}}} tone.\n"
        "  - role: user\n"
        "    content: |\n"
        "      Work on the text below.\n"
        "      {{ text | fence('text') }}\n"
        "      {% if tone == 'brief' %}Keep it under 50 words.{% endif %}\n"
    )


def make_library(folder: Path, prompts: int, versions: int = 3) -> None:
    for index in range(prompts):
        group = folder / f"group{index % 10}"
        group.mkdir(parents=True, exist_ok=True)
        for version in range(1, versions + 1):
            (group / f"prompt{index:04d}.v{version}.yaml").write_text(prompt_file(index, version), encoding="utf-8")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = int(rank), min(int(rank) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def prompts_params(library: Path, data: Path, *extra: str) -> StdioServerParameters:
    args = ["--library", str(library), "--data-dir", str(data), *extra]
    return StdioServerParameters(command=script("mcp-suite-prompts"), args=args, env=dict(os.environ))


def bare_params() -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=[str(BENCH / "bare_server.py")], env=dict(os.environ))


def connect(params: StdioServerParameters, errlog: TextIO, handler: Any = None) -> Client:
    return Client(
        stdio_client(params, errlog=errlog), mode="legacy", read_timeout_seconds=CALL_TIMEOUT, message_handler=handler
    )


async def list_all(client: Client) -> list[Any]:
    """Every prompt, following nextCursor (the server pages prompts/list)."""
    prompts: list[Any] = []
    cursor = None
    while True:
        page = await client.list_prompts(cursor=cursor)
        prompts += page.prompts
        cursor = page.next_cursor
        if cursor is None:
            return prompts


async def start_bare(errlog: TextIO) -> float:
    started = time.perf_counter()
    async with connect(bare_params(), errlog) as client:
        await client.list_tools()
        return time.perf_counter() - started


async def start_prompts(library: Path, data: Path, errlog: TextIO) -> tuple[float, float, int]:
    started = time.perf_counter()
    async with connect(prompts_params(library, data, "--watch-interval", "0"), errlog) as client:
        initialized = time.perf_counter() - started
        listed = await list_all(client)
        return initialized, time.perf_counter() - started, len(listed)


def served_counted(data: Path) -> int:
    """Serves the server counted and stored (its prompt_serves table), read after it stopped."""
    import sqlite3

    with sqlite3.connect(data / "prompts.db") as conn:
        (total,) = conn.execute("SELECT COALESCE(SUM(count), 0) FROM prompt_serves").fetchone()
    return int(total)


async def latencies(library: Path, data: Path, prompts: int, errlog_path: Path) -> dict[str, Any]:
    counted_before = served_counted(data)
    with errlog_path.open("w") as errlog:
        params = prompts_params(library, data, "--watch-interval", "0", "--log-level", "DEBUG")
        async with connect(params, errlog) as client:
            await list_all(client)
            lists = []
            for _ in range(20):
                t = time.perf_counter()
                await list_all(client)
                lists.append((time.perf_counter() - t) * 1000)
            gets = []
            rng = random.Random(7)
            for _ in range(200):
                name = f"Prompt{rng.randrange(prompts):04d}"
                t = time.perf_counter()
                await client.get_prompt(
                    name, {"text": "The quick brown fox " * 20, "tone": rng.choice(["warm", "brief"])}
                )
                gets.append((time.perf_counter() - t) * 1000)
    server_side = [float(m.group(1)) for m in TIMING.finditer(errlog_path.read_text())]
    return {
        "gets": len(gets),
        "gets_counted": served_counted(data) - counted_before,
        "list_p50_ms": pct(lists, 50),
        "list_p95_ms": pct(lists, 95),
        "get_p50_ms": pct(gets, 50),
        "get_p95_ms": pct(gets, 95),
        "get_server_p50_ms": pct(server_side, 50) if server_side else None,
        "get_server_p95_ms": pct(server_side, 95) if server_side else None,
        "server_samples": len(server_side),
    }


async def change_to_notification(
    library: Path, data: Path, interval: float, repeats: int, errlog: TextIO
) -> list[float]:
    changed = anyio.Event()

    async def handler(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/prompts/list_changed":
            changed.set()

    waits: list[float] = []
    params = prompts_params(library, data, "--watch-interval", str(interval))
    async with connect(params, errlog, handler) as client:
        await client.list_prompts()
        for _ in range(repeats):
            changed = anyio.Event()
            await anyio.sleep(random.uniform(0, interval))  # do not line up with the poll
            version = next(_BUMPS)  # a higher version than any before, so the served version changes
            target = library / "group0" / f"prompt0000.v{version}.yaml"
            t = time.perf_counter()
            target.write_text(prompt_file(0, version), encoding="utf-8")
            with anyio.fail_after(30):
                await changed.wait()
            waits.append((time.perf_counter() - t) * 1000)
    return waits


def poll_cost(library: Path) -> float:
    sys.path.insert(0, str(ROOT))
    from mcp_suite.servers.prompts.library import Library

    lib = Library(library)
    lib.scan()
    runs = []
    for _ in range(10):
        t = time.perf_counter()
        result = lib.scan()
        runs.append((time.perf_counter() - t) * 1000)
        assert not result.any
    return statistics.median(runs)


async def main_async(quick: bool) -> dict[str, Any]:
    prompts = 300 if quick else 1000
    repeats = 3 if quick else 7
    work = Path(tempfile.mkdtemp(prefix="prompts-bench-"))
    library = work / "library"
    make_library(library, prompts)
    errlog = (work / "stderr.log").open("w")
    results: dict[str, Any] = {"prompts": prompts, "files": prompts * 3}

    warm_dir = work / "warm"
    await start_prompts(library, warm_dir, errlog)
    bare, cold, warm = [], [], []
    for i in range(repeats):  # interleaved, so a load change on the machine hits all three alike
        bare.append(await start_bare(errlog))
        warm.append(await start_prompts(library, warm_dir, errlog))
        cold.append(await start_prompts(library, work / f"cold-{i}", errlog))
    assert all(n == prompts for _, _, n in cold + warm)
    results["start_bare_s"] = statistics.median(bare)
    results["start_init_cold_s"] = statistics.median(c[0] for c in cold)
    results["start_list_cold_s"] = statistics.median(c[1] for c in cold)
    results["start_init_warm_s"] = statistics.median(w[0] for w in warm)
    results["start_list_warm_s"] = statistics.median(w[1] for w in warm)
    results.update(await latencies(library, warm_dir, prompts, work / "debug.log"))
    results["poll_ms"] = poll_cost(library)
    for interval in (1.0, 0.1):
        waits = await change_to_notification(library, warm_dir, interval, repeats, errlog)
        results[f"notify_p50_ms@{interval:g}s"] = statistics.median(waits)
        results[f"notify_max_ms@{interval:g}s"] = max(waits)
    errlog.close()
    return results


def table(r: dict[str, Any]) -> str:
    bare = r["start_bare_s"]
    rows = [
        ("bare MCPServer start (initialize + tools/list)", f"{bare * 1000:.0f} ms", "1.00×"),
        (
            "prompts start → initialize (warm registry)",
            f"{r['start_init_warm_s'] * 1000:.0f} ms",
            f"{r['start_init_warm_s'] / bare:.2f}×",
        ),
        (
            "prompts start → first prompts/list (warm)",
            f"{r['start_list_warm_s'] * 1000:.0f} ms",
            f"{r['start_list_warm_s'] / bare:.2f}×",
        ),
        (
            "prompts start → initialize (cold: publishes all)",
            f"{r['start_init_cold_s'] * 1000:.0f} ms",
            f"{r['start_init_cold_s'] / bare:.2f}×",
        ),
        (
            "prompts start → first prompts/list (cold)",
            f"{r['start_list_cold_s'] * 1000:.0f} ms",
            f"{r['start_list_cold_s'] / bare:.2f}×",
        ),
        ("prompts/list, all pages, p50 / p95 (client)", f"{r['list_p50_ms']:.1f} / {r['list_p95_ms']:.1f} ms", ""),
        ("prompts/get p50 / p95 (client)", f"{r['get_p50_ms']:.2f} / {r['get_p95_ms']:.2f} ms", ""),
        (
            "prompts/get p50 / p95 (inside the server)",
            f"{r['get_server_p50_ms']:.3f} / {r['get_server_p95_ms']:.3f} ms",
            "target ≤ 5 ms",
        ),
        ("prompts/get served counts stored (telemetry on)", f"{r['gets_counted']} of {r['gets']}", ""),
        ("library poll, nothing changed", f"{r['poll_ms']:.1f} ms", ""),
        (
            "file change → list_changed, 1 s poll (p50 / max)",
            f"{r['notify_p50_ms@1s']:.0f} / {r['notify_max_ms@1s']:.0f} ms",
            "",
        ),
        (
            "file change → list_changed, 0.1 s poll (p50 / max)",
            f"{r['notify_p50_ms@0.1s']:.0f} / {r['notify_max_ms@0.1s']:.0f} ms",
            "",
        ),
    ]
    lines = [
        f"Library: {r['prompts']} prompts × 3 versions ({r['files']} files); "
        f"{platform.python_version()}, {os.cpu_count()} CPUs",
        "",
        "| measure | value | vs bare / target |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 prompts, 3 repeats")
    args = parser.parse_args()
    results = anyio.run(main_async, args.quick)
    print(table(results))
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    (out / f"prompts-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
