"""No duplicate noise: copies of a passage (another rendering, a copied file) collapse into one hit that
lists every source, and top-k stays full of distinct passages."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.dedup import AlsoIn, collapse, normalise, text_key
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings

PASSAGE = (
    "Backups rotate every night at 02:00: the seven newest snapshots are kept, older ones are pruned, "
    "and a snapshot that fails its checksum is retried once before the operator is paged."
)


@dataclass
class Hit:
    chunk_id: int
    text: str
    source: str = "s"
    title: str = "t"
    start_line: int = 1
    end_line: int = 1
    citation: str = "s:1"
    also_in: list[AlsoIn] = field(default_factory=list)


def test_normalised_text_ignores_case_markup_and_spacing() -> None:
    markdown = "**Returns:** `<Buffer>` — the _file's_ contents.\n\nSee [fs.read](fs.md#read)."
    html_text = "Returns: <Buffer> — the file's contents. See fs.read (fs.md#read)."
    assert normalise(markdown) == normalise(html_text) == "returns buffer the file s contents see fs read fs md read"
    assert text_key(markdown) == text_key(html_text)
    assert text_key("Backups rotate nightly.") != text_key("Backups rotate weekly.")


def test_collapse_keeps_k_distinct_hits_in_rank_order() -> None:
    near = PASSAGE.replace("paged.", "paged by the on-call rota.")  # a renderer's small addition
    hits = [
        Hit(1, PASSAGE),
        Hit(2, PASSAGE.upper()),
        Hit(3, "Something else entirely about sync conflicts."),
        Hit(4, near),
        Hit(5, "A third passage about pricing."),
        Hit(6, "A fourth passage about encryption keys."),
        Hit(7, "  " + PASSAGE.replace(" ", "\n")),
    ]
    kept, absorbed = collapse(hits, 3)
    assert [h.chunk_id for h in kept] == [1, 3, 5]
    # Copies ranked below the cut-off are still listed under the hit they copy.
    assert [h.chunk_id for h in absorbed[1]] == [2, 4, 7]
    assert len({normalise(h.text) for h in kept}) == len(kept)
    assert [h.chunk_id for h in collapse(hits, 10)[0]] == [1, 3, 5, 6]


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
async def test_search_collapses_copies_and_lists_every_source(mode: str, tmp_path: Path, data_dir: Path) -> None:
    root = (tmp_path / "kb").resolve()
    (root / "copy").mkdir(parents=True)
    (root / "ops.md").write_text(f"# Operations\n\n## Backups\n\n{PASSAGE}\n")
    (root / "copy" / "ops.md").write_text(f"# Operations\n\n## Backups\n\n{PASSAGE}\n")
    (root / "ops-page.html").write_text(
        f"<html><body><main><h1>Operations</h1><h2>Backups</h2><p>{PASSAGE.upper()}</p></main></body></html>"
    )
    topics = ["restores", "retention", "snapshots", "monitoring", "paging", "checksums"]
    for i, topic in enumerate(topics):
        (root / f"note{i}.md").write_text(
            f"# {topic.title()}\n\nNotes on backup {topic}: snapshot {topic} happen nightly, step {i}.\n"
        )
    settings = RetrievalSettings(data_dir=data_dir, roots=[root], embedder="wordllama")
    async with Client(build_server(settings)) as client:
        report = await call(client, "ingest", paths=[str(root)])
        assert report["added"] == 9
        result = await call(client, "search", query="how many backup snapshots are kept nightly", k=5, mode=mode)
        hits = result["hits"]
        assert len(hits) == 5  # extra candidates keep top-k full
        assert len({normalise(h["text"]) for h in hits}) == 5
        passage = [h for h in hits if normalise(PASSAGE) in normalise(h["text"])]
        assert len(passage) == 1
        sources = {passage[0]["source"], *(a["source"] for a in passage[0]["also_in"])}
        assert sources == {str(root / "ops.md"), str(root / "copy" / "ops.md"), str(root / "ops-page.html")}
        for also in passage[0]["also_in"]:
            assert also["citation"].startswith(f"{also['source']}:{also['start_line']}")
