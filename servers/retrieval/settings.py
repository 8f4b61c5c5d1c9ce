"""Settings of the retrieval server: roots, embedder, chunking, fetch limits and ranking knobs.

Each field is also a ``--flag`` and an ``MCP_SUITE_RETRIEVAL_<FIELD>`` variable (see :mod:`mcp_suite.shared.settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from mcp_suite.shared.settings import ServerSettings


class RetrievalSettings(ServerSettings):
    server_name: ClassVar[str] = "retrieval"
    engines: ClassVar[frozenset[str]] = frozenset({"sqlite", "postgresql"})

    roots: list[Path] = Field(
        default_factory=list,
        description="folder MCP clients may ingest from (repeatable); without it the client's MCP roots apply",
        json_schema_extra={"flag": "--root"},
    )
    embedder: Literal["wordllama", "openai", "none"] = Field(
        default="wordllama",
        description="embedding provider: wordllama (built-in, offline), openai (HTTP) or none (lexical)",
    )
    embedding_model: str | None = Field(
        default=None,
        description="embedding model name (openai provider; e.g. text-embedding-3-small, nomic-embed-text)",
    )
    embedding_url: str | None = Field(
        default=None, description="base URL of an OpenAI-compatible API including /v1 (openai provider)"
    )
    embedding_api_key: SecretStr | None = Field(
        default=None, description="API key for the embedding endpoint (openai provider)"
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=2048, description="texts per embedding request")
    embedding_timeout: float = Field(default=30.0, gt=0, le=600, description="seconds per embedding request")
    chunk_tokens: int = Field(default=350, ge=32, le=4096, description="token budget per chunk")
    chunk_overlap: int = Field(default=0, ge=0, le=1024, description="tokens of overlap between neighbouring chunks")
    max_file_mb: float = Field(
        default=25.0,
        gt=0,
        description="largest file, text or fetched page indexed, in MB (the one limit every reader is held to); "
        "larger ones are skipped with a report",
    )
    default_excludes: bool = Field(
        default=True,
        description="folder ingest leaves out stylesheets, scripts, minified and lock files, build/dependency "
        "folders, other renderings of a page and aggregate pages",
    )
    ingest_workers: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="processes that parse and chunk a large folder ingest (default: the cores beyond two, at most "
        "4; 0: none, all in the server process)",
    )
    max_url_mb: float = Field(default=10.0, gt=0, description="largest URL download in MB")
    url_timeout: float = Field(default=20.0, gt=0, le=300, description="seconds allowed per URL fetch")
    allow_private_urls: bool = Field(
        default=False,
        description="let URL ingestion reach loopback, private and link-local addresses (off: public only)",
    )
    url_allow: list[str] = Field(
        default_factory=list,
        description="network URL ingestion may reach although not public, in CIDR form (repeatable), "
        "e.g. 10.1.0.0/16 for an intranet wiki (comma-separated in the environment variable)",
        json_schema_extra={"flag": "--url-allow", "env_separator": ","},
    )
    fusion: Literal["zscore", "rrf"] = Field(
        default="zscore",
        description="hybrid fusion: zscore (standardised scores, each leg weighted by its confidence) or rrf (ranks)",
    )
    lexical_weight: float = Field(default=1.5, ge=0, description="weight of the BM25 ranking in hybrid fusion")
    semantic_weight: float = Field(default=1.0, ge=0, description="weight of the vector ranking in hybrid fusion")
    rrf_k: int = Field(default=60, ge=1, le=1000, description="Reciprocal Rank Fusion constant (fusion rrf)")
    neighbour_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="hybrid search: share of the better adjacent chunk's score a candidate gains (0 turns it off)",
    )
    passage_chunks: int = Field(
        default=2,
        ge=1,
        le=8,
        description="hybrid search: adjacent chunks of one document among the results join into one hit of at "
        "most this many chunks (1 turns it off)",
    )
    feedback_weight: float = Field(
        default=0.5, ge=0, le=5, description="how strongly feedback nudges ranking (0 turns it off)"
    )
    query_expansion: bool = Field(
        default=False, description="ask the client's model (MCP sampling) for query variants and fuse their results"
    )
    rerank_url: str | None = Field(
        default=None, description="TEI/Cohere/Jina-compatible rerank endpoint (off when unset)"
    )
    rerank_model: str | None = Field(default=None, description="model name sent to the rerank endpoint")
    rerank_api_key: SecretStr | None = Field(default=None, description="API key for the rerank endpoint")
    rerank_timeout: float = Field(default=15.0, gt=0, le=300, description="seconds per rerank request")

    @field_validator("url_allow", mode="after")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP network; use CIDR form such as 10.0.0.0/8") from None
        return value

    @field_validator("roots", mode="after")
    @classmethod
    def _expand_roots(cls, value: list[Path]) -> list[Path]:
        return [path.expanduser() for path in value]
