"""The in-memory BM25 index against FTS5's own bm25(): same results and scores on a small corpus,
with filters, after this process's writes and deletes, after another connection's (another
process's) commits, through growth and compaction, and end to end through an MCP client."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.lexical import LexicalIndex
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.search import SearchFilters, fts_match, lexical_ranked, query_words, search
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.base import BM25_WEIGHTS, NewChunk, NewDocument
from mcp_suite.servers.retrieval.storage.fts5 import FtsTokenizer
from mcp_suite.servers.retrieval.storage.sqlite import SqliteStorage

pytestmark = pytest.mark.anyio

DOCS: dict[str, tuple[str, list[str], list[str]]] = {
    # source: (title, tags, chunk texts)
    "notes/wal.md": (
        "Write-ahead logging",
        ["db"],
        [
            "In WAL mode readers do not block writers and writers do not block readers.",
            "The write-ahead log is checkpointed back into the database file automatically.",
            "Checkpointing runs when the WAL file reaches a threshold size of 1000 pages.",
        ],
    ),
    "notes/locking.md": (
        "Locking and concurrency",
        ["db"],
        [
            "A writer takes a RESERVED lock, then PENDING, then EXCLUSIVE to write the database.",
            "Readers hold SHARED locks; a busy timeout makes a blocked connection retry.",
            "Running many concurrent writers serialises them; readers keep running.",
        ],
    ),
    "guides/café.md": (
        "Café guide",
        ["food"],
        [
            "The café serves espresso and naïve latte art; the barista writes orders ahead of time.",
            "Opening hours: the café runs from seven until the evening rush ends.",
        ],
    ),
    "guides/pages.md": (
        "Page size",
        ["db", "tuning"],
        [
            "The page_size pragma sets the page size; it cannot change after entering WAL mode.",
            "Larger pages mean fewer b-tree levels and faster sequential scans of big tables.",
            "A page cache keeps recently used pages in memory.",
        ],
    ),
}

QUERIES = [
    "do readers block writers in WAL mode",
    "write-ahead log checkpoint",
    "write_ahead log",  # a word FTS5 reads as the phrase "write ahead"
    "page_size after WAL",
    "cafe naive latte",  # diacritics folded on both sides
    "running writers",  # porter stemming: run, writer
    "locks",
    "the of and",  # only stopwords: searched as they are
    "zeppelin",  # no match
]


def chunks_of(texts: list[str], heading: str) -> list[NewChunk]:
    return [
        NewChunk(
            ordinal=i,
            text=text,
            heading_path=(heading, f"part {i}"),
            start_line=i + 1,
            end_line=i + 1,
            start_char=0,
            end_char=len(text),
            token_count=len(text.split()),
            text_hash=hashlib.sha256(text.encode()).hexdigest(),
            embedding=None,
        )
        for i, text in enumerate(texts)
    ]


async def write(kb: KnowledgeBase, source: str, title: str, tags: list[str], texts: list[str]) -> list[int]:
    doc = NewDocument(
        source=source, kind="text", title=title, doc_type="markdown", mtime=0.0, size=1, content_hash=source, tags=tags
    )
    return (await kb.write_document(doc, chunks_of(texts, title))).chunk_ids


async def fill(kb: KnowledgeBase) -> None:
    for source, (title, tags, texts) in DOCS.items():
        await write(kb, source, title, tags, texts)


async def fts5(kb: KnowledgeBase, query: str, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
    return await kb.lexical_search(query_words(query), (filters or SearchFilters()).to_filter(), 50)


async def in_memory(kb: KnowledgeBase, query: str, filters: SearchFilters | None = None) -> list[tuple[int, float]]:
    index = await kb.lexical_index()
    assert index is not None
    doc_ids = await kb.matching_document_ids((filters or SearchFilters()).to_filter())
    return await lexical_ranked(kb, index, query_words(query), 50, doc_ids)


def comparable(ranked: list[tuple[int, float]], limit: int = 50) -> list[tuple[int, float]]:
    """Equal scores in chunk id order (FTS5 orders ties arbitrarily); a tie cut by the limit left out."""
    ranked = sorted(ranked, key=lambda item: (-round(item[1], 9), item[0]))
    if len(ranked) == limit:
        ranked = [item for item in ranked if round(item[1], 9) > round(ranked[-1][1], 9)]
    return ranked


async def assert_same_as_fts5(kb: KnowledgeBase, query: str, filters: SearchFilters | None = None) -> None:
    expected = comparable(await fts5(kb, query, filters))
    got = comparable(await in_memory(kb, query, filters))
    assert [cid for cid, _ in got] == [cid for cid, _ in expected], query
    assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-9), query


@pytest.fixture
async def kb(tmp_path: Path) -> Any:
    kb = await KnowledgeBase.open(tmp_path / "retrieval.db")
    try:
        yield kb
    finally:
        await kb.close()


async def test_results_and_scores_match_fts5_bm25(kb: KnowledgeBase) -> None:
    await fill(kb)
    for query in QUERIES:
        await assert_same_as_fts5(kb, query)
    # Sanity: the fixture really exercises ranking (several hits, distinct scores) and the phrase path.
    ranked = await in_memory(kb, "write_ahead log")
    assert len(ranked) >= 3 and len({s for _, s in ranked}) == len(ranked)
    assert kb.query_terms("write_ahead") == ("write", "ahead")
    assert kb.query_terms("Running") == ("run",) and kb.query_terms("café") == ("cafe",)
    assert await in_memory(kb, "zeppelin") == []


async def test_filters_apply_before_ranking(kb: KnowledgeBase) -> None:
    await fill(kb)
    cases = [
        SearchFilters(source_prefix="guides/"),
        SearchFilters(tags=["tuning"]),
        SearchFilters(tags=["db"], source_glob="notes/*"),
        SearchFilters(source_prefix="nowhere/"),
    ]
    for filters in cases:
        for query in ("WAL page writers", "cafe", "write_ahead"):
            await assert_same_as_fts5(kb, query, filters)
    result = await search(kb, "page WAL writers", k=5, mode="lexical", filters=SearchFilters(tags=["tuning"]))
    assert result.hits and {hit.source for hit in result.hits} == {"guides/pages.md"}
    none = await search(kb, "page", k=5, mode="lexical", filters=SearchFilters(source_prefix="nowhere/"))
    assert none.hits == []


async def test_follows_this_process_writes_and_deletes(kb: KnowledgeBase) -> None:
    await fill(kb)
    assert await kb.lexical_index() is not None
    assert await in_memory(kb, "zeppelin") == []
    new_ids = await write(kb, "notes/zeppelin.md", "Airships", ["air"], ["The zeppelin floats above the WAL file."])
    assert [cid for cid, _ in await in_memory(kb, "zeppelin")] == new_ids
    await assert_same_as_fts5(kb, "WAL file zeppelin")  # N, avgdl and idf moved with the new chunk
    # Re-ingesting a document replaces its chunks: the old ids leave the index.
    old = [cid for cid, _ in await in_memory(kb, "espresso")]
    await write(kb, "guides/café.md", "Café guide", ["food"], ["Espresso only, no latte."])
    fresh = [cid for cid, _ in await in_memory(kb, "espresso")]
    assert fresh and not set(fresh) & set(old)
    await assert_same_as_fts5(kb, "espresso latte cafe")
    doc = await kb.find_document("notes/zeppelin.md")
    assert doc is not None
    await kb.delete_documents([doc])
    assert await in_memory(kb, "zeppelin") == []
    for query in QUERIES:
        await assert_same_as_fts5(kb, query)


async def test_follows_another_connections_commits(kb: KnowledgeBase, tmp_path: Path) -> None:
    await fill(kb)
    assert await kb.lexical_index() is not None
    other = await KnowledgeBase.open(tmp_path / "retrieval.db")  # another process sharing the file
    try:
        added = await write(other, "notes/zeppelin.md", "Airships", [], ["A zeppelin in WAL mode.", "Hydrogen."])
        assert [cid for cid, _ in await in_memory(kb, "zeppelin")] == added[:1]
        await assert_same_as_fts5(kb, "zeppelin WAL mode readers")
        await other.delete_source("notes/", prefix=True)
        assert await in_memory(kb, "zeppelin") == []
        await assert_same_as_fts5(kb, "WAL readers cafe")
        assert len(await kb.lexical_index() or []) == sum(len(texts) for _, _, texts in list(DOCS.values())[2:])
    finally:
        await other.close()


async def test_a_big_ingest_is_read_by_rebuilding(kb: KnowledgeBase, tmp_path: Path) -> None:
    await fill(kb)
    before = await kb.lexical_index()
    rng = random.Random(5)
    vocabulary = ["wal", "page", "lock", "reader", "writer", "checkpoint", "cache", "vacuum", "index", "journal"]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(8)) + f" item{i}" for i in range(2500)]
    await write(kb, "bulk/one.md", "Bulk", [], texts[:1200])
    other = await KnowledgeBase.open(tmp_path / "retrieval.db")
    try:
        await write(other, "bulk/two.md", "Bulk two", [], texts[1200:])
    finally:
        await other.close()
    after = await kb.lexical_index()
    assert after is not None and after is not before  # 2500 new chunks: rebuilt from FTS5, not tokenized
    assert len(after) == 2500 + sum(len(texts) for _, _, texts in DOCS.values())
    for query in ("wal checkpoint item7", "reader writer lock", "item2499"):
        await assert_same_as_fts5(kb, query)
    assert [cid for cid, _ in await in_memory(kb, "item2499")] == [max(after.ids())]


async def test_fts5_is_the_fallback_when_no_index_can_be_built() -> None:
    kb = KnowledgeBase(await SqliteStorage.open(":memory:"))
    try:
        await fill(kb)
        assert await kb.lexical_index() is None
        result = await search(kb, "readers block writers", k=3, mode="lexical")
        expected = await fts5(kb, "readers block writers")
        assert [hit.chunk_id for hit in result.hits] == [cid for cid, _ in expected[:3]]
    finally:
        await kb.close()


def test_growth_merge_and_compaction_keep_scores_exact() -> None:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)]
    texts = {cid: " ".join(rng.choice(words[: 20 + cid % 380]) for _ in range(12)) for cid in range(1, 6001)}
    tokenizer = FtsTokenizer("porter unicode61 remove_diacritics 2")

    def records(ids: list[int]) -> list[tuple[str, str]]:
        return tokenizer.postings([(cid, texts[cid], "", f"doc {cid % 7}") for cid in ids])

    first = list(range(1, 1001))
    index = LexicalIndex.build(BM25_WEIGHTS, [(cid, cid % 7) for cid in first], records(first))
    rest = list(range(1001, 6001))
    for start in range(0, len(rest), 500):  # enough postings to fold the delta into the main arrays
        part = rest[start : start + 500]
        index.add([(cid, cid % 7) for cid in part], records(part))
    # First removal: delta segments and dead rows folded together; second: dead rows only.
    dead: set[int] = set()
    for gone in ([cid for cid in texts if cid % 4 == 0 or cid > 5900], [cid for cid in texts if cid % 3 == 0]):
        gone = [cid for cid in gone if cid not in dead]
        dead |= set(gone)
        index.remove(gone)  # more than a quarter of the rows dead: compacted
        live = sorted(set(texts) - dead)
        fresh = LexicalIndex.build(BM25_WEIGHTS, [(cid, cid % 7) for cid in live], records(live))
        assert len(index) == len(fresh) == len(live)
        assert index.postings == fresh.postings  # dead rows' postings were dropped
        for query in (["w1", "w5"], ["w399"], ["w7", "w7", "doc"], ["w250", "w3", "nothing"]):
            got, expected = index.search(query, 20), fresh.search(query, 20)
            assert [cid for cid, _ in got] == [cid for cid, _ in expected]
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=1e-12)
            # A filter ranks within the matching documents: the full ranking, filtered, then cut.
            expected = [(cid, s) for cid, s in fresh.search(query, len(live)) if cid % 7 in (2, 5)][:20]
            filtered = index.search(query, 20, doc_ids=[2, 5])
            assert [cid for cid, _ in filtered] == [cid for cid, _ in expected]
            assert [s for _, s in filtered] == pytest.approx([s for _, s in expected], rel=1e-12)
        assert index.search(["w1"], 20, doc_ids=[2, 5])  # the filter case is not vacuous
    tokenizer.close()


async def test_lexical_search_end_to_end_through_mcp(corpus: Path, data_dir: Path) -> None:
    settings = RetrievalSettings(data_dir=data_dir, roots=[corpus], embedder="none")
    async with Client(build_server(settings)) as client:
        report = await client.call_tool("ingest", {"paths": [str(corpus)]})
        assert not report.is_error
        result = await client.call_tool("search", {"query": "default port daemon listens", "k": 5, "mode": "lexical"})
        assert not result.is_error and result.structured_content is not None
        hits = result.structured_content["hits"]
        args = {"query": "sync devices plan", "k": 8, "mode": "lexical"}
        unfiltered = (await client.call_tool("search", args)).structured_content
        filtered = (await client.call_tool("search", {**args, "filters": {"source_glob": "*.txt"}})).structured_content
        assert unfiltered is not None and filtered is not None
    # What FTS5 itself ranks for the same query, read from the database file the server wrote.
    conn = sqlite3.connect(settings.database_path)
    try:
        w = BM25_WEIGHTS
        rows = conn.execute(
            f"SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, {w[0]}, {w[1]}, {w[2]})"
            " LIMIT 5",
            (fts_match(query_words("default port daemon listens")),),
        ).fetchall()
    finally:
        conn.close()
    assert [hit["chunk_id"] for hit in hits] == [row[0] for row in rows]
    assert hits[0]["source"].endswith("getting-started.md")
    assert not all(hit["source"].endswith(".txt") for hit in unfiltered["hits"])
    assert filtered["hits"] and all(hit["source"].endswith(".txt") for hit in filtered["hits"])
