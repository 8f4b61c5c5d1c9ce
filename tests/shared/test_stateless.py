"""``--stateless`` Streamable HTTP (issue 13): no sessions, so a load balancer may send any request to any
replica, with the HTTP security defaults (loopback bind, Host/Origin checks, bearer token) unchanged.

The servers run as real subprocesses (the memory console script); requests are raw JSON-RPC over HTTP
where the test is about headers, and the SDK ``Client`` where it is about what a host sees.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcp_suite.servers.prompts.server import build_server as build_prompts
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.settings import ServerSettings
from mcp_suite.shared.transports import http_app
from tests.support import free_port, http_server, script

pytestmark = pytest.mark.slow

LEGACY = "2025-11-25"
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": LEGACY,
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "mcp-suite-tests", "version": "0"},
    },
}


def memory_http(data_dir: Path, port: int, *flags: str) -> list[str]:
    return [
        script("mcp-suite-memory"),
        "--transport",
        "streamable-http",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--embedder",
        "none",
        *flags,
    ]


def call(name: str, arguments: dict[str, Any], request_id: int = 2) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


def answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC answer in a response, whether sent as JSON or as the last SSE ``message`` event."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/json"):
        body: dict[str, Any] = response.json()
        return body
    events = [line.removeprefix("data:").strip() for line in response.text.splitlines() if line.startswith("data:")]
    answers = [json.loads(event) for event in events if event and "id" in json.loads(event)]
    assert answers, response.text
    return answers[-1]


def structured(response: httpx.Response) -> dict[str, Any]:
    result = answer(response)["result"]
    assert not result.get("isError"), result
    content: dict[str, Any] = result["structuredContent"]
    return content


def test_stateless_requests_need_no_session_and_any_replica_answers(data_dir: Path) -> None:
    """Two replicas over one data folder: a write through one and a read through the other, no session id."""
    first, second = free_port(), free_port()
    with (
        http_server(memory_http(data_dir, first, "--stateless"), first) as one,
        http_server(memory_http(data_dir, second, "--stateless"), second) as other,
    ):
        hello = httpx.post(one, json=INITIALIZE, headers=HEADERS)
        assert answer(hello)["result"]["serverInfo"]["name"] == "mcp-suite-memory"
        assert "mcp-session-id" not in hello.headers  # nothing to stick to

        entity = {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}
        wrote = httpx.post(one, json=call("create_entities", {"entities": [entity]}), headers=HEADERS)
        assert "mcp-session-id" not in wrote.headers
        assert [e["name"] for e in structured(wrote)["entities"]] == ["Ada"]

        # A request with no initialize before it, on the other replica: it reads what the first one stored.
        read = httpx.post(other, json=call("open_nodes", {"names": ["Ada"]}, request_id=3), headers=HEADERS)
        opened = structured(read)["entities"]
        assert [(e["name"], e["observations"]) for e in opened] == [("Ada", ["wrote the first program"])]


def test_stateful_mode_still_issues_a_session_id(data_dir: Path) -> None:
    port = free_port()
    with http_server(memory_http(data_dir, port), port) as url:
        hello = httpx.post(url, json=INITIALIZE, headers=HEADERS)
        assert answer(hello)["result"]["serverInfo"]["name"] == "mcp-suite-memory"
        session = hello.headers["mcp-session-id"]
        assert session

        # Without the id the server does not know the caller: the reason replicas then need sticky routing.
        lost = httpx.post(url, json=call("read_graph", {}), headers=HEADERS)
        assert lost.status_code == 400, lost.text
        sticky = httpx.post(url, json=call("read_graph", {}), headers={**HEADERS, "Mcp-Session-Id": session})
        assert answer(sticky)["result"]


def test_stateless_mode_keeps_the_bearer_token_and_host_checks(data_dir: Path) -> None:
    port = free_port()
    argv = memory_http(data_dir, port, "--stateless", "--auth-token", "s3cret-token")
    with http_server(argv, port) as url:
        missing = httpx.post(url, json=INITIALIZE, headers=HEADERS)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.post(url, json=INITIALIZE, headers={**HEADERS, "Authorization": "Bearer s3cret"})
        assert wrong.status_code == 401

        authed = {**HEADERS, "Authorization": "Bearer s3cret-token"}
        assert answer(httpx.post(url, json=INITIALIZE, headers=authed))["result"]["serverInfo"]
        assert structured(httpx.post(url, json=call("read_graph", {}), headers=authed)) is not None

        # No session, so no standalone stream either: 405 rather than an SSE stream nothing would ever use.
        stream = httpx.get(url, headers={"Accept": "text/event-stream", "Authorization": "Bearer s3cret-token"})
        assert stream.status_code == 405 and stream.headers["allow"] == "POST"
        assert httpx.get(url, headers={"Accept": "text/event-stream"}).status_code == 401  # the token comes first

        rebinding = httpx.post(url, json=INITIALIZE, headers={**authed, "Host": "evil.example.com"})
        assert rebinding.status_code == 421
        origin = httpx.post(url, json=INITIALIZE, headers={**authed, "Origin": "http://evil.example.com"})
        assert origin.status_code == 403


def test_json_response_mode_answers_with_one_json_body(data_dir: Path) -> None:
    port = free_port()
    with http_server(memory_http(data_dir, port, "--stateless", "--json-response"), port) as url:
        response = httpx.post(url, json=call("read_graph", {}), headers=HEADERS)
        assert response.headers["content-type"].startswith("application/json")
        assert answer(response)["result"]["structuredContent"] is not None


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_uses_a_stateless_server(data_dir: Path, mode: str) -> None:
    """What a host sees: both protocol eras work; a resource subscription is refused with the reason."""
    port = free_port()
    with http_server(memory_http(data_dir, port, "--stateless"), port) as url:
        async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {"create_entities", "read_graph", "search_nodes"} <= tools
            created = await client.call_tool(
                "create_entities", {"entities": [{"name": "Grace", "entityType": "person", "observations": []}]}
            )
            assert not created.is_error
            if mode == "legacy":
                with pytest.raises(MCPError, match="--stateless"):
                    await client.subscribe_resource("memory://graph")


def test_stateless_needs_streamable_http(tmp_path: Path) -> None:
    for transport in ("stdio", "sse"):
        settings = ServerSettings.load({"transport": transport, "stateless": True, "data_dir": tmp_path})
        with pytest.raises(InvalidInputError, match="add --transport streamable-http"):
            settings.check_serving()
    with pytest.raises(InvalidInputError, match="--json-response"):
        ServerSettings.load({"json_response": True, "data_dir": tmp_path}).check_serving()


def test_stateless_on_another_transport_stops_serving_but_not_commands(data_dir: Path, tmp_path: Path) -> None:
    """Serving refuses the contradiction with one line and exit 2; a command does not care about the mode."""
    env = {**os.environ, "MCP_SUITE_STATELESS": "true"}
    served = subprocess.run(
        [script("mcp-suite-memory"), "--data-dir", str(data_dir)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode == 2
    assert served.stderr.strip().splitlines() == [
        "mcp-suite-memory: invalid settings: --stateless (MCP_SUITE_STATELESS) is a Streamable HTTP mode; "
        "add --transport streamable-http (the transport is stdio)"
    ]
    exported = tmp_path / "graph.jsonl"
    command = subprocess.run(
        [script("mcp-suite-memory"), "--data-dir", str(data_dir), "export", "--output", str(exported)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert command.returncode == 0, command.stderr
    assert exported.exists()


def test_stateless_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SUITE_STATELESS", "true")
    monkeypatch.setenv("MCP_SUITE_TRANSPORT", "streamable-http")
    assert ServerSettings.load({"data_dir": tmp_path}).stateless is True


@pytest.mark.anyio
@pytest.mark.parametrize("stateless", [False, True])
async def test_prompts_server_keeps_no_stateless_session(tmp_path: Path, stateless: bool) -> None:
    """A handshake-era host is remembered for list_changed over a session; over stateless HTTP no message
    could reach it between requests, so it is not kept (it would only pile up)."""
    settings = PromptsSettings.load(
        {"data_dir": tmp_path, "transport": "streamable-http", "stateless": stateless, "port": free_port()}
    )
    server = build_prompts(settings)
    web = uvicorn.Server(uvicorn.Config(http_app(server, settings), port=settings.port, log_config=None))
    async with anyio.create_task_group() as group:
        group.start_soon(web.serve)
        while not web.started:
            await anyio.sleep(0.05)
        try:
            for _ in range(3):
                async with Client(f"http://127.0.0.1:{settings.port}/mcp", mode="legacy") as client:
                    await client.list_prompts()
                    assert server.broadcaster.sessions == 0 if stateless else server.broadcaster.sessions >= 1
        finally:
            web.should_exit = True


def test_one_endpoint_serves_every_server_stateless(data_dir: Path) -> None:
    """`mcp-suite serve --stateless` hands the mode to every mounted server."""
    port = free_port()
    argv = [script("mcp-suite"), "serve", "memory", "prompts", "--port", str(port), "--data-dir", str(data_dir)]
    with http_server([*argv, "--stateless", "--no-console"], port, path="/memory/mcp", timeout=60) as url:
        for path in ("/memory/mcp", "/prompts/mcp"):
            listed = httpx.post(
                url.replace("/memory/mcp", path),
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers=HEADERS,
            )
            assert "mcp-session-id" not in listed.headers
            assert answer(listed)["result"]["tools"]
