"""The one place that picks a storage engine: by the scheme of the database URL."""

from __future__ import annotations

from mcp_suite.servers.retrieval.storage.base import Storage
from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl


async def open_storage(url: DatabaseUrl) -> Storage:
    """Open (and migrate) the index ``url`` names: a SQLite file, or the retrieval schema on PostgreSQL."""
    if isinstance(url, SqliteUrl):
        from mcp_suite.servers.retrieval.storage.sqlite import SqliteStorage

        return await SqliteStorage.open(url.path)
    from mcp_suite.servers.retrieval.storage.postgres import PostgresStorage

    return await PostgresStorage.open(url)
