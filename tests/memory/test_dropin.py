"""The drop-in start: a host configured for the reference passes MEMORY_FILE_PATH; its file is
imported once, into an empty namespace, and the log says so."""

import json
import logging
from pathlib import Path

import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, stored
from tests.support import stdio_server

pytestmark = pytest.mark.anyio

REFERENCE_FILE = [
    {"type": "entity", "name": "Alice", "entityType": "person", "observations": ["likes tea"]},
    {"type": "entity", "name": "Acme", "entityType": "org", "observations": []},
    {"type": "relation", "from": "Alice", "to": "Acme", "relationType": "works_at"},
    {"type": "relation", "from": "Alice", "to": "Nobody", "relationType": "knows"},  # the reference allows this
]


@pytest.fixture
def memory_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "memory.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in REFERENCE_FILE), encoding="utf-8")
    monkeypatch.setenv("MEMORY_FILE_PATH", str(path))
    return path


async def test_imported_once_into_an_empty_namespace(
    settings: MemorySettings, memory_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcp_suite.servers.memory.server")
    async with connect(settings) as client:
        graph = await call(client, "read_graph")
        await call(client, "delete_entities", entityNames=["Acme"])
    assert [e["name"] for e in graph["entities"]] == ["Alice", "Acme", "Nobody"]
    assert {r["to"] for r in graph["relations"]} == {"Acme", "Nobody"}
    assert any("imported" in r.message and "1 placeholder" in r.message for r in caplog.records)
    caplog.clear()
    async with connect(settings) as client:  # second start: never imported again
        again = await call(client, "read_graph")
    assert [e["name"] for e in again["entities"]] == ["Alice", "Nobody"]
    assert any("not imported" in r.message for r in caplog.records)


async def test_not_imported_into_a_namespace_that_has_data(settings: MemorySettings, memory_file: Path) -> None:
    memory_file.rename(memory_file.with_suffix(".off"))
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[{"name": "Mine", "entityType": "thing", "observations": []}])
    memory_file.with_suffix(".off").rename(memory_file)
    async with connect(settings) as client:
        graph = await call(client, "read_graph")
    assert [e["name"] for e in graph["entities"]] == ["Mine"]


async def test_a_broken_or_missing_file_starts_the_server_anyway(
    settings: MemorySettings, memory_file: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory_file.write_text('{"type": "entity", "name": ""}\n', encoding="utf-8")
    async with connect(settings) as client:
        graph = await call(client, "read_graph")
    assert graph["entities"] == [] and stored(settings)["entities"] == []
    assert any("could not be imported" in r.message and "line 1" in r.message for r in caplog.records)
    monkeypatch.setenv("MEMORY_FILE_PATH", str(memory_file.parent / "absent.jsonl"))
    async with connect(settings) as client:
        assert (await call(client, "read_graph"))["entities"] == []
    assert any("no such file" in r.message for r in caplog.records)


@pytest.mark.slow
async def test_the_console_script_imports_the_reference_file(data_dir: Path, memory_file: Path) -> None:
    from mcp import Client

    params = stdio_server("mcp-suite-memory", "--data-dir", str(data_dir), env={"MEMORY_FILE_PATH": str(memory_file)})
    async with Client(params, mode="legacy") as client:
        graph = await call(client, "open_nodes", names=["Alice"])
    assert graph["entities"] == [{"name": "Alice", "entityType": "person", "observations": ["likes tea"]}]
