"""The prompts server as hosts and CI run it: the console script over stdio, publish and label commands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import TextContent

from tests.prompts.serving import EXAMPLES, prompt_yaml, write
from tests.support import script, stdio_server

pytestmark = pytest.mark.slow


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script("mcp-suite"), "prompts", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.anyio
async def test_stdio_server_lists_and_renders_the_library(tmp_path: Path) -> None:
    library = tmp_path / "library"
    shutil.copytree(EXAMPLES, library)
    params = stdio_server(
        "mcp-suite-prompts", "--library", str(library), "--data-dir", str(tmp_path / "data"), "--watch-interval", "0"
    )
    async with Client(params) as client:
        names = {p.name for p in (await client.list_prompts()).prompts}
        assert "SummarizeSupportTicket" in names
        result = await client.get_prompt(
            "SummarizeSupportTicket", {"support_ticket_text": "Order 42 never arrived", "output_format": "detailed"}
        )
        text = "\n".join(m.content.text for m in result.messages if isinstance(m.content, TextContent))
        assert "Order 42 never arrived" in text
        assert result.meta is not None and result.meta["mcp-suite/source"] == "library"


@pytest.mark.anyio
async def test_publish_and_label_commands_feed_the_server(tmp_path: Path) -> None:
    library, data = tmp_path / "library", str(tmp_path / "data")
    write(library / "greet.v1.yaml", prompt_yaml(version="1"))
    write(library / "greet.v2.yaml", prompt_yaml(version="2", template="Two {{ person }} {{ tone }}"))

    first = run_cli("publish", str(library), "--data-dir", data)
    assert first.returncode == 0, first.stderr
    assert "2 published, 0 unchanged" in first.stdout
    again = run_cli("publish", str(library), "--data-dir", data)
    assert again.returncode == 0 and "0 published, 2 unchanged" in again.stdout

    write(library / "greet.v2.yaml", prompt_yaml(version="2", template="Edited {{ person }} {{ tone }}"))
    conflict = run_cli("publish", str(library), "--data-dir", data)
    assert conflict.returncode == 1
    assert f"{library / 'greet.v2.yaml'}:3: prompt 'Greet' version 2 is already published" in conflict.stderr

    write(library / "broken.yaml", "name: [\n")
    broken = run_cli("publish", str(library), "--data-dir", data)
    assert broken.returncode == 1 and "nothing was published" in broken.stderr and "broken.yaml:" in broken.stderr

    labelled = run_cli("label", "Greet", "production", "1", "--data-dir", data)
    assert labelled.returncode == 0, labelled.stderr
    assert "Greet: label production -> 1 (was unset)" in labelled.stdout
    unknown = run_cli("label", "Greet", "production", "7", "--data-dir", data)
    assert unknown.returncode == 1 and "has no version '7'" in unknown.stderr

    # A server with no library serves the registry: the production label decides.
    async with Client(stdio_server("mcp-suite-prompts", "--data-dir", data)) as client:
        result = await client.get_prompt("Greet", {"person": "Ada"})
        assert result.meta is not None and result.meta["mcp-suite/version"] == "1"
        assert result.meta["mcp-suite/label"] == "production"


def test_help_lists_the_commands() -> None:
    out = run_cli("--help")
    assert out.returncode == 0
    for word in ("check", "test", "publish", "label", "--library", "--watch-interval", "MCP_SUITE_PROMPTS_LIBRARY"):
        assert word in out.stdout


def test_closing_stdin_right_after_discover_shuts_down_cleanly(tmp_path: Path) -> None:
    """The registry opens in the background once a client speaks; hanging up then must leave no traceback."""
    import json

    discover = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "server/discover",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        },
    }
    for run in range(6):  # the race lost 4 runs in 6 before the open was shielded
        process = subprocess.Popen(
            [script("mcp-suite-prompts"), "--library", str(EXAMPLES), "--data-dir", str(tmp_path / f"d{run}")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None and process.stderr is not None
        process.stdin.write((json.dumps(discover) + "\n").encode())
        process.stdin.flush()
        answer = json.loads(process.stdout.readline())
        assert "capabilities" in answer["result"], answer
        process.stdin.close()
        assert process.wait(timeout=30) == 0
        errors = process.stderr.read().decode()
        process.stdout.close()
        process.stderr.close()
        assert "Traceback" not in errors and "Event loop is closed" not in errors, errors
