"""The prompts server's tools, registered on a :class:`~mcp_suite.servers.prompts.server.PromptsServer`.

Part of the MCP surface: each tool validates its arguments (typed parameters), asks the service,
and returns a pydantic result (:mod:`mcp_suite.servers.prompts.results`); the docstrings are
written for the model that picks a tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import (
    ToolAnnotations,
)
from pydantic import Field

from mcp_suite.servers.prompts.resources import library_status
from mcp_suite.servers.prompts.results import (
    AssertionModel,
    DraftInfo,
    GoldenCaseModel,
    GoldenResult,
    GoldenVersionModel,
    LabelMove,
    LabelResult,
    LibraryStatus,
    ProblemModel,
    PromptList,
    PromptListing,
    PublishResult,
    RecordedRun,
    RenderedMessage,
    RenderResultModel,
    RollbackResult,
    RolloutResult,
    Served,
    StatsResult,
    VersionDiff,
    VersionInfo,
    VersionList,
)
from mcp_suite.servers.prompts.runtime import PromptsState
from mcp_suite.servers.prompts.versioning import DEFAULT_LABEL, LABEL_PATTERN
from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.server import notify_log

if TYPE_CHECKING:
    from mcp_suite.servers.prompts.golden import GoldenReport
    from mcp_suite.servers.prompts.server import PromptsServer
    from mcp_suite.servers.prompts.service import PromptService


NameArg = Annotated[str, Field(min_length=1, max_length=200, description="prompt name, as in prompts/list")]
VersionArg = Annotated[str, Field(min_length=1, max_length=64, description="a published version, e.g. '2'")]
ForceArg = Annotated[
    bool,
    Field(description="move the label even though some callers' calls will be refused (argument contracts differ)"),
]
LabelArg = Annotated[
    str, Field(pattern=LABEL_PATTERN, description="label name: production, staging or any custom label")
]


def _state(ctx: Context[Any, Any]) -> PromptsState:
    state: PromptsState = ctx.request_context.lifespan_context
    return state


async def _service(ctx: Context[Any, Any]) -> PromptService:
    return await _state(ctx).runtime.service()


def register_tools(server: PromptsServer) -> None:
    """Every tool of the prompts server."""
    _register_version_tools(server)
    _register_label_tools(server)
    _register_discovery_tools(server)
    _register_serving_tools(server)
    _register_telemetry_tools(server)
    _register_quality_tools(server)


def _register_version_tools(server: PromptsServer) -> None:
    """Tools that read the registry: versions, labels, diffs."""

    @server.tool(
        title="List a prompt's versions",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
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
            draft=DraftInfo(
                version=entry.draft.version,
                content_hash=entry.draft.content_hash,
                saved_at=entry.draft.published_at,
                source_file=entry.draft.source_file,
            )
            if entry.draft
            else None,
            labels=dict(sorted(entry.labels.items())),
            rollouts=entry.rollouts,
            label_history=[
                LabelMove(
                    label=h.label,
                    version=h.version,
                    previous_version=h.previous_version,
                    action=h.action,
                    rolled_back=h.reverted,
                    at=h.at,
                    author=h.author,
                )
                for h in history[-20:]
            ],
        )

    @server.tool(
        title="Diff two prompt versions",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
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


def _register_label_tools(server: PromptsServer) -> None:
    """Tools that move labels and rollouts."""

    @server.tool(
        title="Point a label at a version",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def set_label(
        name: NameArg, label: LabelArg, version: VersionArg, ctx: Context[Any, Any], force: ForceArg = False
    ) -> LabelResult:
        """Point a label at a published version, e.g. promote version 2 to 'production' (prompts/get then serves
        it to every host). The move is recorded, so rollback can undo it; a rollout on the label ends. Refused when
        the version requires a variable the label's callers need not send, or rejects one they may send."""
        service = await _service(ctx)
        previous = await service.set_label(name, label, version, force=force)
        await server.broadcaster.prompts_changed()
        await notify_log(ctx, "info", f"label {label} of {name} now points at version {version} (was {previous})")
        return LabelResult(name=name, label=label, version=version, previous_version=previous)

    @server.tool(
        title="Roll a label back",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def rollback(
        name: NameArg, ctx: Context[Any, Any], label: LabelArg = DEFAULT_LABEL, force: ForceArg = False
    ) -> RollbackResult:
        """Move a label back to the version it pointed at before its last move (default label: production).
        Calling it again goes one more step back. Ends any rollout on the label. Refused, like set_label, when the
        earlier version would not take the calls the label's callers make now."""
        service = await _service(ctx)
        before, after = await service.rollback(name, label, force=force)
        await server.broadcaster.prompts_changed()
        await notify_log(ctx, "warning", f"rolled back label {label} of {name} from version {before} to {after}")
        return RollbackResult(name=name, label=label, from_version=before, to_version=after)

    @server.tool(
        title="Split a label's traffic",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
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
        key keep getting the label's version. Compare the versions with prompt_stats, then set_label the winner.
        Every version of the split must take the calls the label's callers make (same required variables)."""
        service = await _service(ctx)
        clean = await service.set_rollout(name, label, splits)
        await server.broadcaster.prompts_changed()
        return RolloutResult(name=name, label=label, label_version=service.entry(name).labels[label], splits=clean)


def _register_discovery_tools(server: PromptsServer) -> None:
    """list_prompts: discovery for hosts that do not surface MCP prompts."""

    @server.tool(
        title="List the prompts",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_prompts(
        ctx: Context[Any, Any],
        query: Annotated[
            str | None, Field(max_length=200, description="only prompts whose name, title or description has this")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 100,
        offset: Annotated[int, Field(ge=0, le=1_000_000)] = 0,
    ) -> PromptList:
        """The prompts this server serves — name, title, description, arguments, output schema and the version
        served — for hosts that do not show MCP prompts: pick one here, then render it with render_prompt."""
        service = await _service(ctx)
        wanted = (query or "").casefold()
        matches = [
            item
            for item in service.served()
            if not wanted
            or wanted in f"{item.resolution.name}\n{item.summary.title or ''}\n{item.summary.description}".casefold()
        ]
        page = matches[offset : offset + limit]
        return PromptList(
            prompts=[
                PromptListing(
                    name=item.resolution.name,
                    title=item.summary.title,
                    description=item.summary.description,
                    version=item.resolution.version,
                    served_because=item.resolution.reason,
                    arguments=item.summary.arguments,
                    output_schema=item.summary.output_schema,
                )
                for item in page
            ],
            total=len(matches),
            next_offset=offset + limit if offset + limit < len(matches) else None,
        )


def _register_serving_tools(server: PromptsServer) -> None:
    """Tools that render and publish prompts."""

    @server.tool(
        title="Render a prompt",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
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
        service.count_served(r)
        return RenderResultModel(
            name=name,
            version=r.version,
            source=r.source,
            reason=r.reason,
            label=r.label,
            bucket=r.bucket,
            messages=[RenderedMessage(role=role, content=content) for role, content in rendered.messages],
            warnings=rendered.warnings,
            execution_settings=rendered.spec.execution_settings.model_dump(mode="json", exclude_none=True),
            output_schema=rendered.spec.output_schema,
        )

    @server.tool(
        title="Publish the library",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
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


def _register_telemetry_tools(server: PromptsServer) -> None:
    """Tools that record and read run telemetry."""

    @server.tool(
        title="Record a model call",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def record_run(
        name: NameArg,
        version: VersionArg,
        latency_ms: Annotated[float, Field(ge=0, le=86_400_000, description="model call latency in ms")],
        input_tokens: Annotated[int, Field(ge=0, le=100_000_000)],
        output_tokens: Annotated[int, Field(ge=0, le=100_000_000)],
        ctx: Context[Any, Any],
        cost: Annotated[
            float | None,
            Field(ge=0, le=1_000_000, description="cost of the call; omit it to compute it from the price table"),
        ] = None,
        model: Annotated[
            str | None, Field(max_length=200, description="model called (default: the version's model)")
        ] = None,
        quality_score: Annotated[float | None, Field(ge=0, le=1, description="0..1 quality score")] = None,
        feedback: Annotated[
            Literal["positive", "negative"] | None, Field(description="the user's verdict (approval rate)")
        ] = None,
        error: Annotated[str | None, Field(max_length=2000, description="what went wrong, if the call failed")] = None,
        subject: Annotated[str | None, Field(max_length=500)] = None,
    ) -> RecordedRun:
        """Record one model call made with a prompt version (the version render_prompt / prompts/get reported):
        latency, tokens, and optionally cost (else computed from the library's price table for the model), a quality
        score, user feedback or an error. prompt_stats reads these next to the served counts."""
        from mcp_suite.servers.prompts.telemetry import Run  # storage modules load after the handshake

        service = await _service(ctx)
        run_id, run = await service.record_run(
            Run(
                name,
                version,
                latency_ms,
                input_tokens,
                output_tokens,
                cost,
                quality_score,
                feedback,
                error,
                subject,
                model,
            )
        )
        return RecordedRun(id=run_id, name=name, version=version, model=run.model, cost=run.cost)

    @server.tool(
        title="Per-version prompt stats",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
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
        return StatsResult(name=name, since=since, versions=[*stats])


def _register_quality_tools(server: PromptsServer) -> None:
    """Tools that test and check the library."""

    @server.tool(
        title="Run golden cases",
        # Not read-only: each run's counts per version are stored for the console.
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
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
        sampling when the client supports it (which also judges rubric assertions), otherwise render-only: every
        case must render, and cases whose assertions need an output are reported 'not run'. Compare versions
        before promoting one; 'draft' names the prompt's draft. Each version's counts are stored."""
        # Golden cases (templates, graders, the embedder) load on the first run, not at start-up.
        from mcp_suite.servers.prompts.golden import run_golden as run_cases
        from mcp_suite.servers.prompts.sampling import host_model

        service = await _service(ctx)
        wanted = versions or [service.resolve(name).version]
        specs = [service.golden_spec(name, v) for v in wanted]
        complete, why = host_model(ctx) if mode == "auto" else (None, "render-only was asked for")
        report = await run_cases(specs, complete, concurrency=2)
        await service.record_golden(report.mode, report.cases)
        return _golden_result(name, report, why)

    @server.tool(
        title="Check the library",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def check_library(ctx: Context[Any, Any]) -> LibraryStatus:
        """Health of the library folder: files that are broken on disk (with file and line; their last good
        version stays live) and the findings of the library check (templates that do not compile, variables used
        but not declared or declared but unused, duplicate versions)."""
        state = _state(ctx)
        service = await _service(ctx)
        status = library_status(state.settings, service)
        if state.settings.library is not None and state.settings.library.is_dir():
            from mcp_suite.servers.prompts.checking import check_library as check  # loads the spec modules

            report = await anyio.to_thread.run_sync(check, state.settings.library)
            status.problems = [
                ProblemModel(file=p.file, line=p.line, severity=p.severity, message=p.message) for p in report.problems
            ]
        return status


def _golden_result(name: str, report: GoldenReport, why: str) -> GoldenResult:
    """The protocol shape of a golden run's report."""
    return GoldenResult(
        name=name,
        mode=report.mode,
        why_mode=why,
        passed=report.passed,
        failed=report.failed,
        counts=report.counts,
        versions=[
            GoldenVersionModel(version=v.version, cases=v.cases, passed=v.passed, failed=v.failed, not_run=v.not_run)
            for v in report.versions
        ],
        cases=[
            GoldenCaseModel(
                version=c.version,
                case=c.case,
                status=c.status,
                output=c.output,
                error=c.error,
                failed_assertions=[a.message for a in c.assertions if not a.passed],
                assertions=[AssertionModel(kind=a.kind, passed=a.passed, message=a.message) for a in c.assertions],
                warnings=c.warnings,
            )
            for c in report.cases
        ],
    )
