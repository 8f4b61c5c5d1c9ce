"""The memory schema across versions and engines: a SQLite file from before the migrations were renamed
opens as it is, and a database written by a newer version is refused in one line."""

from __future__ import annotations

from pathlib import Path

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
