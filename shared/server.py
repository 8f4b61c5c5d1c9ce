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
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    CallToolResult,
    EmptyResult,
    SetLevelRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from pydantic import ValidationError

from mcp_suite.shared.db import storage_error
from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.messages import format_validation_error, location
from mcp_suite.shared.sdk_adapter import connection_state, serve_method

log = logging.getLogger(__name__)

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
_LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_LEVEL_KEY = "mcp_suite.log_level"


_E = TypeVar("_E", bound=BaseException)


def _domain_cause(exc: BaseException) -> SuiteError | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, SuiteError):
            return cause
        translated = storage_error(cause)
        if translated is not None:
            return translated
        cause = cause.__cause__
    return None


def _cause_of_type(exc: BaseException, kind: type[_E]) -> _E | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, kind):
            return cause
        cause = cause.__cause__
    return None


# SQLite stores integers in 64 bits; a larger JSON number would fail deep in a query as an OverflowError.
_INT_LIMIT = 2**63 - 1


def argument_problem(arguments: Any, where: str = "") -> str | None:
    """The first argument no tool can use: a string with a NUL character or an integer beyond 64 bits.

    Checked at the edge for every tool and prompt, because both fail far from the caller otherwise: SQLite
    and FTS5 treat NUL as the end of a string (a name would be truncated) and reject huge integers.
    """
    if isinstance(arguments, str):
        if "\x00" in arguments:  # the wording memory's own name check uses for every control character
            position = arguments.index("\x00")
            return (
                f"{where or 'an argument'}: must not contain control characters (found U+0000 at position {position}); "
                "the NUL character would cut the text short, remove it"
            )
        return None
    if isinstance(arguments, bool):
        return None
    if isinstance(arguments, int) and not -_INT_LIMIT - 1 <= arguments <= _INT_LIMIT:
        return f"{where or 'an argument'}: {arguments} is out of range; numbers must be at most {_INT_LIMIT}"
    if isinstance(arguments, float) and (arguments != arguments or abs(arguments) > _INT_LIMIT):
        return f"{where or 'an argument'}: {arguments!r} is out of range; numbers must be at most {_INT_LIMIT}"
    if isinstance(arguments, dict):
        for key, value in arguments.items():
            problem = argument_problem(key, where) or argument_problem(value, location((*_path(where), key)))
            if problem:
                return problem
    elif isinstance(arguments, list | tuple):
        for index, value in enumerate(arguments):
            problem = argument_problem(value, location((*_path(where), index)))
            if problem:
                return problem
    return None


def _path(where: str) -> tuple[str, ...]:
    return (where,) if where else ()


ResourceHook = Callable[[dict[str, Any]], Iterable[str]]


