"""The embedding providers: the offline wordllama model (never touching the network), the
OpenAI-compatible HTTP provider against an httpx.MockTransport peer, and the index's refusal to
mix vectors from different embedders until an explicit re-index."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import (
    EmbeddingError,
    NoEmbedder,
    OpenAIEmbedder,
    WordLlamaEmbedder,
    make_embedder,
    wordllama_package_dir,
)
from mcp_suite.shared.errors import InvalidInputError

pytestmark = pytest.mark.anyio


def test_wordllama_loads_from_its_wheel_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the offline embedder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HOME", "/nonexistent")  # not even the ~/.cache lookup can help it
    embedder = WordLlamaEmbedder()
    vectors = embedder.embed_sync(["How do I reset my password?", "Password reset steps", "Tomato soup recipe"])
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embedder.info.describe() == "wordllama/l2_supercat (256 dims)"
    assert (wordllama_package_dir() / "weights" / "l2_supercat_256.safetensors").exists()


def test_wordllama_vectors_equal_the_packages_own_embed() -> None:
    """The fast path (one unpadded tokenizer batch, normaliser applied in Python, direct pooling)
    must give wordllama's own ``embed(norm=True)`` vectors, on awkward texts too."""
    from wordllama import WordLlama

    reference = WordLlama.load("l2_supercat", cache_dir=wordllama_package_dir(), dim=256, disable_download=True)
    texts = [
        "How do I reset my password?",
        "  leading and trailing spaces  ",
        "runs   of    spaces\tand\ttabs\nand\n\nnewlines",
        "Strike <s>this</s> out; an <unk> tag; </s> alone",  # special-token strings: the model's own pipeline
        "naïve café — emoji 🚀 and CJK 検索 byte fallback \u2581 already-normalised marker",
        "x",
        "```js\nconst fs = require('node:fs');\nfs.readFileSync(path, { encoding: 'utf8' });\n```",
        " ".join(f"word{i} of a very long chunk" for i in range(1000)),  # > 8192 tokens: pooled in slices
    ]
    embedder = WordLlamaEmbedder()
    model = embedder.load()
    assert model.bare_tokenizer is not None, "the shipped tokenizer should take the fast path"
    # Same token ids as the package's tokenizer (which pads; the mask drops the padding).
    unpadded = [[i for i, keep in zip(e.ids, e.attention_mask, strict=True) if keep] for e in reference.tokenize(texts)]
    assert model.token_ids(texts) == unpadded
    assert len(model.token_ids(texts)[-1]) > 8192

    vectors = embedder.embed_sync(texts)
    expected = reference.embed(texts, norm=True)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 256)
    assert np.allclose(vectors[:-1], expected[:-1], rtol=1e-5, atol=1e-6)
    # Over 10k tokens, float32 sums drift in the 6th digit: both stay close to the exact (float64) mean.
    ids = np.asarray(model.token_ids(texts[-1:])[0])
    exact = model.matrix[ids].astype(np.float64).mean(axis=0)
    exact /= np.linalg.norm(exact)
    assert np.allclose(vectors[-1], expected[-1], rtol=1e-5, atol=2e-5)
    assert np.abs(vectors[-1] - exact).max() <= max(np.abs(expected[-1] - exact).max(), 1e-6)
    # Order and batching do not change a text's vector.
    assert np.allclose(embedder.embed_sync(texts[::-1])[::-1], vectors, atol=1e-6)
    assert np.allclose(embedder.embed_sync([texts[2]])[0], vectors[2], atol=1e-6)
    # A text without tokens is a zero row (wordllama would give NaN), never a crash.
    empty = embedder.embed_sync(["", "x"])
    assert not empty[0].any() and np.allclose(empty[1], vectors[5], atol=1e-6)


async def test_no_embedder_and_factory() -> None:
    assert (await NoEmbedder().embed(["a", "b"])).shape == (2, 0)
    assert isinstance(make_embedder("wordllama"), WordLlamaEmbedder)
    with pytest.raises(InvalidInputError, match="base URL"):
        make_embedder("openai", model="m")
    with pytest.raises(InvalidInputError, match="unknown embedding provider"):
        make_embedder("word2vec")
    with pytest.raises(InvalidInputError, match="only the 'l2_supercat' model"):
        make_embedder("wordllama", model="bge-small")


