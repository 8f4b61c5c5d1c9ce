"""The official MCP conformance suite against every server over Streamable HTTP, in both protocol eras.

Each server runs as its real console script (one process per server, shared by its scenarios);
``conformance server --url … --scenario … --spec-version …`` plays the client, and its own ``checks.json``
decides. These are the scenarios of the suite (pinned in ``.ci/package.json``) that need no fixture tools,
prompts or resources of the suite's own test server, each at every era that has it: the 2025-11-25
initialize handshake and 2026-07-28. Scenarios for optional features (resource subscriptions,
completion) run where the server advertises the feature and are skipped, with the reason, where not.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcp_suite.shared.cli import SERVERS, load_spec
from tests.integration.conftest import REPO, NodeTools
from tests.support import free_port, http_server, script

HANDSHAKE, MODERN = "2025-11-25", "2026-07-28"
SCENARIOS: list[tuple[str, str]] = [
    (HANDSHAKE, "server-initialize"),
    (HANDSHAKE, "server-session-lifecycle"),
    (HANDSHAKE, "ping"),
    (HANDSHAKE, "logging-set-level"),
    (HANDSHAKE, "server-sse-multiple-streams"),
    (MODERN, "server-sse-multiple-streams"),
    (MODERN, "sep-2164-resource-not-found"),
    (MODERN, "caching"),
    (MODERN, "http-header-validation"),
    *[(era, scenario) for scenario in ("tools-list", "resources-list", "prompts-list") for era in (HANDSHAKE, MODERN)],
    (HANDSHAKE, "dns-rebinding-protection"),
    (MODERN, "dns-rebinding-protection"),
]
# Optional features: the scenario runs only where the server's handshake capabilities declare it.
OPTIONAL: list[tuple[str, str, str]] = [
    (HANDSHAKE, "resources-subscribe", "resources.subscribe"),
    (HANDSHAKE, "resources-unsubscribe", "resources.subscribe"),
    (HANDSHAKE, "completion-complete", "completions"),
    (MODERN, "completion-complete", "completions"),
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
    node_tools: NodeTools, url: str, scenario: str, tmp: Path, era: str = HANDSHAKE
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    out = tmp / "results"
    argv = [node_tools.tool("conformance"), "server", "--url", url, "--scenario", scenario, "--spec-version", era]
    proc = subprocess.run(
        [*argv, "--output-dir", str(out)],
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


def _check(node_tools: NodeTools, url: str, era: str, scenario: str, tmp: Path) -> None:
    proc, checks = run_scenario(node_tools, url, scenario, tmp, era)
    report = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert checks, f"the conformance suite wrote no checks.json for {scenario} at {era}:\n{report}"
    not_passed = [
        f"{c['id']}: {c['status']} {c.get('errorMessage') or ''}"
        for c in checks
        if c["status"] not in ("SUCCESS", "INFO")
    ]
    assert not not_passed, f"{scenario} ({era}) against {url}:\n" + "\n".join(not_passed) + f"\n{report}"
    assert proc.returncode == 0, report


@pytest.mark.parametrize(("era", "scenario"), SCENARIOS, ids=[f"{s}@{e}" for e, s in SCENARIOS])
def test_conformance_scenario(node_tools: NodeTools, served: str, era: str, scenario: str, tmp_path: Path) -> None:
    _check(node_tools, served, era, scenario, tmp_path)


def _handshake_capabilities(url: str) -> dict[str, Any]:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": HANDSHAKE, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    response = httpx.post(url, json=request, headers=headers, timeout=30)
    data = next(line[5:] for line in response.text.splitlines() if line.startswith("data:"))
    capabilities: dict[str, Any] = json.loads(data)["result"]["capabilities"]
    return capabilities


@pytest.mark.parametrize(("era", "scenario", "feature"), OPTIONAL, ids=[f"{s}@{e}" for e, s, _ in OPTIONAL])
def test_conformance_optional_feature(
    node_tools: NodeTools, served: str, era: str, scenario: str, feature: str, tmp_path: Path
) -> None:
    declared: Any = _handshake_capabilities(served)
    for part in feature.split("."):
        declared = declared.get(part) if isinstance(declared, dict) else None
    if declared is None or declared is False:  # `completions: {}` declares the feature
        pytest.skip(f"{served} does not declare {feature}")
    _check(node_tools, served, era, scenario, tmp_path)


# `server-stateless` (2026-07-28) needs two things only the suite's own test server has: a diagnostic tool
# `test_missing_capability` (the -32021 checks) and tools that change the prompt and tool lists (the
# list_changed-on-subscription checks, SHOULD). Every other check of the scenario must pass.
STATELESS_NEEDS_FIXTURES = {
    "sep-2575-server-rejects-undeclared-capability",
    "sep-2575-missing-capability-http-400",
    "sep-2575-server-sends-prompts-list-changed-on-subscription",
    "sep-2575-server-sends-tools-list-changed-on-subscription",
}


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_conformance_server_stateless(node_tools: NodeTools, name: str, tmp_path: Path) -> None:
    """The suite's stateless-protocol scenario against each server started with ``--stateless``."""
    port = free_port()
    argv = [script(f"mcp-suite-{name}"), "--transport", "streamable-http", "--stateless", "--port", str(port)]
    argv += ["--data-dir", str(tmp_path / "data"), *server_flags(name)]
    with http_server(argv, port, timeout=60) as url:
        proc, checks = run_scenario(node_tools, url, "server-stateless", tmp_path, MODERN)
    report = f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert len(checks) > len(STATELESS_NEEDS_FIXTURES), report
    not_passed = [
        f"{c['id']}: {c['status']} {c.get('errorMessage') or ''}"
        for c in checks
        if c["status"] not in ("SUCCESS", "INFO") and c["id"] not in STATELESS_NEEDS_FIXTURES
    ]
    assert not not_passed, f"server-stateless against {name}:\n" + "\n".join(not_passed) + f"\n{report}"