class ResourceUpdates:
    """Delivers ``notifications/resources/updated`` to subscribers of both protocol eras.

    2026-07-28 clients subscribe with ``subscriptions/listen``: their streams are fed by the server's
    subscription bus (``MCPServer(subscriptions=…)``, public), which the SDK filters by URI. Handshake-era
    clients send ``resources/subscribe``; their sessions are kept here per URI and told directly. A session
    that can no longer be reached is dropped.
    """

    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._sessions: dict[str, list[Any]] = {}

    async def subscribe(self, ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        if not ctx.session.can_send_request:  # stateless HTTP: no channel outlives this request
            raise MCPError(
                INVALID_REQUEST,
                "resources/subscribe needs a session, and this server runs stateless HTTP (--stateless), where "
                "nothing reaches a client between its requests; read the resource again to see changes",
            )
        sessions = self._sessions.setdefault(str(params.uri), [])
        if ctx.session not in sessions:
            sessions.append(ctx.session)
        return EmptyResult()

    async def unsubscribe(self, ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        sessions = self._sessions.get(str(params.uri), [])
        if ctx.session in sessions:
            sessions.remove(ctx.session)
        return EmptyResult()

    def subscribed(self) -> list[str]:
        """URIs some handshake-era session subscribed to."""
        return [uri for uri, sessions in self._sessions.items() if sessions]

    async def updated(self, uris: Iterable[str]) -> None:
        """Tell every subscriber of each of ``uris`` that it changed (never raises: the change is done)."""
        for uri in dict.fromkeys(uris):
            try:
                await self.bus.publish(ResourceUpdated(uri=uri))
            except Exception:
                log.debug("could not publish the update of %s", uri, exc_info=True)
            for session in list(self._sessions.get(uri, [])):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # the host hung up: stop telling it
                    log.debug("dropping a subscriber of %s that no longer answers", uri, exc_info=True)
                    self._sessions[uri].remove(session)


class SuiteServer(MCPServer[Any]):
    """``MCPServer`` whose tools, prompts and resources report problems in words a caller can act on.

    Tools answer with ``isError`` results: domain errors verbatim, argument validation as one line per
    problem (:mod:`mcp_suite.shared.messages`), NUL characters and out-of-range numbers refused before the
    tool runs. Prompts and resources, which have no such result, answer with an invalid-params protocol
    error (-32602): unknown prompt, missing or invalid argument, domain error.
    """

    def __init__(self, *args: Any, resource_updates: bool = False, **kwargs: Any) -> None:
        """``resource_updates=True``: resource subscriptions are served in both eras and delivered for the
        URIs that :meth:`updates_resources` hooks name after each successful tool call."""
        self.resource_updates: ResourceUpdates | None = ResourceUpdates() if resource_updates else None
        if self.resource_updates is not None:
            kwargs.setdefault("subscriptions", self.resource_updates.bus)
        super().__init__(*args, **kwargs)
        self._resource_hooks: dict[str, ResourceHook] = {}
        # MCPServer registers no logging/setLevel handler, so it neither declares the logging
        # capability nor accepts the level clients set before they receive our log notifications.
        serve_method(self, "logging/setLevel", SetLevelRequestParams, _set_log_level)
        if self.resource_updates is not None:
            # Nor resources/subscribe: without it handshake-era hosts are told subscriptions are unsupported.
            updates = self.resource_updates
            serve_method(self, "resources/subscribe", SubscribeRequestParams, updates.subscribe)
            serve_method(self, "resources/unsubscribe", UnsubscribeRequestParams, updates.unsubscribe)

    def updates_resources(self, tools: Iterable[str], hook: ResourceHook) -> None:
        """After a successful call of any of ``tools``, ``hook(arguments)`` names the resource URIs it changed."""
        if self.resource_updates is None:
            raise ValueError("build the server with resource_updates=True to deliver resource updates")
        for tool in tools:
            self._resource_hooks[tool] = hook

    async def resources_updated(self, uris: Iterable[str]) -> None:
        """Tell subscribers that ``uris`` changed (for changes made outside a tool call, e.g. a watcher)."""
        if self.resource_updates is not None:
            await self.resource_updates.updated(uris)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None) -> Any:
        problem = argument_problem(arguments)
        if problem is not None:
            raise ToolError(f"Error executing tool {name}: {problem}")
        try:
            result = await super().call_tool(name, arguments, context)
            hook = self._resource_hooks.get(name)
            if hook is not None and not getattr(result, "is_error", False):
                await self.resources_updated(hook(arguments))
            return result
        except UnexpectedToolError as exc:
            domain = _domain_cause(exc)
            if domain is None:
                raise
            raise ToolError(f"Error executing tool {name}: {domain}") from domain
        except ToolError as exc:
            invalid = exc.__cause__
            if not isinstance(invalid, ValidationError):
                raise
            # Raised from the ValidationError itself: the SDK then logs the rejected field names only.
            raise ToolError(f"Error executing tool {name}: {format_validation_error(invalid)}") from invalid

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        problem = argument_problem(arguments or {})
        if problem is not None:
            raise MCPError(INVALID_PARAMS, f"prompt {name!r}: {problem}")
        try:
            return await super().get_prompt(name, arguments, context)
        except MCPError:
            raise
        except Exception as exc:
            raise await self._prompt_error(name, arguments or {}, exc) from exc

    async def _prompt_error(self, name: str, arguments: dict[str, Any], exc: Exception) -> Exception:
        """The -32602 error for a prompts/get the caller got wrong; the exception itself for a crash."""
        prompts = {prompt.name: prompt for prompt in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            known = ", ".join(sorted(prompts)) or "none"
            return MCPError(INVALID_PARAMS, f"unknown prompt {name!r}; this server's prompts are: {known}")
        missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in arguments]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            return MCPError(INVALID_PARAMS, f"prompt {name!r} needs the argument(s) {names}; they are required")
        domain = _domain_cause(exc)
        if domain is not None:
            return MCPError(INVALID_PARAMS, str(domain))
        invalid = _cause_of_type(exc, ValidationError)
        if invalid is not None:
            return MCPError(INVALID_PARAMS, f"prompt {name!r}: {format_validation_error(invalid)}")
        return exc

    async def read_resource(self, uri: Any, context: Any = None) -> Any:
        try:
            return await super().read_resource(uri, context)
        except Exception as exc:
            domain = _domain_cause(exc)
            if domain is None:
                raise
            raise MCPError(INVALID_PARAMS, str(domain), data={"uri": str(uri)}) from domain


async def _set_log_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
    connection_state(ctx.session)[_LEVEL_KEY] = params.level
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
            threshold = connection_state(ctx.request_context.session).get(_LEVEL_KEY)
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


__all__ = ["ResourceUpdates", "SuiteServer", "argument_problem", "notify_log", "notify_progress", "tool_error"]
