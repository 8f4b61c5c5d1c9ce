"""The protocol edge every server is built on.

:class:`SuiteServer` is the SDK's ``MCPServer`` with one addition: a :class:`SuiteError` raised by
domain code reaches the client as a tool error carrying its own message (the SDK would otherwise
hide the text of any exception it does not know), and it answers ``logging/setLevel`` so
handshake-era clients (Claude Desktop, the Inspector) see the logging capability it uses. Helpers
here send progress and log notifications without tying domain code to the SDK.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, EmptyResult, SetLevelRequestParams

from mcp_suite.shared.errors import SuiteError

log = logging.getLogger(__name__)

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
_LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_LEVEL_KEY = "mcp_suite.log_level"


def _connection_state(session: Any) -> dict[str, Any]:
    # The SDK hands handlers a per-request session; the level must outlive the request, so it goes
    # into the connection's own scratch state (absent on transports without one: then no filtering).
    state = getattr(getattr(session, "_connection", None), "state", None)
    return state if isinstance(state, dict) else {}


def _domain_cause(exc: BaseException) -> SuiteError | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, SuiteError):
            return cause
        cause = cause.__cause__
    return None


class SuiteServer(MCPServer[Any]):
    """``MCPServer`` whose tools, prompts and resources report domain errors verbatim.

    Tools answer with ``isError`` results; prompts and resources, which have no such result,
    answer with an invalid-params protocol error carrying the domain message.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # MCPServer registers no logging/setLevel handler, so it neither declares the logging
        # capability nor accepts the level clients set before they receive our log notifications.
        self._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, _set_log_level)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            domain = _domain_cause(exc)
            if domain is None:
                raise
            raise ToolError(f"Error executing tool {name}: {domain}") from domain

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        try:
            return await super().get_prompt(name, arguments, context)
        except Exception as exc:
            domain = _domain_cause(exc)
            if domain is None:
                raise
            raise MCPError(INVALID_PARAMS, str(domain)) from domain

    async def read_resource(self, uri: Any, context: Any = None) -> Any:
        try:
            return await super().read_resource(uri, context)
        except Exception as exc:
            domain = _domain_cause(exc)
            if domain is None:
                raise
            raise MCPError(INVALID_PARAMS, str(domain)) from domain


async def _set_log_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
    _connection_state(ctx.session)[_LEVEL_KEY] = params.level
    return EmptyResult()


def tool_error(message: str) -> CallToolResult:
    """A tool error result for the rare case a tool must return one instead of raising."""
    from mcp.types import TextContent

    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


async def notify_log(ctx: Context[Any, Any] | None, level: LogLevel, message: str) -> None:
    """Send an MCP log notification (and log to stderr); a no-op for clients that did not opt in."""
    log.log(logging.WARNING if level in ("warning", "error", "critical") else logging.INFO, message)
    if ctx is None:
        return
    with warnings.catch_warnings():
        # Deprecated from 2026-07-28 on, yet the only channel handshake-era hosts have.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        try:
            threshold = _connection_state(ctx.request_context.session).get(_LEVEL_KEY)
            if threshold in _LEVELS and _LEVELS.index(level) < _LEVELS.index(threshold):
                return  # below the level this client asked for with logging/setLevel
            await ctx.log(level, message)
        except Exception:  # a client that went away must not fail the work it asked for
            log.debug("could not deliver log notification", exc_info=True)


async def notify_progress(ctx: Context[Any, Any] | None, done: float, total: float | None, message: str = "") -> None:
    """Report progress when the client asked for it (it sent a progress token)."""
    if ctx is None:
        return
    try:
        await ctx.report_progress(done, total, message or None)
    except Exception:
        log.debug("could not deliver progress notification", exc_info=True)


__all__ = ["SuiteServer", "notify_log", "notify_progress", "tool_error"]
