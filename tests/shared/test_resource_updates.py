"""Resource subscriptions are delivered: a change made by a tool sends ``notifications/resources/updated``
for the resources it changed, to handshake-era subscribers (``resources/subscribe``) and to 2026-07-28
listeners (``subscriptions/listen``), and both eras advertise ``subscribe`` truthfully."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.shared.subscriptions import ResourceUpdated

from mcp_suite.servers.memory.server import build_server as build_memory
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.retrieval.server import build_server as build_retrieval
from mcp_suite.servers.retrieval.settings import RetrievalSettings

pytestmark = pytest.mark.anyio


class Inbox:
    """A client message handler that keeps the resource URIs it is told were updated."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        params = getattr(getattr(message, "params", None), "uri", None)
        if getattr(message, "method", None) == "notifications/resources/updated" and params is not None:
            self.updated.append(str(params))
            self.arrived.set()

    async def expect(self, uri: str) -> None:
        with anyio.fail_after(5):
            while uri not in self.updated:
                self.arrived = anyio.Event()
                await self.arrived.wait()


async def _subscribe(client: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        await client.subscribe_resource(uri)


async def test_memory_tells_handshake_era_subscribers(tmp_path: Path) -> None:
    inbox = Inbox()
    server = build_memory(MemorySettings(data_dir=tmp_path))
    async with Client(server, mode="legacy", message_handler=inbox) as client:
        caps = client.server_capabilities.resources
        assert caps is not None and caps.subscribe
        await _subscribe(client, "memory://graph")
        await _subscribe(client, "memory://entities/Ada%20Lovelace")
        await _subscribe(client, "memory://entities/Bob")
        entity = {"name": "Ada Lovelace", "entityType": "person", "observations": ["wrote the first program"]}
        assert not (await client.call_tool("create_entities", {"entities": [entity]})).is_error
        await inbox.expect("memory://graph")
        await inbox.expect("memory://entities/Ada%20Lovelace")
        assert "memory://entities/Bob" not in inbox.updated  # only what changed, and only what was subscribed
        inbox.updated.clear()
        change = {"entityName": "Ada Lovelace", "contents": ["born 1815"]}
        assert not (await client.call_tool("add_observations", {"observations": [change]})).is_error
        await inbox.expect("memory://entities/Ada%20Lovelace")
        inbox.updated.clear()
        # A failed call changed nothing, so nobody is told.
        failed = await client.call_tool(
            "add_observations", {"observations": [{"entityName": "Bob", "contents": ["x"]}]}
        )
        assert failed.is_error
        await anyio.sleep(0.1)
        assert inbox.updated == []


async def test_memory_tells_listeners(tmp_path: Path) -> None:
    async with Client(build_memory(MemorySettings(data_dir=tmp_path))) as client:
        caps = client.server_capabilities.resources
        assert caps is not None and caps.subscribe
        async with client.listen(resource_subscriptions=["memory://graph", "memory://entities/Ada"]) as sub:
            entity = {"name": "Ada", "entityType": "person", "observations": []}
            assert not (await client.call_tool("create_entities", {"entities": [entity]})).is_error
            seen: set[str] = set()
            with anyio.fail_after(5):
                while seen != {"memory://graph", "memory://entities/Ada"}:
                    event = await sub.__anext__()
                    assert isinstance(event, ResourceUpdated)
                    seen.add(event.uri)


async def test_retrieval_tells_subscribers_of_the_sources(tmp_path: Path) -> None:
    inbox = Inbox()
    server = build_retrieval(RetrievalSettings(data_dir=tmp_path, embedder="none"))
    async with Client(server, mode="legacy", message_handler=inbox) as client:
        await _subscribe(client, "retrieval://sources")
        result = await client.call_tool("ingest_text", {"text": "# Note\n\nhello world", "source": "note.md"})
        assert not result.is_error
        await inbox.expect("retrieval://sources")
        inbox.updated.clear()
        assert not (await client.call_tool("delete_source", {"source": "note.md"})).is_error
        await inbox.expect("retrieval://sources")
    listener = Client(build_retrieval(RetrievalSettings(data_dir=tmp_path, embedder="none")))
    async with listener as client, client.listen(resource_subscriptions=["retrieval://sources"]) as sub:
        await client.call_tool("ingest_text", {"text": "# Again\n\nhello", "source": "again.md"})
        with anyio.fail_after(5):
            event = await sub.__anext__()
        assert isinstance(event, ResourceUpdated) and event.uri == "retrieval://sources"
