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
