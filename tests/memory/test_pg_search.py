"""The PostgreSQL word search's statements: tier 0 and the substring tier share one statement when tier 0
leaves room, with the same hits, in the same order, as the tiers read one by one."""

from __future__ import annotations

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
