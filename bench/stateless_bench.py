"""Per-request cost of ``--stateless`` Streamable HTTP, next to the default stateful mode as the control.

One memory server process per mode (``--embedder none``, a graph of 200 entities), driven by one
keep-alive ``httpx`` client with raw JSON-RPC POSTs at protocol 2025-11-25, as a load balancer would
forward them: stateful requests carry the ``Mcp-Session-Id`` that ``initialize`` issued, stateless ones
carry nothing. Measured per mode: ``tools/call read_graph`` and ``tools/call search_nodes`` p50/p95
over N requests after a warm-up, in one run, modes interleaved per round so machine noise hits both.

Usage: ``python bench/stateless_bench.py [--requests N]``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import free_port, http_server, script  # noqa: E402

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}


def post(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    response = client.post(url, json=body, headers=headers)
    response.raise_for_status()
    if '"error"' in response.text[:200]:
        raise RuntimeError(response.text[:500])
    return response


def call(name: str, arguments: dict[str, Any], request_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    modes = {"stateful": [], "stateless": ["--stateless"]}
    timings: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp, httpx.Client(timeout=30) as client:
        urls: dict[str, str] = {}
        headers: dict[str, dict[str, str]] = {}
        stack = []
        for mode, flags in modes.items():
            port = free_port()
            argv = [script("mcp-suite-memory"), "--transport", "streamable-http", "--port", str(port)]
            argv += ["--data-dir", str(Path(tmp) / mode), "--embedder", "none", "--log-level", "WARNING", *flags]
            server = http_server(argv, port, timeout=60)
            urls[mode] = server.__enter__()
            stack.append(server)
            hello = post(client, urls[mode], INITIALIZE, HEADERS)
            session = hello.headers.get("mcp-session-id")
            headers[mode] = {**HEADERS, **({"Mcp-Session-Id": session} if session else {})}
            if session:
                post(client, urls[mode], {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers[mode])
            entities = [
                {"name": f"Person {i}", "entityType": "person", "observations": [f"works on project {i % 17}"]}
                for i in range(200)
            ]
            post(client, urls[mode], call("create_entities", {"entities": entities}, 1), headers[mode])
        try:
            requests = [("read_graph", {"limit": 50}), ("search_nodes", {"query": "project 3"})]
            for round_ in range(args.requests + 20):  # the first 20 rounds warm up and are not kept
                for mode in modes:
                    for name, arguments in requests:
                        started = time.perf_counter()
                        post(client, urls[mode], call(name, arguments, 100 + round_), headers[mode])
                        if round_ >= 20:
                            timings.setdefault((mode, name), []).append((time.perf_counter() - started) * 1000)
        finally:
            for server in reversed(stack):
                server.__exit__(None, None, None)
    print(f"| request | mode | p50 ms | p95 ms |  ({args.requests} requests each)")
    print("|---|---|---|---|")
    for (mode, name), values in sorted(timings.items(), key=lambda item: (item[0][1], item[0][0])):
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"| {name} | {mode} | {statistics.median(values):.2f} | {p95:.2f} |")
    print(json.dumps({f"{m}/{n}": round(statistics.median(v), 3) for (m, n), v in timings.items()}))


if __name__ == "__main__":
    main()
