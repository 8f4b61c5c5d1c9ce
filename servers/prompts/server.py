"""MCP surface of the prompts server: the library as MCP prompts, registry tools, resources, completion.

Every prompt in the registry is an MCP prompt (``prompts/list``, ``prompts/get``) at the version
:meth:`PromptService.resolve` picks (``production`` label → library folder → latest). The list is
dynamic, so :class:`PromptsServer` answers ``prompts/list``/``prompts/get`` from the service
instead of registering SDK ``Prompt`` objects. When the library folder or a label changes,
connected hosts get ``notifications/prompts/list_changed``: handshake-era sessions (Claude Desktop,
the Inspector) directly, 2026-07-28 clients through ``subscriptions/listen``.

An application can steer ``prompts/get`` through the request's ``_meta``: ``mcp-suite/subject`` (a
stable caller key, to take part in a rollout), ``mcp-suite/label`` or ``mcp-suite/version`` (an
exact label or version; label ``draft`` for the draft). The result's ``_meta`` says which version
was served and why, and carries the prompt's ``output_schema`` when it has one.

The rest of the surface lives beside this module: tools in :mod:`.tools`, resources and completion
in :mod:`.resources`, result models in :mod:`.results`, change notifications in :mod:`.broadcast`,
the service's lifecycle in :mod:`.runtime`.
"""

from __future__ import annotations

import base64
import bisect
import logging
import time
from typing import TYPE_CHECKING, Any

from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    GetPromptResult,
    ListPromptsResult,
    PaginatedRequestParams,
    PromptArgument,
    PromptMessage,
    TextContent,
)
from mcp.types import Prompt as MCPPrompt

from mcp_suite import __version__
from mcp_suite.servers.prompts.broadcast import ChangeBroadcaster
from mcp_suite.servers.prompts.resources import register_completion, register_resources
from mcp_suite.servers.prompts.runtime import Runtime
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.servers.prompts.tools import register_tools
from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.sdk_adapter import announce_list_changed, serve_method
from mcp_suite.shared.server import SuiteServer

if TYPE_CHECKING:
    from mcp_suite.servers.prompts.records import PromptSummary
    from mcp_suite.servers.prompts.service import PromptService, Resolution

log = logging.getLogger(__name__)

CURSOR_PREFIX = "prompts-after:"
SUBJECT_META_KEY = "mcp-suite/subject"
LABEL_META_KEY = "mcp-suite/label"
VERSION_META_KEY = "mcp-suite/version"

INSTRUCTIONS = """\
A versioned prompt registry. Every prompt of the library is an MCP prompt (prompts/list,
prompts/get) served at its 'production' label, else the version in the library folder, else the
latest published. Tools: list_prompts (the same list, for hosts without MCP prompts),
list_versions, diff_versions, render_prompt (exact version or label, 'draft' for a draft, with a
subject key for rollouts), set_label, rollback, set_rollout, publish, record_run (cost computed
from the library's price table when omitted), prompt_stats (served counts, latency, tokens, cost,
error and approval rates per version), run_golden, check_library."""


# ── the server ───────────────────────────────────────────────────────────────────────────────


