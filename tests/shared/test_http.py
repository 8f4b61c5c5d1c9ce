"""The shared HTTP layer against a real local HTTP server: retries, ``Retry-After``, idempotency, pooling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.fetching import FetchError, UrlPolicy, fetch_url
from mcp_suite.servers.retrieval.rerank import HttpReranker
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import OpenAIEmbedder
from mcp_suite.shared.http import NO_RETRY, RetryPolicy, open_client, open_pool, request, retry_after_seconds

pytestmark = pytest.mark.anyio


@dataclass
class Peer:
    """What the local server saw, and how many 503s it still has to give per path."""

    url: str
    busy: dict[str, int] = field(default_factory=dict)
    retry_after: str | None = "1"
    hits: list[tuple[str, str, int, float]] = field(default_factory=list)  # (method, path, client port, time)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _, _ in self.hits if p == path)


@pytest.fixture
def peer() -> Iterator[Peer]:
    state = Peer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so a pooled client can reuse its connection

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path
            state.hits.append((self.command, path, self.client_address[1], time.monotonic()))
            if state.busy.get(path, 0) > 0:
                state.busy[path] -= 1
                self.send_response(503)
                if state.retry_after is not None:
                    self.send_header("Retry-After", state.retry_after)
                self._send(b"busy", "text/plain")
                return
            if path == "/embeddings":
                texts = json.loads(body)["input"]
                data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0]} for i, t in enumerate(texts)]
                self.send_response(200)
                self._send(json.dumps({"data": data}).encode(), "application/json")
            elif path == "/rerank":
                texts = json.loads(body)["texts"]
                self.send_response(200)
                scores = [{"index": i, "score": float(i)} for i in range(len(texts))]
                self._send(json.dumps(scores).encode(), "application/json")
            else:
                self.send_response(200)
                self._send(b"<html><title>ok</title><body>hello</body></html>", "text/html")

        def _send(self, body: bytes, kind: str) -> None:
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_503_with_retry_after_is_retried_after_the_asked_wait(peer: Peer) -> None:
    peer.busy["/page"] = 1
    async with open_client() as http:
        started = time.monotonic()
        response = await request(http, "GET", f"{peer.url}/page")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert peer.count("/page") == 2
    gap = peer.hits[1][3] - peer.hits[0][3]
    assert gap >= 0.9 and elapsed < 3.0  # waited the second it was asked to, not the backoff nor longer


async def test_retry_after_is_capped(peer: Peer) -> None:
    peer.busy["/page"] = 1
    peer.retry_after = "3600"
    async with open_client() as http:
        started = time.monotonic()
        response = await request(http, "GET", f"{peer.url}/page", policy=RetryPolicy(max_retry_after=0.2))
    assert response.status_code == 200
    assert time.monotonic() - started < 2.0


async def test_the_last_answer_comes_back_when_retries_run_out(peer: Peer) -> None:
    peer.busy["/page"] = 5
    peer.retry_after = "0"
    async with open_client() as http:
        response = await request(http, "GET", f"{peer.url}/page", policy=RetryPolicy(attempts=3))
    assert response.status_code == 503 and response.text == "busy"
    assert peer.count("/page") == 3


async def test_a_post_is_retried_only_when_marked_safe(peer: Peer) -> None:
    peer.retry_after = "0"
    peer.busy["/submit"] = 1
    async with open_client() as http:
        response = await request(http, "POST", f"{peer.url}/submit", json={"x": 1})
        assert response.status_code == 503
        assert peer.count("/submit") == 1  # not idempotent: sent once

        peer.busy["/submit"] = 1
        response = await request(http, "POST", f"{peer.url}/submit", json={"x": 1}, retry_safe=True)
    assert response.status_code == 200
    assert peer.count("/submit") == 3


async def test_one_pooled_client_serves_every_call(peer: Peer) -> None:
    async with open_client() as http:
        embedder = OpenAIEmbedder(base_url=peer.url, model="m", client=http)
        reranker = HttpReranker(f"{peer.url}/rerank", client=http)
        vectors = await embedder.embed(["a", "bbb"])
        assert await reranker.rerank("q", ["x", "y"]) == [0.0, 1.0]
        await fetch_url(f"{peer.url}/page", client=http, policy=UrlPolicy(allow_private=True))
        await embedder.embed(["c"])
    assert vectors.shape == (2, 3) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    ports = {port for _, _, port, _ in peer.hits}
    assert len(peer.hits) == 4 and len(ports) == 1  # four calls, one kept-alive connection


async def test_embedder_and_url_ingest_retry_a_busy_peer(peer: Peer) -> None:
    peer.retry_after = "0"
    peer.busy["/embeddings"] = 2
    peer.busy["/page"] = 1
    async with open_client() as http:
        embedder = OpenAIEmbedder(base_url=peer.url, model="m", client=http)
        assert (await embedder.embed(["a"])).shape == (1, 3)
        fetched = await fetch_url(f"{peer.url}/page", client=http, policy=UrlPolicy(allow_private=True))
    assert b"hello" in fetched.data
    assert peer.count("/embeddings") == 3 and peer.count("/page") == 2


async def test_url_ingest_keeps_its_address_policy_on_retries(peer: Peer) -> None:
    peer.busy["/page"] = 1
    with pytest.raises(FetchError, match="loopback"):
        await fetch_url(f"{peer.url}/page")  # the default policy refuses 127.0.0.1 before connecting
    assert peer.hits == []


async def test_connect_errors_are_retried_for_safe_requests_only() -> None:
    calls: list[str] = []

    def refuse(req: httpx.Request) -> httpx.Response:
        calls.append(req.method)
        raise httpx.ConnectError("connection refused", request=req)

    policy = RetryPolicy(attempts=3, backoff=0.0)
    async with open_client(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(httpx.ConnectError):
            await request(http, "GET", "http://peer.test/", policy=policy)
        with pytest.raises(httpx.ConnectError):
            await request(http, "POST", "http://peer.test/", policy=policy)
        with pytest.raises(httpx.ConnectError):
            await request(http, "GET", "http://peer.test/", policy=NO_RETRY)
    assert calls == ["GET", "GET", "GET", "POST", "GET"]


def test_retry_after_values() -> None:
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Mon, 30 Nov 2026 12:00:05 GMT", now=now) == 5.0
    assert retry_after_seconds("Mon, 30 Nov 2026 11:00:00 GMT", now=now) == 0.0  # in the past: no wait
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("-3") is None


async def test_the_pool_opens_its_client_on_first_use_and_closes_it_with_the_lifespan(peer: Peer) -> None:
    async with open_pool() as pool:
        assert not pool.opened  # a session that never calls out never builds a client
        first = pool.client
        assert pool.client is first and pool.opened
        assert (await request(first, "GET", f"{peer.url}/page")).status_code == 200
    assert first.is_closed and not pool.opened


async def test_the_retrieval_server_embeds_and_reranks_over_one_pooled_connection(peer: Peer, tmp_path: Path) -> None:
    settings = RetrievalSettings(
        data_dir=tmp_path,
        embedder="openai",
        embedding_url=peer.url,
        embedding_model="m",
        rerank_url=f"{peer.url}/rerank",
    )
    async with Client(build_server(settings)) as client:
        for i, text in enumerate(["otters hold hands while they sleep", "beavers build dams in rivers"]):
            done = await client.call_tool("ingest_text", {"text": text, "source": f"note{i}.txt"})
            assert not done.is_error
        found = await client.call_tool("search", {"query": "otters", "mode": "semantic"})
        assert not found.is_error and found.structured_content is not None
        assert found.structured_content["hits"]
    paths = [path for _, path, _, _ in peer.hits]
    assert paths.count("/embeddings") == 3 and paths.count("/rerank") == 1
    assert len({port for _, _, port, _ in peer.hits}) == 1  # the lifespan's one client, kept alive throughout
