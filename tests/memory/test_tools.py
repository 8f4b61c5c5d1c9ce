"""The nine reference tools: what they store, what they return, and that they return it in the
reference server's shapes (structured content and the text a model reads)."""

import json

import pytest
from mcp.types import TextContent

from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, entity, relation, stored

pytestmark = pytest.mark.anyio

REFERENCE_TOOLS = {
    "create_entities": ({"entities"}, False, False),
    "create_relations": ({"relations"}, False, False),
    "add_observations": ({"observations"}, False, False),
    "delete_entities": ({"entityNames"}, False, True),
    "delete_observations": ({"deletions"}, False, True),
    "delete_relations": ({"relations"}, False, True),
    "read_graph": (set(), True, False),
    "search_nodes": ({"query"}, True, False),
    "open_nodes": ({"names"}, True, False),
}


async def test_tool_list_matches_the_reference(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(REFERENCE_TOOLS) <= set(tools)
    for name, (required, read_only, destructive) in REFERENCE_TOOLS.items():
        tool = tools[name]
        assert set(tool.input_schema.get("required", [])) == required, name
        assert tool.output_schema is not None, name
        # Self-contained: clients validate each result against it, and $ref resolution is slow.
        assert "$ref" not in json.dumps(tool.output_schema), name
        assert tool.description, name
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is read_only, name
        assert tool.annotations.destructive_hint is destructive, name
        assert tool.annotations.idempotent_hint is True, name
    entity_schema = tools["create_entities"].input_schema["$defs"]["NewEntity"]
    assert set(entity_schema["properties"]) == {"name", "entityType", "observations"}
    relation_schema = tools["create_relations"].input_schema["$defs"]["RelationRef"]
    assert set(relation_schema["properties"]) == {"from", "to", "relationType"}
    addition = tools["add_observations"].input_schema["$defs"]["ObservationAddition"]
    assert set(addition["properties"]) == {"entityName", "contents"}
    deletion = tools["delete_observations"].input_schema["$defs"]["ObservationDeletion"]
    assert set(deletion["properties"]) == {"entityName", "observations"}


async def test_create_entities_skips_existing_names_and_returns_the_reference_text(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        first = await client.call_tool(
            "create_entities",
            {"entities": [entity("Alice", "person", "likes tea", "likes tea", "plays chess"), entity("Acme", "org")]},
        )
        again = await call(
            client, "create_entities", entities=[entity("Alice", "robot", "other"), entity("Bob"), entity("Bob", "x")]
        )
    created = [entity("Alice", "person", "likes tea", "plays chess"), entity("Acme", "org")]
    assert first.structured_content == {"entities": created}
    assert isinstance(first.content[0], TextContent)
    assert first.content[0].text == json.dumps(created, indent=2)  # the reference prints the bare list
    assert again == {"entities": [entity("Bob")]}
    rows = stored(settings)
    assert rows["entities"] == [
        ("default", "Alice", "person"),
        ("default", "Acme", "org"),
        ("default", "Bob", "person"),
    ]
    assert rows["observations"] == [("Alice", "likes tea"), ("Alice", "plays chess")]


async def test_create_relations_skips_duplicates(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice"), entity("Acme", "org")])
        first = await call(
            client,
            "create_relations",
            relations=[relation("Alice", "Acme", "works_at"), relation("Alice", "Acme", "works_at")],
        )
        second = await call(
            client,
            "create_relations",
            relations=[relation("Alice", "Acme", "works_at"), relation("Acme", "Alice", "employs")],
        )
    assert first == {"relations": [relation("Alice", "Acme", "works_at")]}
    assert second == {"relations": [relation("Acme", "Alice", "employs")]}
    assert stored(settings)["relations"] == [
        ("default", "Alice", "Acme", "works_at"),
        ("default", "Acme", "Alice", "employs"),
    ]


async def test_add_observations_reports_only_new_facts(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea")])
        result = await client.call_tool(
            "add_observations",
            {"observations": [{"entityName": "Alice", "contents": ["likes tea", "plays chess", "plays chess"]}]},
        )
        graph = await call(client, "open_nodes", names=["Alice"])
    expected = [{"entityName": "Alice", "addedObservations": ["plays chess"]}]
    assert result.structured_content == {"results": expected}
    assert isinstance(result.content[0], TextContent)
    assert json.loads(result.content[0].text) == expected
    assert graph["entities"] == [entity("Alice", "person", "likes tea", "plays chess")]
    assert stored(settings)["fts"][0][3].endswith("likes tea\nplays chess")  # the search document follows


async def test_delete_entities_cascades_to_observations_and_relations(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(
            client, "create_entities", entities=[entity("Alice", "person", "a"), entity("Acme", "org"), entity("Bob")]
        )
        await call(
            client,
            "create_relations",
            relations=[
                relation("Alice", "Acme", "works_at"),
                relation("Bob", "Alice", "knows"),
                relation("Bob", "Acme", "x"),
            ],
        )
        result = await client.call_tool("delete_entities", {"entityNames": ["Alice", "Nobody"]})
        graph = await call(client, "read_graph")
    assert result.structured_content == {"success": True, "message": "Entities deleted successfully"}
    assert isinstance(result.content[0], TextContent)
    assert result.content[0].text == "Entities deleted successfully"
    assert graph == {"entities": [entity("Acme", "org"), entity("Bob")], "relations": [relation("Bob", "Acme", "x")]}
    rows = stored(settings)
    assert rows["observations"] == []
    assert [r[1] for r in rows["fts"]] == ["Acme", "Bob"]


async def test_delete_observations_and_relations(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(
            client, "create_entities", entities=[entity("Alice", "person", "a", "b", "c"), entity("Acme", "org")]
        )
        await call(
            client,
            "create_relations",
            relations=[relation("Alice", "Acme", "works_at"), relation("Acme", "Alice", "x")],
        )
        deleted = await call(
            client,
            "delete_observations",
            deletions=[
                {"entityName": "Alice", "observations": ["b", "zzz"]},
                {"entityName": "Ghost", "observations": ["a"]},
            ],
        )
        removed = await call(
            client,
            "delete_relations",
            relations=[relation("Alice", "Acme", "works_at"), relation("Acme", "Alice", "nope")],
        )
        graph = await call(client, "read_graph")
    assert deleted == {"success": True, "message": "Observations deleted successfully"}
    assert removed == {"success": True, "message": "Relations deleted successfully"}
    assert graph == {
        "entities": [entity("Alice", "person", "a", "c"), entity("Acme", "org")],
        "relations": [relation("Acme", "Alice", "x")],
    }
    assert stored(settings)["fts"][0][3].endswith("a\nc")


async def test_open_nodes_returns_relations_touching_the_requested_entities(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("A"), entity("B"), entity("C")])
        await call(
            client,
            "create_relations",
            relations=[relation("A", "B", "r"), relation("C", "A", "s"), relation("B", "C", "t")],
        )
        result = await client.call_tool("open_nodes", {"names": ["A", "Missing"]})
    # As in the reference: relations with at least one endpoint among the opened entities.
    expected = {"entities": [entity("A")], "relations": [relation("A", "B", "r"), relation("C", "A", "s")]}
    assert result.structured_content == expected
    assert isinstance(result.content[0], TextContent)
    assert json.loads(result.content[0].text) == expected


async def test_read_graph_of_a_small_graph_is_exactly_the_reference_shape(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        empty = await client.call_tool("read_graph", {})
        await call(client, "create_entities", entities=[entity("Ünïcode ✓", "thing", "naïve café")])
        full = await client.call_tool("read_graph", {})
    assert empty.structured_content == {"entities": [], "relations": []}
    assert isinstance(empty.content[0], TextContent)
    assert empty.content[0].text == '{\n  "entities": [],\n  "relations": []\n}'
    expected = {"entities": [entity("Ünïcode ✓", "thing", "naïve café")], "relations": []}
    assert full.structured_content == expected
    assert isinstance(full.content[0], TextContent)
    assert full.content[0].text == json.dumps(expected, indent=2, ensure_ascii=False)


async def test_state_survives_a_restart(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea")])
    async with connect(settings) as client:
        graph = await call(client, "read_graph")
    assert graph["entities"] == [entity("Alice", "person", "likes tea")]
