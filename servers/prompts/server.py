"""MCP surface of the prompts server: the library as MCP prompts, registry tools, resources, completion.

Every prompt in the registry is an MCP prompt (``prompts/list``, ``prompts/get``) at the version
:meth:`PromptService.resolve` picks (``production`` label → library folder → latest). The list is
dynamic, so :class:`PromptsServer` answers ``prompts/list``/``prompts/get`` from the service
instead of registering SDK ``Prompt`` objects. When the library folder or a label changes,
connected hosts get ``notifications/prompts/list_changed``: handshake-era sessions (Claude Desktop,
the Inspector) directly, 2026-07-28 clients through ``subscriptions/listen``.

An application can steer ``prompts/get`` through the request's ``_meta``: ``mcp-suite/subject`` (a
stable caller key, to take part in a rollout), ``mcp-suite/label`` or ``mcp-suite/version`` (an
exact label or version). The result's ``_meta`` says which version was served and why.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.lowlevel import NotificationOptions
from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    GetPromptResult,
    PromptArgument,
    PromptMessage,
    PromptReference,
    ResourceTemplateReference,
    TextContent,
    ToolAnnotations,
)
from mcp.types import Prompt as MCPPrompt
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.servers.prompts.versioning import DEFAULT_LABEL, LABEL_PATTERN
from mcp_suite.shared.errors import InvalidInputError, SuiteError
from mcp_suite.shared.server import SuiteServer, notify_log

if TYPE_CHECKING:
    from mcp_suite.servers.prompts.service import PromptService, Resolution, SyncReport

log = logging.getLogger(__name__)

SUBJECT_META_KEY = "mcp-suite/subject"
LABEL_META_KEY = "mcp-suite/label"
VERSION_META_KEY = "mcp-suite/version"

INSTRUCTIONS = """\
A versioned prompt registry. Every prompt of the library is an MCP prompt (prompts/list,
prompts/get) served at its 'production' label, else the version in the library folder, else the
latest published. Tools: list_versions, diff_versions, render_prompt (exact version or label,
with a subject key for rollouts), set_label, rollback, set_rollout, publish, record_run,
prompt_stats (per-version latency, tokens, cost, error and approval rates), run_golden,
check_library."""


# ── change notifications ─────────────────────────────────────────────────────────────────────


class ChangeBroadcaster:
    """Tells every connected host that the prompt list changed.

    Handshake-era sessions are remembered when they send ``notifications/initialized`` and get the
    notification on their connection; a session that cannot be reached any more is forgotten.
    2026-07-28 clients get it through the server's subscription bus (``subscriptions/listen``).
    """

    def __init__(self) -> None:
        self._sessions: list[Any] = []
        self.server: PromptsServer | None = None

    async def middleware(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method != "initialize" and self.server is not None:
            self.server.runtime.kick()  # a client is connected: load the registry and library now
        result = await call_next(ctx)
        if ctx.method == "notifications/initialized" and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._sessions.append(ctx.session)
        return result

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    async def prompts_changed(self, log_messages: list[str] | None = None, *, lists_changed: bool = True) -> None:
        """Send list_changed for prompts and resources (and ``log_messages`` as warnings to handshake-era hosts)."""
        if lists_changed and self.server is not None:
            bus = self.server._subscriptions
            await bus.publish(PromptsListChanged())
            await bus.publish(ResourcesListChanged())
        for session in list(self._sessions):
            try:
                if lists_changed:
                    await session.send_prompt_list_changed()
                    await session.send_resource_list_changed()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    for message in log_messages or []:
                        await session.send_log_message("warning", message, logger="mcp-suite.prompts")
            except Exception:  # the host hung up: stop telling it
                log.debug("dropping a session that no longer answers", exc_info=True)
                self._sessions.remove(session)


# ── runtime shared by the connections of one server object ───────────────────────────────────


@dataclass
class PromptsState:
    runtime: _Runtime
    settings: PromptsSettings


STARTUP_GRACE = 0.5
"""Seconds the registry and library load waits for a client to finish its handshake before going ahead."""


class _Runtime:
    """The service behind the server: opened once, however many lifespans share the server object.

    The registry and the library are loaded in the background after the first client is connected
    (its ``notifications/initialized``, or its first request on the 2026-07-28 protocol), so
    ``initialize`` is answered as fast as by a bare server; requests that need prompts wait for the
    load (:meth:`service`).
    """

    def __init__(self, settings: PromptsSettings, broadcaster: ChangeBroadcaster) -> None:
        self.settings = settings
        self.broadcaster = broadcaster
        self._service: PromptService | None = None
        self._users = 0
        self._lock = anyio.Lock()
        self._kicked: anyio.Event | None = None
        self._opened: anyio.Event | None = None

    def kick(self) -> None:
        """A client is here: start loading now rather than after the grace period."""
        if self._kicked is not None:
            self._kicked.set()

    async def service(self) -> PromptService:
        """The service, once the registry and the library folder are loaded."""
        if self._opened is None:
            raise InvalidInputError("the prompts server is not running")
        self.kick()
        await self._opened.wait()
        service = self._service
        assert service is not None
        await service.ready.wait()
        return service

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[PromptsState]:
        async with self._lock:
            first = self._users == 0
            if first:
                self._kicked, self._opened = anyio.Event(), anyio.Event()
            self._users += 1
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._background, first)
                try:
                    yield PromptsState(self, self.settings)
                finally:
                    group.cancel_scope.cancel()
        finally:
            # Shielded: at shutdown this runs in a cancelled scope, and a database left open would have its
            # worker thread report to a closed event loop ("RuntimeError: Event loop is closed").
            with anyio.CancelScope(shield=True):
                async with self._lock:
                    self._users -= 1
                    if self._users == 0:
                        if self._service is not None:
                            await self._service.registry.close()
                        self._service = self._opened = self._kicked = None

    async def _background(self, first: bool) -> None:
        assert self._kicked is not None and self._opened is not None
        if first:
            with anyio.move_on_after(STARTUP_GRACE):
                await self._kicked.wait()
            self._service = service = await self._open()
            self._opened.set()
            report = await service.start()
            if report.new_errors:
                await self._changed(report)
        else:
            service = await self.service()
        if self.settings.watch_interval > 0:
            from mcp_suite.servers.prompts.watcher import watch

            await watch(service, self.settings.watch_interval, self._changed)

    async def _open(self) -> PromptService:
        # Imported here, after the handshake: they are not needed to answer `initialize`.
        from mcp_suite.servers.prompts.library import Library
        from mcp_suite.servers.prompts.registry import Registry
        from mcp_suite.servers.prompts.service import PromptService
        from mcp_suite.servers.prompts.telemetry import Telemetry

        settings = self.settings
        registry = await Registry.open(settings.database_path)
        return PromptService(
            registry,
            Telemetry(registry.db, otel=settings.otel),
            Library(settings.library) if settings.library is not None else None,
            author=settings.publisher,
            max_variable_chars=settings.max_variable_chars,
            max_output_chars=settings.max_output_chars,
        )

    async def _changed(self, report: SyncReport) -> None:
        if report.published:
            log.info("published from the library: %s", ", ".join(report.published))
        await self.broadcaster.prompts_changed(report.new_errors, lists_changed=report.served_changed)


# ── the server ───────────────────────────────────────────────────────────────────────────────


class PromptsServer(SuiteServer):
    """A :class:`SuiteServer` whose prompts come from the registry, version-resolved per request."""

    def __init__(self, settings: PromptsSettings) -> None:
        self.broadcaster = ChangeBroadcaster()
        self.runtime = _Runtime(settings, self.broadcaster)
        self._listing: tuple[object, list[MCPPrompt]] | None = None
        super().__init__(
            "mcp-suite-prompts",
            instructions=INSTRUCTIONS,
            lifespan=self.runtime.lifespan,
            middleware=[self.broadcaster.middleware],
        )
        self.broadcaster.server = self
        # Handshake-era hosts only expect list_changed notifications when the capability says so.
        low = self._lowlevel_server
        create = low.create_initialization_options

        def with_list_changed(notification_options: Any = None, *args: Any, **kwargs: Any) -> Any:
            options = notification_options or NotificationOptions(prompts_changed=True, resources_changed=True)
            return create(options, *args, **kwargs)

        low.create_initialization_options = with_list_changed  # type: ignore[method-assign]

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
        service.telemetry.annotate_render(name, rendered.resolution.version, rendered.resolution.source)
        result = GetPromptResult(
            description=rendered.spec.description or None,
            messages=[
                # MCP prompts carry user and assistant turns only; a system message travels as the first user turn.
                PromptMessage(role="assistant" if role == "assistant" else "user", content=TextContent(text=content))
                for role, content in rendered.messages
            ],
            _meta=_resolution_meta(rendered.resolution, rendered.warnings),
        )
        log.debug(
            "prompts/get %s served %s (%s) in %.3f ms",
            name,
            rendered.resolution.version,
            rendered.resolution.source,
            (time.perf_counter() - started) * 1000,
        )
        return result


def _request_meta(context: Any) -> dict[str, Any]:
    try:
        meta = context.request_context.meta
    except (AttributeError, ValueError):  # no request (called in process)
        return {}
    return meta if isinstance(meta, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _resolution_meta(resolution: Resolution, warnings_: list[str]) -> dict[str, Any]:
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
    return meta


def _mcp_prompt(resolution: Resolution, summary: dict[str, Any]) -> MCPPrompt:
    arguments = []
    for variable in summary["arguments"]:
        description = variable.get("description") or ""
        if variable.get("enum"):
            description = (description + " " if description else "") + f"(one of: {', '.join(variable['enum'])})"
        if variable.get("default") is not None:
            description = (description + " " if description else "") + f"(default: {variable['default']})"
        arguments.append(
            PromptArgument(name=variable["name"], description=description or None, required=variable["required"])
        )
    return MCPPrompt(
        name=resolution.name,
        description=summary.get("description") or None,
        arguments=arguments,
        _meta={"mcp-suite/version": resolution.version, "mcp-suite/servedBecause": resolution.reason},
    )


# ── tool results ─────────────────────────────────────────────────────────────────────────────


class VersionInfo(BaseModel):
    version: str
    content_hash: str
    author: str
    published_at: str
    source_file: str | None
    labels: list[str] = Field(description="labels pointing at this version")


class LabelMove(BaseModel):
    label: str
    version: str
    previous_version: str | None
    action: Literal["set", "rollback"]
    rolled_back: bool = Field(description="a later rollback undid this move")
    at: str
    author: str


class Served(BaseModel):
    version: str
    reason: str = Field(description="why this version answers prompts/get")


class VersionList(BaseModel):
    name: str
    served: Served
    versions: list[VersionInfo]
    labels: dict[str, str] = Field(description="label → version")
    rollouts: dict[str, dict[str, float]] = Field(description="label → {version: percent}")
    label_history: list[LabelMove] = Field(description="the last 20 label moves, oldest first")


class VersionDiff(BaseModel):
    name: str
    from_version: str
    to_version: str
    identical: bool
    template_diff: str = Field(description="unified diff of the template/messages")
    settings_diff: str = Field(description="unified diff of description, tags, execution settings and variables")


class LabelResult(BaseModel):
    name: str
    label: str
    version: str
    previous_version: str | None


class RollbackResult(BaseModel):
    name: str
    label: str
    from_version: str
    to_version: str


class RolloutResult(BaseModel):
    name: str
    label: str
    label_version: str = Field(description="what the label points at (served to callers without a subject key)")
    splits: dict[str, float] = Field(description="version → percent of subjects; empty: no rollout")


class RenderedMessage(BaseModel):
    role: str
    content: str


class RenderResultModel(BaseModel):
    name: str
    version: str
    source: Literal["version", "label", "rollout", "library", "latest"]
    reason: str = Field(description="why this version was served")
    label: str | None = None
    bucket: int | None = Field(None, description="the subject's rollout bucket (0-9999) when a split decided")
    messages: list[RenderedMessage]
    warnings: list[str] = Field(description="likely prompt-injection phrases found in the variables")
    execution_settings: dict[str, Any]


class PublishResult(BaseModel):
    folder: str
    published: list[str] = Field(description="name:version newly stored")
    unchanged: list[str] = Field(description="name:version already published with the same content")


class RecordedRun(BaseModel):
    id: int
    name: str
    version: str


class VersionStatsModel(BaseModel):
    version: str
    runs: int
    errors: int
    error_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    total_cost: float
    mean_cost: float | None
    mean_quality_score: float | None
    rated_runs: int
    approval_rate: float | None


class StatsResult(BaseModel):
    name: str
    since: str | None
    versions: list[VersionStatsModel]


class GoldenCaseModel(BaseModel):
    version: str
    case: str
    status: Literal["passed", "failed", "error", "rendered"]
    output: str | None = None
    error: str | None = None
    failed_assertions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class GoldenVersionModel(BaseModel):
    version: str
    cases: int
    passed: int


class GoldenResult(BaseModel):
    name: str
    mode: Literal["model", "render-only"]
    why_mode: str
    passed: bool
    versions: list[GoldenVersionModel]
    cases: list[GoldenCaseModel]


class ProblemModel(BaseModel):
    file: str
    line: int | None
    severity: str
    message: str


class LibraryStatus(BaseModel):
    folder: str | None
    watching: bool
    prompts_served: int
    broken_files: list[ProblemModel] = Field(
        description="files on disk not served (their last good version stays live) and why"
    )
    problems: list[ProblemModel] = Field(default_factory=list, description="findings of the library check")


# ── building the server ──────────────────────────────────────────────────────────────────────

NameArg = Annotated[str, Field(min_length=1, max_length=200, description="prompt name, as in prompts/list")]
VersionArg = Annotated[str, Field(min_length=1, max_length=64, description="a published version, e.g. '2'")]
LabelArg = Annotated[
    str, Field(pattern=LABEL_PATTERN, description="label name: production, staging or any custom label")
]


def _state(ctx: Context[Any, Any]) -> PromptsState:
    state: PromptsState = ctx.request_context.lifespan_context
    return state


async def _service(ctx: Context[Any, Any]) -> PromptService:
    return await _state(ctx).runtime.service()


def build_server(settings: PromptsSettings) -> PromptsServer:
    server = PromptsServer(settings)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    async def list_versions(name: NameArg, ctx: Context[Any, Any]) -> VersionList:
        """Every published version of a prompt with its author, time and content hash; the labels (production,
        staging …) and rollouts; the version prompts/get serves and why; recent label moves."""
        service = await _service(ctx)
        entry = service.entry(name)
        resolution = service.resolve(name)
        history = await service.label_history(name)
        by_version: dict[str, list[str]] = {}
        for label, version in entry.labels.items():
            by_version.setdefault(version, []).append(label)
        return VersionList(
            name=name,
            served=Served(version=resolution.version, reason=resolution.reason),
            versions=[
                VersionInfo(
                    version=v.version,
                    content_hash=v.content_hash,
                    author=v.author,
                    published_at=v.published_at,
                    source_file=v.source_file,
                    labels=sorted(by_version.get(v.version, [])),
                )
                for v in entry.ordered_versions()
            ],
            labels=dict(sorted(entry.labels.items())),
            rollouts=entry.rollouts,
            label_history=[
                LabelMove(
                    label=h.label,
                    version=h.version,
                    previous_version=h.previous_version,
                    action=h.action,  # type: ignore[arg-type]
                    rolled_back=h.reverted,
                    at=h.at,
                    author=h.author,
                )
                for h in history[-20:]
            ],
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    async def diff_versions(
        name: NameArg, from_version: VersionArg, to_version: VersionArg, ctx: Context[Any, Any]
    ) -> VersionDiff:
        """Unified diff between two published versions of a prompt: the template (or messages), and the
        settings (description, tags, execution settings, input variables). Use before promoting a version."""
        service = await _service(ctx)
        template_diff, settings_diff = service.diff(name, from_version, to_version)
        return VersionDiff(
            name=name,
            from_version=from_version,
            to_version=to_version,
            identical=not template_diff and not settings_diff,
            template_diff=template_diff,
            settings_diff=settings_diff,
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True))
    async def set_label(name: NameArg, label: LabelArg, version: VersionArg, ctx: Context[Any, Any]) -> LabelResult:
        """Point a label at a published version, e.g. promote version 2 to 'production' (prompts/get then serves
        it to every host). The move is recorded, so rollback can undo it; a rollout on the label ends."""
        service = await _service(ctx)
        previous = await service.set_label(name, label, version)
        await server.broadcaster.prompts_changed()
        await notify_log(ctx, "info", f"label {label} of {name} now points at version {version} (was {previous})")
        return LabelResult(name=name, label=label, version=version, previous_version=previous)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False))
    async def rollback(name: NameArg, ctx: Context[Any, Any], label: LabelArg = DEFAULT_LABEL) -> RollbackResult:
        """Move a label back to the version it pointed at before its last move (default label: production).
        Calling it again goes one more step back. Ends any rollout on the label."""
        service = await _service(ctx)
        before, after = await service.rollback(name, label)
        await server.broadcaster.prompts_changed()
        await notify_log(ctx, "warning", f"rolled back label {label} of {name} from version {before} to {after}")
        return RollbackResult(name=name, label=label, from_version=before, to_version=after)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True))
    async def set_rollout(
        name: NameArg,
        splits: Annotated[
            dict[str, float],
            Field(description="version → percent of subjects, adding up to 100, e.g. {'1': 90, '2': 10}; {} ends it"),
        ],
        ctx: Context[Any, Any],
        label: LabelArg = DEFAULT_LABEL,
    ) -> RolloutResult:
        """Split a label's traffic between versions for a safe rollout (e.g. 90 % version 1, 10 % version 2).
        Each caller-provided subject key always gets the same version (sha256 bucket); callers without a subject
        key keep getting the label's version. Compare the versions with prompt_stats, then set_label the winner."""
        service = await _service(ctx)
        clean = await service.set_rollout(name, label, splits)
        await server.broadcaster.prompts_changed()
        return RolloutResult(name=name, label=label, label_version=service.entry(name).labels[label], splits=clean)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    async def render_prompt(
        name: NameArg,
        ctx: Context[Any, Any],
        variables: Annotated[
            dict[str, Any], Field(description="values of the prompt's input variables (see prompts/list)")
        ] = {},  # noqa: B006 - pydantic copies defaults
        version: Annotated[str | None, Field(description="an exact published version")] = None,
        label: Annotated[str | None, Field(description="a label such as staging (instead of version)")] = None,
        subject: Annotated[
            str | None, Field(max_length=500, description="a stable caller key (user id …) for sticky rollouts")
        ] = None,
    ) -> RenderResultModel:
        """Render a prompt exactly: a given version or label (default: what prompts/get serves), with its
        variables. Returns the messages, the injection warnings, the execution settings, and which version was
        served and why (label, rollout bucket, library file or latest)."""
        service = await _service(ctx)
        rendered = await service.render_async(name, variables, version=version, label=label, subject=subject)
        r = rendered.resolution
        service.telemetry.annotate_render(name, r.version, r.source)
        return RenderResultModel(
            name=name,
            version=r.version,
            source=r.source,  # type: ignore[arg-type]
            reason=r.reason,
            label=r.label,
            bucket=r.bucket,
            messages=[RenderedMessage(role=role, content=content) for role, content in rendered.messages],
            warnings=rendered.warnings,
            execution_settings=rendered.spec.execution_settings.model_dump(mode="json", exclude_none=True),
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True))
    async def publish(ctx: Context[Any, Any]) -> PublishResult:
        """Snapshot the library folder into the registry now, all or nothing: new versions are stored, unchanged
        ones are no-ops, and a file whose content changed without a version bump fails the publish (bump it).
        The server also publishes the folder by itself on start and whenever a file changes."""
        state = _state(ctx)
        service = await _service(ctx)
        folder = state.settings.library
        if folder is None:
            raise InvalidInputError("no library folder is configured (start the server with --library DIR)")
        outcome = await service.publish_folder(folder)
        if outcome.published:
            await server.broadcaster.prompts_changed()
        return PublishResult(
            folder=str(folder),
            published=[f"{i.name}:{i.version}" for i in outcome.published],
            unchanged=[f"{i.name}:{i.version}" for i in outcome.unchanged],
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False))
    async def record_run(
        name: NameArg,
        version: VersionArg,
        latency_ms: Annotated[float, Field(ge=0, le=86_400_000, description="model call latency in ms")],
        input_tokens: Annotated[int, Field(ge=0, le=100_000_000)],
        output_tokens: Annotated[int, Field(ge=0, le=100_000_000)],
        cost: Annotated[float, Field(ge=0, le=1_000_000, description="cost of the call, in your currency")],
        ctx: Context[Any, Any],
        quality_score: Annotated[float | None, Field(ge=0, le=1, description="0..1 quality score")] = None,
        feedback: Annotated[
            Literal["positive", "negative"] | None, Field(description="the user's verdict (approval rate)")
        ] = None,
        error: Annotated[str | None, Field(max_length=2000, description="what went wrong, if the call failed")] = None,
        subject: Annotated[str | None, Field(max_length=500)] = None,
    ) -> RecordedRun:
        """Record one model call made with a prompt version (the version render_prompt / prompts/get reported):
        latency, tokens, cost, and optionally a quality score, user feedback or an error. prompt_stats reads these."""
        from mcp_suite.servers.prompts.telemetry import Run

        service = await _service(ctx)
        run_id = await service.record_run(
            Run(name, version, latency_ms, input_tokens, output_tokens, cost, quality_score, feedback, error, subject)
        )
        return RecordedRun(id=run_id, name=name, version=version)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    async def prompt_stats(
        name: NameArg,
        ctx: Context[Any, Any],
        since: Annotated[
            str | None, Field(max_length=64, description="a duration (30m, 24h, 7d, 2w) or ISO time; default: all")
        ] = None,
    ) -> StatsResult:
        """Per-version telemetry of a prompt side by side: runs, p50/p95 latency, mean input/output tokens, total
        and mean cost, error rate, mean quality score and approval rate. The A/B readout before a promotion."""
        service = await _service(ctx)
        stats = await service.stats(name, since)
        return StatsResult(
            name=name, since=since, versions=[VersionStatsModel.model_validate(s.__dict__) for s in stats]
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=False, open_world_hint=True))
    async def run_golden(
        name: NameArg,
        ctx: Context[Any, Any],
        versions: Annotated[
            list[str] | None, Field(description="versions to compare (default: the served one)", max_length=20)
        ] = None,
        mode: Annotated[
            Literal["auto", "render-only"],
            Field(description="auto: ask the host's model through MCP sampling when it supports it"),
        ] = "auto",
    ) -> GoldenResult:
        """Run a prompt's golden cases (inputs + assertions) per version, through the host's own model via MCP
        sampling when the client supports it, otherwise render-only (every case must render). Compare versions
        before promoting one."""
        from mcp_suite.servers.prompts.golden import run_golden as run_cases

        service = await _service(ctx)
        wanted = versions or [service.resolve(name).version]
        specs = [service.spec(name, service.resolve(name, version=v).version) for v in wanted]
        complete, why = _sampling(ctx) if mode == "auto" else (None, "render-only was asked for")
        report = await run_cases(specs, complete, concurrency=2)
        return GoldenResult(
            name=name,
            mode=report.mode,
            why_mode=why,
            passed=report.passed,
            versions=[GoldenVersionModel(version=v.version, cases=v.cases, passed=v.passed) for v in report.versions],
            cases=[
                GoldenCaseModel(
                    version=c.version,
                    case=c.case,
                    status=c.status,
                    output=c.output,
                    error=c.error,
                    failed_assertions=[a.message for a in c.assertions if not a.passed],
                    warnings=c.warnings,
                )
                for c in report.cases
            ],
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False))
    async def check_library(ctx: Context[Any, Any]) -> LibraryStatus:
        """Health of the library folder: files that are broken on disk (with file and line; their last good
        version stays live) and the findings of the library check (templates that do not compile, variables used
        but not declared or declared but unused, duplicate versions)."""
        state = _state(ctx)
        service = await _service(ctx)
        status = _library_status(state, service)
        if state.settings.library is not None and state.settings.library.is_dir():
            from mcp_suite.servers.prompts.checking import check_library as check

            report = await anyio.to_thread.run_sync(check, state.settings.library)
            status.problems = [
                ProblemModel(file=p.file, line=p.line, severity=p.severity, message=p.message) for p in report.problems
            ]
        return status

    # -- resources ---------------------------------------------------------------------------------

    @server.resource("prompts://library/status", mime_type="application/json")
    async def library_status() -> str:
        """Which library folder is served, how many prompts, and which files are broken (file:line)."""
        service = await server.service()
        return _library_status(PromptsState(server.runtime, settings), service).model_dump_json(indent=2)

    @server.resource("prompts://{name}/source", mime_type="application/yaml")
    async def prompt_source(name: str) -> str:
        """The YAML source of the version of a prompt that prompts/get serves."""
        service = await server.service()
        resolution = service.resolve(name)
        return service.entry(name).versions[resolution.version].source_text

    @server.resource("prompts://{name}/versions/{version}/source", mime_type="application/yaml")
    async def version_source(name: str, version: str) -> str:
        """The YAML source of one published version of a prompt."""
        service = await server.service()
        service.resolve(name, version=version)
        return service.entry(name).versions[version].source_text

    @server.resource("prompts://{name}/versions", mime_type="application/json")
    async def version_list(name: str) -> str:
        """The published versions of a prompt, its labels, rollouts and the served version."""
        service = await server.service()
        entry = service.entry(name)
        resolution = service.resolve(name)
        return json.dumps(
            {
                "name": name,
                "served": {"version": resolution.version, "reason": resolution.reason},
                "versions": [
                    {
                        "version": v.version,
                        "content_hash": v.content_hash,
                        "author": v.author,
                        "published_at": v.published_at,
                        "source_file": v.source_file,
                    }
                    for v in entry.ordered_versions()
                ],
                "labels": entry.labels,
                "rollouts": entry.rollouts,
            },
            indent=2,
        )

    # -- completion --------------------------------------------------------------------------------

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        service = await server.service()
        value = argument.value or ""
        if isinstance(ref, PromptReference):
            values = service.completions(ref.name, argument.name, value)
        elif isinstance(ref, ResourceTemplateReference):
            if argument.name == "name":
                values = service.names(value)
            elif argument.name == "version":
                known = (context.arguments or {}).get("name") if context is not None else None
                entry = service.catalog.get(known or "")
                values = [v.version for v in entry.ordered_versions() if v.version.startswith(value)] if entry else []
            else:
                values = []
        else:
            return None
        return Completion(values=values, total=len(values), has_more=False)

    return server


def _library_status(state: PromptsState, service: PromptService) -> LibraryStatus:
    broken = [
        ProblemModel(file=error.path, line=issue.line, severity="error", message=issue.message)
        for error in service.library_errors()
        for issue in error.issues
    ]
    library = state.settings.library
    return LibraryStatus(
        folder=str(library) if library is not None else None,
        watching=library is not None and state.settings.watch_interval > 0,
        prompts_served=len(service.served()),
        broken_files=broken,
    )


def _sampling(ctx: Context[Any, Any]) -> tuple[Any, str]:
    """A completion function over MCP sampling when the client offers it, else (None, why not)."""
    session = ctx.request_context.session
    if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return None, "render-only: sampling requests are not available on 2026-07-28 connections"
    capabilities = session.client_capabilities
    if capabilities is None or capabilities.sampling is None:
        return None, "render-only: the client does not offer MCP sampling"

    from mcp.types import ModelHint, ModelPreferences, SamplingMessage

    from mcp_suite.servers.prompts.golden import CompletionError

    async def complete(messages: list[Any], settings: Any) -> str:
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
