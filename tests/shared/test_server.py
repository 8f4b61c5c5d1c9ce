"""SuiteServer at the protocol edge: domain errors reach the client verbatim, logging/setLevel works."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPError
from mcp.types import LoggingMessageNotificationParams, TextContent

from mcp_suite.shared.errors import InvalidInputError, NotFoundError
from mcp_suite.shared.server import SuiteServer, notify_log

pytestmark = pytest.mark.anyio


def build() -> SuiteServer:
    server = SuiteServer("test-suite-server")

    @server.tool()
    def lookup(name: str) -> str:
        """Find a thing by name."""
        if not name:
            raise InvalidInputError("name must not be empty; pass the entity's name")
        raise NotFoundError(f"entity '{name}' does not exist; create it with create_entities first")

    @server.tool()
    def crash() -> str:
        """Fails with a bug, not a domain error."""
        raise RuntimeError("internal detail that must not leak")

    @server.tool()
    async def chatty(ctx: Context[Any, Any]) -> str:
        """Sends one log notification per level."""
        for level in ("debug", "info", "warning", "error"):
            await notify_log(ctx, level, f"{level} message")
        return "done"

    @server.prompt()
    def greet(name: str) -> str:
        """A prompt that rejects bad input with a domain error."""
        raise InvalidInputError(f"unknown person '{name}'; pass a known name")

    return server


async def test_suite_error_becomes_an_is_error_result_with_its_message() -> None:
    async with Client(build()) as client:
        result = await client.call_tool("lookup", {"name": "Ada"})
        assert result.is_error
        assert isinstance(result.content[0], TextContent)
        assert "entity 'Ada' does not exist; create it with create_entities first" in result.content[0].text

        empty = await client.call_tool("lookup", {"name": ""})
        assert empty.is_error
        assert isinstance(empty.content[0], TextContent)
        assert "name must not be empty" in empty.content[0].text

        # The server keeps serving after an error.
        assert (await client.call_tool("chatty", {})).is_error is False


async def test_unexpected_errors_do_not_leak_their_text() -> None:
    async with Client(build()) as client:
        result = await client.call_tool("crash", {})
        assert result.is_error
        assert isinstance(result.content[0], TextContent)
        assert "internal detail" not in result.content[0].text


async def test_suite_error_in_a_prompt_is_an_invalid_params_error() -> None:
    async with Client(build()) as client:
        with pytest.raises(MCPError, match="unknown person 'Bob'; pass a known name") as caught:
            await client.get_prompt("greet", {"name": "Bob"})
        assert caught.value.error.code == -32602


async def test_logging_capability_and_set_level_filter_notifications() -> None:
    """Regression: MCPServer alone declared no logging capability and answered logging/setLevel with
    'Method not found' (conformance scenario logging-set-level)."""
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with Client(build(), mode="legacy", logging_callback=on_log) as client:
        assert client.server_capabilities.logging is not None
        await client.call_tool("chatty", {})
        assert [p.level for p in received] == ["debug", "info", "warning", "error"]

        received.clear()
        await client.set_logging_level("warning")
        await client.call_tool("chatty", {})
        assert [(p.level, p.data) for p in received] == [("warning", "warning message"), ("error", "error message")]
