"""Ranking details: query parsing, the vector matrix, query expansion through MCP sampling, the HTTP
reranker, and the evaluate tool wired to the evaluation module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from mcp import Client
from mcp.types import CreateMessageRequestParams, CreateMessageResult, TextContent

from mcp_suite.servers.retrieval.rerank import HttpReranker, RerankError
from mcp_suite.servers.retrieval.search import RankingConfig, fts_query, fuse, standardised
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.vectors import VectorIndex

pytestmark = pytest.mark.anyio


def test_fts_query_quotes_words_and_drops_stopwords() -> None:
    assert fts_query("How do I rotate the API key?") == '"rotate" OR "api" OR "key"'
    # FTS5 syntax in user input is just words: no column filters, NEAR, or unbalanced quotes.
    assert fts_query('title:secret NEAR("a" b) -x*') == '"title" OR "secret" OR "near" OR "b" OR "x"'
    assert fts_query("the of and") == '"the" OR "of" OR "and"'
    assert fts_query("?!") is None


def ranked(scores: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda item: -item[1])


def test_zscore_fusion_keeps_a_flat_leg_from_dragging_a_confident_one() -> None:
    # BM25 is sure (chunk 1 stands far out); the vectors barely tell their top 20 apart and put 1 last.
    lexical = ranked({1: 30.0, 2: 9.0, 3: 8.5, **{i: 8.0 - 0.01 * i for i in range(10, 27)}})
    semantic = ranked({2: 0.412, 3: 0.411, 4: 0.410, **{i: 0.409 - 0.0001 * i for i in range(30, 46)}, 1: 0.39})
    lists = [("lexical", 1.0, lexical), ("semantic", 1.0, semantic)]
    z, ranks = fuse(lists, RankingConfig(fusion="zscore", lexical_weight=1.0))
    assert max(z, key=z.__getitem__) == 1 and ranks[1] == [1, 20]
    # Rank fusion cannot see that one leg is unsure: its top two (found by both legs) beat the clear winner.
    rrf, _ = fuse(lists, RankingConfig(fusion="rrf", lexical_weight=1.0))
    assert sorted(rrf, key=lambda c: -rrf[c])[:2] == [2, 3]
    assert rrf[2] == pytest.approx(1 / 62 + 1 / 61)


def test_zscore_fusion_of_one_list_keeps_its_order_and_weights_confidence() -> None:
    lexical = ranked({5: 12.0, 6: 7.0, 7: 6.5, 8: 1.0})
    fused, _ = fuse([("lexical", 1.0, lexical)], RankingConfig())
    assert sorted(fused, key=lambda c: -fused[c]) == [5, 6, 7, 8] and fused[8] == 0.0
    z = standardised([12.0, 7.0, 6.5, 1.0])
    assert sum(z) == pytest.approx(0.0) and sum(v * v for v in z) == pytest.approx(4.0)
    assert fused[5] == pytest.approx(z[0] ** 0.5 * (z[0] - z[-1]))  # confidence × distance from the floor
    # A list whose scores do not vary (or a single hit) only says what it found: one weight each.
    assert standardised([3.0, 3.0, 3.0]) == [0.0, 0.0, 0.0]
    flat, _ = fuse([("semantic", 0.5, ranked({1: 0.5, 2: 0.5}))], RankingConfig())
    assert flat == {1: 0.5, 2: 0.5}
    single, _ = fuse([("lexical", 1.5, [(9, 4.2)]), ("semantic", 1.0, [(9, 0.3)])], RankingConfig())
    assert single == {9: 2.5}
    assert fuse([], RankingConfig()) == ({}, {})


def test_zscore_fusion_counts_what_bm25_did_not_match_as_zero() -> None:
    # Only one chunk holds any query word: BM25 at its most certain. The vectors' favourites, found by
    # them alone, must not bury it (unpadded, a one-hit list only adds its weight).
    semantic = ranked({i: 0.20 - 0.01 * i for i in range(2, 12)} | {i: 0.05 for i in range(12, 52)})
    lists = [("lexical", 1.5, [(1, 5.6)]), ("semantic", 1.0, semantic)]
    unpadded, _ = fuse(lists, RankingConfig())
    assert max(unpadded, key=unpadded.__getitem__) != 1
    padded, _ = fuse(lists, RankingConfig(), depth=50)
    assert max(padded, key=padded.__getitem__) == 1
    # A full lexical list is standardised as before; vector lists are never padded, and a lexical list
    # is padded only up to the chunks there are (the vector list's length) and only in hybrid fusion.
    full = ranked({i: 10.0 - 0.1 * i for i in range(50)})
    both = [("lexical", 1.0, full), ("semantic", 1.0, semantic)]
    assert fuse(both, RankingConfig(), depth=50) == fuse(both, RankingConfig())
    only_vectors = [("semantic", 1.0, semantic[:3])]
    assert fuse(only_vectors, RankingConfig(), depth=50) == fuse(only_vectors, RankingConfig())
    small = [("lexical", 1.0, [(1, 3.0), (2, 1.0)]), ("semantic", 1.0, ranked({1: 0.2, 2: 0.3}))]
    assert fuse(small, RankingConfig(), depth=50) == fuse(small, RankingConfig())
    lexical_only = [("lexical", 1.0, [(1, 5.6), (2, 1.0)])]
    assert fuse(lexical_only, RankingConfig(), depth=50) == fuse(lexical_only, RankingConfig())


def test_vector_index_add_remove_filter_and_compact() -> None:
    rng = np.random.default_rng(0)
    index = VectorIndex(16)
    vectors = rng.standard_normal((5000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.add(list(range(1, 5001)), [i % 10 for i in range(5000)], vectors)
    query = vectors[41]
    assert index.search(query, 1)[0][0] == 42
    assert index.search(query, 3, doc_ids=[3])[0][0] != 42  # row 41 belongs to document 1
    assert all((cid - 1) % 10 == 3 for cid, _ in index.search(query, 20, doc_ids=[3]))
    index.remove([42])
    assert 42 not in {cid for cid, _ in index.search(query, 50)}
    index.remove(list(range(1, 2000)))  # past a quarter dead: compacted
    assert len(index) == 3001
    assert index.search(vectors[4999], 1)[0][0] == 5000
    index.add([42], [1], vectors[41:42])
    assert index.search(query, 1)[0][0] == 42
    assert index.search(query, 5, doc_ids=[]) == []


async def ingest_fixtures(client: Client, corpus: Path) -> None:
    result = await client.call_tool("ingest", {"paths": [str(corpus)]})
    assert not result.is_error


async def test_query_expansion_through_sampling(settings: RetrievalSettings, corpus: Path) -> None:
    asked: list[str] = []

    async def sampling(context: Any, params: CreateMessageRequestParams) -> CreateMessageResult:
        asked.append(params.messages[0].content.text)  # type: ignore[union-attr]
        variants = "default TCP port of the daemon\nquillstream serve --port\n"
        return CreateMessageResult(role="assistant", content=TextContent(type="text", text=variants), model="test")

    async with Client(build_server(settings), sampling_callback=sampling, mode="legacy") as client:
        await ingest_fixtures(client, corpus)
        plain = await client.call_tool("search", {"query": "zorblax", "mode": "lexical"})
        assert plain.structured_content is not None and plain.structured_content["hits"] == []
        expanded = await client.call_tool("search", {"query": "zorblax", "mode": "lexical", "expand": True})
        data = expanded.structured_content
        assert data is not None and "zorblax" in asked[0]
        assert Path(data["hits"][0]["source"]).name == "getting-started.md"
        assert any("expanded with: default TCP port" in note for note in data["notes"])

    # A client without sampling: the search still runs and says why it was not expanded.
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("search", {"query": "daemon port", "expand": True})
        data = result.structured_content
        assert data is not None and data["hits"]
        assert any("does not support sampling" in note for note in data["notes"])


def rerank_peer(log: list[dict[str, Any]], prefer: str, cohere: bool = False) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        log.append(body)
        texts = body["documents"] if cohere else body["texts"]
        scored = [{"index": i, "score": 1.0 if prefer in t else 0.1 / (i + 1)} for i, t in enumerate(texts)]
        if cohere:
            return httpx.Response(
                200, json={"results": [{"index": s["index"], "relevance_score": s["score"]} for s in scored]}
            )
        return httpx.Response(200, json=sorted(scored, key=lambda s: -s["score"]))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_http_reranker_reorders_candidates(settings: RetrievalSettings, corpus: Path) -> None:
    log: list[dict[str, Any]] = []
    async with rerank_peer(log, prefer="Homebrew") as http:
        reranker = HttpReranker("http://rerank.local/rerank", client=http)
        async with Client(build_server(settings, reranker=reranker)) as client:
            await ingest_fixtures(client, corpus)
            result = await client.call_tool("search", {"query": "how to install quillstream", "k": 3})
            data = result.structured_content
    assert data is not None and "Homebrew" in data["hits"][0]["text"] and "reranked" in data["notes"]
    assert log[0]["query"] == "how to install quillstream" and len(log[0]["texts"]) >= 3

    cohere_log: list[dict[str, Any]] = []
    async with rerank_peer(cohere_log, prefer="b", cohere=True) as http:
        reranker = HttpReranker("http://r/v1/rerank", model="rerank-v3", api_key="k", client=http)
        assert await reranker.rerank("q", ["a", "b", "c"]) == [0.1, 1.0, 0.1 / 3]
    assert cohere_log[0]["model"] == "rerank-v3" and cohere_log[0]["top_n"] == 3

    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500, text="boom"))) as http:
        with pytest.raises(RerankError, match="HTTP 500"):
            await HttpReranker("http://r/rerank", client=http).rerank("q", ["a"])


async def test_evaluate_tool_scores_modes(settings: RetrievalSettings, corpus: Path) -> None:
    dataset = "\n".join(
        json.dumps(case)
        for case in [
            {
                "query": "which TCP port does the daemon use",
                "expected_source": "getting-started.md",
                "expected_text": "7419",
            },
            {"query": "what happens when two devices edit the same note", "expected_source": "sync/conflicts.md"},
            {"query": "price of the team plan", "expected_source": "pricing.html"},
        ]
    )
    (corpus / "eval.jsonl").write_text(dataset)
    # The default chunk budget: each fixture file is one or two chunks, so recall@3 is a fair ask.
    settings = settings.model_copy(update={"chunk_tokens": RetrievalSettings().chunk_tokens})
    async with Client(build_server(settings)) as client:
        await ingest_fixtures(client, corpus)
        result = await client.call_tool("evaluate", {"dataset": dataset, "k": 3})
        report = result.structured_content
        assert report is not None and report["case_count"] == 3
        modes = {m["mode"]: m for m in report["modes"]}
        assert set(modes) == {"lexical", "semantic", "hybrid"}
        assert modes["hybrid"]["recall"] == 1.0 and modes["hybrid"]["mrr"] > 0.8

        from_file = await client.call_tool("evaluate", {"dataset": "eval.jsonl", "modes": ["lexical"]})
        assert from_file.structured_content is not None
        assert [m["mode"] for m in from_file.structured_content["modes"]] == ["lexical"]

        outside = await client.call_tool("evaluate", {"dataset": "/etc/hostname"})
        assert outside.is_error and "outside the allowed roots" in outside.content[0].text  # type: ignore[union-attr]
        bad = await client.call_tool("evaluate", {"dataset": '{"query": "x"}'})
        assert bad.is_error and "expected_source" in bad.content[0].text  # type: ignore[union-attr]
