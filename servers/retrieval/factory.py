"""Building the retrieval server's parts from its settings, shared by the MCP surface and the CLI.

Kept apart from :mod:`mcp_suite.servers.retrieval.server` so terminal commands do not import the MCP SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp_suite.servers.retrieval.search import RankingConfig
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import Embedder, make_embedder
from mcp_suite.shared.http import HttpPool

if TYPE_CHECKING:
    from mcp_suite.servers.retrieval.fetching import UrlPolicy
    from mcp_suite.servers.retrieval.ingest import IngestOptions


def build_embedder(settings: RetrievalSettings, http: HttpPool | None = None) -> Embedder:
    """The configured embedder; an HTTP one takes its client from ``http`` (the server's or command's pool)."""
    client = http.client if http is not None and settings.embedder == "openai" else None
    api_key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    return make_embedder(
        settings.embedder,
        model=settings.embedding_model,
        base_url=settings.embedding_url,
        api_key=api_key,
        batch_size=settings.embedding_batch_size,
        timeout=settings.embedding_timeout,
        client=client,
        cache_dir=settings.data_dir / "cache",  # wordllama's prepared matrix, memory-mapped by later processes
    )


def build_reranker(settings: RetrievalSettings, http: HttpPool | None = None) -> Any | None:
    """The configured rerank stage (None when ``--rerank-url`` is unset), over ``http``'s client when given."""
    if not settings.rerank_url:
        return None
    client = http.client if http is not None else None
    from mcp_suite.servers.retrieval.rerank import HttpReranker

    key = settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None
    return HttpReranker(
        settings.rerank_url, model=settings.rerank_model, api_key=key, timeout=settings.rerank_timeout, client=client
    )


def ingest_options(settings: RetrievalSettings, **overrides: Any) -> IngestOptions:
    from mcp_suite.servers.retrieval.ingest import IngestOptions  # lazy: a terminal search needs no readers

    values: dict[str, Any] = {
        "max_tokens": settings.chunk_tokens,
        "overlap_tokens": settings.chunk_overlap,
        "max_file_bytes": int(settings.max_file_mb * 1_048_576),
        "default_excludes": settings.default_excludes,
        "workers": settings.ingest_workers,
    }
    return IngestOptions(**(values | overrides))


def ranking_config(settings: RetrievalSettings) -> RankingConfig:
    return RankingConfig(
        lexical_weight=settings.lexical_weight,
        semantic_weight=settings.semantic_weight,
        rrf_k=settings.rrf_k,
        feedback_weight=settings.feedback_weight,
        fusion=settings.fusion,
        neighbour_share=settings.neighbour_share,
        passage_chunks=settings.passage_chunks,
    )


def url_policy(settings: RetrievalSettings) -> UrlPolicy:
    """Which addresses URL ingestion may reach (public only unless the settings open more)."""
    from mcp_suite.servers.retrieval.fetching import UrlPolicy

    return UrlPolicy.from_settings(settings.allow_private_urls, settings.url_allow)
