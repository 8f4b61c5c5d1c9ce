"""The shared transports over real HTTP and stdio, with the memory server's console script as the subject.

Each test compares against the same server built in memory, so it checks the transport, not the
memory server's current tool list.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from mcp_suite.servers.memory.cli import SPEC
from tests.support import free_port, http_server, script

pytestmark = pytest.mark.slow

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "mcp-suite-tests", "version": "0"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def in_memory_tool_names(data_dir: Path) -> list[str]:
    server = SPEC.build(SPEC.settings.load({"data_dir": data_dir}))
    async with Client(server) as client:
        return sorted(tool.name for tool in (await client.list_tools()).tools)


def memory_http(data_dir: Path, port: int, *flags: str) -> list[str]:
    return [script("mcp-suite-memory"), "--port", str(port), "--data-dir", str(data_dir), *flags]


def test_bearer_token_is_required_on_every_http_request(data_dir: Path) -> None:
    port = free_port()
    argv = memory_http(data_dir, port, "--transport", "streamable-http", "--auth-token", "s3cret-token")
    with http_server(argv, port) as url:
        missing = httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["error"] == "unauthorized"

        wrong = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer wrong"})
        assert wrong.status_code == 401
        # Not a prefix check: a token that merely starts like the right one is still wrong.
        prefix = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer s3cret"})
        assert prefix.status_code == 401

        ok = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200, ok.text
        assert "serverInfo" in ok.text and "mcp-suite-memory" in ok.text


def test_token_from_environment_variable(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SUITE_AUTH_TOKEN", "from-env")  # the server subprocess inherits it
    port = free_port()
    with http_server(memory_http(data_dir, port, "--transport", "streamable-http"), port) as url:
        assert httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS).status_code == 401
        authed = {**MCP_HEADERS, "Authorization": "Bearer from-env"}
        assert httpx.post(url, json=INITIALIZE, headers=authed).status_code == 200


def test_foreign_host_and_origin_headers_are_rejected(data_dir: Path) -> None:
    port = free_port()
    argv = memory_http(data_dir, port, "--transport", "streamable-http", "--allowed-host", "mcp.example.internal")
    with http_server(argv, port) as url:
        rebinding = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example.com"})
        assert rebinding.status_code == 421
        origin = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://evil.example.com"})
        assert origin.status_code == 403
        allowed = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "mcp.example.internal"})
        assert allowed.status_code == 200, allowed.text
        local = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Origin": f"http://localhost:{port}"})
        assert local.status_code == 200, local.text


@pytest.mark.anyio
async def test_sse_transport_serves_the_tool_list(data_dir: Path) -> None:
    expected = await in_memory_tool_names(data_dir / "in-memory")
    port = free_port()
    with http_server(memory_http(data_dir, port, "--transport", "sse"), port, path="/sse") as url:
        async with Client(sse_client(url)) as client:
            assert sorted(tool.name for tool in (await client.list_tools()).tools) == expected
            assert client.server_info is not None and client.server_info.name == "mcp-suite-memory"


@pytest.mark.anyio
async def test_streamable_http_serves_the_tool_list(data_dir: Path) -> None:
    expected = await in_memory_tool_names(data_dir / "in-memory")
    port = free_port()
    with http_server(memory_http(data_dir, port, "--transport", "streamable-http"), port) as url:
        async with Client(url) as client:
            assert sorted(tool.name for tool in (await client.list_tools()).tools) == expected


def test_stdio_writes_nothing_but_protocol_to_stdout(data_dir: Path, tmp_path: Path) -> None:
    """With DEBUG logging on, every stdout line is still a JSON-RPC message; the logs go to stderr."""
    requests: list[dict[str, Any]] = [
        INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "ping"},
    ]
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [script("mcp-suite-memory"), "--data-dir", str(data_dir), "--log-level", "DEBUG"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        watchdog = threading.Timer(60, proc.kill)  # a hung server fails the test instead of hanging it
        watchdog.start()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            lines: list[str] = []
            for request in requests:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
                if "id" in request:  # wait for the answer, so closing stdin cannot cut a request short
                    while True:
                        line = proc.stdout.readline()
                        assert line, f"server closed stdout; stdout so far: {lines}"
                        lines.append(line)
                        if json.loads(line).get("id") == request["id"]:
                            break
            proc.stdin.close()
            lines.extend(proc.stdout.readlines())
            assert proc.wait(timeout=30) == 0
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None and not pipe.closed:
                    pipe.close()
    replies = [json.loads(line) for line in lines]  # a stray print or log line would not parse
    assert all(reply.get("jsonrpc") == "2.0" for reply in replies), lines
    assert sorted(reply["id"] for reply in replies if "id" in reply) == [1, 2, 3]
    assert "DEBUG" in stderr_path.read_text()  # the logging happened, just not on stdout
