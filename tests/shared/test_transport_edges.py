"""Transport edges: requests whose Accept header does not cover the answer get 406 on both HTTP transports,
and a stdio server whose stdin closes right after a request shuts down without an error on stderr."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, http_server, script

pytestmark = pytest.mark.slow

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
DISCOVER = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "server/discover",
    "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    },
}


def _bare_client() -> httpx.Client:
    client = httpx.Client(timeout=5)
    client.headers.pop("accept", None)  # httpx sends `Accept: */*` unless told otherwise
    return client


def test_streamable_http_requires_an_accept_header_covering_json_and_sse(data_dir: Path) -> None:
    port = free_port()
    argv = [script("mcp-suite-memory"), "--transport", "streamable-http", "--port", str(port)]
    with http_server([*argv, "--data-dir", str(data_dir)], port) as url, _bare_client() as http:
        for accept in (None, "application/json", "text/html"):
            headers = {"Content-Type": "application/json"} | ({"Accept": accept} if accept else {})
            response = http.post(url, json=INITIALIZE, headers=headers)
            assert response.status_code == 406, (accept, response.text)
            assert "Not Acceptable" in response.json()["error"]["message"]
        for accept in ("application/json, text/event-stream", "*/*"):
            response = http.post(url, json=INITIALIZE, headers={"Content-Type": "application/json", "Accept": accept})
            assert response.status_code == 200, (accept, response.text)


def test_sse_stream_requires_accepting_event_streams(data_dir: Path) -> None:
    port = free_port()
    argv = [script("mcp-suite-memory"), "--transport", "sse", "--port", str(port), "--data-dir", str(data_dir)]
    with http_server(argv, port, path="/sse") as url, _bare_client() as http:
        for accept in (None, "application/json"):
            response = http.get(url, headers={"Accept": accept} if accept else {})
            assert response.status_code == 406, (accept, response.text)
            assert "text/event-stream" in response.json()["error"]["message"]
        with http.stream("GET", url, headers={"Accept": "text/event-stream"}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("server", ["memory", "retrieval", "prompts"])
def test_closing_stdin_right_after_a_request_shuts_down_cleanly(server: str, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (library / "greet.yaml").write_text(
        "name: Greet\nversion: '1'\ninput_variables:\n  - name: person\ntemplate: Hello {{ person }}\n"
    )
    extra = {"memory": [], "retrieval": ["--embedder", "none"], "prompts": ["--library", str(library)]}[server]
    # The race was in the prompts server (its background loader); the other two get one run per era.
    runs = [DISCOVER] * 6 if server == "prompts" else [DISCOVER, INITIALIZE]
    for run, request in enumerate(runs):
        proc = subprocess.run(
            [script("mcp-suite"), server, "--data-dir", str(tmp_path / f"data-{run}"), *extra],
            input=json.dumps(request) + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout.splitlines()[0])["id"] == 1
        assert "Event loop is closed" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
