"""merge_entities and find_duplicates: what moves, what is dropped, aliases, dry runs, bad input."""

from typing import Any

import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, entity, facts, fail, relation, resource_json, rows, stored

pytestmark = pytest.mark.anyio

PEOPLE = [
    entity("Alice", "person", "likes tea", "lives in Paris"),
    entity("alice", "person", "likes tea", "plays chess"),
    entity("Alice Smith", "person", "works at Acme"),
    entity("Acme", "org"),
    entity("Bob", "person"),
]
LINKS = [
    relation("Alice", "Acme", "works_at"),
    relation("Alice Smith", "Acme", "works_at"),  # duplicate once merged
    relation("alice", "Bob", "knows"),  # moves
    relation("Bob", "Alice Smith", "knows"),  # moves (incoming)
    relation("alice", "Alice", "same_as"),  # becomes a self-loop: dropped
]


async def _setup(client: Any) -> None:
    await call(client, "create_entities", entities=PEOPLE)
    await call(client, "create_relations", relations=LINKS)


def _aliases(settings: MemorySettings) -> list[tuple[str, str]]:
    return rows(
        settings, "SELECT a.alias, e.name FROM aliases a JOIN entities e ON e.id = a.entity_id ORDER BY a.alias"
    )


async def test_merge_moves_facts_and_relations_and_keeps_aliases(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await _setup(client)
        plan = await call(client, "merge_entities", names=["alice", "Alice Smith"], into="Alice")
        by_alias = await call(client, "open_nodes", names=["alice", "Alice Smith"])
        found = await call(client, "search_nodes", query="Smith", mode="lexical")
        added = await call(client, "add_observations", observations=[{"entityName": "alice", "contents": ["new"]}])
        detail = resource_json(await client.read_resource("memory://entities/Alice"))
    assert plan == {
        "into": "Alice",
        "merged": ["alice", "Alice Smith"],
        "observationsMoved": 2,
        "duplicateObservationsDropped": 1,
        "relationsMoved": 2,
        "relationsDropped": 2,
        "aliases": ["Alice Smith", "alice"],
        "dryRun": False,
    }
    rows = stored(settings)
    assert [name for _, name, _ in rows["entities"]] == ["Alice", "Acme", "Bob"]
    assert [(n, c) for n, c, _, _ in facts(settings)] == [
        ("Alice", "likes tea"),
        ("Alice", "lives in Paris"),
        ("Alice", "plays chess"),
        ("Alice", "works at Acme"),
        ("Alice", "new"),
    ]
    assert [(f, t, k) for _, f, t, k in rows["relations"]] == [
        ("Alice", "Acme", "works_at"),
        ("Alice", "Bob", "knows"),
        ("Bob", "Alice", "knows"),
    ]
    assert _aliases(settings) == [("Alice Smith", "Alice"), ("alice", "Alice")]
    # Old names still open (and write to) the survivor; search finds it by an alias.
    assert [e["name"] for e in by_alias["entities"]] == ["Alice"]
    assert found["entities"][0]["name"] == "Alice"
    assert added["results"] == [{"entityName": "alice", "addedObservations": ["new"]}]
    assert detail["aliases"] == ["Alice Smith", "alice"]


async def test_dry_run_reports_the_same_and_changes_nothing(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await _setup(client)
        before = (stored(settings), facts(settings))
        preview = await call(client, "merge_entities", names=["alice", "Alice Smith"], into="Alice", dry_run=True)
        assert (stored(settings), facts(settings)) == before
        assert _aliases(settings) == []
        done = await call(client, "merge_entities", names=["alice", "Alice Smith"], into="Alice")
    assert preview == {**done, "dryRun": True}


async def test_merging_a_merged_entity_moves_its_aliases(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await _setup(client)
        await call(client, "merge_entities", names=["alice"], into="Alice Smith")
        await call(client, "merge_entities", names=["Alice Smith"], into="Alice")
        opened = await call(client, "open_nodes", names=["alice"])
    assert _aliases(settings) == [("Alice Smith", "Alice"), ("alice", "Alice")]
    assert [e["name"] for e in opened["entities"]] == ["Alice"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"names": ["Alice"], "into": "Alice"}, "cannot merge 'Alice' into itself"),
        ({"names": ["alice", "Ghost"], "into": "Alice"}, "no entity named 'Ghost'"),
        ({"names": ["alice"], "into": "Nobody"}, "no entity named 'Nobody'"),
        ({"names": [], "into": "Alice"}, "names"),
        ({"names": ["ali\u0000ce"], "into": "Alice"}, "control characters"),
    ],
)
async def test_bad_merges_are_refused_and_change_nothing(
    settings: MemorySettings, arguments: dict[str, Any], expected: str
) -> None:
    async with connect(settings) as client:
        await _setup(client)
        before = (stored(settings), facts(settings))
        message = await fail(client, "merge_entities", **arguments)
        assert expected in message
        assert (stored(settings), facts(settings)) == before


async def test_find_duplicates_lists_likely_groups(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(
            client,
            "create_entities",
            entities=[*PEOPLE, entity("Jon  Doe", "person"), entity("jon-doe", "person"), entity("Acme Corp", "org")],
        )
        result = await call(client, "find_duplicates")
        resource = resource_json(await client.read_resource("memory://duplicates"))
    groups = {(tuple(sorted(g["names"])), g["reason"]) for g in result["groups"]}
    assert (("Alice", "alice"), "same name apart from case, spacing or punctuation") in groups
    assert (("Jon  Doe", "jon-doe"), "same name apart from case, spacing or punctuation") in groups
    assert (("Alice", "Alice Smith"), "one name extends the other") in groups
    assert (("Acme", "Acme Corp"), "one name extends the other") in groups
    assert not any("Bob" in names for names, _ in groups)
    assert resource == result
