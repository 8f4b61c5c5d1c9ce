"""The one-shot terminal search: answered from FTS5 and a memory-mapped cache of the stored vectors (no in-memory
index build), with the same hits a running server returns; the cache follows every change to the index."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import Client

from mcp_suite.servers.retrieval import vectors
from mcp_suite.servers.retrieval.factory import build_embedder
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.search import search
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage import vector_cache
from mcp_suite.servers.retrieval.storage.base import NewChunk, NewDocument
from mcp_suite.servers.retrieval.storage.sqlite import SqliteTx
from mcp_suite.servers.retrieval.storage.sqlite_schema import open_database
from mcp_suite.servers.retrieval.storage.vector_cache import CachedVectorSearch, cache_path
from mcp_suite.servers.retrieval.vectors import VectorIndex
from tests.support import script

QUERIES = [
    "which TCP port does the daemon listen on by default",
    "what happens when two devices edit the same note",
    "how much does the team plan cost per user",
    "how often are encryption keys rotated",
    "release notes for the latest version",
]


async def _write(db_path: Path, source: str, vectors: np.ndarray, per_chunk: int = 1) -> None:
    db = await open_database(db_path)
    chunks = [
        NewChunk(
            i,
            f"{source}-{i}",
            (),
            1,
            1,
            0,
            1,
            1,
            f"{source}-{i}",
            vectors[i * per_chunk : (i + 1) * per_chunk].tobytes(),
        )
        for i in range(len(vectors) // per_chunk)
    ]
    async with db.transaction() as conn:
        await SqliteTx(conn).replace_document(NewDocument(source, "text", "t", "text", 0.0, 1, source), chunks)
    await db.close()


async def _in_memory(db_path: Path, dim: int) -> VectorIndex:
    db = await open_database(db_path)
    async with db.snapshot() as conn, conn.execute("SELECT id, document_id, embedding FROM chunks") as cur:
        rows = [(r[0], r[1], r[2]) for r in await cur.fetchall()]
    await db.close()
    index = VectorIndex(dim)
    index.add_blobs(rows)
    return index


def _unit(matrix: np.ndarray) -> np.ndarray:
    return (matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)).astype(np.float32)


@pytest.mark.anyio
@pytest.mark.parametrize("coarse_from", [None, 100])  # exact scan; coarse shortlist
async def test_vector_cache_ranks_like_the_in_memory_index(
    tmp_path: Path, coarse_from: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if coarse_from is not None:
        monkeypatch.setattr(vectors, "COARSE_FROM", coarse_from)
        monkeypatch.setattr(vectors, "SHORTLIST", 60)
    rng = np.random.default_rng(3)
    dim = 128  # wide enough for the coarse prefix
    matrix = _unit(rng.normal(size=(600, dim)))
    db_path = tmp_path / "r.db"
    for doc in range(10):
        await _write(db_path, f"s{doc}", matrix[doc * 60 : (doc + 1) * 60], per_chunk=2)  # two windows a chunk
    index = await _in_memory(db_path, dim)
    cache = CachedVectorSearch(db_path, dim)
    for query in (matrix[7], matrix[123], _unit(rng.normal(size=dim))):
        for k in (1, 5, 50):
            for docs in (None, [2, 5]):
                found, expected = cache.search(query, k, docs), index.search(query, k, docs)
                assert [cid for cid, _ in found] == [cid for cid, _ in expected]
                assert [score for _, score in found] == pytest.approx([score for _, score in expected], abs=1e-6)
    assert cache.search(matrix[0], 5, []) == []
    assert cache_path(db_path).is_file()
    again = CachedVectorSearch(db_path, dim)  # a later process maps the file written by the first
    assert again.search(matrix[123], 5) == cache.search(matrix[123], 5)
    assert again._map is not None


@pytest.mark.anyio
async def test_vector_cache_follows_every_change_to_the_index(tmp_path: Path) -> None:
    """A cache written before an ingest, a re-ingest, a delete or a re-embed is never used after it."""
    rng = np.random.default_rng(5)
    dim = 16
    first, second = _unit(rng.normal(size=(20, dim))), _unit(rng.normal(size=(20, dim)))
    db_path = tmp_path / "r.db"
    await _write(db_path, "a", first)

    def top(query: np.ndarray) -> tuple[int, float]:
        return CachedVectorSearch(db_path, dim).search(query, 1)[0]

    assert top(first[3])[1] == pytest.approx(1.0)
    await _write(db_path, "b", second)  # a new document
    assert top(second[4])[1] == pytest.approx(1.0)
    # Re-ingesting the last document hands out the very chunk ids it frees: only the counter tells the files apart.
    before = top(second[4])[0]
    await _write(db_path, "b", second[::-1].copy())
    moved = before + 11  # second[4] now 15th of the same ids (21-40)
    assert top(second[4]) == (moved, pytest.approx(1.0))
    db = await open_database(db_path)
    async with db.transaction() as conn:  # a re-embed rewrites a vector in place
        await conn.execute("UPDATE chunks SET embedding = ? WHERE id = ?", (first[3].tobytes(), moved))
    async with db.transaction() as conn:  # a delete
        await conn.execute("DELETE FROM documents WHERE source = 'a'")
    await db.close()
    assert top(first[3]) == (moved, pytest.approx(1.0))  # the new vector, not the deleted document's
    assert top(second[4])[1] < 0.9
    # Another database at the same path (deleted and made anew, same counter) is not mistaken for the old one.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    await _write(db_path, "c", first)
    assert top(first[3])[1] == pytest.approx(1.0)


@pytest.mark.anyio
async def test_vector_cache_serves_from_memory_where_it_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(9)
    matrix = _unit(rng.normal(size=(10, 16)))
    db_path = tmp_path / "r.db"
    await _write(db_path, "a", matrix)
    cache_path(db_path).write_bytes(b"MCPSVEC1 torn")  # a torn file is rebuilt

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only folder")

    monkeypatch.setattr(vector_cache.os, "replace", refuse)
    assert CachedVectorSearch(db_path, 16).search(matrix[2], 1)[0][1] == pytest.approx(1.0)
    assert not list(tmp_path.glob("*.tmp"))


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
