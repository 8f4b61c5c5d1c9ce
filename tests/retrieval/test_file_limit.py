"""``--max-file-mb`` is the one size limit: it can raise the readers' own default and lower it, for files,
texts and fetched pages alike, and every refusal says which limit and flag it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.factory import ingest_options, url_policy
from mcp_suite.servers.retrieval.ingest import Ingestor
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.readers import MAX_DOCUMENT_BYTES, DocumentTooLargeError
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import NoEmbedder
from mcp_suite.shared.errors import InvalidInputError

pytestmark = pytest.mark.anyio
MB = 1_048_576


async def ingest(settings: RetrievalSettings, root: Path) -> dict[str, dict[str, Any]]:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("ingest", {"paths": [str(root)]})
        assert not result.is_error and result.structured_content is not None
        return {Path(item["source"]).name: item for item in result.structured_content["items"]}


async def test_raising_the_setting_lets_a_22_mb_file_through(tmp_path: Path, data_dir: Path) -> None:
    root = (tmp_path / "kb").resolve()
    root.mkdir()
    # 22 MB on disk, over the readers' 20 MB default; the padding is blank so it parses in a moment.
    (root / "big.md").write_bytes(b"# Big\n\nOtters hold hands while they sleep.\n" + b" " * (22 * MB) + b"\n")
    assert (root / "big.md").stat().st_size > MAX_DOCUMENT_BYTES

    items = await ingest(RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none", max_file_mb=30), root)
    assert items["big.md"]["status"] == "added", items["big.md"]

    items = await ingest(RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none", max_file_mb=21), root)
    assert items["big.md"]["status"] == "error"
    assert items["big.md"]["message"].endswith(
        "big.md: 22.0 MB exceeds the 21 MB file limit (--max-file-mb); split it into smaller files or raise the limit"
    )


async def test_lowering_the_setting_refuses_a_2_mb_file_with_a_clear_line(tmp_path: Path, data_dir: Path) -> None:
    root = (tmp_path / "kb").resolve()
    root.mkdir()
    (root / "two.md").write_bytes(b"# Two\n\n" + b"beavers build dams. " * (2 * MB // 20))
    (root / "small.md").write_text("# Small\n\nbeavers build.\n", encoding="utf-8")
    settings = RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none", max_file_mb=1.5)

    items = await ingest(settings, root)
    assert items["small.md"]["status"] == "added"
    assert items["two.md"]["status"] == "error"
    assert "two.md: 2.0 MB exceeds the 1.5 MB file limit (--max-file-mb)" in items["two.md"]["message"]
    with sqlite3.connect(settings.database_path) as conn:
        ((message,),) = conn.execute("SELECT message FROM ingest_errors").fetchall()
    assert message == items["two.md"]["message"]


async def test_texts_and_fetched_pages_are_held_to_the_same_limit(data_dir: Path) -> None:
    settings = RetrievalSettings(data_dir=data_dir, embedder="none", max_file_mb=1)
    page = b"<html><title>Big</title><body>" + b"<p>otters</p>" * (MB // 10) + b"</body></html>"
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=page, headers={"content-type": "text/html"})
    )
    kb = await KnowledgeBase.open(settings.database_path, NoEmbedder())
    try:
        with pytest.raises(DocumentTooLargeError, match=r"exceeds the 1 MB document limit \(--max-file-mb\)"):
            async with httpx.AsyncClient(transport=transport) as http:
                await Ingestor(kb, ingest_options(settings)).ingest_url(
                    "https://example.com/big",
                    max_bytes=10 * MB,
                    timeout=10,
                    client=http,
                    policy=url_policy(settings.model_copy(update={"allow_private_urls": True})),
                )
        with pytest.raises(InvalidInputError, match=r"over the 1 MB limit \(--max-file-mb\)"):
            await Ingestor(kb, ingest_options(settings)).ingest_text("x" * (MB + 1), source="big.txt")
    finally:
        await kb.close()
    with sqlite3.connect(settings.database_path) as conn:
        rows = conn.execute("SELECT source, kind, message FROM ingest_errors").fetchall()
    assert [(source, kind) for source, kind, _ in rows] == [("https://example.com/big", "url")]
    assert "document limit (--max-file-mb)" in rows[0][2]
