"""Settings of the memory server."""

from typing import ClassVar, Literal

from pydantic import Field, SecretStr

from mcp_suite.shared.settings import ServerSettings

DEFAULT_NAMESPACE = "default"


class MemorySettings(ServerSettings):
    server_name: ClassVar[str] = "memory"
    engines: ClassVar[frozenset[str]] = frozenset({"sqlite", "postgresql"})

    namespace: str = Field(
        DEFAULT_NAMESPACE,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="which isolated memory of the shared store this instance reads and writes",
    )
    embedder: Literal["wordllama", "openai", "none"] = Field(
        default="wordllama",
        description="embedding provider for meaning-based search_nodes: wordllama (built-in, offline), "
        "openai (HTTP) or none (word matching only)",
    )
    embedding_model: str | None = Field(
        default=None, description="embedding model name (openai provider; e.g. text-embedding-3-small)"
    )
    embedding_url: str | None = Field(
        default=None, description="base URL of an OpenAI-compatible API including /v1 (openai provider)"
    )
    embedding_api_key: SecretStr | None = Field(
        default=None, description="API key for the embedding endpoint (openai provider)"
    )
