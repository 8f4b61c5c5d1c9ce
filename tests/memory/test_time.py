"""Facts over time: supersede_observations, end_relations, as_of reads and the entity's history."""

import time
from typing import Any

import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, entity, facts, fail, relation, resource_json, rows, stored

pytestmark = pytest.mark.anyio


def _moment() -> str:
    """A timestamp strictly between the writes around it (stored times have millisecond resolution)."""
    time.sleep(0.01)
    now = time.time()  # one reading: seconds and milliseconds from two clocks reads could straddle a second
    moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    time.sleep(0.01)
    return moment


async def _alice_moves(client: Any) -> str:
    await call(client, "create_entities", entities=[entity("Alice", "person", "works at Acme", "likes tea")])
    await call(client, "create_entities", entities=[entity("Acme", "org"), entity("Globex", "org")])
    await call(client, "create_relations", relations=[relation("Alice", "Acme", "works_at")])
    before = _moment()
    result = await call(
        client,
        "supersede_observations",
        supersessions=[{"entityName": "Alice", "observation": "works at Acme", "replacement": "works at Globex"}],
    )
    assert [(r["superseded"], r["replacement"]) for r in result["results"]] == [("works at Acme", "works at Globex")]
    await call(client, "end_relations", relations=[relation("Alice", "Acme", "works_at")])
    await call(client, "create_relations", relations=[relation("Alice", "Globex", "works_at")])
    return before


