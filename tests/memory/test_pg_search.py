"""The PostgreSQL word search's statements: tier 0 and the substring tier share one statement when tier 0
leaves room, with the same hits, in the same order, as the tiers read one by one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

import mcp_suite.servers.memory.storage.postgres_search as postgres_search
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.memory.storage import open_storage
from mcp_suite.servers.memory.storage.base import WordHit
from mcp_suite.servers.memory.storage.pg_conn import PgConn, _Execution
from mcp_suite.servers.memory.storage.postgres import PostgresDialect
from tests.memory.helpers import call, connect, entity

pytestmark = pytest.mark.anyio

GRAPH = [
    entity("Ada Lovelace", "person", "wrote the first program"),
    entity("Programming", "topic", "a language named after Ada Lovelace"),
    entity("Xlovelace Corp", "company", "sells engines"),  # "lovelace" only as a substring
    entity("Grace Hopper", "person", "coined the term debugging"),
    entity("Lovelace Prize", "award", "for women in computing"),
]


class CountingConn(PgConn):
    """A real psycopg connection that counts the statements sent through it."""

    statements = 0

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _Execution:
        self.statements += 1
        return super().execute(sql, parameters)


@asynccontextmanager
async def word_search(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[CountingConn, dict[str, int]]]:
    settings = MemorySettings(data_dir=tmp_path, database_url=postgres_url)
    async with connect(settings) as client:
        await call(client, "create_entities", entities=GRAPH)
    db = await open_storage(settings.database)
    try:
        async with db.snapshot() as conn:
            assert isinstance(conn, PgConn)
            rows = await conn.execute_fetchall("SELECT name, id FROM entities")
            yield CountingConn(conn.raw), {name: entity_id for name, entity_id in rows}
    finally:
        await db.close()


def named(found: dict[int, WordHit], ids: dict[str, int]) -> list[tuple[str, int]]:
    names = {entity_id: name for name, entity_id in ids.items()}
    return [(names[entity_id], hit.tier) for entity_id, hit in found.items()]


async def test_room_after_tier_zero_is_filled_by_the_substring_tier_in_the_same_statement(
    postgres_url: str, tmp_path: Path
) -> None:
    async with word_search(postgres_url, tmp_path) as (conn, ids):
        found = await postgres_search.lexical(conn, "default", "lovelace", 10)
        assert conn.statements == 1
        # Names first (rank), then the mention; the substring-only hit after every word hit.
        assert named(found, ids) == [
            ("Ada Lovelace", 0),
            ("Lovelace Prize", 0),
            ("Programming", 0),
            ("Xlovelace Corp", 1),
        ]
        assert found[ids["Ada Lovelace"]].names == "Ada Lovelace"

        conn.statements = 0
        # Tier 0 fills the page: the substring branch is skipped, its hits do not leak in.
        assert named(await postgres_search.lexical(conn, "default", "lovelace", 2), ids) == [
            ("Ada Lovelace", 0),
            ("Lovelace Prize", 0),
        ]
        # No word matches at all: the substring tier alone, still one statement.
        conn.statements = 0
        assert named(await postgres_search.lexical(conn, "default", "ebuggin", 10), ids) == [("Grace Hopper", 1)]
        assert conn.statements == 1


async def test_more_matches_than_are_ranked_still_read_the_substring_tier(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past RANK_CAP matches the first statement ranks nothing: name matches, then the rest newest first,
    # then the substring tier on its own, as before.
    monkeypatch.setattr(postgres_search, "RANK_CAP", 1)
    async with word_search(postgres_url, tmp_path) as (conn, ids):
        found = await postgres_search.lexical(conn, "default", "lovelace", 10)
    assert named(found, ids) == [
        ("Lovelace Prize", 0),
        ("Ada Lovelace", 0),
        ("Programming", 0),
        ("Xlovelace Corp", 1),
    ]


class RecordingConn(PgConn):
    """A real psycopg connection that keeps the statements sent through it with their parameters."""

    def __init__(self, raw: Any) -> None:
        super().__init__(raw)
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> _Execution:
        self.sent.append((sql, tuple(parameters or ())))
        return super().execute(sql, parameters)


def generic(sql: str) -> str:
    """``sql`` with numbered parameters, as PostgreSQL plans a prepared statement once for every value."""
    numbers = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)


@asynccontextmanager
async def five_thousand_entities(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[PgConn, list[int]]]:
    """A snapshot of a store holding Entity00001 … Entity05000 (indexed for search, analyzed), with their ids;
    skipped before PostgreSQL 16, whose ``EXPLAIN (GENERIC_PLAN)`` these plan checks use."""
    settings = MemorySettings(data_dir=tmp_path, database_url=postgres_url)
    async with connect(settings):
        pass  # creates the schema
    db = await open_storage(settings.database)
    try:
        async with db.transaction() as conn:
            assert isinstance(conn, PgConn)
            rows = await conn.execute_fetchall(
                "INSERT INTO entities (namespace, name, entity_type) SELECT 'default', 'Entity' || "
                "lpad(i::text, 5, '0'), 'thing' FROM generate_series(1, 5000) i RETURNING id"
            )
            ids = [row[0] for row in rows]
            await postgres_search.reindex(conn, ids)
            await conn.execute("ANALYZE entities")
            await conn.execute("ANALYZE entity_search")
        async with db.snapshot() as conn:
            assert isinstance(conn, PgConn)
            if conn.raw.info.server_version < 160000:
                pytest.skip("EXPLAIN (GENERIC_PLAN) needs PostgreSQL 16")
            yield conn, ids
    finally:
        await db.close()


async def generic_plan(conn: PgConn, sql: str) -> str:
    return "\n".join(row[0] for row in await conn.execute_fetchall(f"EXPLAIN (GENERIC_PLAN) {generic(sql)}"))


async def test_a_prepared_name_search_still_finds_the_name_through_the_trigram_index(
    postgres_url: str, tmp_path: Path
) -> None:
    # psycopg prepares a statement after five runs, and PostgreSQL may then plan it once for all values. That
    # generic plan of the substring branch once walked the primary key newest first, testing every row
    # (54-79 ms a name query at 20,000 entities); it must look the trigrams up in their index.
    async with five_thousand_entities(postgres_url, tmp_path) as (conn, ids):
        recording = RecordingConn(conn.raw)
        found = await postgres_search.lexical(recording, "default", "Entity04321", 10)
        (sql, _), *_ = recording.sent
        plan = await generic_plan(conn, sql)
    assert list(found) == [ids[4320]]
    assert "entity_search_trigrams" in plan, plan
    assert "Index Scan Backward using entity_search_pkey" not in plan, plan


async def test_names_are_looked_up_through_their_index_in_a_generic_plan(postgres_url: str, tmp_path: Path) -> None:
    # Every write and open_nodes turns names into ids with `name IN <the dialect's text list>`. Given as the rows
    # of a JSON function, the list was assumed to hold 100 names, and the generic plan scanned every entity
    # (2.3 ms for three names at 20,000 entities, against 0.13 ms through the index).
    async with five_thousand_entities(postgres_url, tmp_path) as (conn, _):
        sql = f"SELECT name, id FROM entities WHERE namespace = ? AND name IN {PostgresDialect.in_texts}"
        found = await conn.execute_fetchall(sql, ("default", '["Entity00042", "Entity04321", "no such"]'))
        plan = await generic_plan(conn, sql)
    assert sorted(name for name, _ in found) == ["Entity00042", "Entity04321"]
    assert "entities_namespace_name_key" in plan, plan
    assert "Seq Scan on entities" not in plan, plan
