"""A folder ingest reads and embeds the next file while the previous one is written: the outcome must be what a
one-file-at-a-time ingest gives (same report order, same vectors reused, errors kept per file), on both engines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mcp_suite.servers.retrieval.factory import build_embedder, ingest_options
from mcp_suite.servers.retrieval.ingest import BULK_FILES, Ingestor
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import NoEmbedder
from mcp_suite.shared.errors import ConflictError

NOTE = "# Backups\n\nThe nightly backup runs at 02:00 and keeps {n} copies on the NAS.\n\n## Restore\n\nAsk ops.\n"


@pytest.mark.anyio
@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
async def test_pipelined_folder_ingest_keeps_order_reuse_and_errors(
    tmp_path: Path, settings: RetrievalSettings, workers: int
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
        options = ingest_options(settings, workers=workers, worker_min_bytes=0)
        report = await Ingestor(kb, options).ingest_paths([folder])
        assert [Path(item.source).name for item in report.items] == sorted(p.name for p in folder.iterdir())
        by_name = {Path(item.source).name: item for item in report.items}
        assert by_name["02-note.md"].embedded == by_name["02-note.md"].chunks > 0
        assert by_name["03-note.md"].status == "added" and by_name["03-note.md"].embedded == 0
        assert by_name["04-bad.md"].status == "error"
        assert report.added == 6 and report.errors == 1
        stored = {Path(doc.source).name: doc.chunk_count for doc in (await kb.list_documents(limit=100))[0]}
        assert set(stored) == {name for name, item in by_name.items() if item.status == "added"}
        # A file named on its own and through its folder is read once.
        again = await Ingestor(kb, options).ingest_paths([folder / "00-note.md", folder])
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


async def _stored_chunks(kb: KnowledgeBase) -> list[tuple[object, ...]]:
    docs = (await kb.list_documents(limit=100))[0]
    out: list[tuple[object, ...]] = []
    for doc in sorted(docs, key=lambda d: d.source):
        _, chunks = await kb.document(doc.id)
        out += [(Path(doc.source).name, doc.title, doc.doc_type, doc.meta, dataclasses.astuple(c)[2:]) for c in chunks]
    return out


@pytest.mark.anyio
async def test_worker_processes_chunk_exactly_as_the_server_process(tmp_path: Path, corpus: Path) -> None:
    """A large folder is parsed and chunked in worker processes: same documents, chunks, embedded counts and
    per-file errors as in one process (the engine plays no part: SQLite only)."""
    (corpus / "zz-bad.md").write_bytes(b"\x00\x01binary\x00" * 50)
    results = []
    for workers in (0, 1):
        settings = RetrievalSettings(
            data_dir=tmp_path / f"data-{workers}", roots=[corpus], embedder="wordllama", chunk_tokens=120
        )
        kb = await KnowledgeBase.open(settings.database, build_embedder(settings))
        try:
            report = await Ingestor(kb, ingest_options(settings, workers=workers, worker_min_bytes=0)).ingest_paths(
                [corpus]
            )
            items = [(Path(i.source).name, i.status, i.chunks, i.embedded, i.message) for i in report.items]
            results.append((items, await _stored_chunks(kb)))
        finally:
            await kb.close()
    (items, chunks), (worker_items, worker_chunks) = results
    assert len(items) >= 5 and len(chunks) >= 10
    assert worker_items == items
    assert worker_chunks == chunks
    bad = [message for name, status, _, _, message in worker_items if name == "zz-bad.md"]
    assert bad and bad[0] and "zz-bad.md" in bad[0]


@pytest.mark.anyio
async def test_a_bulk_ingest_reuses_vectors_and_clears_errors_it_read_up_front(
    tmp_path: Path, settings: RetrievalSettings
) -> None:
    """From BULK_FILES files on, stored embed hashes and ingest errors are read once, not per file: vectors
    are still reused from any earlier file, and a fixed file's stored error is still cleared."""
    folder = tmp_path / "notes"
    folder.mkdir()
    count = BULK_FILES + 8
    for i in range(count):
        (folder / f"{i:03d}-note.md").write_text(NOTE.format(n=i), encoding="utf-8")
    # The same note as the first file, many files later: its vectors come from the stored first one.
    (folder / f"{count - 1:03d}-note.md").write_text(NOTE.format(n=0), encoding="utf-8")
    (folder / "500-bad.md").write_bytes(b"\x00\x01binary\x00" * 50)
    kb = await KnowledgeBase.open(settings.database, build_embedder(settings))
    try:
        report = await Ingestor(kb, ingest_options(settings)).ingest_paths([folder])
        by_name = {Path(item.source).name: item for item in report.items}
        assert report.added == count and report.errors == 1
        assert by_name["001-note.md"].embedded > 0
        assert by_name[f"{count - 1:03d}-note.md"].embedded == 0
        assert [Path(s).name for s in await kb.ingest_errors()] == ["500-bad.md"]
        (folder / "500-bad.md").write_text(NOTE.format(n=500), encoding="utf-8")
        (folder / "000-note.md").write_text(NOTE.format(n=1000), encoding="utf-8")
        again = await Ingestor(kb, ingest_options(settings)).ingest_paths([folder])
        assert (again.added, again.updated, again.errors) == (1, 1, 0)
        assert await kb.ingest_errors() == {}
    finally:
        await kb.close()
