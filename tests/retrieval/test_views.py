"""Multi-vector chunks: the windows a chunk is embedded as, and the vector index/scan scoring a chunk
by its best window."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mcp import Client
from pydantic import SecretStr

from mcp_suite.servers.retrieval import views
from mcp_suite.servers.retrieval.chunking import count_tokens
from mcp_suite.servers.retrieval.library import to_blob
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.factory import open_storage
from mcp_suite.servers.retrieval.vectors import VectorIndex
from mcp_suite.shared.database_url import DatabaseUrl
from tests.support import script

pytestmark = pytest.mark.anyio


def test_windows_pack_whole_paragraphs_up_to_the_budget() -> None:
    turns = [f"**User:** question {i}" + " word" * 40 for i in range(7)]
    windows = views.windows("\n\n".join(turns))
    assert len(windows) == 4  # two turns of ~45 tokens per window of at most 100
    assert all(count_tokens(w) <= views.WINDOW_TOKENS for w in windows)
    assert "\n\n".join(windows).split("\n\n") == turns  # nothing lost, nothing cut mid-paragraph
    assert views.windows("one short paragraph") == ["one short paragraph"]
    long = "x " * 300
    assert views.windows(long) == [long.strip()]  # one long paragraph stays whole


def test_windows_are_capped_and_carry_the_context() -> None:
    many = "\n\n".join(f"paragraph {i} " + "w " * 60 for i in range(30))
    assert len(views.windows(many)) <= views.MAX_WINDOWS
    texts = views.embedding_texts("Guide", ["Install", "Linux"], "First.\n\nSecond.")
    assert texts == ["Guide > Install > Linux\nFirst.\n\nSecond."]
    assert views.embedding_texts("", [], "Body.") == ["Body."]
    assert views.embed_key(["a", "b"]) != views.embed_key(["a\nb"])


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_vector_index_scores_a_chunk_by_its_best_window() -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng.standard_normal((9, 32)))
    index = VectorIndex(32)
    # chunk 1 owns rows 0-3, chunk 2 rows 4-5, chunk 3 rows 6-8
    index.add([1, 2, 3], [10, 20, 30], vectors, counts=[4, 2, 3])
    assert len(index) == 3
    hits = index.search(vectors[5], 3)
    assert hits[0][0] == 2 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert len({cid for cid, _ in hits}) == 3  # each chunk once, however many of its windows match
    assert index.search(vectors[2], 1) == [(1, pytest.approx(1.0, abs=1e-5))]
    assert [cid for cid, _ in index.search(vectors[2], 5, doc_ids=[30])] == [3]
    index.remove([1])
    assert 1 not in {cid for cid, _ in index.search(vectors[2], 5)}
    # Blobs hold one vector or several concatenated; replacing a chunk drops all its old rows.
    index.add_blobs([(2, 20, to_blob(vectors[0:1])), (4, 40, to_blob(vectors[1:4]))])
    assert index.search(vectors[3], 1)[0][0] == 4 and index.search(vectors[0], 1)[0][0] == 2
    assert index.search(vectors[5], 3)[0][0] != 2
    with pytest.raises(ValueError):
        index.add([5], [50], vectors[:2])


def test_vector_index_compaction_keeps_every_window() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    vectors = _unit(rng.standard_normal((2 * n, 16)))
    index = VectorIndex(16)
    index.add(list(range(n)), [0] * n, vectors, counts=[2] * n)
    index.remove(list(range(0, n, 2)) + list(range(1, 800, 2)))  # past a quarter of the rows dead: compacted
    assert len(index) == n // 2 - 400
    for cid in (801, 2999):
        assert index.search(vectors[2 * cid + 1], 1)[0][0] == cid  # the second window still maps to its chunk


def _write_notes(root: Path) -> None:
    """One chunk of many short paragraphs (several windows) whose last paragraph alone answers the query."""
    root.mkdir()
    filler = "\n\n".join(f"- Item {i}: the weekly shopping list needs bread, milk and apples." for i in range(12))
    (root / "home.md").write_text(
        f"# Home\n\n{filler}\n\n- The office wifi network is CDKZ-guest with password cdkzswse58.\n",
        encoding="utf-8",
    )


async def _stored_windows(url: DatabaseUrl, dimension: int) -> list[int]:
    """How many window vectors each stored chunk holds, read through the storage interface."""
    storage = await open_storage(url)
    try:
        async with storage.snapshot() as tx:
            rows = await tx.vectors()
    finally:
        await storage.close()
    assert all(len(blob) % (4 * dimension) == 0 for _, _, blob in rows)
    return [len(blob) // (4 * dimension) for _, _, blob in rows]


async def test_multi_window_chunk_found_by_its_window_in_server_and_scan(tmp_path: Path, database_url: str) -> None:
    notes = tmp_path / "notes"
    _write_notes(notes)
    url = None if database_url.startswith("sqlite") else SecretStr(database_url)
    settings = RetrievalSettings(data_dir=tmp_path / "data", roots=[notes], database_url=url)
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("ingest", {"paths": [str(notes)]})
        assert not result.is_error
        data = await client.call_tool("search", {"query": "office wifi password", "mode": "semantic"})
        assert data.structured_content is not None
        hit = data.structured_content["hits"][0]
        assert "cdkzswse58" in hit["text"]
    # The stored chunk holds every window's vector, and the one-shot search ranks by the best of them.
    dimension = 256
    assert max(await _stored_windows(settings.database, dimension)) > 1
    from mcp_suite.shared.embeddings import WordLlamaEmbedder

    embedder = WordLlamaEmbedder()
    embedder.load()
    query = embedder.embed_sync(["office wifi password"])[0]
    storage = await open_storage(settings.database)
    try:
        found = storage.vector_search(dimension).search(query, 1)
    finally:
        await storage.close()
    assert [cid for cid, _ in found] == [hit["chunk_id"]]


@pytest.mark.slow
async def test_a_chunk_found_by_its_second_window_ranks_the_same_on_both_engines(
    tmp_path: Path, postgres_url: str
) -> None:
    notes = tmp_path / "notes"
    _write_notes(notes)
    query = "office wifi password"
    found: dict[str, tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]] = {}
    for engine, url in (("sqlite", None), ("postgresql", SecretStr(postgres_url))):
        data_dir = tmp_path / f"data-{engine}"
        settings = RetrievalSettings(data_dir=data_dir, roots=[notes], database_url=url)
        async with Client(build_server(settings)) as client:
            assert not (await client.call_tool("ingest", {"paths": [str(notes)]})).is_error
            result = await client.call_tool("search", {"query": query, "k": 5, "mode": "semantic"})
            assert result.structured_content is not None
            served = result.structured_content["hits"]
        database_flag = ["--database-url", postgres_url] if url else []
        argv = [script("mcp-suite"), "retrieval", "search", query, "--json", "-k", "5", "--mode", "semantic"]
        done = subprocess.run(
            [*argv, "--data-dir", str(data_dir), *database_flag],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        one_shot = json.loads(done.stdout)["hits"]
        found[engine] = tuple(  # type: ignore[assignment]
            [(Path(h["source"]).name, h["chunk_id"], h["score"]) for h in hits] for hits in (served, one_shot)
        )
        windows = await _stored_windows(settings.database, 256)
        assert windows[0] > 1  # the wifi line is not in the chunk's first window
        assert "cdkzswse58" in served[0]["text"]
    for engine in found:
        served, one_shot = found[engine]
        assert [h[:2] for h in one_shot] == [h[:2] for h in served], engine
        assert [h[2] for h in one_shot] == pytest.approx([h[2] for h in served], abs=1e-4), engine
    assert [h[:2] for h in found["postgresql"][0]] == [h[:2] for h in found["sqlite"][0]]
    assert [h[2] for h in found["postgresql"][0]] == pytest.approx([h[2] for h in found["sqlite"][0]], abs=1e-4)


def test_large_index_shortlists_on_the_vector_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_suite.servers.retrieval import vectors

    monkeypatch.setattr(vectors, "COARSE_FROM", 1000)
    monkeypatch.setattr(vectors, "SHORTLIST", 200)
    rng = np.random.default_rng(3)
    n = 2000
    matrix = _unit(rng.standard_normal((2 * n, 256)))
    index = VectorIndex(256)
    index.add(list(range(n)), [i % 4 for i in range(n)], matrix, counts=[2] * n)
    exact = matrix @ matrix[1201]
    for query_row, chunk in ((1201, 600), (7, 3)):
        hits = index.search(matrix[query_row], 5)
        assert hits[0][0] == chunk and hits[0][1] == pytest.approx(1.0, abs=1e-5)  # rescored on every dimension
        assert len({cid for cid, _ in hits}) == 5
    assert index.search(matrix[1201], 1)[0][1] == pytest.approx(float(exact.max()), abs=1e-5)
    filtered = index.search(matrix[1201], 5, doc_ids=[1])
    assert filtered and all(cid % 4 == 1 for cid, _ in filtered)
    index.remove([600])
    assert 600 not in {cid for cid, _ in index.search(matrix[1201], 5)}


async def test_reused_and_reembedded_vectors_keep_every_window(tmp_path: Path, database_url: str) -> None:
    notes = tmp_path / "notes"
    _write_notes(notes)
    url = None if database_url.startswith("sqlite") else SecretStr(database_url)
    settings = RetrievalSettings(data_dir=tmp_path / "data", roots=[notes], database_url=url)
    async with Client(build_server(settings)) as client:
        first = await client.call_tool("ingest", {"paths": [str(notes)]})
        assert first.structured_content is not None and first.structured_content["chunks_embedded"] == 1
        windows = await _stored_windows(settings.database, 256)
        assert windows == [windows[0]] and windows[0] > 1
        # The same document under another name: the same embedded windows, every one of them reused.
        (notes / "copy.md").write_text((notes / "home.md").read_text(encoding="utf-8"), encoding="utf-8")
        again = await client.call_tool("ingest", {"paths": [str(notes)]})
        assert again.structured_content is not None and again.structured_content["chunks_embedded"] == 0
        assert await _stored_windows(settings.database, 256) == windows * 2
        done = await client.call_tool("reindex", {"confirm": True})
        assert not done.is_error
        assert await _stored_windows(settings.database, 256) == windows * 2
        data = await client.call_tool("search", {"query": "office wifi password", "k": 2, "mode": "semantic"})
        assert data.structured_content is not None
        assert all("cdkzswse58" in hit["text"] for hit in data.structured_content["hits"])
