"""URL ingestion through the MCP surface against a real local HTTP server: HTML reduced to text,
re-fetching an unchanged page changes nothing, size limits and unreachable hosts are clear errors."""

from __future__ import annotations

import functools
import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from tests.support import free_port

pytestmark = pytest.mark.anyio


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(corpus: Path) -> Iterator[str]:
    (corpus / "big.html").write_text("<html><body>" + "<p>filler text</p>" * 100_000 + "</body></html>")
    handler = functools.partial(QuietHandler, directory=str(corpus))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_ingest_url_then_search_cites_the_url(data_dir: Path, site: str) -> None:
    # The test site is on 127.0.0.1, which URL ingestion refuses unless told otherwise.
    settings = RetrievalSettings(data_dir=data_dir, embedder="none", max_url_mb=1.0, allow_private_urls=True)
    async with Client(build_server(settings)) as client:
        url = f"{site}/pricing.html"
        first = await client.call_tool("ingest_url", {"url": url, "tags": ["web"]})
        assert not first.is_error and first.structured_content is not None
        assert first.structured_content["added"] == 1

        found = await client.call_tool("search", {"query": "team plan price per user", "k": 1})
        assert found.structured_content is not None
        hit = found.structured_content["hits"][0]
        assert hit["source"] == url and hit["doc_type"] == "html" and "<" not in hit["text"]

        again = await client.call_tool("ingest_url", {"url": url})
        assert again.structured_content is not None and again.structured_content["unchanged"] == 1

        too_big = await client.call_tool("ingest_url", {"url": f"{site}/big.html"})
        assert too_big.is_error and "byte limit" in too_big.content[0].text  # type: ignore[union-attr]
        missing = await client.call_tool("ingest_url", {"url": f"{site}/nope.html"})
        assert missing.is_error and "404" in missing.content[0].text  # type: ignore[union-attr]

        sources = await client.call_tool("list_sources", {"filters": {"kinds": ["url"]}})
        assert sources.structured_content is not None
        assert [s["source"] for s in sources.structured_content["sources"]] == [url]
    # Each failed fetch is kept as that URL's last ingest error (the console shows it).
    with sqlite3.connect(settings.database_path) as conn:
        errors = dict(conn.execute("SELECT source, message FROM ingest_errors WHERE kind = 'url'").fetchall())
    assert sorted(errors) == [f"{site}/big.html", f"{site}/nope.html"] and "404" in errors[f"{site}/nope.html"]
