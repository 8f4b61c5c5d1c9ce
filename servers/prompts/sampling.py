"""The host's own model as a golden-case completion function, through MCP sampling.

Golden cases run through a *completion function* (:data:`mcp_suite.servers.prompts.golden.Complete`);
this module builds one over ``sampling/createMessage`` when the connected client offers sampling.
"""

from __future__ import annotations

import warnings
from typing import Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.types import ModelHint, ModelPreferences, SamplingMessage, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_suite.servers.prompts.golden import Complete, CompletionError
from mcp_suite.servers.prompts.spec import ExecutionSettings, PromptMessage


def host_model(ctx: Context[Any, Any]) -> tuple[Complete | None, str]:
    """A completion function over MCP sampling when the client offers it, else (None, why not)."""
    session = ctx.request_context.session
    if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return None, "render-only: sampling requests are not available on 2026-07-28 connections"
    if not session.can_send_request:
        return None, "render-only: stateless HTTP (--stateless) has no channel for sampling requests"
    capabilities = session.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        return None, "render-only: the client does not offer MCP sampling"

    async def complete(messages: list[PromptMessage], settings: ExecutionSettings) -> str:
        system = "\n\n".join(m.content for m in messages if m.role == "system") or None
        turns = [
            SamplingMessage(role="assistant" if m.role == "assistant" else "user", content=TextContent(text=m.content))
            for m in messages
            if m.role != "system"
        ]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                result = await session.create_message(
                    turns,
                    max_tokens=settings.max_tokens or 1024,
                    system_prompt=system,
                    temperature=settings.temperature,
                    model_preferences=ModelPreferences(hints=[ModelHint(name=settings.model)])
                    if settings.model
                    else None,
                )
        except MCPError as exc:
            raise CompletionError(f"the host's model refused the sampling request: {exc}") from exc
        content = result.content
        if not isinstance(content, TextContent):
            raise CompletionError(f"the host's model answered with {content.type} content, not text")
        return content.text

    return complete, "model: the host's model through MCP sampling"
