"""Bad input: a clear tool error, the database exactly as before, and the server still serving."""

from typing import Any

import pytest

from mcp_suite.servers.memory import limits
from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, entity, fail, relation, stored

pytestmark = pytest.mark.anyio

BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    # unknown entities
    (
        "add_observations",
        {"observations": [{"entityName": "Ghost", "contents": ["x"]}]},
        "Entity with name Ghost not found",
    ),
    (
        "add_observations",
        {"observations": [{"entityName": "Alice", "contents": ["new"]}, {"entityName": "Ghost", "contents": ["x"]}]},
        "create_entities first",
    ),
    ("create_relations", {"relations": [relation("Alice", "Ghost", "knows")]}, "no entity named 'Ghost'"),
    (
        "create_relations",
        {"relations": [relation("Alice", "Acme", "new_rel"), relation("Ghost", "Spectre", "haunts")]},
        "'Ghost', 'Spectre'",
    ),
    ("get_neighbourhood", {"name": "Ghost"}, "Entity with name 'Ghost' not found"),
    # empty names and types
    ("create_entities", {"entities": [entity("", "person")]}, "at least 1 character"),
    ("create_entities", {"entities": [entity("   ", "person")]}, "must not be empty"),
    ("create_entities", {"entities": [entity("Zed", "")]}, "entityType"),
    ("create_entities", {"entities": [entity("Zed", "person", "")]}, "observations"),
    ("create_relations", {"relations": [relation("Alice", "Acme", " ")]}, "relationType"),
    ("delete_entities", {"entityNames": [""]}, "entityNames"),
    ("open_nodes", {"names": ["\t"]}, "must not be empty"),
    # oversized payloads
    ("create_entities", {"entities": [entity("x" * (limits.MAX_NAME_CHARS + 1))]}, "at most 500 characters"),
    (
        "add_observations",
        {"observations": [{"entityName": "Alice", "contents": ["y" * (limits.MAX_OBSERVATION_CHARS + 1)]}]},
        "at most 10000 characters",
    ),
    (
        "create_entities",
        {"entities": [entity(f"e{i}") for i in range(limits.MAX_ITEMS_PER_CALL + 1)]},
        "at most 1000 items",
    ),
    ("search_nodes", {"query": "q" * (limits.MAX_QUERY_CHARS + 1)}, "query"),
    ("read_graph", {"limit": limits.MAX_READ_LIMIT + 1}, "limit"),
    ("get_neighbourhood", {"name": "Alice", "depth": 4}, "depth"),
    # wrong types
    ("create_entities", {"entities": "Alice"}, "entities"),
    ("create_entities", {"entities": [{"name": 42, "entityType": "person", "observations": []}]}, "name"),
    (
        "create_entities",
        {"entities": [{"name": "Zed", "entityType": "person", "observations": "one fact"}]},
        "observations",
    ),
    ("create_entities", {"entities": [{"name": "Zed"}]}, "entityType"),
    ("add_observations", {"observations": [{"entityName": "Alice", "contents": [1, 2]}]}, "contents"),
    ("create_relations", {"relations": [{"from": "Alice", "to": "Acme"}]}, "relationType"),
    ("search_nodes", {"query": ["tea"]}, "query"),
    ("read_graph", {"offset": -1}, "offset"),
    # control characters: refused, never truncated (a NUL used to make "Canary-2\x00-other" address Canary-2)
    ("open_nodes", {"names": ["Alice\u0000-other"]}, "control characters (found U+0000 at position 5)"),
    ("delete_entities", {"entityNames": ["Alice\u0000-other"]}, "U+0000"),
    (
        "delete_observations",
        {"deletions": [{"entityName": "Alice\u0000x", "observations": ["likes tea"]}]},
        "U+0000",
    ),
    ("delete_observations", {"deletions": [{"entityName": "Alice", "observations": ["likes tea\u0000x"]}]}, "NUL"),
    ("delete_relations", {"relations": [relation("Alice\u0000", "Acme", "works_at")]}, "U+0000"),
    ("delete_relations", {"relations": [relation("Alice", "Acme", "works_at\u0000")]}, "U+0000"),
    ("create_entities", {"entities": [entity("Line\nbreak")]}, "U+000A"),
    ("create_entities", {"entities": [entity("Zed", "per\u001bson")]}, "U+001B"),
    ("add_observations", {"observations": [{"entityName": "Alice", "contents": ["a\u0000b"]}]}, "NUL"),
    ("get_neighbourhood", {"name": "Alice\u0000"}, "U+0000"),
    ("merge_entities", {"names": ["Acme\u0085"], "into": "Alice"}, "U+0085"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_CALLS, ids=lambda v: v if isinstance(v, str) else "")
async def test_bad_input_is_a_clear_error_and_changes_nothing(
    settings: MemorySettings, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea"), entity("Acme", "org")])
        await call(client, "create_relations", relations=[relation("Alice", "Acme", "works_at")])
        before = stored(settings)
        message = await fail(client, tool, **arguments)
        assert expected in message
        assert stored(settings) == before
        # …and the server keeps serving.
        graph = await call(client, "open_nodes", names=["Alice"])
        assert graph["entities"] == [entity("Alice", "person", "likes tea")]


async def test_a_name_with_nul_never_reaches_the_entity_it_starts_with(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Canary-2", "bird", "sings")])
        for tool, arguments in [
            ("open_nodes", {"names": ["Canary-2\u0000-other"]}),
            ("delete_entities", {"entityNames": ["Canary-2\u0000-other"]}),
            ("delete_observations", {"deletions": [{"entityName": "Canary-2\u0000-x", "observations": ["sings"]}]}),
        ]:
            assert "control characters" in await fail(client, tool, **arguments)
        with pytest.raises(Exception, match="control characters"):
            await client.read_resource("memory://entities/Canary-2%00-other")
        graph = await call(client, "open_nodes", names=["Canary-2"])
    assert graph["entities"] == [entity("Canary-2", "bird", "sings")]
    assert stored(settings)["observations"] == [("Canary-2", "sings")]


async def test_multi_line_observations_stay_allowed(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Poem", "text", "line one\nline two\tindented")])
        graph = await call(client, "open_nodes", names=["Poem"])
    assert graph["entities"][0]["observations"] == ["line one\nline two\tindented"]


async def test_a_call_over_the_total_size_limit_is_refused(
    settings: MemorySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_CALL_CHARS", 1_000)
    async with connect(settings) as client:
        message = await fail(client, "create_entities", entities=[entity(f"e{i}", "t", "z" * 300) for i in range(5)])
        assert "limit is 1,000" in message
        assert stored(settings)["entities"] == []


async def test_one_bad_group_rejects_the_whole_call(settings: MemorySettings) -> None:
    """The second group names a missing entity: the first group's facts must not be stored either.
    (A rollback after rows were written is covered by the import tests.)"""
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice")])
        await fail(
            client,
            "add_observations",
            observations=[{"entityName": "Alice", "contents": ["fact"]}, {"entityName": "Nope", "contents": ["x"]}],
        )
        graph = await call(client, "read_graph")
    assert graph["entities"] == [entity("Alice")]
