"""Where the prompt registry is stored: :func:`open_storage` picks the engine from the database URL."""

from __future__ import annotations

from mcp_suite.servers.prompts.storage.base import PromptStorage
from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl
from mcp_suite.shared.errors import DatabaseConfigError


async def open_storage(url: DatabaseUrl) -> PromptStorage:
    """The registry's storage at ``url`` (a SQLite file, or the ``mcp_suite_prompts`` schema on PostgreSQL)."""
    if isinstance(url, SqliteUrl):
        from mcp_suite.servers.prompts.storage.sqlite import SqlitePromptStorage

        return await SqlitePromptStorage.open(url.path)
    try:
        from mcp_suite.servers.prompts.storage.postgres import PostgresPromptStorage
    except ImportError as exc:
        raise DatabaseConfigError(
            f"PostgreSQL needs the postgres extra ({exc.name} is missing); run: pip install 'mcp-suite[postgres]'"
        ) from None
    return await PostgresPromptStorage.open(url)
