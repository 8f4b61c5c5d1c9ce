"""Run telemetry of prompt versions: how often each was served, what it cost, how fast and how good it was.

Serving is counted for free: every ``prompts/get`` and ``render_prompt`` adds one to an in-memory
counter per (prompt, version, label, how it was chosen, hour) — a dictionary update, nothing on the
request path touches the database — and :meth:`Telemetry.flush` writes the counters in one
transaction, from a background task about once a second and when the server stops.

``record_run`` stores one model call made with a prompt version (latency, tokens, cost — or the
model, from which a library price table computes it — optional quality score, user feedback and
error). ``prompt_stats`` reads the runs of one prompt since a
point in time and puts its versions side by side (p50/p95 latency, mean tokens, total cost, error
rate, approval rate): the A/B readout that decides a promotion. When enabled, each run is also
exported as an OpenTelemetry span (the ``opentelemetry-api`` package the SDK already depends on;
spans go wherever the user's OpenTelemetry SDK setup sends them).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from mcp_suite.servers.prompts.records import VersionStats, now
from mcp_suite.servers.prompts.storage.base import Feedback, GoldenRun, PromptStorage, Run, RunRow
from mcp_suite.servers.prompts.versioning import version_key
from mcp_suite.shared.errors import InvalidInputError

log = logging.getLogger(__name__)

__all__ = ["Feedback", "GoldenRun", "Run", "Telemetry", "parse_since", "percentile", "summarise"]

GOLDEN_STATUSES = ("passed", "failed", "error", "rendered", "not run")


class GoldenCase(Protocol):
    """What :meth:`Telemetry.record_golden` needs of a golden case's result."""

    @property
    def prompt(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def status(self) -> str: ...


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(since: str | None, *, now: datetime | None = None) -> str | None:
    """``24h``, ``7d``, ``30m`` … or an ISO 8601 time → the UTC timestamp runs are compared against."""
    if since is None or not since.strip():
        return None
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(since)
    if match:
        start = now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    else:
        try:
            start = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(
                f"since '{since}' is neither a duration (30m, 24h, 7d, 2w) nor an ISO 8601 time"
            ) from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Telemetry:
    """Stores runs in the registry's database and summarises them per version."""

    def __init__(self, storage: PromptStorage, *, otel: bool = False, tracer: Any = None) -> None:
        self.storage = storage
        self._tracer: Any = tracer if tracer is not None else (_tracer() if otel else None)
        self._served: dict[tuple[str, str, str, str, int], int] = {}

    def count_served(self, name: str, version: str, via: str, label: str | None) -> None:
        """One more serve of ``name``:``version`` (in memory; :meth:`flush` stores it)."""
        key = (name, version, label or "", via, int(time.time()) // 3600)
        self._served[key] = self._served.get(key, 0) + 1

    @property
    def unflushed(self) -> int:
        return sum(self._served.values())

    async def flush(self) -> int:
        """Store the counted serves in one transaction; returns how many. Kept for the next flush if it fails."""
        pending, self._served = self._served, {}
        if not pending:
            return 0
        try:
            await self.storage.add_serves(
                {(n, v, label, via, _hour(h)): c for (n, v, label, via, h), c in pending.items()}
            )
        except BaseException:
            for key, count in pending.items():
                self._served[key] = self._served.get(key, 0) + count
            raise
        return sum(pending.values())

    def annotate_render(self, name: str, version: str, source: str) -> None:
        """Tag the current request's span (the SDK opens one per request) with the version served."""
        if self._tracer is None:
            return
        from opentelemetry import trace  # loads only when --otel is on

        span = trace.get_current_span()
        span.set_attribute("prompt.name", name)
        span.set_attribute("prompt.version", version)
        span.set_attribute("prompt.served_because", source)

    async def record_run(self, run: Run) -> int:
        run_id = await self.storage.insert_run(run, now())
        if self._tracer is not None:
            self._export(run)
        return run_id

    async def record_golden(self, mode: str, cases: Sequence[GoldenCase]) -> list[GoldenRun]:
        """Store a golden-case run in one transaction: a row per prompt version with its cases per status."""
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for case in cases:
            per = counts.setdefault((case.prompt, case.version), dict.fromkeys(GOLDEN_STATUSES, 0))
            per[case.status] += 1
        at = now()
        runs = [
            GoldenRun(name, version, at, mode, c["passed"], c["failed"], c["error"], c["rendered"], c["not run"])
            for (name, version), c in counts.items()
        ]
        if runs:
            await self.storage.insert_golden_runs(runs)
        return runs

    async def golden_runs(self, name: str, per_version: int = 5) -> dict[str, list[GoldenRun]]:
        """The newest ``per_version`` golden-case runs of each version of ``name``, newest first."""
        rows = await self.storage.golden_runs(name)
        result: dict[str, list[GoldenRun]] = {}
        for row in rows:
            mine = result.setdefault(row.version, [])
            if len(mine) < per_version:
                mine.append(row)
        return result

    async def prompt_stats(self, name: str, since: str | None = None) -> list[VersionStats]:
        """Per-version runs and serves of ``name`` since ``since`` (serves are counted per hour)."""
        await self.flush()
        start = parse_since(since)
        rows = await self.storage.runs(name, start)
        served_rows = await self.storage.serves(name, None if start is None else start[:13])
        by_version: dict[str, list[RunRow]] = {}
        for row in rows:
            by_version.setdefault(row.version, []).append(row)
        served: dict[str, dict[str, int]] = {}
        for count in served_rows:
            via = f"{count.via}:{count.label}" if count.label else count.via
            served.setdefault(count.version, {})[via] = served.get(count.version, {}).get(via, 0) + count.count
        versions = sorted(set(by_version) | set(served), key=version_key)
        return [summarise(v, by_version.get(v, []), served.get(v, {})) for v in versions]

    def _export(self, run: Run) -> None:
        assert self._tracer is not None
        with self._tracer.start_as_current_span("prompt.run") as span:
            span.set_attribute("prompt.name", run.name)
            span.set_attribute("prompt.version", run.version)
            span.set_attribute("prompt.latency_ms", run.latency_ms)
            span.set_attribute("gen_ai.usage.input_tokens", run.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", run.output_tokens)
            if run.cost is not None:
                span.set_attribute("prompt.cost", run.cost)
            if run.quality_score is not None:
                span.set_attribute("prompt.quality_score", run.quality_score)
            if run.feedback is not None:
                span.set_attribute("prompt.feedback", run.feedback)
            if run.error is not None:
                span.set_attribute("error.type", run.error[:200])


def summarise(version: str, rows: list[RunRow], served: dict[str, int] | None = None) -> VersionStats:
    """Per-version figures over a list of run rows (as stored) and the version's serve counts."""
    latencies = [float(r.latency_ms) for r in rows]
    errors = sum(1 for r in rows if r.error)
    rated = [r.feedback for r in rows if r.feedback is not None]
    scores = [float(r.quality_score) for r in rows if r.quality_score is not None]
    costs = [float(r.cost) for r in rows if r.cost is not None]
    total_cost = sum(costs)
    n = len(rows)
    return VersionStats(
        version=version,
        served=sum((served or {}).values()),
        served_via=dict(sorted((served or {}).items())),
        runs=n,
        errors=errors,
        error_rate=errors / n if n else 0.0,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        mean_input_tokens=sum(int(r.input_tokens) for r in rows) / n if n else None,
        mean_output_tokens=sum(int(r.output_tokens) for r in rows) / n if n else None,
        total_cost=total_cost,
        priced_runs=len(costs),
        mean_cost=total_cost / len(costs) if costs else None,
        mean_quality_score=sum(scores) / len(scores) if scores else None,
        rated_runs=len(rated),
        approval_rate=sum(1 for f in rated if f == "positive") / len(rated) if rated else None,
    )


def _tracer() -> Any:
    from opentelemetry import trace  # loads only when --otel is on

    configure_export()
    return trace.get_tracer("mcp-suite.prompts")


def configure_export() -> str:
    """Send spans somewhere when the user asked for OpenTelemetry; returns where (also logged).

    A provider configured by the user (``opentelemetry-instrument``, their own code) wins. Otherwise
    the OpenTelemetry SDK and its OTLP exporter are used when installed (``pip install
    opentelemetry-sdk opentelemetry-exporter-otlp``; ``OTEL_EXPORTER_OTLP_ENDPOINT`` etc. apply); the
    suite does not depend on them, so without them spans are dropped and a warning says so.
    """
    from opentelemetry import trace  # loads only when --otel is on

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return "the OpenTelemetry tracer provider configured in this process"
    try:  # optional packages the suite does not depend on
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        message = (
            "--otel is on but no OpenTelemetry SDK is configured or installed, so spans are dropped; "
            "pip install opentelemetry-sdk opentelemetry-exporter-otlp (or run under opentelemetry-instrument)"
        )
        log.warning(message)
        return "nowhere (" + message + ")"
    provider = TracerProvider(resource=Resource.create({"service.name": "mcp-suite-prompts"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    log.info("exporting OpenTelemetry spans over OTLP/HTTP")
    return "OTLP/HTTP (OTEL_EXPORTER_OTLP_* settings)"


def _hour(hours_since_epoch: int) -> str:
    """The hour bucket as the prefix of the ISO timestamps runs are stored with (``2026-05-01T13``)."""
    return datetime.fromtimestamp(hours_since_epoch * 3600, UTC).strftime("%Y-%m-%dT%H")
