"""``mcp-suite serve``: every server in one process on one port, driven by real MCP clients over HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp_suite import __version__
from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.gateway import database_ready, storage_ready
from tests.support import free_port, http_server, script

pytestmark = pytest.mark.slow

TOKEN = "gateway-s3cret"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "tests", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
EXPECTED_TOOLS = {"memory": "create_entities", "retrieval": "search", "prompts": "set_label"}


def serve(data_dir: Path, port: int, *args: str) -> list[str]:
    # No embedder: these tests are about the endpoint, and loading the model would only slow them down.
    return [
        script("mcp-suite"),
        "serve",
        *args,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]


@pytest.fixture
def no_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SUITE_RETRIEVAL_EMBEDDER", "none")  # the server subprocess inherits it


@pytest.mark.anyio
@pytest.mark.usefixtures("no_embedder")
async def test_every_server_answers_on_its_own_path_with_the_token(data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with http_server(serve(data_dir, port, "--auth-token", TOKEN, "--no-console"), port, path=""):
        for name, tool in EXPECTED_TOOLS.items():
            url = f"{base}/{name}/mcp"
            assert httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS).status_code == 401
            wrong = {**MCP_HEADERS, "Authorization": "Bearer wrong"}
            assert httpx.post(url, json=INITIALIZE, headers=wrong).status_code == 401
            async with (
                create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                assert client.server_info is not None and client.server_info.name == f"mcp-suite-{name}"
                assert tool in {t.name for t in (await client.list_tools()).tools}
                if name == "memory":
                    created = await client.call_tool(
                        "create_entities",
                        {"entities": [{"name": "Gateway", "entityType": "test", "observations": ["one port"]}]},
                    )
                    assert not created.is_error
        # What the memory client wrote is in the memory server's own database.
        import sqlite3

        with sqlite3.connect(data_dir / "memory.db") as conn:
            assert conn.execute("SELECT name FROM entities").fetchall() == [("Gateway",)]

        # The probes need no token and say nothing but liveness, versions and readiness.
        health = httpx.get(f"{base}/health")
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "version": __version__,
            "servers": dict.fromkeys(EXPECTED_TOOLS, __version__),
        }
        ready = httpx.get(f"{base}/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "servers": dict.fromkeys(EXPECTED_TOOLS, "ok")}
        # No console was asked for, and nothing else is served.
        assert httpx.get(f"{base}/console/").status_code == 404


@pytest.mark.usefixtures("no_embedder")
def test_host_and_origin_checks_hold_on_every_mount(data_dir: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = serve(data_dir, port, "memory", "prompts", "--allowed-host", "mcp.example.internal")
    with http_server(argv, port, path=""):
        for name in ("memory", "prompts"):
            url = f"{base}/{name}/mcp"
            assert (
                httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example.com"}).status_code == 421
            )
            evil = {**MCP_HEADERS, "Origin": "http://evil.example.com"}
            assert httpx.post(url, json=INITIALIZE, headers=evil).status_code == 403
            allowed = {**MCP_HEADERS, "Host": "mcp.example.internal"}
            assert httpx.post(url, json=INITIALIZE, headers=allowed).status_code == 200
        # Only the named servers are mounted.
        assert httpx.post(f"{base}/retrieval/mcp", json=INITIALIZE, headers=MCP_HEADERS).status_code == 404
        assert set(httpx.get(f"{base}/health").json()["servers"]) == {"memory", "prompts"}
        # The console keeps the same Host check (DNS rebinding would otherwise read it).
        assert httpx.get(f"{base}/console/", headers={"Host": "evil.example.com"}).status_code == 421
        assert httpx.get(f"{base}/console/memory/").status_code == 200


@pytest.mark.anyio
@pytest.mark.usefixtures("no_embedder")
async def test_sse_mounts_each_server_under_its_prefix(data_dir: Path) -> None:
    port = free_port()
    with http_server(serve(data_dir, port, "memory", "prompts", "--transport", "sse"), port, path=""):
        for name in ("memory", "prompts"):
            async with Client(sse_client(f"http://127.0.0.1:{port}/{name}/sse")) as client:
                # The endpoint event must name /<name>/messages/, or every later POST would miss the server.
                assert client.server_info is not None and client.server_info.name == f"mcp-suite-{name}"
                assert EXPECTED_TOOLS[name] in {t.name for t in (await client.list_tools()).tools}


@pytest.mark.usefixtures("no_embedder")
def test_ready_reports_storage_that_cannot_be_read(data_dir: Path) -> None:
    port = free_port()
    with http_server(serve(data_dir, port, "memory", "--no-console"), port, path=""):
        assert httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200
        # The volume "goes away": the files vanish and something unreadable takes the database's place.
        for suffix in ("", "-wal", "-shm"):
            (data_dir / f"memory.db{suffix}").unlink(missing_ok=True)
        (data_dir / "memory.db").mkdir()
        ready = httpx.get(f"http://127.0.0.1:{port}/ready")
        assert ready.status_code == 503
        # No path or error text for an unauthenticated caller; the log has them.
        assert ready.json() == {"status": "unavailable", "servers": {"memory": "unavailable"}}
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200


def test_storage_ready_accepts_a_database_not_created_yet(tmp_path: Path) -> None:
    assert storage_ready(tmp_path / "new" / "memory.db") is None
    (tmp_path / "garbage.db").write_text("not sqlite" * 100)
    problem = storage_ready(tmp_path / "garbage.db")
    assert problem is not None and "garbage.db" in problem


def test_serve_rejects_an_unknown_server_and_stdio(data_dir: Path) -> None:
    import subprocess

    unknown = subprocess.run(
        [script("mcp-suite"), "serve", "memroy", "--data-dir", str(data_dir)], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "unknown server memroy" in unknown.stderr and "memory" in unknown.stderr
    stdio = subprocess.run([script("mcp-suite"), "serve", "--transport", "stdio"], capture_output=True, text=True)
    assert stdio.returncode == 2 and "stdio" in stdio.stderr


@pytest.mark.usefixtures("no_embedder")
def test_a_mounted_server_answers_exactly_like_the_single_server(data_dir: Path) -> None:
    """Whatever the single server's HTTP stack checks (token, Host, Origin, Accept …), the mount checks too."""
    requests = {
        "no token": {},
        "good": {"Authorization": f"Bearer {TOKEN}"},
        "wrong Accept": {"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"},
        "foreign Host": {"Authorization": f"Bearer {TOKEN}", "Host": "evil.example.com"},
        "foreign Origin": {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example.com"},
    }

    def statuses(url: str) -> dict[str, int]:
        return {
            name: httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **extra}).status_code
            for name, extra in requests.items()
        }

    single_port, gateway_port = free_port(), free_port()
    single = [script("mcp-suite-memory"), "--transport", "streamable-http", "--port", str(single_port)]
    single += ["--data-dir", str(data_dir / "single"), "--auth-token", TOKEN]
    with (
        http_server(single, single_port) as single_url,
        http_server(serve(data_dir, gateway_port, "memory", "--auth-token", TOKEN), gateway_port, path=""),
    ):
        alone = statuses(single_url)
        mounted = statuses(f"http://127.0.0.1:{gateway_port}/memory/mcp")
    assert mounted == alone
    assert alone["no token"] == 401 and alone["good"] == 200 and alone["foreign Host"] == 421


@pytest.mark.anyio
async def test_database_ready_on_postgres(postgres_url: str) -> None:
    assert await database_ready(parse_database_url(postgres_url)) is None
    problem = await database_ready(parse_database_url("postgresql://me:hunter2@127.0.0.1:1/suite"))
    assert problem is not None and "cannot reach PostgreSQL" in problem and "hunter2" not in problem
