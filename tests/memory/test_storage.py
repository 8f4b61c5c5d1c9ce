"""The memory schema across versions and engines: a SQLite file from before the migrations were renamed
opens as it is, a database written by a newer version is refused in one line, vectors read back as they were
stored, and a search's reads see each commit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.memory.storage import open_storage
from mcp_suite.servers.memory.storage.sqlite_schema import MIGRATIONS, RENAMED
from mcp_suite.shared.db import Database, Migration
from mcp_suite.shared.errors import DatabaseConfigError
from tests.memory.helpers import call, connect, entity, rows

pytestmark = pytest.mark.anyio


async def test_a_file_with_the_old_migration_names_is_neither_migrated_again_nor_refused(tmp_path: Path) -> None:
    settings = MemorySettings(data_dir=tmp_path)
    old_names = list(RENAMED)  # as main recorded them: memory-0001-initial, memory-0002-time-vectors-aliases
    old = [Migration(n, m.apply) for n, m in zip(old_names, MIGRATIONS, strict=True)]
    db = await Database.open(settings.database_path, old)
    try:
        await db.conn.execute("INSERT INTO entities (namespace, name, entity_type) VALUES ('default', 'Old', 'person')")
        await db.conn.execute("INSERT INTO observations (entity_id, content) VALUES (1, 'was here first')")
    finally:
        await db.close()
    async with connect(settings) as client:
        graph = await call(client, "read_graph")
    assert graph["entities"] == [entity("Old", "person", "was here first")]
    assert rows(settings, "SELECT name FROM _migrations ORDER BY name") == [(m.name,) for m in MIGRATIONS]


async def test_a_database_of_a_newer_version_is_refused(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "read_graph")
    rows(settings, "INSERT INTO _migrations (name) VALUES ('memory/9999_from_the_future')", fetch=False)
    with pytest.raises(DatabaseConfigError, match=r"newer mcp-suite .*memory/9999_from_the_future\); upgrade"):
        await open_storage(settings.database)


async def test_a_vector_reads_back_as_it_was_stored(settings: MemorySettings) -> None:
    # PostgreSQL selects vectors in pgvector's binary form (big-endian, after a header): the blob must come back.
    blob = (np.linspace(-1.0, 1.0, 256, dtype=np.float32) / 7).tobytes()
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Ada", "person")])
    db = await open_storage(settings.database)
    try:
        dialect = db.dialect
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM entity_vectors")
            await conn.execute(dialect.store_entity_vector, (1, dialect.vector_param(blob), 1))
        async with (
            db.snapshot() as conn,
            conn.execute(f"SELECT {dialect.vector_column.format('vector')} FROM entity_vectors") as cur,
        ):
            (stored,) = await cur.fetchall()
    finally:
        await db.close()
    assert dialect.vector_blob(stored[0]) == blob


async def test_reads_outside_a_transaction_see_each_commit(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Ada", "person")])
    db = await open_storage(settings.database)
    try:
        async with db.reads() as reading:
            before = await reading.execute_fetchall("SELECT name FROM entities")
            async with db.transaction() as conn:
                await conn.execute("UPDATE entities SET name = 'Grace'")
            after = await reading.execute_fetchall("SELECT name FROM entities")
    finally:
        await db.close()
    assert [tuple(r) for r in before] == [("Ada",)]
    assert [tuple(r) for r in after] == [("Grace",)]
