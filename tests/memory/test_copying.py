"""``db copy`` for the memory server: SQLite -> PostgreSQL -> SQLite keeps every row (ids, history, aliases,
vectors), the copy is verified by counts, and a target that already holds memory data is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import pytest

from mcp_suite.servers.memory.copying import TABLES, copy_database
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.errors import DatabaseConfigError
from tests.memory.helpers import call, connect, entity, relation, rows
from tests.support import script

pytestmark = pytest.mark.anyio


async def _fill(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        people = [entity("Ada", "person", "wrote the first program"), entity("Charles", "person", "built engines")]
        await call(client, "create_entities", entities=[*people, entity("Ada L.", "person", "liked poetry")])
        await call(client, "create_relations", relations=[relation("Ada", "Charles", "worked_with")])
        supersession = {"entityName": "Charles", "observation": "built engines", "replacement": "designed engines"}
        await call(client, "supersede_observations", supersessions=[supersession])
        await call(client, "merge_entities", names=["Ada L."], into="Ada")
        await call(client, "search_nodes", query="engine designer", mode="semantic")  # embeds everything
        with anyio.fail_after(20):
            while rows(settings, "SELECT count(*) FROM observation_vectors") != [(4,)]:
                await anyio.sleep(0.05)


def _everything(settings: MemorySettings) -> dict[str, list[tuple[object, ...]]]:
    found = {}
    for table, columns in TABLES.items():
        shown = [c for c in columns if c != "vector"]
        found[table] = rows(settings, f"SELECT {', '.join(shown)} FROM {table} ORDER BY {columns[0]}")
    return found


async def test_sqlite_to_postgres_and_back_keeps_every_row(tmp_path: Path, postgres_url: str) -> None:
    laptop = MemorySettings(data_dir=tmp_path / "laptop")
    team = MemorySettings(data_dir=tmp_path, database_url=postgres_url)
    backup = MemorySettings(data_dir=tmp_path / "backup")
    await _fill(laptop)

    there = await copy_database(laptop.database, team.database)
    back = await copy_database(team.database, backup.database)

    before = _everything(laptop)
    assert there == back == {table: len(found) for table, found in before.items()}
    assert there["entities"] == 2 and there["aliases"] == 1 and there["observation_vectors"] == 4
    assert _everything(team) == before and _everything(backup) == before
    async with connect(team) as client:  # the copy is a working memory: search index, aliases, new ids
        found = await call(client, "search_nodes", query="first program", mode="lexical")
        merged = await call(client, "open_nodes", names=["Ada L."])
        await call(client, "create_entities", entities=[entity("Grace", "person", "wrote a compiler")])
        meaning = await call(client, "search_nodes", query="engine designer", mode="semantic")
    assert [e["name"] for e in found["entities"]] == ["Ada"]
    assert [e["name"] for e in merged["entities"]] == ["Ada"]
    assert meaning["entities"][0]["name"] == "Charles"


async def test_a_target_with_memory_data_is_refused_and_left_alone(tmp_path: Path, postgres_url: str) -> None:
    laptop = MemorySettings(data_dir=tmp_path / "laptop")
    team = MemorySettings(data_dir=tmp_path, database_url=postgres_url, embedder="none")
    async with connect(laptop) as client:
        await call(client, "create_entities", entities=[entity("Ada", "person", "from the laptop")])
    async with connect(team) as client:
        await call(client, "create_entities", entities=[entity("Team", "org", "already here")])
    with pytest.raises(DatabaseConfigError, match=r"already holds memory data \(1 entities, 1 observations") as caught:
        await copy_database(laptop.database, team.database)
    assert "\n" not in str(caught.value)
    assert rows(team, "SELECT name FROM entities") == [("Team",)]


@pytest.mark.slow
def test_the_command_line_prints_the_verified_counts(tmp_path: Path, postgres_url: str) -> None:
    laptop = MemorySettings(data_dir=tmp_path, embedder="none")

    async def fill() -> None:
        async with connect(laptop) as client:
            await call(client, "create_entities", entities=[entity("Ada", "person", "wrote the first program")])

    anyio.run(fill)
    source = f"sqlite:///{laptop.database_path}"
    command = [script("mcp-suite"), "db", "copy", "--server", "memory", "--from", source, "--to"]
    copied = subprocess.run([*command, postgres_url], capture_output=True, text=True, timeout=120)
    again = subprocess.run([*command, postgres_url], capture_output=True, text=True, timeout=120)
    assert copied.returncode == 0, copied.stderr
    assert "copied memory from sqlite:///" in copied.stdout and "entities 1, observations 1" in copied.stdout
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.startswith("mcp-suite db copy: the target ") and len(again.stderr.splitlines()) == 1
    assert parse_database_url(source) == laptop.database
