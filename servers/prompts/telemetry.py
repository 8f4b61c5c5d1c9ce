"""Run telemetry of prompt versions: what each served version cost, how fast and how good it was.

``record_run`` stores one model call made with a prompt version (latency, tokens, cost, optional
quality score, user feedback and error). ``prompt_stats`` reads the runs of one prompt since a
point in time and puts its versions side by side (p50/p95 latency, mean tokens, total cost, error
rate, approval rate): the A/B readout that decides a promotion. When enabled, each run is also
exported as an OpenTelemetry span (the ``opentelemetry-api`` package the SDK already depends on;
spans go wherever the user's OpenTelemetry SDK setup sends them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mcp_suite.servers.prompts.records import VersionStats
from mcp_suite.servers.prompts.versioning import version_key
from mcp_suite.shared.db import Database, Migration
from mcp_suite.shared.errors import InvalidInputError

Feedback = Literal["positive", "negative"]

MIGRATIONS = [
    Migration(
        "0101_prompt_runs",
        """
        CREATE TABLE prompt_runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost REAL NOT NULL,
            quality_score REAL,
            feedback TEXT CHECK (feedback IN ('positive', 'negative')),
            error TEXT,
            subject TEXT
        );
        CREATE INDEX prompt_runs_by_name ON prompt_runs (name, recorded_at);
        """,
    ),
]


@dataclass(frozen=True)
class Run:
    name: str
    version: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost: float
    quality_score: float | None = None
    feedback: Feedback | None = None
    error: str | None = None
    subject: str | None = None


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

    def __init__(self, db: Database, *, otel: bool = False, tracer: Any = None) -> None:
        self.db = db
        self._tracer: Any = tracer if tracer is not None else (_tracer() if otel else None)

    def annotate_render(self, name: str, version: str, source: str) -> None:
        """Tag the current request's span (the SDK opens one per request) with the version served."""
        if self._tracer is None:
            return
        from opentelemetry import trace

        span = trace.get_current_span()
        span.set_attribute("prompt.name", name)
        span.set_attribute("prompt.version", version)
        span.set_attribute("prompt.served_because", source)

    async def record_run(self, run: Run) -> int:
        from mcp_suite.servers.prompts.registry import now

        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO prompt_runs (name, version, recorded_at, latency_ms, input_tokens, output_tokens, cost, "
                "quality_score, feedback, error, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.name,
                    run.version,
                    now(),
                    run.latency_ms,
                    run.input_tokens,
                    run.output_tokens,
                    run.cost,
                    run.quality_score,
                    run.feedback,
                    run.error,
                    run.subject,
                ),
            )
            run_id = int(cursor.lastrowid or 0)
        if self._tracer is not None:
            self._export(run)
        return run_id

    async def prompt_stats(self, name: str, since: str | None = None) -> list[VersionStats]:
        start = parse_since(since)
        query = (
            "SELECT version, latency_ms, input_tokens, output_tokens, cost, quality_score, feedback, error "
            "FROM prompt_runs WHERE name = ?"
        )
        params: tuple[str, ...] = (name,)
        if start is not None:
            query += " AND recorded_at >= ?"
            params = (name, start)
        async with self.db.snapshot() as conn, conn.execute(query, params) as cur:
            rows = await cur.fetchall()
        by_version: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_version.setdefault(row["version"], []).append(dict(row))
        return [summarise(version, by_version[version]) for version in sorted(by_version, key=version_key)]

    def _export(self, run: Run) -> None:
        assert self._tracer is not None
        with self._tracer.start_as_current_span("prompt.run") as span:
            span.set_attribute("prompt.name", run.name)
            span.set_attribute("prompt.version", run.version)
            span.set_attribute("prompt.latency_ms", run.latency_ms)
            span.set_attribute("gen_ai.usage.input_tokens", run.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", run.output_tokens)
            span.set_attribute("prompt.cost", run.cost)
            if run.quality_score is not None:
                span.set_attribute("prompt.quality_score", run.quality_score)
            if run.feedback is not None:
                span.set_attribute("prompt.feedback", run.feedback)
            if run.error is not None:
                span.set_attribute("error.type", run.error[:200])


def summarise(version: str, rows: list[dict[str, Any]]) -> VersionStats:
    """Per-version figures over a list of run rows (as stored)."""
    latencies = [float(r["latency_ms"]) for r in rows]
    errors = sum(1 for r in rows if r["error"])
    rated = [r["feedback"] for r in rows if r["feedback"] is not None]
    scores = [float(r["quality_score"]) for r in rows if r["quality_score"] is not None]
    total_cost = sum(float(r["cost"]) for r in rows)
    n = len(rows)
    return VersionStats(
        version=version,
        runs=n,
        errors=errors,
        error_rate=errors / n if n else 0.0,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
        mean_input_tokens=sum(int(r["input_tokens"]) for r in rows) / n if n else None,
        mean_output_tokens=sum(int(r["output_tokens"]) for r in rows) / n if n else None,
        total_cost=total_cost,
        mean_cost=total_cost / n if n else None,
        mean_quality_score=sum(scores) / len(scores) if scores else None,
        rated_runs=len(rated),
        approval_rate=sum(1 for f in rated if f == "positive") / len(rated) if rated else None,
    )


def _tracer() -> Any:
    from opentelemetry import trace

    configure_export()
    return trace.get_tracer("mcp-suite.prompts")


def configure_export() -> str:
    """Send spans somewhere when the user asked for OpenTelemetry; returns where (also logged).

    A provider configured by the user (``opentelemetry-instrument``, their own code) wins. Otherwise
    the OpenTelemetry SDK and its OTLP exporter are used when installed (``pip install
    opentelemetry-sdk opentelemetry-exporter-otlp``; ``OTEL_EXPORTER_OTLP_ENDPOINT`` etc. apply); the
    suite does not depend on them, so without them spans are dropped and a warning says so.
    """
    import logging

    from opentelemetry import trace

    log = logging.getLogger(__name__)
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return "the OpenTelemetry tracer provider configured in this process"
    try:
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
