"""search_nodes: ranked full-text search that still finds everything the reference's substring
match finds; read_graph paging."""

from typing import Any

import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, entity, relation

pytestmark = pytest.mark.anyio

PEOPLE = [
    entity("Ada Lovelace", "person", "wrote the first program", "worked with Charles Babbage"),
    entity("Charles Babbage", "person", "designed the analytical engine"),
    entity("Analytical Engine", "machine", "a general-purpose mechanical computer"),
    entity("Programming", "topic", "Ada is a programming language named after Ada Lovelace"),
    entity("Grace Hopper", "person", "wrote the first compiler", "coined the term debugging"),
    entity("coffee_preferences", "preference", "likes flat white"),
]


async def search(client: Any, query: str, **extra: Any) -> list[str]:
    result = await call(client, "search_nodes", query=query, **extra)
    return [e["name"] for e in result["entities"]]


async def test_name_matches_rank_first(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=PEOPLE)
        names = await search(client, "lovelace")
    # The entity named Lovelace beats the one that only mentions her in an observation.
    assert names == ["Ada Lovelace", "Programming"]


async def test_prefix_and_multi_word_queries(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=PEOPLE)
        assert await search(client, "analyt", mode="lexical") == ["Analytical Engine", "Charles Babbage"]
        assert (await search(client, "analyt"))[:2] == ["Analytical Engine", "Charles Babbage"]
        # Words in different fields (name and observation) still match together, in any order.
        assert (await search(client, "first grace"))[0] == "Grace Hopper"
        # Entities with all words rank before entities with only some of them.
        names = await search(client, "wrote compiler")
        assert names[0] == "Grace Hopper"
        assert "Ada Lovelace" in names[1:]


async def test_everything_the_reference_substring_match_finds_is_found(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=PEOPLE)
        # Mid-word substrings: no word starts with these, yet the reference finds them.
        assert await search(client, "ebuggin") == ["Grace Hopper"]
        assert await search(client, "FEE_PREF") == ["coffee_preferences"]  # case-insensitive
        assert set(await search(client, "gR")) == {"Ada Lovelace", "Programming", "Grace Hopper"}  # under 3 chars
        assert set(await search(client, "")) == {e["name"] for e in PEOPLE}  # "" matches all, as in the reference
        assert await search(client, "zebra unicorn") == []
        # Beyond ASCII, mid-word and across words (no word starts with these, so only the substring tier finds
        # them): PostgreSQL's trigram index must hold the pieces a query's text is cut into.
        await call(client, "create_entities", entities=[entity("Zoë Ærø", "person", "drinks café crème", "smørrebrød")])
        assert await search(client, "afé cr", mode="lexical") == ["Zoë Ærø"]
        assert await search(client, "OË Æ", mode="lexical") == ["Zoë Ærø"]
        assert await search(client, "rrebrø", mode="lexical") == ["Zoë Ærø"]


async def test_query_syntax_is_just_text(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[*PEOPLE, entity('Quote "x" AND (y)*', "odd", "NEAR/2 name:")])
        assert await search(client, '"x" AND (y)*') == ['Quote "x" AND (y)*']
        assert (await search(client, "NEAR/2 name:"))[0] == 'Quote "x" AND (y)*'


async def test_results_carry_relations_touching_them(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=PEOPLE)
        await call(
            client,
            "create_relations",
            relations=[
                relation("Ada Lovelace", "Charles Babbage", "worked_with"),
                relation("Charles Babbage", "Analytical Engine", "designed"),
                relation("Grace Hopper", "Programming", "advanced"),
            ],
        )
        result = await call(client, "search_nodes", query="babbage", mode="lexical")
        hybrid = await call(client, "search_nodes", query="babbage")
    assert [e["name"] for e in result["entities"]] == ["Charles Babbage", "Ada Lovelace"]
    # The name match stays first when meaning is fused in, although Ada's fact is about Babbage too.
    assert hybrid["entities"][0]["name"] == "Charles Babbage"
    assert result["relations"] == [
        relation("Ada Lovelace", "Charles Babbage", "worked_with"),
        relation("Charles Babbage", "Analytical Engine", "designed"),
    ]


async def test_limit_and_the_hint_when_more_match(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity(f"note {i}", "note", "about tea") for i in range(30)])
        few = await call(client, "search_nodes", query="tea", limit=10)
        exact = await call(client, "search_nodes", query="tea", limit=30)
    assert len(few["entities"]) == 10
    assert "larger limit" in few["hint"]
    assert len(exact["entities"]) == 30
    assert "hint" not in exact


async def test_read_graph_pages_a_large_graph(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity(f"e{i:03}", "thing", f"fact {i}") for i in range(250)])
        await call(
            client, "create_relations", relations=[relation(f"e{i:03}", f"e{i + 1:03}", "next") for i in range(249)]
        )
        first = await call(client, "read_graph")
        page = first["page"]
        assert len(first["entities"]) == 200
        assert page["totalEntities"] == 250 and page["totalRelations"] == 249
        assert page["truncated"] is True and page["nextOffset"] == 200
        assert "offset=200" in page["hint"]
        second = await call(client, "read_graph", offset=page["nextOffset"])
        small = await call(client, "read_graph", limit=5, offset=10)
    assert [e["name"] for e in second["entities"]] == [f"e{i:03}" for i in range(200, 250)]
    assert second["page"]["truncated"] is False and "nextOffset" not in second["page"]
    # Every relation appears on exactly one page: the page of the entity it starts at.
    assert len(first["relations"]) + len(second["relations"]) == 249
    assert [e["name"] for e in small["entities"]] == [f"e{i:03}" for i in range(10, 15)]


async def test_read_graph_keeps_a_page_within_its_character_budget(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        bulky = [entity(f"big{i}", "doc", *(f"{j} " + "x" * 9_000 for j in range(3))) for i in range(10)]
        await call(client, "create_entities", entities=bulky)
        result = await call(client, "read_graph")
    assert 0 < len(result["entities"]) < 10
    assert result["page"]["truncated"] is True
    assert result["page"]["nextOffset"] == len(result["entities"])
