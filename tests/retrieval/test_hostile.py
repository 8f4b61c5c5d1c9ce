"""Hostile and malformed requests to the retrieval server: each gets a precise answer (the right JSON-RPC
code, or a tool error that says what to fix), no traceback is logged, and the server keeps answering a normal
call within 5 s."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def lexical(data_dir: Path) -> RetrievalSettings:
    return RetrievalSettings(data_dir=data_dir, embedder="none")


async def _still_serving(client: Client) -> None:
    with anyio.fail_after(5):
        result = await client.call_tool("search", {"query": "lighthouse"})
    assert not result.is_error, result.content
    assert result.structured_content and result.structured_content["hits"]


async def _seed(client: Client) -> None:
    text = "# Keeper\n\nThe lighthouse keeper logs every ship."
    result = await client.call_tool("ingest_text", {"text": text, "source": "notes/keeper.md"})
    assert not result.is_error, result.content


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


BAD_TOOL_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("search", {"query": "light\x00house"}, "query: contains a NUL character"),
    ("search", {"query": "\x00"}, "query: contains a NUL character"),
    ("search", {"query": "x", "k": 1e30}, "k: 1e+30 is out of range"),
    ("search", {"query": "x", "k": "five"}, "k: expected a whole number, got a string"),
    ("list_sources", {"offset": 2**63}, "offset: 9223372036854775808 is out of range"),
    ("list_sources", {"offset": 1e30}, "offset: 1e+30 is out of range"),
    ("get_chunk", {"chunk_id": 2**63}, "chunk_id: 9223372036854775808 is out of range"),
    ("ingest_text", {"text": "a\x00b", "source": "x.md"}, "text: contains a NUL character"),
    ("ingest_text", {"text": "ok", "source": "x\x00.md"}, "source: contains a NUL character"),
    ("ingest_text", {"text": ["not", "text"], "source": "x.md"}, "text: expected a string, got a list"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_TOOL_CALLS)
async def test_bad_tool_calls_get_one_clear_line(
    lexical: RetrievalSettings, caplog: pytest.LogCaptureFixture, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(lexical)) as client:
        await _seed(client)
        result = await client.call_tool(tool, arguments)
        assert result.is_error
        message = result.content[0].text  # type: ignore[union-attr]
        assert expected in message
        assert "pydantic" not in message and "validation error for" not in message
        await _still_serving(client)
    _no_traceback(caplog)


async def test_prompt_errors_are_invalid_params(lexical: RetrievalSettings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(lexical)) as client:
        await _seed(client)
        for name, arguments, text in (
            ("nosuch", {}, "unknown prompt 'nosuch'; this server's prompts are: answer_with_context"),
            ("answer_with_context", {}, "needs the argument(s) 'question'"),
            ("answer_with_context", {"question": "x", "k": "99"}, "k must be a whole number from 1 to 20"),
            ("answer_with_context", {"question": "light\x00"}, "NUL"),
        ):
            with pytest.raises(MCPError) as caught:
                await client.get_prompt(name, arguments)
            assert caught.value.code == INVALID_PARAMS, caught.value
            assert text in caught.value.message
        await _still_serving(client)
    _no_traceback(caplog)


async def test_unknown_resources_are_invalid_params(
    lexical: RetrievalSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(lexical)) as client:
        await _seed(client)
        for uri, text in (
            ("retrieval://nosuch", "Unknown resource"),
            ("retrieval://documents/999", "no indexed source 999"),
            ("retrieval://documents/abc", "must be a number"),
        ):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert caught.value.code == INVALID_PARAMS
            assert text in caught.value.message
        await _still_serving(client)
    _no_traceback(caplog)
