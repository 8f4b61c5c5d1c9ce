"""Change notifications of the prompts server: telling every connected host that the prompt list changed.

Handshake-era sessions (Claude Desktop, the Inspector) are remembered when they send
``notifications/initialized`` and get the notifications on their connection; a session that cannot
be reached any more is forgotten, and one that never could (stateless HTTP) is not remembered.
2026-07-28 clients get them — and ``notifications/resources/updated`` for the
``prompts://{name}/source`` and ``…/versions`` resources they subscribed to — through the server's
subscription bus (``subscriptions/listen``), which the server hands in through the SDK's public
``subscriptions=`` constructor argument.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

from mcp.server.subscriptions import SubscriptionBus
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

log = logging.getLogger(__name__)


class ChangeBroadcaster:
    """Sends list_changed (and warnings about broken files) to every connected host."""

    def __init__(self, bus: SubscriptionBus, on_client: Callable[[], None]) -> None:
        self._sessions: list[Any] = []
        self._bus = bus
        self._on_client = on_client
        self.resource_updates: Callable[[], list[str]] | None = None
        """Resource URIs changed since last asked (set once the service runs)."""

    async def middleware(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method != "initialize":
            self._on_client()  # a client is connected: load the registry and library now
        result = await call_next(ctx)
        if (
            ctx.method == "notifications/initialized"
            and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS
            and ctx.session.can_send_request  # False on stateless HTTP: nothing could reach it, keeping it would leak
        ):
            self._sessions.append(ctx.session)
        return result

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    async def prompts_changed(self, log_messages: list[str] | None = None, *, lists_changed: bool = True) -> None:
        """Send list_changed for prompts and resources (and ``log_messages`` as warnings to handshake-era hosts)."""
        if lists_changed:
            await self._bus.publish(PromptsListChanged())
            await self._bus.publish(ResourcesListChanged())
        # Subscribers of a resource (subscriptions/listen with resourceSubscriptions) hear that it changed.
        for uri in self.resource_updates() if self.resource_updates is not None else []:
            await self._bus.publish(ResourceUpdated(uri))
        for session in list(self._sessions):
            try:
                if lists_changed:
                    await session.send_prompt_list_changed()
                    await session.send_resource_list_changed()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    for message in log_messages or []:
                        await session.send_log_message("warning", message, logger="mcp-suite.prompts")
            except Exception:  # the host hung up, whatever the transport raised: stop telling it
                log.debug("dropping a session that no longer answers", exc_info=True)
                self._sessions.remove(session)
