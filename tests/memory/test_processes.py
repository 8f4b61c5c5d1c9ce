"""The real console script, launched the way hosts launch it: over stdio, over Streamable HTTP
with a bearer token, and several processes writing to one database at once."""

import sqlite3
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.memory.helpers import call, entity, relation
from tests.support import free_port, http_server, script, stdio_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "tests", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def test_stdio_console_script(data_dir: Path) -> None:
    params = stdio_server("mcp-suite-memory", "--data-dir", str(data_dir), "--namespace", "desk")
    async with Client(params, mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea"), entity("Acme", "org")])
        await call(client, "create_relations", relations=[relation("Alice", "Acme", "works_at")])
        found = await call(client, "search_nodes", query="tea")
    assert {"create_entities", "search_nodes", "get_neighbourhood"} <= names
    assert found["entities"] == [entity("Alice", "person", "likes tea")]
    assert found["relations"] == [relation("Alice", "Acme", "works_at")]
    assert found["matches"] == [
        {"name": "Alice", "score": 1.0, "observations": [{"content": "likes tea", "score": 1.0}]}
    ]
    with sqlite3.connect(data_dir / "memory.db") as conn:
        assert conn.execute("SELECT namespace, name FROM entities ORDER BY id").fetchall() == [
            ("desk", "Alice"),
            ("desk", "Acme"),
        ]


async def test_streamable_http_requires_the_bearer_token(data_dir: Path) -> None:
    port = free_port()
    argv = [script("mcp-suite-memory"), "--transport", "streamable-http", "--port", str(port)]
    argv += ["--data-dir", str(data_dir), "--auth-token", "s3cret"]
    with http_server(argv, port) as url:
        refused = httpx.post(url, json=INITIALIZE, headers=MCP_HEADERS)
        wrong = httpx.post(url, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": "Bearer nope"})
        async with (
            create_mcp_http_client(headers={"Authorization": "Bearer s3cret"}) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            await call(client, "create_entities", entities=[entity("Over HTTP", "test", "it works")])
            graph = await call(client, "read_graph")
    assert refused.status_code == 401 and wrong.status_code == 401
    assert graph == {"entities": [entity("Over HTTP", "test", "it works")], "relations": []}


async def test_four_processes_writing_at_once_lose_nothing(data_dir: Path) -> None:
    writers, writes = 4, 50
    params = stdio_server("mcp-suite-memory", "--data-dir", str(data_dir))
    async with Client(params) as client:
        await call(client, "create_entities", entities=[entity(f"shared-{i}", "counter") for i in range(writers)])

    async def writer(k: int) -> None:
        async with Client(params) as client:
            # Every process races to create the same entity: exactly one copy may exist.
            await call(client, "create_entities", entities=[entity("contested", "race", f"from {k}")])
            for i in range(writes):
                contents = [f"writer {k} fact {i}"]
                await call(
                    client,
                    "add_observations",
                    observations=[{"entityName": f"shared-{i % writers}", "contents": contents}],
                )

    async with anyio.create_task_group() as group:
        for k in range(writers):
            group.start_soon(writer, k)

    with sqlite3.connect(data_dir / "memory.db") as conn:
        facts = {
            r[0]
            for r in conn.execute(
                "SELECT o.content FROM observations o JOIN entities e ON e.id = o.entity_id "
                "WHERE e.name LIKE 'shared-%'"
            )
        }
        contested = conn.execute("SELECT count(*) FROM entities WHERE name = 'contested'").fetchone()[0]
        documents = conn.execute("SELECT observations FROM entity_fts WHERE name LIKE 'shared-%'").fetchall()
    assert facts == {f"writer {k} fact {i}" for k in range(writers) for i in range(writes)}
    assert contested == 1
    # The search index saw every write too.
    assert sum(len(d[0].splitlines()) for d in documents) == writers * writes
