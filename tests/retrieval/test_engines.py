"""The retrieval index on both engines: copying between them, replicas catching up with each other,
the same BM25 ranking from PostgreSQL rows, old SQLite databases, and a bad database URL at start."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import anyio
import psycopg
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.copying import copy_database
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.search import SearchFilters, lexical_ranked, query_words, search
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.base import NewChunk, NewDocument
from mcp_suite.servers.retrieval.storage.postgres import VERSION_FRESH_S
from mcp_suite.servers.retrieval.storage.postgres_filters import glob_regex
from mcp_suite.servers.retrieval.storage.sqlite_schema import MIGRATIONS, OLD_NAMES
from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.db import Database, Migration
from mcp_suite.shared.embeddings import WordLlamaEmbedder
from mcp_suite.shared.errors import DatabaseConfigError
from tests.support import script

pytestmark = pytest.mark.anyio
EMBEDDER = WordLlamaEmbedder()

TEXTS = {
    "notes/wal.md": [
        "In WAL mode readers do not block writers and writers do not block readers.",
        "The write-ahead log is checkpointed back into the database file automatically.",
        "sqlite3_open opens a connection; the journal_mode pragma switches to WAL.",
    ],
    "notes/vacuum.md": [
        "VACUUM rebuilds the database file, repacking it into a minimal amount of disk space.",
        "Auto-vacuum reclaims free pages at each commit, but fragments the file.",
    ],
    "guides/replicas.txt": [
        "Readers on replicas see the primary's writes after a short lag.",
        "A checkpoint on the primary does not block readers on the replicas.",
    ],
}


def chunks_of(texts: list[str], embedder: WordLlamaEmbedder | None = None) -> list[NewChunk]:
    import hashlib

    import numpy as np

    out = []
    for i, text in enumerate(texts):
        vector = None
        if embedder is not None:
            vector = np.asarray(embedder.embed_sync([text])[0], dtype="<f4").tobytes()
        digest = hashlib.sha256(text.encode()).hexdigest()
        out.append(NewChunk(i, text, ["Head", f"part {i}"], i + 1, i + 1, 0, len(text), 10, digest, vector))
    return out


async def fill(kb: KnowledgeBase, embedder: WordLlamaEmbedder | None = None) -> None:
    for source, texts in TEXTS.items():
        kind_type = "text" if source.endswith(".txt") else "markdown"
        doc = NewDocument(source, "text", source.title(), kind_type, 1.0, 10, source, tags=["db"], meta={"n": 1})
        await kb.write_document(doc, chunks_of(texts, embedder))


def test_glob_regex_follows_sqlite_glob() -> None:
    cases = {
        "*.md": (["a.md", "dir/b.md"], ["a.mdx", "a.txt"]),
        "notes/?.txt": (["notes/a.txt"], ["notes/ab.txt"]),
        "[ab]*": (["apple", "b"], ["cat"]),
        "[^ab]*": (["cat"], ["apple"]),
        "a+b(c).md": (["a+b(c).md"], ["aab(c).md"]),
    }
    conn = sqlite3.connect(":memory:")
    import re

    for glob, (yes, no) in cases.items():
        for text in yes + no:
            sqlite = bool(conn.execute("SELECT ? GLOB ?", (text, glob)).fetchone()[0])
            assert sqlite == (text in yes), (glob, text)
            assert bool(re.search(glob_regex(glob), text)) == sqlite, (glob, text)


async def test_in_memory_bm25_ranks_postgres_rows_like_sqlite(tmp_path: Path, postgres_url: str) -> None:
    sqlite_kb = await KnowledgeBase.open(tmp_path / "r.db")
    pg_kb = await KnowledgeBase.open(parse_database_url(postgres_url))
    try:
        for kb in (sqlite_kb, pg_kb):
            await fill(kb)
        filters = [SearchFilters(), SearchFilters(source_glob="notes/*"), SearchFilters(doc_types=["text"])]
        for query in ("readers block writers", "database file", "sqlite3_open wal", "replicas checkpoint lag"):
            for f in filters:
                ranked = []
                for kb in (sqlite_kb, pg_kb):
                    index = await kb.lexical_index()
                    assert index is not None
                    doc_ids = await kb.matching_document_ids(f.to_filter())
                    found = await lexical_ranked(kb, index, query_words(query), 50, doc_ids)
                    ranked.append([(cid, round(score, 6)) for cid, score in found])
                if "sqlite3_open" in query:  # a multi-token word: scored term by term on PostgreSQL
                    assert [c for c, _ in ranked[0]][:1] == [c for c, _ in ranked[1]][:1]
                else:
                    assert ranked[0] == ranked[1], (query, f)
    finally:
        await sqlite_kb.close()
        await pg_kb.close()


async def test_a_replica_catches_up_with_another_replicas_writes(postgres_url: str) -> None:
    url = parse_database_url(postgres_url)
    embedder = EMBEDDER
    first = await KnowledgeBase.open(url, embedder)
    second = await KnowledgeBase.open(url, embedder)
    try:
        await fill(first, embedder)
        assert await second.lexical_index() is not None and await second.vector_index() is not None
        before = await search(second, "vacuum repacking disk space", k=3)
        assert before.hits[0].source == "notes/vacuum.md"
        # A new source and a deleted one, both through the first replica.
        doc = NewDocument("notes/otters.md", "text", "Otters", "markdown", 1.0, 10, "otters")
        await first.write_document(doc, chunks_of(["Otters hold hands while they sleep."], embedder))
        await first.delete_source("notes/vacuum.md")
        # The promise is "seen within VERSION_FRESH_S": a reading younger than that may be reused.
        await anyio.sleep(VERSION_FRESH_S)
        for mode in ("lexical", "semantic", "hybrid"):
            after = await search(second, "otters sleep holding hands", k=3, mode=mode)  # type: ignore[arg-type]
            assert after.hits[0].source == "notes/otters.md", mode
            gone = await search(second, "vacuum repacking disk space", k=5, mode=mode)  # type: ignore[arg-type]
            assert all(hit.source != "notes/vacuum.md" for hit in gone.hits), mode
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("direction", ["sqlite-to-postgresql", "postgresql-to-sqlite"])
async def test_copy_between_engines_keeps_every_row_and_the_search(
    direction: str, tmp_path: Path, postgres_url: str
) -> None:
    embedder = EMBEDDER
    sqlite_url = parse_database_url(f"sqlite:///{tmp_path / 'copy.db'}")
    pg_url = parse_database_url(postgres_url)
    source, target = (sqlite_url, pg_url) if direction.startswith("sqlite") else (pg_url, sqlite_url)
    kb = await KnowledgeBase.open(source, embedder)
    try:
        await fill(kb, embedder)
        hit = (await search(kb, "write-ahead log checkpoint", k=1)).hits[0]
        await kb.add_feedback(hit.chunk_id, "write-ahead log checkpoint", True)
        await kb.record_ingest_error("notes/broken.md", "file", "cannot read")
        expected = await search(kb, "readers block writers", k=3, mode="semantic")
    finally:
        await kb.close()

    counts = await copy_database(source, target)
    assert counts["documents"] == 3 and counts["chunks"] == 7 and counts["feedback"] == 1
    if target is pg_url:  # the planner knows the copied rows at once (never-analysed tables read -1)
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute("SELECT reltuples FROM pg_class WHERE oid = 'mcp_suite_retrieval.chunks'::regclass")
            assert row.fetchone() == (7,)
    assert counts["ingest_errors"] == 1 and counts["doc_tags"] == 3 and counts["index_info"] == 1

    copied = await KnowledgeBase.open(target, embedder)
    try:
        stats = await copied.stats()
        assert (stats["documents"], stats["chunks"], stats["embedded_chunks"], stats["feedback"]) == (3, 7, 7, 1)
        assert stats["embedder_matches"]
        semantic = await search(copied, "readers block writers", k=3, mode="semantic")
        assert [h.chunk_id for h in semantic.hits] == [h.chunk_id for h in expected.hits]
        lexical = await search(copied, "repacking disk space", k=1, mode="lexical")
        assert lexical.hits[0].source == "notes/vacuum.md"  # the target rebuilt its full-text index
        docs, total = await copied.list_documents(SearchFilters(tags=["db"], metadata={"n": 1}).to_filter())
        assert total == 3 and docs[0].meta == {"n": 1}
        # New writes after the copy get fresh ids (sequences moved past the copied rows).
        doc = NewDocument("notes/new.md", "text", "New", "markdown", 1.0, 1, "new")
        written = await copied.write_document(doc, chunks_of(["brand new text"], embedder))
        assert min(written.chunk_ids) > max(h.chunk_id for h in semantic.hits)
    finally:
        await copied.close()

    with pytest.raises(DatabaseConfigError, match="already holds a retrieval index"):
        await copy_database(source, target)


async def test_an_old_sqlite_database_keeps_its_migrations(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # The schema as main recorded it: the same steps under their old names (later steps had none: opening adds them).
    renamed = {new: old for old, new in OLD_NAMES.items()}
    steps = [Migration(renamed[m.name], m.apply) for m in MIGRATIONS if m.name in renamed]
    old = await Database.open(path, steps)  # type: ignore[arg-type]
    await old.close()
    kb = await KnowledgeBase.open(path)
    await fill(kb)
    await kb.close()
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == sorted(m.name for m in MIGRATIONS)


async def test_a_newer_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    kb = await KnowledgeBase.open(path)
    await kb.close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _migrations (name) VALUES ('retrieval/9999_future')")
    with pytest.raises(DatabaseConfigError, match="newer mcp-suite"):
        await KnowledgeBase.open(path)


@pytest.mark.parametrize("command", [[], ["search", "anything"]])
def test_a_bad_database_url_stops_the_server_with_one_line(command: list[str], tmp_path: Path) -> None:
    url = "postgresql://nobody:secret-pw@127.0.0.1:1/none"
    done = subprocess.run(
        [script("mcp-suite"), "retrieval", *command, "--database-url", url, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot reach PostgreSQL" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "secret-pw" not in done.stderr


async def test_server_runs_on_postgres_with_the_same_tool_results(postgres_url: str, data_dir: Path) -> None:
    settings = RetrievalSettings(data_dir=data_dir, embedder="none", database_url=postgres_url)  # type: ignore[arg-type]
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("ingest_text", {"text": "Otters hold hands.", "source": "otters"})
        assert not result.is_error
        stats = (await client.call_tool("stats", {})).structured_content
        assert stats is not None and stats["documents"] == 1 and stats["database"].startswith("postgresql://")
        assert "mcp_suite_test" in stats["database"] and stats["database_bytes"] > 0


async def test_an_ingest_through_one_replica_reaches_the_other_replicas_subscribers(
    postgres_url: str, data_dir: Path
) -> None:
    import warnings

    import anyio
    from mcp.shared.exceptions import MCPDeprecationWarning

    updated = anyio.Event()

    async def inbox(message: object) -> None:
        uri = getattr(getattr(message, "params", None), "uri", None)
        if getattr(message, "method", None) == "notifications/resources/updated" and str(uri) == "retrieval://sources":
            updated.set()

    settings = RetrievalSettings(data_dir=data_dir, embedder="none", database_url=postgres_url)  # type: ignore[arg-type]
    async with (
        Client(build_server(settings)) as writer,
        Client(build_server(settings), mode="legacy", message_handler=inbox) as reader,
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await reader.subscribe_resource("retrieval://sources")
        result = await writer.call_tool("ingest_text", {"text": "# Otters\n\nOtters hold hands.", "source": "o.md"})
        assert not result.is_error
        with anyio.fail_after(2):  # the bound for a change to reach another replica's clients
            await updated.wait()
        found = await reader.call_tool("search", {"query": "otters hold hands", "k": 1})
        assert found.structured_content is not None and found.structured_content["hits"][0]["source"] == "o.md"


async def test_concurrent_writers_on_two_replicas_lose_nothing(postgres_url: str) -> None:
    import anyio

    url = parse_database_url(postgres_url)
    replicas = [await KnowledgeBase.open(url, EMBEDDER) for _ in range(2)]
    try:

        async def writer(kb: KnowledgeBase, name: str) -> None:
            for i in range(15):
                doc = NewDocument(f"{name}/{i}.md", "text", f"{name} {i}", "markdown", 1.0, 1, f"{name}{i}")
                await kb.write_document(doc, chunks_of([f"note {i} written by {name}", "shared words"], EMBEDDER))
            # Both replicas rewrite the same source: one of the versions wins, whole.
            doc = NewDocument("shared.md", "text", name, "markdown", 1.0, 1, name)
            await kb.write_document(doc, chunks_of([f"the shared note, as {name} wrote it"], EMBEDDER))

        async with anyio.create_task_group() as tasks:
            for n, kb in enumerate(replicas):
                tasks.start_soon(writer, kb, f"replica{n}")
        for kb in replicas:
            stats = await kb.stats()
            assert (stats["documents"], stats["chunks"], stats["embedded_chunks"]) == (31, 61, 61)
            (shared, chunks) = await kb.document("shared.md")
            assert len(chunks) == 1 and chunks[0].text.endswith(f"as {shared.title} wrote it")
            found = await search(kb, "note 14 written by replica1", k=1, mode="lexical")
            assert found.hits[0].source == "replica1/14.md"
    finally:
        for kb in replicas:
            await kb.close()


def _sqlite_windows(path: Path, dimension: int) -> int:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT coalesce(sum(length(embedding)), 0) FROM chunks").fetchone()
    finally:
        conn.close()
    return int(row[0]) // (4 * dimension)


def _postgres_windows(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM mcp_suite_retrieval.chunk_vectors").fetchone()
    return int(row[0]) if row else 0


async def test_copy_carries_every_window_vector_both_ways(tmp_path: Path, postgres_url: str) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    turns = "\n\n".join(f"**User:** question {i} about the backup schedule" + " detail" * 40 for i in range(6))
    (notes / "chat.md").write_text(f"# Chat\n\n{turns}\n\n**User:** where is the spare key kept?\n", encoding="utf-8")
    (notes / "short.md").write_text("# Short\n\nOne paragraph only.\n", encoding="utf-8")
    settings = RetrievalSettings(data_dir=tmp_path / "data", roots=[notes])
    async with Client(build_server(settings)) as client:
        assert not (await client.call_tool("ingest", {"paths": [str(notes)]})).is_error
    first = settings.database_path
    windows = _sqlite_windows(first, 256)
    conn = sqlite3.connect(first)
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    conn.close()
    assert windows > chunks  # some chunk holds several windows

    back = tmp_path / "back.db"
    await copy_database(parse_database_url(f"sqlite:///{first}"), parse_database_url(postgres_url))
    assert _postgres_windows(postgres_url) == windows
    await copy_database(parse_database_url(postgres_url), parse_database_url(f"sqlite:///{back}"))
    assert _sqlite_windows(back, 256) == windows
    original, returned = sqlite3.connect(first), sqlite3.connect(back)
    try:
        query = "SELECT id, embedding, embed_hash FROM chunks ORDER BY id"
        assert returned.execute(query).fetchall() == original.execute(query).fetchall()  # byte for byte
    finally:
        original.close()
        returned.close()
    # The copy on PostgreSQL searches by the best window as the source does.
    pg = await KnowledgeBase.open(parse_database_url(postgres_url), EMBEDDER)
    lite = await KnowledgeBase.open(parse_database_url(f"sqlite:///{first}"), EMBEDDER)
    try:
        for kb in (pg, lite):
            await kb.vector_index()
        on_pg = await search(pg, "spare key", k=3, mode="semantic")
        on_lite = await search(lite, "spare key", k=3, mode="semantic")
        assert [h.chunk_id for h in on_pg.hits] == [h.chunk_id for h in on_lite.hits]
    finally:
        await pg.close()
        await lite.close()


async def test_a_postgres_index_from_before_windows_is_migrated(postgres_url: str) -> None:
    import numpy as np

    from mcp_suite.servers.retrieval.storage.postgres import PostgresStorage, hnsw_index_name
    from mcp_suite.servers.retrieval.storage.postgres_schema import MIGRATIONS as PG_MIGRATIONS
    from mcp_suite.shared.database_url import PostgresUrl
    from mcp_suite.shared.postgres import PostgresDatabase

    url = parse_database_url(postgres_url)
    assert isinstance(url, PostgresUrl)
    old = await PostgresDatabase.open(url, "retrieval", PG_MIGRATIONS[:1])
    vector = np.arange(1, 9, dtype="<f4")
    try:

        async def write(session: object) -> None:
            conn = session.conn  # type: ignore[attr-defined]
            await conn.execute(
                "INSERT INTO index_info (key, value) VALUES ('embedder', %s)",
                ('{"provider": "test", "model": "m", "dimension": 8}',),
            )
            await conn.execute(
                "INSERT INTO documents (id, source, kind, title, doc_type, mtime, size, content_hash, ingested_at, "
                "updated_at) VALUES (1, 's', 'text', 'T', 'text', 0, 1, 'h', 'now', 'now')"
            )
            await conn.execute(
                "INSERT INTO chunks (document_id, ordinal, text, start_line, end_line, start_char, end_char, "
                "token_count, text_hash, embedding, embed_hash) "
                "VALUES (1, 0, 'x', 1, 1, 0, 1, 1, 'h', %s::vector, 'e')",
                ("[" + ",".join(str(float(v)) for v in vector) + "]",),
            )

        await old.run(write)
    finally:
        await old.close()
    storage = await PostgresStorage.open(url)
    try:
        async with storage.snapshot() as tx:
            rows = await tx.vectors()
            assert [(cid, doc) for cid, doc, _ in rows] == [(1, 1)]
            assert rows[0][2] == vector.tobytes()
            assert await tx.embeddings_by_hash(["e"]) == {"e": vector.tobytes()}
            index = await tx._one("SELECT 1 FROM pg_indexes WHERE indexname = %s", (hnsw_index_name(8),))
            assert index is not None
    finally:
        await storage.close()
