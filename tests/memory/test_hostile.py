"""Hostile and malformed requests to the memory server: each gets a precise answer (the right JSON-RPC code or
a tool error that says what to fix), nothing stored changes, no traceback is logged, and the server keeps
answering a normal call within 5 s."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from mcp_suite.servers.memory.server import build_server
from mcp_suite.servers.memory.settings import MemorySettings
from tests.memory.helpers import call, connect, entity, fail, stored

pytestmark = pytest.mark.anyio


async def _still_serving(client: Client) -> None:
    with anyio.fail_after(5):
        graph = await call(client, "open_nodes", names=["Alice"])
    assert [e["name"] for e in graph["entities"]] == ["Alice"]


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


BAD_TOOL_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("create_entities", {"entities": "Alice"}, "entities: expected a list of entities, got a string"),
    (
        "create_entities",
        {"entities": [{"name": 42, "entityType": "person", "observations": []}]},
        "entities[0].name: expected a string, got the number 42",
    ),
    ("read_graph", {"offset": 1e30}, "offset: 1e+30 is out of range"),
    ("read_graph", {"offset": 2**63}, "offset: 9223372036854775808 is out of range"),
    ("read_graph", {"limit": "ten"}, "limit: expected a whole number, got a string"),
    ("search_nodes", {"query": "Ali\x00ce"}, "query: must not contain control characters (found U+0000"),
    ("open_nodes", {"names": ["Alice\x00-other"]}, "names[0]: must not contain control characters (found U+0000"),
    (
        "delete_entities",
        {"entityNames": ["Alice\x00x"]},
        "entityNames[0]: must not contain control characters (found U+0000",
    ),
    ("get_neighbourhood", {"name": "Alice", "depth": 2**64}, "depth: 18446744073709551616 is out of range"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_TOOL_CALLS)
async def test_bad_tool_calls_get_one_clear_line(
    settings: MemorySettings, quiet: pytest.LogCaptureFixture, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice", "person", "likes tea")])
        before = stored(settings)
        message = await fail(client, tool, **arguments)
        assert expected in message
        assert "pydantic" not in message and "validation error for" not in message
        assert stored(settings) == before
        await _still_serving(client)
    _no_traceback(quiet)


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # the 2025-11-25 handshake and 2026-07-28
async def test_unknown_prompt_is_invalid_params(
    settings: MemorySettings, quiet: pytest.LogCaptureFixture, mode: str
) -> None:
    async with Client(build_server(settings), mode=mode) as client:
        await call(client, "create_entities", entities=[entity("Alice")])
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("nosuch", {})
        assert caught.value.code == INVALID_PARAMS
        assert "unknown prompt 'nosuch'" in caught.value.message and "memory_instructions" in caught.value.message
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("memory_instructions", {"user": "a\x00b"})
        assert caught.value.code == INVALID_PARAMS and "U+0000" in caught.value.message
        await _still_serving(client)
    _no_traceback(quiet)


async def test_unknown_resources_are_invalid_params(settings: MemorySettings, quiet: pytest.LogCaptureFixture) -> None:
    async with connect(settings) as client:
        await call(client, "create_entities", entities=[entity("Alice")])
        for uri, text in (("memory://nosuch", "Unknown resource"), ("memory://entities/Ghost", "'Ghost' not found")):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert caught.value.code == INVALID_PARAMS
            assert text in caught.value.message
            assert caught.value.data == {"uri": uri}
        await _still_serving(client)
    _no_traceback(quiet)
