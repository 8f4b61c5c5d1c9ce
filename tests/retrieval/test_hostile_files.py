"""Hostile files for the retrieval readers: deeply nested HTML, gzip bombs. Each is refused (or read) within a
bound, with a per-file error in the ingest report, while the server keeps answering other calls."""

from __future__ import annotations

import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.readers import MAX_DOCUMENT_BYTES, DocumentTooLargeError, parse_bytes, parse_text
from mcp_suite.servers.retrieval.readers import html as html_reader
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings


def gzip_bomb(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros, gzip-compressed as a stream (never held uncompressed)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * 1_048_576
    out = [packer.compress(block) for _ in range(megabytes)]
    return b"".join(out) + packer.flush()


def test_deep_nesting_reads_in_linear_time() -> None:
    # 60,000 unclosed inline tags, each with text: quadratic bookkeeping took minutes, now well under a second.
    started = time.monotonic()
    doc = parse_text("<html><body><p>" + "<b>x " * 60_000 + "</p></body></html>", name="deep.html")
    assert time.monotonic() - started < 10
    assert doc.text.count("x") == 60_000
    nested = parse_text("<div>" * 50_000 + "<h2 id='end'>Deep</h2><p>bottom</p>" + "</div>" * 50_000, name="n.html")
    assert nested.blocks[-1].text == "bottom"


def test_html_over_its_time_budget_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_reader, "HTML_TIME_BUDGET", 0.0)
    monkeypatch.setattr(html_reader, "HTML_TIME_PER_MB", 0.0)
    with pytest.raises(html_reader.HtmlTooComplexError, match=r"took more than 0 s to read .* not indexed"):
        parse_text("<div>" * 10_000, name="bomb.html")
    parse_text("<div>" * 100 + "fine", name="small.html")  # under the check interval: never refused


def test_gzip_bomb_is_refused_while_inflating() -> None:
    bomb = gzip_bomb(300)  # 300 MB of zeros in ~300 KB
    assert len(bomb) < 1_048_576
    tracemalloc.start()
    try:
        with pytest.raises(DocumentTooLargeError, match="after decompression"):
            parse_bytes(bomb, name="zeros.txt.gz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_DOCUMENT_BYTES  # never more than the limit's worth inflated, not 300 MB


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.anyio
@pytest.mark.slow
async def test_hostile_files_get_per_file_errors_and_the_server_keeps_answering(tmp_path: Path, data_dir: Path) -> None:
    root = (tmp_path / "kb").resolve()
    root.mkdir()
    (root / "nested.html").write_text("<html><body>" + "<div><b>x" * 1_000_000 + "</body></html>")
    (root / "zeros.md.gz").write_bytes(gzip_bomb(300))
    (root / "fine.md").write_text("# Fine\n\nAn ordinary note about otters.\n")
    settings = RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none")
    async with Client(build_server(settings)) as client:
        report: dict[str, Any] = {}
        slowest = 0.0

        async def ingest() -> None:
            report.update(await call(client, "ingest", paths=[str(root)]))

        with anyio.fail_after(90):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(ingest)
                while not report:  # another call answers promptly during the ingest
                    started = time.monotonic()
                    await call(client, "stats")
                    slowest = max(slowest, time.monotonic() - started)
                    await anyio.sleep(0.5)
        assert slowest < 5
        items = {Path(item["source"]).name: item for item in report["items"]}
        assert items["fine.md"]["status"] == "added"
        assert items["zeros.md.gz"]["status"] == "error"
        assert "after decompression" in items["zeros.md.gz"]["message"]
        # Read within its budget on a fast machine, refused with a clear message on a slow one.
        nested = items["nested.html"]
        assert nested["status"] == "added" or "took more than" in nested["message"], nested
        hits = (await call(client, "search", query="otters", k=3))["hits"]
        assert [Path(h["source"]).name for h in hits] == ["fine.md"]
