"""search_nodes by meaning: paraphrases found, exact matches kept first, matches with scores, the
background embedding (a write never waits for it) and entities stored before vectors existed."""

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_suite.servers.memory.graph import GraphStore
from mcp_suite.servers.memory.models import NewEntity, ObservationAddition
from mcp_suite.servers.memory.recall import Recall
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.memory.storage import open_storage
from mcp_suite.servers.memory.storage.sqlite_schema import MIGRATIONS
from mcp_suite.shared.db import Database
from mcp_suite.shared.embeddings import EmbedderInfo
from tests.memory.helpers import call, connect, entity, fail, rows

pytestmark = pytest.mark.anyio

STAFF = [
    entity("Dr. Okafor", "person", "works as a doctor", "lives in Lagos"),
    entity("Mia Stone", "person", "works as a lawyer", "plays the violin"),
    entity("Tom Reyes", "person", "works as a chef", "has a dog"),
    entity("Project Quorvex", "project", "code name of the billing rewrite"),
]


async def names(client: Any, query: str, **extra: Any) -> list[str]:
    result = await call(client, "search_nodes", query=query, **extra)
    return [e["name"] for e in result["entities"]]


def vector_counts(settings: MemorySettings) -> tuple[int, int]:
    ((observations, entities),) = rows(
        settings, "SELECT (SELECT count(*) FROM observation_vectors), (SELECT count(*) FROM entity_vectors)"
    )
    return observations, entities


async def test_paraphrases_are_found_by_meaning_and_not_by_words(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=STAFF)
        lexical = await names(client, "physician", mode="lexical")
        semantic = await names(client, "physician", mode="semantic")
        hybrid = await call(client, "search_nodes", query="physician")
        fiddle = await names(client, "who plays the fiddle")
    assert lexical == []
    assert semantic[0] == "Dr. Okafor"
    assert hybrid["entities"][0]["name"] == "Dr. Okafor"
    # Each hit says which of its observations matched, with a score.
    first = hybrid["matches"][0]
    assert first["name"] == "Dr. Okafor" and 0 < first["score"] <= 1
    assert [m["content"] for m in first["observations"]] == ["works as a doctor"]
    assert 0 < first["observations"][0]["score"] <= 1
    assert fiddle[0] == "Mia Stone"


async def test_exact_words_stay_first_when_meaning_is_fused_in(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=STAFF)
        code = await names(client, "Quorvex")
        name = await names(client, "Tom Reyes")
        result = await call(client, "search_nodes", query="violin", limit=1)
    assert code[0] == "Project Quorvex"
    assert name[0] == "Tom Reyes"
    assert [e["name"] for e in result["entities"]] == ["Mia Stone"]
    # The extra fields leave the reference's shape intact: entities are exactly {name, entityType, observations}.
    assert set(result["entities"][0]) == {"name", "entityType", "observations"}


TEAM = [
    entity("Anna Berg", "person", "works as a nurse"),
    entity("Anne Borg", "person", "works as a nurse"),
    entity("Anna Lind", "person", "works as a pilot"),
    entity("Project Falcon", "project", "led by Anna Berg"),
    entity("Server42", "host", "runs the billing database"),
    entity("Server43", "host", "backs up the wiki"),
]


async def test_a_query_that_names_an_entity_is_a_lookup(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=TEAM)
        named = await call(client, "search_nodes", query="Anna Berg")
        host = await names(client, "Server42")
        spaced = await names(client, " anna berg ", mode="lexical")
        partial = await names(client, "Anna")
        unnamed = await names(client, "nurse Anna")
        hosts = await names(client, "server")
        await anyio.sleep(0.01)  # stored times have millisecond resolution
        moment = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        past = await names(client, "Anna Berg", as_of=moment)
    # The entity, then what mentions its whole name; not Anna Lind (one word) nor Anne Borg (alike by meaning).
    assert [e["name"] for e in named["entities"]] == ["Anna Berg", "Project Falcon"]
    assert "hint" not in named
    assert host == ["Server42"]  # Server43 reads alike to the embedder
    assert spaced == ["Anna Berg", "Project Falcon"]
    assert past == ["Anna Berg", "Project Falcon"]  # the scan of the past applies the same rule
    # Not a name: every Anna, and the any-word and meaning tiers as before.
    assert set(partial) >= {"Anna Berg", "Anna Lind"}
    assert set(unnamed) >= {"Anna Berg", "Anne Borg", "Anna Lind"}
    assert set(hosts) == {"Server42", "Server43"}