def openai_peer(
    log: list[dict[str, Any]], *, fail_first: int = 0, status: int = 429, dim: int = 8
) -> httpx.AsyncClient:
    state = {"calls": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        body = json.loads(request.content)
        log.append({"path": request.url.path, "auth": request.headers.get("authorization"), "body": body})
        if state["calls"] <= fail_first:
            return httpx.Response(status, json={"error": "slow down"})
        data = [
            {"index": i, "embedding": [float(len(text))] + [float(i + 1)] * (dim - 1)}
            for i, text in enumerate(body["input"])
        ]
        return httpx.Response(200, json={"object": "list", "data": list(reversed(data)), "model": body["model"]})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_openai_provider_batches_and_authenticates() -> None:
    log: list[dict[str, Any]] = []
    async with openai_peer(log) as client:
        embedder = OpenAIEmbedder(
            base_url="http://embed.local/v1/", model="nomic-embed-text", api_key="sk-test", batch_size=2, client=client
        )
        vectors = await embedder.embed(["a", "bb", "ccc", "dddd", "eeeee"])
    assert [len(entry["body"]["input"]) for entry in log] == [2, 2, 1]
    assert {entry["path"] for entry in log} == {"/v1/embeddings"}
    assert {entry["auth"] for entry in log} == {"Bearer sk-test"}
    assert log[0]["body"]["model"] == "nomic-embed-text"
    assert vectors.shape == (5, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    # Answers are put back in input order even when the server lists them in another order.
    raw_first = np.array([1.0] + [1.0] * 7)
    assert np.allclose(vectors[0], raw_first / np.linalg.norm(raw_first))
    assert embedder.info.describe() == "openai/nomic-embed-text (8 dims)"


async def test_openai_provider_retries_then_gives_a_clear_error() -> None:
    log: list[dict[str, Any]] = []
    async with openai_peer(log, fail_first=2) as client:
        embedder = OpenAIEmbedder(base_url="http://e/v1", model="m", client=client, backoff=0.0)
        assert (await embedder.embed(["x"])).shape == (1, 8)
    assert len(log) == 3

    async with openai_peer([], fail_first=99, status=503) as client:
        embedder = OpenAIEmbedder(base_url="http://e/v1", model="m", client=client, backoff=0.0, max_retries=2)
        with pytest.raises(EmbeddingError, match="failed after 3 attempts: HTTP 503"):
            await embedder.embed(["x"])

    async with openai_peer([], fail_first=99, status=401) as client:
        embedder = OpenAIEmbedder(base_url="http://e/v1", model="m", client=client, backoff=0.0)
        with pytest.raises(EmbeddingError, match=r"HTTP 401.*API key"):
            await embedder.embed(["x"])

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as client:
        embedder = OpenAIEmbedder(base_url="http://e/v1", model="m", client=client, backoff=0.0, max_retries=1)
        with pytest.raises(EmbeddingError, match="could not connect"):
            await embedder.embed(["x"])

    async with openai_peer([], dim=8) as client:
        embedder = OpenAIEmbedder(base_url="http://e/v1", model="m", client=client, dimension=16)
        with pytest.raises(EmbeddingError, match="returned 8-dimension vectors, expected 16"):
            await embedder.embed(["x"])


async def test_index_refuses_to_mix_embedders_until_reindexed(data_dir: Path) -> None:
    text = "# Deploys\n\nProduction deploys happen on Tuesdays after the change review.\n"
    lexical_only = RetrievalSettings(data_dir=data_dir, embedder="none")
    async with Client(build_server(lexical_only)) as client:
        await client.call_tool("ingest_text", {"text": text, "source": "deploys.md", "doc_type": "markdown"})
        semantic = await client.call_tool("search", {"query": "deploy day", "mode": "semantic"})
        assert semantic.is_error and "--embedder none" in semantic.content[0].text  # type: ignore[union-attr]

    log: list[dict[str, Any]] = []
    async with openai_peer(log) as http:
        embedder = OpenAIEmbedder(base_url="http://e/v1", model="m", client=http)
        other = RetrievalSettings(data_dir=data_dir, embedder="openai")
        async with Client(build_server(other, embedder=embedder)) as client:
            result = await client.call_tool("search", {"query": "deploys", "mode": "semantic"})
            message = result.content[0].text  # type: ignore[union-attr]
            assert result.is_error and "built with the none embedder" in message and "reindex" in message
            # Hybrid still answers, lexically, and says why.
            hybrid = await client.call_tool("search", {"query": "deploys"})
            assert not hybrid.is_error and hybrid.structured_content is not None
            assert hybrid.structured_content["hits"][0]["source"] == "deploys.md"
            assert "semantic half skipped" in hybrid.structured_content["notes"][0]
            # Writing would mix vectors: refused, nothing written.
            added = await client.call_tool("ingest_text", {"text": "Other words.", "source": "other.md"})
            assert added.is_error and "reindex" in added.content[0].text  # type: ignore[union-attr]
            assert not log, "nothing should have been embedded before the conflict check"

            refused = await client.call_tool("reindex", {})
            assert refused.is_error and "confirm=true" in refused.content[0].text  # type: ignore[union-attr]
            done = await client.call_tool("reindex", {"confirm": True})
            assert not done.is_error and done.structured_content == {"chunks": 1, "embedder": "openai/m (8 dims)"}
            # Re-embedded from the text ingest embeds: document title and heading path before the chunk.
            assert log[-1]["body"]["input"] == ["Deploys > Deploys\n" + text.strip()]
            semantic_ok = await client.call_tool("search", {"query": "deploys", "mode": "semantic"})
            assert not semantic_ok.is_error and semantic_ok.structured_content is not None
            assert semantic_ok.structured_content["hits"][0]["source"] == "deploys.md"
            stats = (await client.call_tool("stats", {})).structured_content
            assert stats is not None and stats["index_embedder"] == "openai/m (8 dims)" and stats["embedder_matches"]
