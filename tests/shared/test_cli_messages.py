"""Messages for people: every CLI mistake is one clear line (exit 2 for usage, settings and data folder
problems), help goes to stdout, unknown names come with the valid ones, and CLI messages name CLI commands."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mcp_suite.shared.cli import main
from tests.support import script

pytestmark = pytest.mark.slow


def run(*argv: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    return int(caught.value.code or 0)


def test_help_goes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--help"]) == 0
    out, err = capsys.readouterr()
    assert "usage: mcp-suite SERVER" in out and "servers: memory, retrieval, prompts" in out and err == ""


def test_unknown_server_is_named_with_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["memroy"]) == 2
    err = capsys.readouterr().err
    assert "unknown server 'memroy' (did you mean 'memory'?)" in err
    assert "memory, retrieval, prompts" in err


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file")
    for data_dir, text in (
        (blocker, f"the data folder {blocker} is a file, not a folder; point --data-dir at a folder"),
        (blocker / "sub", f"cannot create the data folder {blocker / 'sub'}"),
    ):
        proc = run(script("mcp-suite"), "memory", "--data-dir", str(data_dir))  # serving; stdin is closed
        assert proc.returncode == 2
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"mcp-suite memory: {text}"), proc.stderr


def test_stdio_server_with_a_bad_data_dir_still_answers_initialize(tmp_path: Path) -> None:
    """The host sees why the server cannot start instead of a bare 'server disconnected'."""
    blocker = tmp_path / "data"
    blocker.write_text("a file")
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    proc = run(script("mcp-suite-memory"), "--data-dir", str(blocker), stdin=json.dumps(initialize) + "\n")
    assert proc.returncode == 2
    reply = json.loads(proc.stdout)
    assert reply["id"] == 1 and reply["error"]["code"] == -32603
    assert "is a file, not a folder; point --data-dir at a folder" in reply["error"]["message"]
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_config_typos_and_bad_values_are_one_line_each(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("trnasport: sse\n")
    proc = run(script("mcp-suite-memory"), "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"mcp-suite-memory: config file {config}: unknown setting 'trnasport' (did you mean 'transport'?)"
    )
    config.write_text("port: 70000\nmemory:\n  namespce: x\n")
    proc = run(script("mcp-suite-memory"), "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "mcp-suite-memory: invalid settings:",
        "- port (--port / MCP_SUITE_PORT): must be at most 65535 (got 70000)",
        "- unknown setting 'namespce' (did you mean 'namespace'?)",
    ]
    assert "pydantic" not in proc.stderr


def test_config_alias_bomb_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    levels = ["a: &a [" + ",".join(['"lol"'] * 9) + "]"]
    levels += [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    config.write_text("\n".join(levels) + "\n")
    proc = run(script("mcp-suite-memory"), "--config", str(config), timeout=20)
    assert proc.returncode == 2
    assert "is refused (line" in proc.stderr and "billion laughs" in proc.stderr


def test_a_command_with_a_bad_data_dir_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file")
    proc = run(script("mcp-suite"), "memory", "--data-dir", str(blocker), "export")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"mcp-suite memory: the data folder {blocker} is a file, not a folder; point --data-dir at a folder"
    ]


def test_export_of_an_unknown_namespace_says_so(tmp_path: Path) -> None:
    proc = run(script("mcp-suite"), "memory", "--data-dir", str(tmp_path), "export", "--namespace", "nosuch")
    assert proc.returncode == 1
    assert "namespace 'nosuch'" in proc.stderr and "holds nothing" in proc.stderr
    assert proc.stdout == ""


def test_cli_messages_name_cli_commands(tmp_path: Path) -> None:
    base = [script("mcp-suite"), "retrieval", "--data-dir", str(tmp_path), "--embedder", "none"]
    proc = run(*base, "delete", "nosuch")
    assert proc.returncode == 1
    assert "`mcp-suite retrieval sources` shows what is indexed" in proc.stderr and "list_sources" not in proc.stderr
    proc = run(*base, "search", "x", "--filter", '{"tags": "x", "folder": 1}')
    assert proc.returncode == 1
    assert "bad --filter: 2 problems:" in proc.stderr
    assert "- tags: expected a list of tags, got a string" in proc.stderr
    assert "- folder: is not a known field" in proc.stderr
    proc = run(*base, "search", "x", "--filter", "{not json")
    assert "bad --filter: is not valid JSON" in proc.stderr
