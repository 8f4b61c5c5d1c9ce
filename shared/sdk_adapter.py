"""The only module that reaches past the MCP SDK's public API (``mcp`` 2.3, pinned ``>=2.3,<2.4``).

Each function here is one workaround for a hook the SDK does not offer publicly, with the version it
was written against and why it is needed. Everything else in ``shared/`` and ``servers/`` uses the
SDK's public surface only; ``tests/test_architecture.py`` fails on private SDK names anywhere else.
When the SDK grows a public hook for one of these, replace the function's body (or its callers)
and delete the workaround.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server import MCPServer
from mcp.server.lowlevel import NotificationOptions
from mcp.server.session import ServerSession
from pydantic import BaseModel

RequestHandler = Callable[[Any, Any], Awaitable[BaseModel]]


def serve_method(server: MCPServer[Any], method: str, params_type: type[BaseModel], handler: RequestHandler) -> None:
    """Answer ``method`` with ``handler(ctx, params)``, replacing any handler the SDK registered for it.

    mcp 2.3: ``MCPServer`` serves neither ``logging/setLevel`` nor ``resources/subscribe`` (so it does not
    declare the logging capability or resource subscriptions to handshake-era hosts), and its
    ``prompts/list`` ignores the cursor. The SDK's own ``MethodBinding`` docs send such methods to the
    low-level ``Server.add_request_handler`` (extensions may not bind spec methods), but ``MCPServer``
    keeps its low-level ``Server`` in the private ``_lowlevel_server`` with no public accessor.
    """
    server._lowlevel_server.add_request_handler(method, params_type, handler)


def announce_list_changed(server: MCPServer[Any], *, prompts: bool = False, resources: bool = False) -> None:
    """Declare ``listChanged`` for prompts and/or resources to handshake-era clients (``initialize``).

    mcp 2.3: the handshake-era capabilities come from the low-level ``Server.create_initialization_options``,
    which every transport (stdio, SSE, the Streamable HTTP runner, the in-memory ``Client``) calls with no
    ``NotificationOptions``, so ``listChanged`` is always false there; ``MCPServer`` takes no such option.
    The method is wrapped on this one server instance, private attribute included. (2026-07-28 clients are
    unaffected: their capabilities derive from ``subscriptions/listen``, which the server serves.)
    """
    low = server._lowlevel_server
    create = low.create_initialization_options
    wanted = NotificationOptions(prompts_changed=prompts, resources_changed=resources)

    def with_list_changed(notification_options: NotificationOptions | None = None, *args: Any, **kwargs: Any) -> Any:
        return create(notification_options or wanted, *args, **kwargs)

    low.create_initialization_options = with_list_changed  # type: ignore[method-assign]


def connection_state(session: ServerSession) -> dict[str, Any]:
    """The per-connection scratch dict (``Connection.state``, public) of the connection ``session`` belongs to.

    mcp 2.3: handlers get a new ``ServerSession`` per request; state that must outlive the request (the
    level a client set with ``logging/setLevel``) belongs on the connection, which the session holds in
    the private ``_connection`` and does not expose. An empty, throw-away dict when there is none.
    """
    state = getattr(getattr(session, "_connection", None), "state", None)
    return state if isinstance(state, dict) else {}


__all__ = ["announce_list_changed", "connection_state", "serve_method"]
