"""What the reference server lacks: namespaces, the neighbourhood tool, resources, the prompt,
server instructions; plus the storage discipline (pragmas, schema)."""

import json
import sqlite3

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import TextResourceContents

from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.shared.db import Database
from tests.memory.helpers import call, connect, entity, relation, rows

pytestmark = pytest.mark.anyio


async def test_namespaces_are_isolated_memories_in_one_file(settings: MemorySettings) -> None:
    work = settings.model_copy(update={"namespace": "work"})
    async with connect(settings) as home_client, connect(work) as work_client:
        await call(home_client, "create_entities", entities=[entity("Alice", "person", "home fact")])
        await call(
            work_client, "create_entities", entities=[entity("Alice", "colleague", "work fact"), entity("Acme", "org")]
        )
        await call(work_client, "create_relations", relations=[relation("Alice", "Acme", "works_at")])
        await call(home_client, "delete_entities", entityNames=["Acme"])  # not in this namespace: no effect
        home = await call(home_client, "read_graph")
        work_graph = await call(work_client, "read_graph")
        found = await call(home_client, "search_nodes", query="fact")
        missing = await call(home_client, "open_nodes", names=["Acme"])
    assert home == {"entities": [entity("Alice", "person", "home fact")], "relations": []}
    assert work_graph["entities"] == [entity("Alice", "colleague", "work fact"), entity("Acme", "org")]
    assert work_graph["relations"] == [relation("Alice", "Acme", "works_at")]
    assert found["entities"] == [entity("Alice", "person", "home fact")]
    assert missing["entities"] == []
    assert rows(settings, "SELECT namespace, name FROM entities ORDER BY id") == [
        ("default", "Alice"),
        ("work", "Alice"),
        ("work", "Acme"),
    ]


async def test_neighbourhood_follows_relations_both_ways_up_to_depth(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity(n) for n in ["A", "B", "C", "D", "E", "Lonely"]])
        await call(
            client,
            "create_relations",
            relations=[
                relation("A", "B", "r1"),
                relation("C", "B", "r2"),
                relation("C", "D", "r3"),
                relation("D", "E", "r4"),
            ],
        )
        one = await call(client, "get_neighbourhood", name="B")
        two = await call(client, "get_neighbourhood", name="B", depth=2)
        three = await call(client, "get_neighbourhood", name="A", depth=3)
        capped = await call(client, "get_neighbourhood", name="B", depth=3, limit=2)
        alone = await call(client, "get_neighbourhood", name="Lonely", depth=3)
    assert [(e["name"], e["distance"]) for e in one["entities"]] == [("B", 0), ("A", 1), ("C", 1)]
    assert one["relations"] == [relation("A", "B", "r1"), relation("C", "B", "r2")]
    assert [(e["name"], e["distance"]) for e in two["entities"]] == [("B", 0), ("A", 1), ("C", 1), ("D", 2)]
    assert two["relations"] == [relation("A", "B", "r1"), relation("C", "B", "r2"), relation("C", "D", "r3")]
    assert [(e["name"], e["distance"]) for e in three["entities"]] == [("A", 0), ("B", 1), ("C", 2), ("D", 3)]
    assert three["truncated"] is False
    assert len(capped["entities"]) == 2 and capped["truncated"] is True
    assert alone["entities"] == [{**entity("Lonely"), "distance": 0}] and alone["relations"] == []


async def test_resources(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea"), entity("Acme", "org")])
        await call(client, "create_entities", entities=[entity("a/../b", "odd")])
        await call(client, "create_relations", relations=[relation("Alice", "Acme", "works_at")])
        await call(client, "add_observations", observations=[{"entityName": "Alice", "contents": ["plays chess"]}])
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        summary = await client.read_resource("memory://graph")
        alice = await client.read_resource("memory://entities/Alice")
        odd = await client.read_resource("memory://entities/a%2F..%2Fb")
        whole = await client.read_resource("memory://knowledge-graph")
        with pytest.raises(MCPError, match="Entity with name 'Ghost' not found"):
            await client.read_resource("memory://entities/Ghost")

    def body(result: object) -> dict[str, object]:
        content = result.contents[0]  # type: ignore[attr-defined]
        assert isinstance(content, TextResourceContents)
        assert content.mime_type == "application/json"
        data: dict[str, object] = json.loads(content.text)
        return data

    assert {"memory://graph", "memory://knowledge-graph"} <= listed
    assert templates == ["memory://entities/{name}"]
    info = body(summary)
    assert (info["entities"], info["relations"], info["observations"]) == (3, 1, 2)
    assert {"type": "person", "count": 1} in info["entityTypes"]  # type: ignore[operator]
    assert info["relationTypes"] == [{"type": "works_at", "count": 1}]
    assert info["recentlyUpdated"][0]["name"] == "Alice"  # type: ignore[index]
    detail = body(alice)
    assert [o["content"] for o in detail["observations"]] == ["likes tea", "plays chess"]  # type: ignore[attr-defined]
    assert detail["createdAt"] <= detail["updatedAt"]  # type: ignore[operator]
    assert detail["outgoing"][0]["to"] == "Acme" and detail["incoming"] == []  # type: ignore[index]
    assert body(odd)["name"] == "a/../b"
    assert [e["name"] for e in body(whole)["entities"]] == ["Alice", "Acme", "a/../b"]  # type: ignore[attr-defined]


async def test_prompt_and_instructions(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        prompts = {p.name: p for p in (await client.list_prompts()).prompts}
        result = await client.get_prompt("memory_instructions", {"user": "Sam"})
        default = await client.get_prompt("memory_instructions", {})
        instructions = client.instructions
    assert "memory_instructions" in prompts
    text = result.messages[0].content.text  # type: ignore[union-attr]
    assert "interacting with Sam" in text and "Remembering..." in text and "search_nodes" in text
    assert "default_user" in default.messages[0].content.text  # type: ignore[union-attr]
    assert instructions is not None and "search_nodes" in instructions


@pytest.mark.sqlite_only
async def test_database_pragmas_and_schema(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "read_graph")
    db = await Database.open(settings.database_path)
    try:
        assert str(await db.pragma("journal_mode")).lower() == "wal"
        assert await db.pragma("foreign_keys") == 1
        assert await db.pragma("busy_timeout") == 30_000
    finally:
        await db.close()
    with sqlite3.connect(settings.database_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
        migrations = [r[0] for r in conn.execute("SELECT name FROM _migrations")]
    assert {"entities", "observations", "relations", "entity_fts", "entity_trigram", "relations_to"} <= tables
    assert migrations == ["memory/0001_initial", "memory/0002_time_vectors_aliases"]
