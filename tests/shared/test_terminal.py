"""A server started by hand on a terminal says what it is waiting for; one launched by a host stays quiet."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time
from pathlib import Path

import pytest

from mcp_suite.shared.transports import stdio_greeting
from tests.support import script

pytestmark = pytest.mark.slow

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "tests", "version": "0"}},
}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("name", ["memory", "prompts"])
def test_interactive_terminal_gets_one_line_on_stderr(name: str, data_dir: Path, tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [script(f"mcp-suite-{name}"), "--data-dir", str(data_dir), "--log-level", "WARNING"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    os.close(terminal)
    try:
        deadline = time.monotonic() + 30
        while "speaks MCP" not in stderr_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, stderr_path.read_text()
            time.sleep(0.1)
    finally:
        _stop(proc)
        os.close(controller)
        assert proc.stdout is not None
        stdout = proc.stdout.read()
        proc.stdout.close()
    lines = stderr_path.read_text().splitlines()
    assert lines[0] == stdio_greeting(f"mcp-suite-{name}")
    assert f"npx @modelcontextprotocol/inspector mcp-suite-{name}" in lines[0]
    assert stdout == b""  # stdout still carries nothing but the protocol


def test_host_launch_stays_silent(data_dir: Path, tmp_path: Path) -> None:
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [script("mcp-suite-memory"), "--data-dir", str(data_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
        proc.stdin.flush()
        reply = json.loads(proc.stdout.readline())  # served: so it got past the point where it would have spoken
        assert reply["id"] == 1 and "serverInfo" in reply["result"]
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        _stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()
    assert "speaks MCP" not in stderr_path.read_text()