class PromptsServer(SuiteServer):
    """A :class:`SuiteServer` whose prompts come from the registry, version-resolved per request."""

    def __init__(self, settings: PromptsSettings) -> None:
        bus = InMemorySubscriptionBus()
        self.broadcaster = ChangeBroadcaster(bus, lambda: self.runtime.kick())
        self.runtime = Runtime(settings, self.broadcaster)
        self._listing: tuple[object, list[MCPPrompt]] | None = None
        super().__init__(
            "mcp-suite-prompts",
            title="mcp-suite prompt registry",
            version=__version__,
            instructions=INSTRUCTIONS,
            lifespan=self.runtime.lifespan,
            middleware=[self.broadcaster.middleware],
            subscriptions=bus,
        )
        # Handshake-era hosts only expect list_changed notifications when the capability says so.
        announce_list_changed(self, prompts=True, resources=True)
        # MCPServer (SDK 2.3) answers prompts/list with one page and ignores the cursor; serve pages instead.
        serve_method(self, "prompts/list", PaginatedRequestParams, self._list_prompts_page)
        self.page_size = settings.page_size

    async def _list_prompts_page(self, _ctx: Any, params: PaginatedRequestParams | None) -> ListPromptsResult:
        """One page of prompts/list, by name; the cursor is the last name of the previous page (so a page
        boundary survives prompts being added or removed between calls)."""
        prompts = await self.list_prompts()
        start = 0
        if params is not None and params.cursor is not None:
            after = _decode_cursor(params.cursor)
            start = bisect.bisect_right([p.name for p in prompts], after)
        page = prompts[start : start + self.page_size]
        more = start + self.page_size < len(prompts)
        return ListPromptsResult(prompts=page, next_cursor=_encode_cursor(page[-1].name) if more and page else None)

    async def service(self) -> PromptService:
        """The running service, once the library has loaded."""
        return await self.runtime.service()

    async def list_prompts(self) -> list[MCPPrompt]:
        service = await self.service()
        served = service.served()
        cached = self._listing
        if cached is None or cached[0] is not served:  # served() returns a new list after every change
            cached = self._listing = (served, [_mcp_prompt(item.resolution, item.summary) for item in served])
        return cached[1]

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None, context: Any = None) -> Any:
        started = time.perf_counter()
        service = await self.service()
        meta = _request_meta(context)
        try:
            rendered = await service.render_async(
                name,
                arguments or {},
                version=_text(meta.get(VERSION_META_KEY)),
                label=_text(meta.get(LABEL_META_KEY)),
                subject=_text(meta.get(SUBJECT_META_KEY)),
            )
        except SuiteError as exc:
            raise MCPError(INVALID_PARAMS, str(exc)) from exc
        service.count_served(rendered.resolution)
        result = GetPromptResult(
            description=rendered.spec.description or None,
            messages=[
                # MCP prompts carry user and assistant turns only; a system message travels as the first user turn.
                PromptMessage(role="assistant" if role == "assistant" else "user", content=TextContent(text=content))
                for role, content in rendered.messages
            ],
            _meta=_resolution_meta(rendered.resolution, rendered.warnings, rendered.spec.output_schema),
        )
        log.debug(
            "prompts/get %s served %s (%s) in %.3f ms",
            name,
            rendered.resolution.version,
            rendered.resolution.source,
            (time.perf_counter() - started) * 1000,
        )
        return result


def _encode_cursor(name: str) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{name}".encode()).decode("ascii")


def _decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        text = ""
    if not text.startswith(CURSOR_PREFIX):
        raise MCPError(INVALID_PARAMS, f"invalid cursor {cursor[:100]!r}: pass the nextCursor of a prompts/list answer")
    return text.removeprefix(CURSOR_PREFIX)


def _request_meta(context: Any) -> dict[str, Any]:
    try:
        meta = context.request_context.meta
    except (AttributeError, ValueError):  # no request (called in process)
        return {}
    return meta if isinstance(meta, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _resolution_meta(
    resolution: Resolution, warnings_: list[str], output_schema: dict[str, Any] | None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "mcp-suite/version": resolution.version,
        "mcp-suite/servedBecause": resolution.reason,
        "mcp-suite/source": resolution.source,
    }
    if resolution.label:
        meta["mcp-suite/label"] = resolution.label
    if resolution.bucket is not None:
        meta["mcp-suite/bucket"] = resolution.bucket
    if warnings_:
        meta["mcp-suite/warnings"] = warnings_
    if output_schema is not None:
        meta["mcp-suite/outputSchema"] = output_schema
    return meta


def _mcp_prompt(resolution: Resolution, summary: PromptSummary) -> MCPPrompt:
    arguments = []
    for variable in summary.arguments:
        description = variable.description
        if variable.enum:
            description = (description + " " if description else "") + f"(one of: {', '.join(variable.enum)})"
        if variable.default is not None:
            description = (description + " " if description else "") + f"(default: {variable.default})"
        arguments.append(
            PromptArgument(name=variable.name, description=description or None, required=variable.required)
        )
    return MCPPrompt(
        name=resolution.name,
        title=summary.title,
        description=summary.description or None,
        arguments=arguments,
        _meta={"mcp-suite/version": resolution.version, "mcp-suite/servedBecause": resolution.reason},
    )


def build_server(settings: PromptsSettings) -> PromptsServer:
    """The prompts server over ``settings``: the registry's prompts, its tools, resources and completion."""
    server = PromptsServer(settings)
    register_tools(server)
    register_resources(server)
    register_completion(server)
    return server
