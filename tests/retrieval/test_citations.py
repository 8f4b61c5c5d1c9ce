"""Citations a person can follow: PDF hits carry their page (``file.pdf#page=N``), HTML hits the nearest
heading anchor (``file.html#id``); both are stored per chunk, and older databases gain the columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.readers import parse_text
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.sqlite_schema import MIGRATIONS
from mcp_suite.shared.db import Database
from tests.retrieval.test_parsing import build_pdf

pytestmark = pytest.mark.anyio

MANUAL = """<html><head><title>Manual</title></head><body><main>
<h1>Quillstream manual</h1>
<p>Welcome to the manual.</p>
<section id="install"><h2>Install</h2><p>Install the daemon with the zephyr package manager.</p>
<h3>Offline install</h3><p>Copy the tarball by hand when the mirror is unreachable.</p></section>
<h2 id="usage">Usage</h2><p>Start syncing with quillstream up and a folder name.</p>
<a name="faq"></a><h2>FAQ</h2><p>Questions about licences and the pelican release train.</p>
<h2><a id="deep-dive" href="#deep-dive">Deep dive</a></h2><p>The merge engine uses vector clocks.</p>
<h2>Unanchored</h2><p>Nothing here names the heading marmalade.</p>
</main></body></html>"""


def test_html_blocks_carry_the_nearest_heading_anchor() -> None:
    doc = parse_text(MANUAL, name="manual.html")
    anchors = {block.text: block.anchor for block in doc.blocks}
    assert anchors["Welcome to the manual."] is None
    assert anchors["Install the daemon with the zephyr package manager."] == "install"
    # A sub-heading without an id of its own is cited by its parent section's anchor.
    assert anchors["Copy the tarball by hand when the mirror is unreachable."] == "install"
    assert anchors["Start syncing with quillstream up and a folder name."] == "usage"
    assert anchors["Questions about licences and the pelican release train."] == "faq"
    assert anchors["The merge engine uses vector clocks."] == "deep-dive"
    assert anchors["Nothing here names the heading marmalade."] is None


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is not None
    return result.structured_content


async def test_pdf_and_html_hits_cite_page_and_anchor(tmp_path: Path, data_dir: Path) -> None:
    root = (tmp_path / "kb").resolve()
    root.mkdir()
    pdf = root / "handbook.pdf"
    pdf.write_bytes(
        build_pdf(
            [
                ["Chapter one: the onboarding checklist.", "Read the welcome letter first."],
                ["Chapter two: expense reports.", "Receipts over fifty euros need a manager signature."],
                ["Chapter three: travel.", "Book trains before flights whenever the trip is short."],
            ]
        )
    )
    (root / "manual.html").write_text(MANUAL)
    # A small budget keeps each tiny fixture section its own chunk (a merged chunk cites where it starts).
    settings = RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none", chunk_tokens=32)
    async with Client(build_server(settings)) as client:
        assert (await call(client, "ingest", paths=[str(root)]))["added"] == 2

        hit = (await call(client, "search", query="receipts manager signature", k=1))["hits"][0]
        assert (hit["source"], hit["page"], hit["anchor"]) == (str(pdf), 2, None)
        assert hit["citation"] == f"{pdf}#page=2"
        hit = (await call(client, "search", query="trains flights trip", k=1))["hits"][0]
        assert hit["page"] == 3 and hit["citation"] == f"{pdf}#page=3"

        hit = (await call(client, "search", query="pelican release train licences", k=1))["hits"][0]
        assert hit["anchor"] == "faq" and hit["page"] is None
        assert hit["citation"] == f"{root / 'manual.html'}#faq § Quillstream manual > FAQ"
        hit = (await call(client, "search", query="tarball mirror unreachable", k=1))["hits"][0]
        assert hit["citation"].startswith(f"{root / 'manual.html'}#install § Quillstream manual > Install")
        # No anchor: the line span of the extracted text, as before.
        hit = (await call(client, "search", query="marmalade", k=1))["hits"][0]
        assert hit["anchor"] is None and hit["citation"].startswith(f"{root / 'manual.html'}:{hit['start_line']}")

    with sqlite3.connect(settings.database_path) as conn:
        pages = conn.execute(
            "SELECT c.page FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.source = ? ORDER BY ordinal",
            (str(pdf),),
        ).fetchall()
        anchors = conn.execute("SELECT DISTINCT anchor FROM chunks WHERE anchor IS NOT NULL ORDER BY 1").fetchall()
    assert [p for (p,) in pages] == [1, 2, 3]
    assert [a for (a,) in anchors] == ["deep-dive", "faq", "install", "usage"]


async def test_an_older_database_gains_the_citation_columns(tmp_path: Path) -> None:
    path = tmp_path / "retrieval.db"
    old = await Database.open(path, MIGRATIONS[:1])
    await old.close()
    kb = await KnowledgeBase.open(path, None)
    await kb.close()
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(chunks)")}
    assert {"page", "anchor"} <= columns