async def test_writes_are_embedded_in_the_background(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=STAFF)  # answered before any vector exists
        with anyio.fail_after(20):
            while vector_counts(settings) != (7, 4):
                await anyio.sleep(0.05)
        await call(client, "delete_entities", entityNames=["Dr. Okafor"])
        assert vector_counts(settings) == (5, 3)  # cascaded with the rows
        after_delete = await names(client, "physician", mode="semantic")
    assert "Dr. Okafor" not in after_delete


async def test_a_search_right_after_a_write_sees_it(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=STAFF[1:])
        await names(client, "warm up", mode="semantic")
        await call(client, "create_entities", entities=STAFF[:1])
        found = await names(client, "physician", mode="semantic")
    assert found[0] == "Dr. Okafor"


async def test_a_search_sees_what_another_server_wrote_since_its_last_search(settings: MemorySettings) -> None:
    # Two servers on one store, as two processes would be: the reader's index is loaded and current
    # when the other writes, so only its check for other writers can tell it to read again.
    async with connect(settings) as reader, connect(settings) as writer:
        await call(writer, "create_entities", entities=STAFF[1:])
        assert "Dr. Okafor" not in await names(reader, "physician", mode="semantic")
        await call(writer, "create_entities", entities=STAFF[:1])
        first = await names(reader, "physician", mode="semantic")
        again = await names(reader, "physician", mode="semantic")
        await call(writer, "delete_entities", entityNames=["Dr. Okafor"])
        after_delete = await names(reader, "physician")
    assert first[0] == "Dr. Okafor" and again == first
    assert "Dr. Okafor" not in after_delete


async def test_superseded_facts_stop_matching(settings: MemorySettings) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Ann", "person", "works as a doctor"), *STAFF])
        await call(
            client,
            "supersede_observations",
            supersessions=[{"entityName": "Ann", "observation": "works as a doctor", "replacement": "is retired"}],
        )
        result = await call(client, "search_nodes", query="physician", mode="semantic")
    assert result["entities"][0]["name"] == "Dr. Okafor"
    ann = [m for m in result["matches"] if m["name"] == "Ann"]
    assert all(o["content"] != "works as a doctor" for m in ann for o in m["observations"])


@pytest.mark.sqlite_only  # a database of the version before vectors: only ever SQLite
async def test_entities_stored_before_vectors_existed_are_found(settings: MemorySettings) -> None:
    # A database written by the previous version: the first migration only, rows inserted directly.
    db = await Database.open(settings.database_path, MIGRATIONS[:1])
    try:
        await db.conn.execute("INSERT INTO entities (namespace, name, entity_type) VALUES ('default', 'Old', 'person')")
        await db.conn.execute("INSERT INTO observations (entity_id, content) VALUES (1, 'works as a doctor')")
        await db.conn.execute(
            "INSERT INTO entity_fts (rowid, name, entity_type, observations) VALUES (1, 'Old', 'person', "
            "'works as a doctor')"
        )
    finally:
        await db.close()
    async with connect(settings) as client:
        found = await names(client, "physician", mode="semantic")
        with anyio.fail_after(20):
            while vector_counts(settings) != (1, 1):
                await anyio.sleep(0.05)
    assert found == ["Old"]


