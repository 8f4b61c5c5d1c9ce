"""Several memory servers on one PostgreSQL database act as one service: concurrent writers through two
HTTP replicas lose no acknowledged write, a write through one replica reaches the subscribers of the
other, and a database that cannot be used stops the server with one line."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_suite.servers.memory.server import build_server
from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, entity
from tests.shared.test_resource_updates import Inbox, _subscribe
from tests.support import free_port, http_server, script

pytestmark = pytest.mark.anyio

REPLICAS, WRITERS, WRITES, ENTITIES = 2, 4, 25, 4


def _replica(url: str, data_dir: Path) -> tuple[list[str], int]:
    port = free_port()
    argv = [script("mcp-suite-memory"), "--transport", "streamable-http", "--port", str(port)]
    return [*argv, "--data-dir", str(data_dir), "--database-url", url, "--embedder", "none"], port


@pytest.mark.slow
async def test_writers_on_two_http_replicas_lose_nothing(postgres_url: str, data_dir: Path) -> None:
    (argv_a, port_a), (argv_b, port_b) = _replica(postgres_url, data_dir), _replica(postgres_url, data_dir)
    with http_server(argv_a, port_a) as url_a, http_server(argv_b, port_b) as url_b:
        async with Client(streamable_http_client(url_a)) as client:
            shared = [entity(f"shared-{i}", "counter") for i in range(ENTITIES)]
            await call(client, "create_entities", entities=shared)
        acknowledged: list[str] = []

        async def writer(url: str, name: str) -> None:
            async with Client(streamable_http_client(url)) as client:
                for i in range(WRITES):
                    # Every writer adds to the same few entities: the replicas' transactions conflict.
                    fact = f"{name} fact {i}"
                    additions = [{"entityName": f"shared-{i % ENTITIES}", "contents": [fact]}]
                    await call(client, "add_observations", observations=additions)
                    acknowledged.append(fact)

        async with anyio.create_task_group() as group:
            for r, url in enumerate((url_a, url_b)):
                for k in range(WRITERS):
                    group.start_soon(writer, url, f"replica {r} writer {k}")
        async with Client(streamable_http_client(url_b)) as client:
            found = await call(client, "search_nodes", query="fact", limit=ENTITIES)

    with psycopg.connect(postgres_url) as conn:
        stored = [r[0] for r in conn.execute("SELECT content FROM mcp_suite_memory.observations").fetchall()]
        documents = conn.execute("SELECT haystack FROM mcp_suite_memory.entity_search").fetchall()
    assert len(acknowledged) == REPLICAS * WRITERS * WRITES
    assert sorted(stored) == sorted(acknowledged)
    # The search index saw every write too, whichever replica made it.
    assert sum(len(d[0].splitlines()) - 2 for d in documents) == len(acknowledged)
    assert len(found["entities"]) == ENTITIES


async def test_a_write_through_one_replica_reaches_subscribers_of_the_other(postgres_url: str, tmp_path: Path) -> None:
    def replica() -> Any:
        return build_server(MemorySettings(data_dir=tmp_path, database_url=postgres_url, embedder="none"))

    inbox = Inbox()
    async with (
        Client(replica(), mode="legacy", message_handler=inbox) as listener,
        Client(replica()) as writer,
    ):
        await _subscribe(listener, "memory://graph")
        await _subscribe(listener, "memory://entities/Ada%20Lovelace")
        await call(writer, "create_entities", entities=[entity("Ada Lovelace", "person", "wrote the first program")])
        with anyio.fail_after(2):
            await inbox.expect("memory://entities/Ada%20Lovelace")
        await inbox.expect("memory://graph")
        graph = await call(listener, "read_graph")
    assert graph["entities"] == [entity("Ada Lovelace", "person", "wrote the first program")]


@pytest.mark.slow
def test_an_unusable_database_stops_the_server_with_one_line(data_dir: Path) -> None:
    url = "postgresql://me:hunter2@127.0.0.1:1/suite"
    result = subprocess.run(
        [script("mcp-suite-memory"), "--data-dir", str(data_dir), "--database-url", url],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    assert "cannot reach PostgreSQL at postgresql://me:***@127.0.0.1:1/suite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
async def test_over_http_a_write_through_one_replica_reaches_a_subscriber_of_the_other(
    postgres_url: str, data_dir: Path
) -> None:
    (argv_a, port_a), (argv_b, port_b) = _replica(postgres_url, data_dir), _replica(postgres_url, data_dir)
    inbox = Inbox()
    with http_server(argv_a, port_a) as url_a, http_server(argv_b, port_b) as url_b:
        async with (
            Client(streamable_http_client(url_b), mode="legacy", message_handler=inbox) as listener,
            Client(streamable_http_client(url_a)) as writer,
        ):
            await _subscribe(listener, "memory://graph")
            await call(writer, "create_entities", entities=[entity("Grace", "person", "wrote a compiler")])
            with anyio.fail_after(2):
                await inbox.expect("memory://graph")
