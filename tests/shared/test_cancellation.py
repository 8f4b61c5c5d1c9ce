"""Cancelling calls at random moments never wedges a server or leaves half a change behind.

Each test drives a real server through the in-memory SDK client and abandons calls after a random,
seeded delay (the client then sends ``notifications/cancelled`` and the server interrupts the
handler wherever it is: waiting for ``BEGIN``, inside the transaction, committing). Afterwards the
server must still answer, SQLite must pass ``PRAGMA integrity_check`` and every stored change must be
whole.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_suite.servers.memory.server import build_server as build_memory
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.prompts.server import build_server as build_prompts
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.servers.retrieval.server import build_server as build_retrieval
from mcp_suite.servers.retrieval.settings import RetrievalSettings

pytestmark = pytest.mark.anyio

ROUNDS = 300


async def _abandon(client: Client, rng: random.Random, tool: str, arguments: dict[str, Any]) -> bool:
    """Call ``tool`` and give up after a random delay (0 to 8 ms); True if it was abandoned."""
    with anyio.move_on_after(rng.uniform(0, 0.008)) as scope:
        await client.call_tool(tool, arguments)
    return scope.cancelled_caught


def _integrity(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    return conn


async def _answers(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    with anyio.fail_after(5):
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_memory_survives_random_cancellation(tmp_path: Path) -> None:
    rng = random.Random(8)
    settings = MemorySettings(data_dir=tmp_path)
    async with Client(build_memory(settings)) as client:
        abandoned = 0
        for i in range(ROUNDS):
            name = f"E{rng.randrange(20)}"
            calls: list[tuple[str, dict[str, Any]]] = [
                (
                    "create_entities",
                    {
                        "entities": [
                            {"name": f"{name}-{j}", "entityType": "t", "observations": ["a", "b"]} for j in range(5)
                        ]
                    },
                ),
                ("add_observations", {"observations": [{"entityName": f"{name}-0", "contents": [f"fact {i}"]}]}),
                ("create_relations", {"relations": [{"from": f"{name}-0", "to": f"{name}-1", "relationType": "r"}]}),
                ("delete_entities", {"entityNames": [f"{name}-2", f"{name}-3"]}),
                ("search_nodes", {"query": "fact"}),
                ("read_graph", {}),
            ]
            abandoned += await _abandon(client, rng, *rng.choice(calls))
        assert abandoned >= 20, f"only {abandoned} of {ROUNDS} calls were cancelled"
        # Still serving: a write and a read, each answered within 5 s.
        await _answers(
            client, "create_entities", {"entities": [{"name": "After", "entityType": "t", "observations": []}]}
        )
        graph = await _answers(client, "open_nodes", {"names": ["After"]})
        assert [e["name"] for e in graph["entities"]] == ["After"]

    conn = _integrity(settings.database_path)
    # The search index mirrors the entities exactly: no entity without its FTS row and no orphan row.
    entities = conn.execute("SELECT id FROM entities ORDER BY id").fetchall()
    fts = conn.execute("SELECT rowid FROM entity_fts ORDER BY rowid").fetchall()
    assert entities == fts
    conn.close()


async def test_retrieval_survives_random_cancellation(tmp_path: Path) -> None:
    rng = random.Random(8)
    root = tmp_path / "kb"
    root.mkdir()
    for n in range(6):
        body = "\n\n".join(f"## Section {p}\n\nFile {n} paragraph {p} on write-ahead logs." for p in range(40))
        (root / f"file-{n}.md").write_text(f"# File {n}\n\n{body}\n")
    settings = RetrievalSettings(data_dir=tmp_path / "data", roots=[root], embedder="none")
    text = "\n\n".join(f"## Part {p}\n\nParagraph {p} about cancellation, sqlite and transactions." for p in range(30))
    async with Client(build_retrieval(settings)) as client:
        abandoned = 0
        for _ in range(ROUNDS):
            doc = f"doc-{rng.randrange(15)}.md"
            calls: list[tuple[str, dict[str, Any]]] = [
                ("ingest_text", {"text": f"# {doc}\n\n{text}\n{rng.random()}", "source": doc}),
                ("ingest", {"paths": [str(root)], "force": True}),
                ("search", {"query": "cancellation transactions"}),
                ("list_sources", {}),
                ("delete_source", {"source": doc}),
            ]
            abandoned += await _abandon(client, rng, *rng.choice(calls))
        assert abandoned >= 20, f"only {abandoned} of {ROUNDS} calls were cancelled"
        stats = await _answers(client, "stats", {})
        await _answers(client, "ingest_text", {"text": "# After\n\nstill indexing", "source": "after.md"})
        hits = await _answers(client, "search", {"query": "still indexing"})
        assert hits["hits"], hits

    conn = _integrity(settings.database_path)
    # No half-written document: each one has exactly the chunks it says it has.
    rows = conn.execute(
        "SELECT d.id, d.chunk_count, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) FROM documents d"
    ).fetchall()
    assert rows and all(declared == actual for _, declared, actual in rows), rows
    assert stats["documents"] <= len(rows)
    conn.close()


PROMPT = """name: Greet
version: "{version}"
description: Greets someone.
input_variables:
  - name: person
    description: who to greet
template: |
  Hello {{{{ person }}}}, version {version}.
"""


async def test_prompts_survives_random_cancellation(tmp_path: Path) -> None:
    rng = random.Random(8)
    library = tmp_path / "library"
    library.mkdir()
    for v in (1, 2, 3):
        (library / f"greet-{v}.yaml").write_text(PROMPT.format(version=v), encoding="utf-8")
    settings = PromptsSettings(library=library, data_dir=tmp_path / "data", author="tester", watch_interval=0)
    async with Client(build_prompts(settings)) as client:
        await _answers(client, "publish", {})
        abandoned = 0
        for _ in range(ROUNDS):
            calls: list[tuple[str, dict[str, Any]]] = [
                ("set_label", {"name": "Greet", "label": "production", "version": str(rng.choice((1, 2, 3)))}),
                ("rollback", {"name": "Greet"}),
                (
                    "record_run",
                    {
                        "name": "Greet",
                        "version": "1",
                        "latency_ms": 5,
                        "input_tokens": 1,
                        "output_tokens": 1,
                        "cost": 0,
                    },
                ),
                ("list_versions", {"name": "Greet"}),
                ("prompt_stats", {"name": "Greet"}),
            ]
            abandoned += await _abandon(client, rng, *rng.choice(calls))
        assert abandoned >= 20, f"only {abandoned} of {ROUNDS} calls were cancelled"
        await _answers(client, "set_label", {"name": "Greet", "label": "production", "version": "2"})
        versions = await _answers(client, "list_versions", {"name": "Greet"})
        assert versions

    conn = _integrity(settings.database_path)
    conn.close()
