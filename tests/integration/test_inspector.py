"""The installed console scripts driven over stdio by a client nobody here wrote: the MCP Inspector CLI.

Every Inspector invocation spawns a fresh server process on the same ``--data-dir``, so what one
call writes and the next one reads also proves the data persisted.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mcp_suite.shared.cli import SERVERS
from tests.integration.conftest import NodeTools
from tests.support import script

pytestmark = pytest.mark.slow

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


TOOL_ERROR_EXIT = 5  # the Inspector CLI's exit code for a tool result with isError: true


def inspector(
    node_tools: NodeTools, tmp: Path, server: str, *options: str, data_dir: Path, exit_code: int = 0
) -> dict[str, Any]:
    """Run one Inspector CLI call against ``mcp-suite-<server>`` over stdio and return its JSON answer."""
    # Inspector options before `--`, the server command line after it: our own flags (e.g. --log-level)
    # can then never be taken for the Inspector's.
    argv = [node_tools.tool("inspector"), "--cli", *options, "--", script(f"mcp-suite-{server}")]
    argv += ["--data-dir", str(data_dir), "--log-level", "WARNING"]
    proc = subprocess.run(
        argv,
        env=node_tools.env(tmp),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == exit_code, (
        f"inspector {' '.join(options)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )
    answer: dict[str, Any] = json.loads(proc.stdout)
    return answer


def call(
    node_tools: NodeTools, tmp: Path, tool: str, data_dir: Path, *, exit_code: int = 0, **arguments: Any
) -> dict[str, Any]:
    options = ["--method", "tools/call", "--tool-name", tool]
    for key, value in arguments.items():
        options += ["--tool-arg", f"{key}={json.dumps(value)}"]
    return inspector(node_tools, tmp, "memory", *options, data_dir=data_dir, exit_code=exit_code)


def structured(answer: dict[str, Any]) -> dict[str, Any]:
    """A tool's structured result (the SDK wraps non-object return values in ``{"result": …}``)."""
    assert answer["isError"] is False, answer
    content: dict[str, Any] = answer["structuredContent"]
    return content["result"] if set(content) == {"result"} else content


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_inspector_lists_each_servers_tools(server: str, node_tools: NodeTools, tmp_path: Path) -> None:
    answer = inspector(node_tools, tmp_path, server, "--method", "tools/list", data_dir=tmp_path / "data")
    tools = answer["tools"]
    assert tools, f"{server} lists no tools"
    for tool in tools:
        assert tool["name"] and tool["description"], tool
        assert tool["inputSchema"]["type"] == "object", tool
    if server == "memory":
        assert {tool["name"] for tool in tools} >= MEMORY_TOOLS


def test_inspector_memory_writes_persist_across_processes(node_tools: NodeTools, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    entities = [
        {"name": "Ada Lovelace", "entityType": "person", "observations": ["wrote the first program"]},
        {"name": "Analytical Engine", "entityType": "machine", "observations": ["designed by Babbage"]},
    ]
    created = call(node_tools, tmp_path, "create_entities", data_dir, entities=entities)
    assert created["isError"] is False, created

    relation = {"from": "Ada Lovelace", "to": "Analytical Engine", "relationType": "programmed"}
    related = call(node_tools, tmp_path, "create_relations", data_dir, relations=[relation])
    assert related["isError"] is False, related

    # A new process: what the earlier ones wrote must be in the database.
    graph = structured(call(node_tools, tmp_path, "read_graph", data_dir))
    stored = {e["name"]: e for e in graph["entities"]}
    assert set(stored) == {"Ada Lovelace", "Analytical Engine"}
    assert stored["Ada Lovelace"]["entityType"] == "person"
    assert "wrote the first program" in stored["Ada Lovelace"]["observations"]
    relations = graph["relations"]
    assert [(r["from"], r["to"], r["relationType"]) for r in relations] == [
        ("Ada Lovelace", "Analytical Engine", "programmed")
    ]

    found = call(node_tools, tmp_path, "search_nodes", data_dir, query="Lovelace")
    assert [e["name"] for e in structured(found)["entities"]] == ["Ada Lovelace"]

    # Bad input reaches the Inspector as a tool error with an actionable message; nothing is written.
    missing = call(
        node_tools,
        tmp_path,
        "add_observations",
        data_dir,
        exit_code=TOOL_ERROR_EXIT,
        observations=[{"entityName": "Nobody", "contents": ["x"]}],
    )
    assert missing["isError"] is True, missing
    assert "Nobody" in missing["content"][0]["text"]
    after = call(node_tools, tmp_path, "read_graph", data_dir)
    assert {e["name"] for e in structured(after)["entities"]} == set(stored)
