"""The official MCP conformance suite against every server over Streamable HTTP.

Each server runs as its real console script (one process per server, shared by its scenarios);
``conformance server --url … --scenario …`` plays the client, and its own ``checks.json`` decides.
These are the scenarios that need no fixture tools of the suite's test server.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcp_suite.shared.cli import SERVERS, load_spec
from tests.integration.conftest import REPO, NodeTools
from tests.support import free_port, http_server, script

SCENARIOS = [
    "server-initialize",
    "ping",
    "logging-set-level",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
]
EXAMPLE_PROMPTS = REPO / "examples" / "prompts"

pytestmark = pytest.mark.slow


def server_flags(name: str) -> list[str]:
    """Flags a server needs beyond the common ones to show its real surface (read from its settings)."""
    fields = load_spec(name).settings.model_fields
    flags: list[str] = []
    if "library" in fields and EXAMPLE_PROMPTS.is_dir():
        flags += ["--library", str(EXAMPLE_PROMPTS)]
    if "watch_interval" in fields:
        flags += ["--watch-interval", "0"]  # the library does not change under the test
    return flags


@pytest.fixture(scope="module", params=sorted(SERVERS))
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name: str = request.param
    data_dir = tmp_path_factory.mktemp(f"{name}-data")
    port = free_port()
    argv = [script(f"mcp-suite-{name}"), "--transport", "streamable-http", "--port", str(port)]
    argv += ["--data-dir", str(data_dir), *server_flags(name)]
    with http_server(argv, port, timeout=60) as url:
        yield url


def run_scenario(
    node_tools: NodeTools, url: str, scenario: str, tmp: Path
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    out = tmp / "results"
    proc = subprocess.run(
        [node_tools.tool("conformance"), "server", "--url", url, "--scenario", scenario, "--output-dir", str(out)],
        env=node_tools.env(tmp),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    results = sorted(out.glob(f"server-{scenario}-*/checks.json"))
    checks: list[dict[str, Any]] = json.loads(results[-1].read_text()) if results else []
    return proc, checks


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario(node_tools: NodeTools, served: str, scenario: str, tmp_path: Path) -> None:
    proc, checks = run_scenario(node_tools, served, scenario, tmp_path)
    report = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert checks, f"the conformance suite wrote no checks.json for {scenario}:\n{report}"
    not_passed = [f"{c['id']}: {c['status']} {c.get('errorMessage') or ''}" for c in checks if c["status"] != "SUCCESS"]
    assert not not_passed, f"{scenario} against {served}:\n" + "\n".join(not_passed) + f"\n{report}"
    assert proc.returncode == 0, report
