"""The one-shot terminal search: answered from FTS5 and a streaming scan of the stored vectors (no in-memory
index build), with the same hits a running server returns."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.factory import build_embedder
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.scan import VectorScan
from mcp_suite.servers.retrieval.search import search
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.base import NewChunk, NewDocument
from mcp_suite.servers.retrieval.storage.fts5 import vector_batches
from mcp_suite.servers.retrieval.storage.sqlite import SqliteTx
from mcp_suite.servers.retrieval.storage.sqlite_schema import open_database
from mcp_suite.servers.retrieval.vectors import VectorIndex
from tests.support import script

QUERIES = [
    "which TCP port does the daemon listen on by default",
    "what happens when two devices edit the same note",
    "how much does the team plan cost per user",
    "how often are encryption keys rotated",
    "release notes for the latest version",
]


@pytest.mark.anyio
async def test_vector_scan_ranks_like_the_in_memory_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    dim, n = 16, 300
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    db = await open_database(tmp_path / "r.db")
    for doc in range(10):
        chunks = [
            NewChunk(i, f"t{doc}-{i}", (), 1, 1, 0, 1, 1, f"h{doc}-{i}", vectors[doc * 30 + i].tobytes())
            for i in range(30)
        ]
        new = NewDocument(f"s{doc}", "text", "t", "text", 0.0, 1, str(doc))
        async with db.transaction() as conn:
            await SqliteTx(conn).replace_document(new, chunks)
    async with db.snapshot() as conn, conn.execute("SELECT id, document_id, embedding FROM chunks") as cur:
        rows = [(r[0], r[1], r[2]) for r in await cur.fetchall()]
    await db.close()
    index = VectorIndex(dim)
    index.add_blobs(rows)
    scan = VectorScan(
        lambda batch: vector_batches(tmp_path / "r.db", dim, batch), dim, batch=37
    )  # batches that do not divide the rows
    for query in (vectors[7], vectors[123], rng.normal(size=dim).astype(np.float32)):
        query = query / np.linalg.norm(query)
        for k in (1, 5, 50):
            for docs in (None, [2, 5]):
                found, expected = scan.search(query, k, docs), index.search(query, k, docs)
                assert [cid for cid, _ in found] == [cid for cid, _ in expected]
                assert [score for _, score in found] == pytest.approx([score for _, score in expected], abs=1e-6)
    assert scan.search(vectors[0], 5, []) == []
    # Equal scores come back in chunk id order, whatever batch each row was read in.
    tie = np.tile(vectors[7], (3, 1))
    db = await open_database(tmp_path / "r.db")
    chunks = [NewChunk(i, f"tie{i}", (), 1, 1, 0, 1, 1, f"tie{i}", tie[i].tobytes()) for i in range(3)]
    async with db.transaction() as conn:
        await SqliteTx(conn).replace_document(NewDocument("ties", "text", "t", "text", 0.0, 1, "x"), chunks)
    await db.close()
    top = scan.search(vectors[7], 4)
    assert [cid for cid, _ in top] == sorted(cid for cid, _ in top)


@pytest.mark.anyio
async def test_one_shot_knowledge_base_builds_no_in_memory_index(settings: RetrievalSettings, corpus: Path) -> None:
    async with Client(build_server(settings)) as client:
        assert not (await client.call_tool("ingest", {"paths": [str(corpus)]})).is_error
    kb = await KnowledgeBase.open(settings.database, build_embedder(settings), in_memory=False)
    try:
        result = await search(kb, QUERIES[0], k=3)
        assert Path(result.hits[0].source).name == "getting-started.md"
        assert await kb.lexical_index() is None  # SQL full text answered
        assert not isinstance(await kb.vector_index(), VectorIndex)  # a scan of the stored vectors
    finally:
        await kb.close()


def _ids(hits: list[dict[str, Any]]) -> list[int]:
    return [hit["chunk_id"] for hit in hits]


@pytest.mark.anyio
@pytest.mark.slow
async def test_cli_search_returns_the_server_hits(settings: RetrievalSettings, corpus: Path, data_dir: Path) -> None:
    server_hits: dict[tuple[str, str], list[dict[str, Any]]] = {}
    async with Client(build_server(settings)) as client:
        assert not (await client.call_tool("ingest", {"paths": [str(corpus)]})).is_error
        for query in QUERIES[:3]:
            for mode in ("hybrid", "lexical", "semantic"):
                result = await client.call_tool("search", {"query": query, "k": 5, "mode": mode})
                assert result.structured_content is not None
                server_hits[(query, mode)] = result.structured_content["hits"]
    url = settings.database_url
    database_flag = ["--database-url", url.get_secret_value()] if url else []
    for (query, mode), expected in server_hits.items():
        argv = [script("mcp-suite"), "retrieval", "search", query, "--json", "-k", "5", "--mode", mode]
        done = subprocess.run(
            [*argv, "--data-dir", str(data_dir), *database_flag],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        hits = json.loads(done.stdout)["hits"]
        if database_flag and mode != "semantic":
            # PostgreSQL's one-shot lexical leg is ts_rank_cd, not BM25: the same best hit, not the same scores.
            assert _ids(hits)[0] == _ids(expected)[0], (query, mode)
            continue
        assert _ids(hits) == _ids(expected), (query, mode)
        assert [h["score"] for h in hits] == pytest.approx([h["score"] for h in expected]), (query, mode)
