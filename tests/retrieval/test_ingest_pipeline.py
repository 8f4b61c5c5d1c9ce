"""A folder ingest reads and embeds the next file while the previous one is written: the outcome must be what a
one-file-at-a-time ingest gives (same report order, same vectors reused, errors kept per file), on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_suite.servers.retrieval.factory import build_embedder, ingest_options
from mcp_suite.servers.retrieval.ingest import Ingestor
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import NoEmbedder
from mcp_suite.shared.errors import ConflictError

NOTE = "# Backups\n\nThe nightly backup runs at 02:00 and keeps {n} copies on the NAS.\n\n## Restore\n\nAsk ops.\n"


@pytest.mark.anyio
async def test_pipelined_folder_ingest_keeps_order_reuse_and_errors(
    tmp_path: Path, settings: RetrievalSettings
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i:02d}-note.md").write_text(NOTE.format(n=i), encoding="utf-8")
    # Two copies right after each other: the second reuses the vectors of the first, not yet written then.
    (folder / "03-note.md").write_text(NOTE.format(n=2), encoding="utf-8")
    (folder / "04-bad.md").write_bytes(b"\x00\x01binary\x00" * 50)
    kb = await KnowledgeBase.open(settings.database, build_embedder(settings))
    try:
        report = await Ingestor(kb, ingest_options(settings)).ingest_paths([folder])
        assert [Path(item.source).name for item in report.items] == sorted(p.name for p in folder.iterdir())
        by_name = {Path(item.source).name: item for item in report.items}
        assert by_name["02-note.md"].embedded == by_name["02-note.md"].chunks > 0
        assert by_name["03-note.md"].status == "added" and by_name["03-note.md"].embedded == 0
        assert by_name["04-bad.md"].status == "error"
        assert report.added == 6 and report.errors == 1
        stored = {Path(doc.source).name: doc.chunk_count for doc in (await kb.list_documents(limit=100))[0]}
        assert set(stored) == {name for name, item in by_name.items() if item.status == "added"}
        # A file named on its own and through its folder is read once.
        again = await Ingestor(kb, ingest_options(settings)).ingest_paths([folder / "00-note.md", folder])
        assert again.unchanged == 6 and again.errors == 1 and again.chunks_embedded == 0
    finally:
        await kb.close()


@pytest.mark.anyio
async def test_a_systemic_failure_stops_the_folder_ingest_as_itself(
    tmp_path: Path, settings: RetrievalSettings
) -> None:
    """The embedder guard's refusal comes out of the two-stage ingest as the error it is, not as a group."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.md").write_text(NOTE.format(n=i), encoding="utf-8")
    lexical = await KnowledgeBase.open(settings.database, NoEmbedder())
    try:
        await Ingestor(lexical, ingest_options(settings)).ingest_text("Deploys on Tuesdays.", source="deploys.md")
    finally:
        await lexical.close()
    kb = await KnowledgeBase.open(settings.database, build_embedder(settings))
    try:
        with pytest.raises(ConflictError, match="reindex"):
            await Ingestor(kb, ingest_options(settings)).ingest_paths([folder])
        assert [doc.source for doc in (await kb.list_documents())[0]] == ["deploys.md"]
    finally:
        await kb.close()
