"""The prompts server's pages in the web console: the registry (versions, labels, rollouts, label
history), the A/B readout per version, a side-by-side diff, a render preview, and the label and
rollout actions.

Everything goes through :class:`~mcp_suite.servers.prompts.service.PromptService` on a connection of
its own; before each page it picks up what other connections committed (the MCP endpoints, the
CLI), and the MCP endpoints pick up a label moved here the same way (their watcher polls
``PRAGMA data_version``).
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_suite.servers.prompts.records import VersionStats
from mcp_suite.servers.prompts.registry import Registry
from mcp_suite.servers.prompts.service import PromptService
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.servers.prompts.telemetry import Telemetry
from mcp_suite.servers.prompts.timeline import Timeline, timeline
from mcp_suite.servers.prompts.versioning import DEFAULT_LABEL
from mcp_suite.shared.console.web import BASE, Section, confirmed_action, error_page, render
from mcp_suite.shared.errors import InvalidInputError, NotFoundError, SuiteError

HISTORY_ROWS = 50
GOLDEN_RUNS = 3  # golden-case runs shown per version


@dataclass(frozen=True)
class DiffRow:
    """One line pair of a side-by-side diff: ``kind`` is equal, del, add or chg."""

    left: str | None
    right: str | None
    kind: str


def side_by_side(old: str, new: str) -> list[DiffRow]:
    a, b = old.splitlines(), new.splitlines()
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            rows.extend(DiffRow(a[i], b[j], "equal") for i, j in zip(range(i1, i2), range(j1, j2), strict=True))
            continue
        left, right = a[i1:i2], b[j1:j2]
        for index in range(max(len(left), len(right))):
            lhs = left[index] if index < len(left) else None
            rhs = right[index] if index < len(right) else None
            kind = "chg" if lhs is not None and rhs is not None else ("del" if rhs is None else "add")
            rows.append(DiffRow(lhs, rhs, kind))
    return rows


def parse_splits(text: str) -> dict[str, float]:
    """``"1.0.0=90, 1.1.0=10"`` → ``{"1.0.0": 90.0, "1.1.0": 10.0}``; empty text ends a rollout."""
    splits: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.replace("\n", ",").split(","))):
        version, sep, share = part.partition("=")
        try:
            splits[version.strip()] = float(share)
        except ValueError:
            raise InvalidInputError(
                f"cannot read {part!r}: write the split as VERSION=PERCENT pairs, e.g. '1.0.0=90, 1.1.0=10'"
            ) from None
        if not sep:
            raise InvalidInputError(f"cannot read {part!r}: write VERSION=PERCENT")
    return splits


@dataclass(frozen=True)
class BarChart:
    """One bar chart of the A/B readout: a value per version."""

    id: str
    title: str
    unit: str
    items: list[tuple[str, float | None]]
    digits: int = 1


@dataclass(frozen=True)
class LineChart:
    """One line chart of the readout over time: per version, a value per bucket (None where it had no runs)."""

    id: str
    title: str
    unit: str
    series: list[tuple[str, list[float | None]]]
    digits: int = 1


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def charts(stats: list[VersionStats]) -> list[BarChart]:
    """The A/B readout as bar charts, one bar per version."""
    return [
        BarChart("chart-runs", "Runs", "", [(s.version, s.runs) for s in stats], digits=0),
        BarChart("chart-p50", "Latency p50 (ms)", "", [(s.version, s.latency_p50_ms) for s in stats]),
        BarChart("chart-p95", "Latency p95 (ms)", "", [(s.version, s.latency_p95_ms) for s in stats]),
        BarChart("chart-cost", "Mean cost per run", "", [(s.version, s.mean_cost) for s in stats], digits=4),
        BarChart("chart-errors", "Error rate", "%", [(s.version, _pct(s.error_rate)) for s in stats]),
        BarChart("chart-approval", "Approval rate", "%", [(s.version, _pct(s.approval_rate)) for s in stats]),
    ]


def trends(line: Timeline) -> list[LineChart]:
    """The readout over time: one line per version, one point per day (or hour) with runs."""

    def series(pick: Callable[[VersionStats], float | None]) -> list[tuple[str, list[float | None]]]:
        return [(version, [None if s is None else pick(s) for s in stats]) for version, stats in line.series.items()]

    per = f"per {line.unit}"
    return [
        LineChart("trend-runs", f"Runs {per}", "", series(lambda s: s.runs), digits=0),
        LineChart("trend-p50", "Latency p50 (ms)", "", series(lambda s: s.latency_p50_ms)),
        LineChart("trend-p95", "Latency p95 (ms)", "", series(lambda s: s.latency_p95_ms)),
        LineChart("trend-cost", f"Cost {per}", "", series(lambda s: s.total_cost), digits=4),
        LineChart("trend-errors", "Error rate", "%", series(lambda s: _pct(s.error_rate))),
        LineChart("trend-approval", "Approval rate", "%", series(lambda s: _pct(s.approval_rate))),
    ]


@dataclass
class _Prompts:
    settings: PromptsSettings
    service: PromptService | None = None

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        registry = await Registry.open(self.settings.database)
        self.service = PromptService(
            registry,
            Telemetry(registry.storage),
            None,  # the console only reads the registry; the MCP endpoints own the library folder
            author=f"{self.settings.publisher} (console)",
            max_variable_chars=self.settings.max_variable_chars,
            max_output_chars=self.settings.max_output_chars,
        )
        await self.service.refresh()
        try:
            yield
        finally:
            await registry.close()
            self.service = None

    async def current(self) -> PromptService:
        service = self.service
        assert service is not None, "the console's lifespan opens the prompt registry"
        await service.refresh_if_changed_elsewhere()
        return service

    async def index(self, request: Request) -> Response:
        service = await self.current()
        rows = []
        for name in sorted(service.catalog):
            entry = service.catalog[name]
            rows.append({"entry": entry, "served": service.resolve(name)})
        return render(request, "prompts_index.html", {"rows": rows, "default_label": DEFAULT_LABEL})

    async def prompt(self, request: Request) -> Response:
        service = await self.current()
        name = request.query_params.get("name", "")
        try:
            entry = service.entry(name)
            history = (await service.label_history(name))[:HISTORY_ROWS]
            since = request.query_params.get("since") or None
            stats = await service.stats(name, since)
            line = await timeline(service.registry.storage, name, since)
            golden = await service.golden_runs(name, GOLDEN_RUNS)
        except SuiteError as exc:
            return error_page(request, str(exc), status=404 if isinstance(exc, NotFoundError) else 400)
        versions = service.versions(name)
        labels_of: dict[str, list[str]] = {}
        for label, version in entry.labels.items():
            labels_of.setdefault(version, []).append(label)
        newest = [v.version for v in versions][-2:]
        return render(
            request,
            "prompts_prompt.html",
            {
                "entry": entry,
                "versions": list(reversed(versions)),
                "labels_of": labels_of,
                "served": service.resolve(name),
                "history": history,
                "stats": stats,
                "charts": charts(stats) if stats else [],
                "timeline": line,
                "golden": golden,
                "trends": trends(line) if line.buckets else [],
                "since": request.query_params.get("since", ""),
                "diff_from": newest[0],
                "diff_to": newest[-1],
                "default_label": DEFAULT_LABEL,
            },
        )

    async def diff(self, request: Request) -> Response:
        service = await self.current()
        name = request.query_params.get("name", "")
        old, new = request.query_params.get("from", ""), request.query_params.get("to", "")
        try:
            entry = service.entry(name)
            for version in (old, new):
                service.resolve(name, version=version)
        except SuiteError as exc:
            return error_page(request, str(exc), status=404)
        rows = side_by_side(entry.versions[old].source_text, entry.versions[new].source_text)
        return render(
            request,
            "prompts_diff.html",
            {"entry": entry, "old": old, "new": new, "rows": rows, "changed": any(r.kind != "equal" for r in rows)},
        )

    async def preview(self, request: Request) -> Response:
        service = await self.current()
        params = request.query_params
        name = params.get("name", "")
        try:
            entry = service.entry(name)
            version = params.get("version") or service.resolve(name).version
            arguments = service.spec(name, service.resolve(name, version=version).version).input_variables
        except SuiteError as exc:
            return error_page(request, str(exc), status=404)
        values = {a.name: params[f"arg_{a.name}"] for a in arguments if params.get(f"arg_{a.name}")}
        rendered, problem = None, None
        if "go" in params:
            try:
                rendered = await service.render_async(name, values, version=version)
            except SuiteError as exc:
                problem = str(exc)
        return render(
            request,
            "prompts_preview.html",
            {
                "entry": entry,
                "version": version,
                "arguments": arguments,
                "values": values,
                "rendered": rendered,
                "problem": problem,
            },
        )

    async def move_label(self, request: Request) -> Response:
        service = await self.current()
        form = await request.form()
        name, label, version = (str(form.get(k, "")).strip() for k in ("name", "label", "version"))
        back = f"{BASE}/prompts/prompt?name={quote(name)}"
        current = service.catalog[name].labels.get(label) if name in service.catalog else None

        async def perform() -> str:
            previous = await service.set_label(name, label, version)
            return f"label '{label}' of {name} now points at {version}" + (f" (was {previous})" if previous else "")

        where = f"from version {current} " if current else ""
        return await confirmed_action(
            request,
            title=f"Move label '{label}'",
            describe=f"Point label '{label}' of prompt '{name}' {where}at version {version}? "
            "Hosts asking for this label get that version from now on.",
            perform=perform,
            back=back,
        )

    async def rollout(self, request: Request) -> Response:
        service = await self.current()
        form = await request.form()
        name, label, text = (str(form.get(k, "")).strip() for k in ("name", "label", "splits"))
        back = f"{BASE}/prompts/prompt?name={quote(name)}"
        try:
            splits = parse_splits(text)
        except InvalidInputError as exc:
            return error_page(request, str(exc))

        async def perform() -> str:
            clean = await service.set_rollout(name, label, splits)
            if not clean:
                return f"rollout of label '{label}' of {name} ended"
            return f"rollout of label '{label}' of {name}: " + ", ".join(f"{v} {w:g}%" for v, w in clean.items())

        shares = ", ".join(f"version {v}: {w:g}%" for v, w in splits.items())
        describe = (
            f"Split traffic for label '{label}' of prompt '{name}' as {shares} (sticky per subject)?"
            if splits
            else f"End the rollout of label '{label}' of prompt '{name}'? Everyone gets the label's own version again."
        )
        return await confirmed_action(
            request,
            title="Start a rollout" if splits else "End the rollout",
            describe=describe,
            perform=perform,
            back=back,
        )


def section(settings: PromptsSettings) -> Section:
    prompts = _Prompts(settings)
    return Section(
        name="prompts",
        title="Prompts",
        summary="Versions, labels, rollouts and label history; the A/B readout per version; diffs and render previews.",
        routes=[
            Route("/", prompts.index),
            Route("/prompt", prompts.prompt),
            Route("/diff", prompts.diff),
            Route("/preview", prompts.preview),
            Route("/label", prompts.move_label, methods=["POST"]),
            Route("/rollout", prompts.rollout, methods=["POST"]),
        ],
        templates=Path(__file__).with_name("console_templates"),
        lifespan=prompts.lifespan,
    )
