"""shared.pg_statistics on a real PostgreSQL: ANALYZE runs in the background once a table's writes reach the
threshold, then again only when they have doubled, each table on its own count, and a memory server's bulk
write sets it off (its writes counted per table from the statements)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import psycopg
import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.shared.engine import Migration
from mcp_suite.shared.pg_statistics import FIRST_ROWS, PlannerStatistics
from tests.memory.helpers import call, connect, entity
from tests.shared.test_postgres import NOTES, open_pg

pytestmark = pytest.mark.anyio


def last_analyzed(url: str, schema: str, table: str) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s", (schema, table)
        ).fetchone()
    return row[0] if row else None


async def wait_for(check: object, timeout: float = 10.0) -> None:
    assert callable(check)
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.05)


async def test_analyzes_once_due_and_again_only_when_the_changes_double(postgres_url: str) -> None:
    db = await open_pg(postgres_url)
    try:
        stats = PlannerStatistics(db, ["notes"], first=10)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stats.run)
            stats.wrote({"notes": 9, "elsewhere": 100})  # a table not listed is not analyzed
            await anyio.sleep(0.3)
            assert stats.runs == 0
            assert last_analyzed(postgres_url, db.schema, "notes") is None

            stats.wrote({"notes": 1})
            await wait_for(lambda: stats.runs == 1)
            assert last_analyzed(postgres_url, db.schema, "notes") is not None

            stats.wrote({"notes": 9})  # 19 changed rows: the next round is due at 20
            await anyio.sleep(0.3)
            assert stats.runs == 1
            stats.wrote({"notes": 1})
            await wait_for(lambda: stats.runs == 2)
            tasks.cancel_scope.cancel()
    finally:
        await db.close()


async def test_each_table_is_due_on_its_own_count(postgres_url: str) -> None:
    migrations = [*NOTES, Migration("002_tags", "CREATE TABLE tags (id bigserial PRIMARY KEY)")]
    db = await open_pg(postgres_url, migrations=migrations)
    try:
        stats = PlannerStatistics(db, ["notes", "tags"], first=10)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stats.run)
            stats.wrote({"notes": 100})
            await wait_for(lambda: stats.runs == 1)
            # Filled after notes, tags is due at its own first 10 rows, not at twice notes' 100.
            stats.wrote({"tags": 10})
            await wait_for(lambda: stats.runs == 2)
            assert last_analyzed(postgres_url, db.schema, "tags") is not None
            tasks.cancel_scope.cancel()
    finally:
        await db.close()


async def test_a_failed_round_is_logged_and_the_task_keeps_running(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_suite.shared.pg_statistics")
    db = await open_pg(postgres_url)
    try:
        stats = PlannerStatistics(db, ["no_such_table"], first=1)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(stats.run)
            stats.wrote({"no_such_table": 1})
            await wait_for(lambda: "not refreshed" in caplog.text)
            assert stats.runs == 0
            stats.wrote({"no_such_table": 5})  # still serving: the next round is attempted too
            await wait_for(lambda: caplog.text.count("not refreshed") == 2)
            tasks.cancel_scope.cancel()
    finally:
        await db.close()


async def test_a_memory_server_analyzes_its_tables_after_a_bulk_write(postgres_url: str, tmp_path: Path) -> None:
    settings = MemorySettings(data_dir=tmp_path, database_url=postgres_url)
    batch = [entity(f"Entity {i}", "thing", f"fact number {i}") for i in range(FIRST_ROWS)]
    async with connect(settings) as client:
        assert last_analyzed(postgres_url, "mcp_suite_memory", "entity_search") is None
        await call(client, "create_entities", entities=batch)  # as many rows in entities, observations, search
        await wait_for(lambda: last_analyzed(postgres_url, "mcp_suite_memory", "entity_search") is not None)
        assert last_analyzed(postgres_url, "mcp_suite_memory", "entities") is not None
        assert last_analyzed(postgres_url, "mcp_suite_memory", "relations") is None  # nothing written there
