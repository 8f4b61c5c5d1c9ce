"""Helpers for the memory tests: an in-memory client on a fresh database, and direct reads of the
database (the SQLite file, or the PostgreSQL schema) so tests can check what was really stored."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from mcp_suite.servers.memory.server import build_server
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.shared.database_url import PostgresUrl, SqliteUrl


@asynccontextmanager
async def connect(settings: MemorySettings) -> AsyncIterator[Client]:
    async with Client(build_server(settings)) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured content."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def fail(client: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail with a tool error; return the error text."""
    result: CallToolResult = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0]
    assert text.type == "text"
    return text.text


def rows(settings: MemorySettings, sql: str, fetch: bool = True) -> list[tuple[Any, ...]]:
    """The rows of one query, read straight from the database (SQLite file or PostgreSQL schema);
    ``fetch=False`` runs a statement that returns none."""
    url = settings.database
    if isinstance(url, SqliteUrl):
        with sqlite3.connect(url.path) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]
    import psycopg

    assert isinstance(url, PostgresUrl)
    with psycopg.connect(url.conninfo, autocommit=True) as conn:
        conn.execute("SET search_path TO mcp_suite_memory, public")
        cursor = conn.execute(sql)
        return [tuple(row) for row in cursor.fetchall()] if fetch else []


def is_sqlite(settings: MemorySettings) -> bool:
    return isinstance(settings.database, SqliteUrl)


def stored(settings: MemorySettings) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of the memory tables (timestamps excluded), read straight from the database.
    ``fts`` is each entity's search document (on PostgreSQL its lower-cased text)."""
    search = (
        "SELECT rowid, name, entity_type, observations FROM entity_fts ORDER BY rowid"
        if is_sqlite(settings)
        else "SELECT s.entity_id, e.name, e.entity_type, s.haystack FROM entity_search s "
        "JOIN entities e ON e.id = s.entity_id ORDER BY s.entity_id"
    )
    return {
        "entities": rows(settings, "SELECT namespace, name, entity_type FROM entities ORDER BY id"),
        "observations": rows(
            settings,
            "SELECT e.name, o.content FROM observations o JOIN entities e ON e.id = o.entity_id ORDER BY o.id",
        ),
        "relations": rows(
            settings,
            "SELECT r.namespace, f.name, t.name, r.relation_type FROM relations r "
            "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id ORDER BY r.id",
        ),
        "fts": rows(settings, search),
    }


def entity(name: str, entity_type: str = "person", *observations: str) -> dict[str, Any]:
    return {"name": name, "entityType": entity_type, "observations": list(observations)}


def relation(source: str, target: str, relation_type: str) -> dict[str, str]:
    return {"from": source, "to": target, "relationType": relation_type}


def facts(settings: MemorySettings) -> list[tuple[Any, ...]]:
    """Every stored observation with its validity: (entity, content, valid_to is set, replacement)."""
    return rows(
        settings,
        "SELECT e.name, o.content, o.valid_to IS NOT NULL, n.content FROM observations o "
        "JOIN entities e ON e.id = o.entity_id LEFT JOIN observations n ON n.id = o.superseded_by ORDER BY o.id",
    )


def resource_json(result: Any) -> Any:
    import json

    return json.loads(result.contents[0].text)