async def test_without_an_embedder_search_is_lexical(settings: MemorySettings) -> None:
    plain = settings.model_copy(update={"embedder": "none"})
    async with connect(plain) as client:
        await call(client, "create_entities", entities=STAFF)
        hybrid = await names(client, "doctor")
        paraphrase = await names(client, "physician")
        message = await fail(client, "search_nodes", query="physician", mode="semantic")
    assert hybrid == ["Dr. Okafor"] and paraphrase == []
    assert "semantic search is off" in message and "--embedder none" in message
    assert vector_counts(plain) == (0, 0)


async def test_an_unreachable_embedding_endpoint_leaves_word_matches(settings: MemorySettings) -> None:
    # Nothing listens on port 9 (discard): the meaning leg fails while the word leg runs beside it.
    settings = settings.model_copy(
        update={"embedder": "openai", "embedding_url": "http://127.0.0.1:9/v1", "embedding_model": "m"}
    )
    async with connect(settings) as client:
        await call(client, "create_entities", entities=STAFF)
        result = await call(client, "search_nodes", query="violin")
        assert [e["name"] for e in result["entities"]] == ["Mia Stone"]
        assert "Meaning-based matching is unavailable" in result["hint"]
        error = await fail(client, "search_nodes", query="violin", mode="semantic")
        assert "embedding" in error.lower()
        assert await names(client, "violin", mode="lexical") == ["Mia Stone"]


@pytest.mark.sqlite_only  # rewrites stored blobs by hand
async def test_a_different_embedder_rebuilds_the_vectors(settings: MemorySettings, tmp_path: Path) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=STAFF)
        await names(client, "physician", mode="semantic")
    with sqlite3.connect(settings.database_path) as conn:
        conn.execute("UPDATE memory_meta SET value = 'openai/other (3 dims)' WHERE key = 'embedder'")
        conn.execute("UPDATE observation_vectors SET vector = x'00000000'")
    async with connect(settings) as client:
        found = await names(client, "physician", mode="semantic")
    assert found[0] == "Dr. Okafor"
    with sqlite3.connect(settings.database_path) as conn:
        sizes = {row[0] for row in conn.execute("SELECT length(vector) FROM observation_vectors")}
        recorded = conn.execute("SELECT value FROM memory_meta WHERE key = 'embedder'").fetchone()[0]
    assert recorded.startswith("wordllama/")
    assert sizes <= {256 * 4}


class HeldEmbedder:
    """A stand-in model that answers only when the test lets it: shows who waits for embedding."""

    info = EmbedderInfo("test", "held", 4)

    def __init__(self) -> None:
        self.release = anyio.Event()
        self.calls = 0

    async def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        self.calls += 1
        await self.release.wait()
        return np.tile(np.asarray([[0.5, 0.5, 0.5, 0.5]], dtype=np.float32), (len(texts), 1))


async def test_a_write_is_acknowledged_while_the_model_is_still_busy(settings: MemorySettings) -> None:
    db = await open_storage(settings.database)
    model = HeldEmbedder()
    recall = Recall(db, "default", model)
    graph = GraphStore(db, "default", recall)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(recall.run)
            with anyio.fail_after(5):
                await graph.create_entities([NewEntity(name="Ann", entityType="person", observations=["a fact"])])
                while model.calls == 0:  # the background task has taken the write and is waiting on the model
                    await anyio.sleep(0.01)
                # Further writes and word searches are answered meanwhile.
                await graph.add_observations([ObservationAddition(entityName="Ann", contents=["another fact"])])
                found = await graph.search("fact", mode="lexical")
            assert [e.name for e in found.entities] == ["Ann"]
            assert vector_counts(settings) == (0, 0)
            model.release.set()
            with anyio.fail_after(5):
                while vector_counts(settings) != (2, 1):
                    await anyio.sleep(0.01)
            tasks.cancel_scope.cancel()
    finally:
        await db.close()
