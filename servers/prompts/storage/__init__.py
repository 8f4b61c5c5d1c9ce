"""Where the prompt registry is stored: :func:`open_storage` picks the engine from the database URL."""

from __future__ import annotations

import asyncio

import anyio

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


def location(url: DatabaseUrl) -> str:
    """Where the registry is, for people: the SQLite file's path, or the redacted PostgreSQL URL."""
    return str(url.path) if isinstance(url, SqliteUrl) else url.redacted()


def check_database(url: DatabaseUrl) -> None:
    """Before serving: make sure a PostgreSQL registry can be opened (reachable, login, schema), or raise
    :class:`DatabaseConfigError` with one line.

    The registry itself opens after the first client's handshake, where a failure would take a session
    down with a traceback instead. A SQLite file needs no probe: the CLI has checked its folder.
    """
    if isinstance(url, SqliteUrl):
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        anyio.run(_probe, url)
    # Else: built inside a running event loop (an application embedding the server); the first open reports.


async def _probe(url: DatabaseUrl) -> None:
    storage = await open_storage(url)
    await storage.close()