async def test_supersede_keeps_history_and_reads_show_the_present(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        before = await _alice_moves(client)
        now = await call(client, "open_nodes", names=["Alice"])
        then = await call(client, "open_nodes", names=["Alice"], as_of=before)
        detail = resource_json(await client.read_resource("memory://entities/Alice"))
    assert now["entities"] == [entity("Alice", "person", "likes tea", "works at Globex")]
    assert now["relations"] == [relation("Alice", "Globex", "works_at")]
    assert then["entities"] == [entity("Alice", "person", "works at Acme", "likes tea")]
    assert then["relations"] == [relation("Alice", "Acme", "works_at")]
    assert then["asOf"] == before
    # Stored: the old fact is closed and points at its replacement, which starts when it ended.
    assert facts(settings) == [
        ("Alice", "works at Acme", 1, "works at Globex"),
        ("Alice", "likes tea", 0, None),
        ("Alice", "works at Globex", 0, None),
    ]
    ((ended, started),) = rows(
        settings, "SELECT a.valid_to, b.valid_from FROM observations a JOIN observations b ON b.id = a.superseded_by"
    )
    relations = rows(settings, "SELECT to_id, valid_to IS NOT NULL FROM relations ORDER BY id")
    assert ended == started
    assert [ended_flag for _, ended_flag in relations] == [1, 0]
    assert [o["content"] for o in detail["observations"]] == ["likes tea", "works at Globex"]
    assert detail["history"][0]["content"] == "works at Acme"
    assert detail["history"][0]["supersededBy"] == "works at Globex"
    assert detail["history"][0]["validTo"] == ended
    assert [r["to"] for r in detail["endedRelations"]] == ["Acme"]


async def test_as_of_on_every_read(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        before = await _alice_moves(client)
        graph_then = await call(client, "read_graph", as_of=before)
        graph_now = await call(client, "read_graph")
        near_then = await call(client, "get_neighbourhood", name="Alice", as_of=before)
        near_now = await call(client, "get_neighbourhood", name="Alice")
        found_then = await call(client, "search_nodes", query="Acme", as_of=before, mode="lexical")
        found_now = await call(client, "search_nodes", query="works at Acme", mode="lexical")
        empty = await call(client, "read_graph", as_of="2001-01-01")
    assert graph_then["relations"] == [relation("Alice", "Acme", "works_at")]
    assert graph_now["relations"] == [relation("Alice", "Globex", "works_at")]
    assert [e["name"] for e in near_then["entities"]] == ["Alice", "Acme"]
    assert [e["name"] for e in near_now["entities"]] == ["Alice", "Globex"]
    assert [e["name"] for e in found_then["entities"]][:2] == ["Acme", "Alice"]
    assert "works at Acme" in found_then["entities"][1]["observations"]
    # Today Alice only matches "works at" loosely: the Acme fact no longer holds.
    alice_now = next(e for e in found_now["entities"] if e["name"] == "Alice")
    assert "works at Acme" not in alice_now["observations"]
    assert empty["entities"] == [] and empty["relations"] == []


async def test_a_superseded_fact_can_become_true_again_and_delete_still_deletes(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await _alice_moves(client)
        added = await call(
            client, "add_observations", observations=[{"entityName": "Alice", "contents": ["works at Acme"]}]
        )
        await call(client, "delete_observations", deletions=[{"entityName": "Alice", "observations": ["likes tea"]}])
        now = await call(client, "open_nodes", names=["Alice"])
    assert added["results"][0]["addedObservations"] == ["works at Acme"]
    assert now["entities"][0]["observations"] == ["works at Globex", "works at Acme"]
    assert [(c, ended) for _, c, ended, _ in facts(settings)] == [
        ("works at Acme", 1),
        ("works at Globex", 0),
        ("works at Acme", 0),
    ]


async def test_superseding_without_replacement_just_ends_the_fact(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Bob", "person", "is on holiday")])
        await call(
            client, "supersede_observations", supersessions=[{"entityName": "Bob", "observation": "is on holiday"}]
        )
        now = await call(client, "open_nodes", names=["Bob"])
    assert now["entities"] == [entity("Bob")]
    assert facts(settings) == [("Bob", "is on holiday", 1, None)]


BAD_TIME_CALLS: list[tuple[str, dict[str, Any], str]] = [
    (
        "supersede_observations",
        {"supersessions": [{"entityName": "Ghost", "observation": "x", "replacement": "y"}]},
        "no entity named 'Ghost'",
    ),
    (
        "supersede_observations",
        {"supersessions": [{"entityName": "Alice", "observation": "likes coffee", "replacement": "y"}]},
        "not a current observation",
    ),
    (
        "supersede_observations",
        {
            "supersessions": [
                {"entityName": "Alice", "observation": "likes tea", "replacement": "likes mate"},
                {"entityName": "Alice", "observation": "likes coffee", "replacement": "y"},
            ]
        },
        "not a current observation: 'likes coffee'",
    ),
    (
        "supersede_observations",
        {"supersessions": [{"entityName": "Alice", "observation": "likes tea", "replacement": "likes tea"}]},
        "same text",
    ),
    ("supersede_observations", {"supersessions": []}, "supersessions"),
    ("end_relations", {"relations": [relation("Alice", "Acme", "founded")]}, "no current relation"),
    ("end_relations", {"relations": [relation("Alice", "Ghost", "knows")]}, "no entity named 'Ghost'"),
    ("open_nodes", {"names": ["Alice"], "as_of": "2999-01-01"}, "in the future"),
    ("read_graph", {"as_of": "last tuesday"}, "not an ISO 8601 date"),
    ("search_nodes", {"query": "tea", "as_of": "2024-13-45"}, "not an ISO 8601 date"),
    ("get_neighbourhood", {"name": "Alice", "as_of": "2001-01-01"}, "not found as of 2001"),
]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"), BAD_TIME_CALLS, ids=lambda v: v if isinstance(v, str) else ""
)
async def test_bad_time_input_is_a_clear_error_and_changes_nothing(
    settings: MemorySettings, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea"), entity("Acme", "org")])
        await call(client, "create_relations", relations=[relation("Alice", "Acme", "works_at")])
        before = (stored(settings), facts(settings))
        message = await fail(client, tool, **arguments)
        assert expected in message
        assert (stored(settings), facts(settings)) == before


async def test_instructions_tell_the_model_when_to_supersede(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        prompt = await client.get_prompt("memory_instructions", {})
        instructions = client.instructions
    text = prompt.messages[0].content.text  # type: ignore[union-attr]
    assert "supersede_observations" in text and "supersede_observations" in (instructions or "")
