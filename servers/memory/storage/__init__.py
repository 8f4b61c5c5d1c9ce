"""Where the knowledge graph is stored: one interface (:mod:`.base`), one implementation per engine.

:func:`open_storage` reads the scheme of ``--database-url`` and opens SQLite (:mod:`.sqlite`, the default)
or PostgreSQL (:mod:`.postgres`, loaded only then: it needs the postgres extra). Nothing outside this
package asks which engine runs.
"""

from __future__ import annotations

from mcp_suite.servers.memory.storage.base import MemoryDatabase
from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl
from mcp_suite.shared.errors import DatabaseConfigError


async def open_storage(url: DatabaseUrl) -> MemoryDatabase:
    """Open the memory schema at ``url`` (creating or upgrading it) on the engine its scheme names."""
    if isinstance(url, SqliteUrl):
        from mcp_suite.servers.memory.storage.sqlite import SqliteMemoryDatabase

        return await SqliteMemoryDatabase.open(url)
    try:
        from mcp_suite.servers.memory.storage.postgres import PostgresMemoryDatabase
    except ImportError as exc:
        raise DatabaseConfigError(
            f"PostgreSQL needs the postgres extra ({exc.name} is missing); run: pip install 'mcp-suite[postgres]'"
        ) from None
    return await PostgresMemoryDatabase.open(url)


__all__ = ["MemoryDatabase", "open_storage"]
