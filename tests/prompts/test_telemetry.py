"""Run telemetry: what record_run stores and the per-version figures prompt_stats computes."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_suite.servers.prompts.telemetry import Run, Telemetry, parse_since, percentile
from mcp_suite.shared.errors import InvalidInputError, StorageError
from tests.prompts.serving import open_registry, rows

ON_BOTH_ENGINES = pytest.mark.usefixtures("database_url")


def test_percentile_interpolates_like_numpy() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_parse_since() -> None:
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert parse_since("24h", now=now) == "2026-01-09T12:00:00.000000Z"
    assert parse_since("7d", now=now) == "2026-01-03T12:00:00.000000Z"
    assert parse_since("30m", now=now) == "2026-01-10T11:30:00.000000Z"
    assert parse_since("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.000000Z"
    assert parse_since("2026-01-01") == "2026-01-01T00:00:00.000000Z"
    assert parse_since(None) is None
    with pytest.raises(InvalidInputError, match="neither a duration"):
        parse_since("last tuesday")


@pytest.mark.anyio
@ON_BOTH_ENGINES
async def test_stats_side_by_side(tmp_path: Path) -> None:
    registry = await open_registry(tmp_path)
    telemetry = Telemetry(registry.storage)
    try:
        for i in range(1, 11):  # v1: latencies 100..1000, one error, 3 of 4 rated positive
            await telemetry.record_run(
                Run(
                    "Greet",
                    "1",
                    latency_ms=100.0 * i,
                    input_tokens=100,
                    output_tokens=10 * i,
                    cost=0.01,
                    quality_score=0.5 if i <= 2 else None,
                    feedback=("negative" if i == 4 else "positive") if i <= 4 else None,
                    error="timeout" if i == 10 else None,
                )
            )
        for _ in range(4):
            await telemetry.record_run(Run("Greet", "2", 50.0, 80, 20, 0.002, feedback="positive"))
        await telemetry.record_run(Run("Other", "1", 1.0, 1, 1, 1.0))

        one, two = await telemetry.prompt_stats("Greet")
        assert (one.version, one.runs, one.errors, one.error_rate) == ("1", 10, 1, 0.1)
        assert one.latency_p50_ms == pytest.approx(550.0)
        assert one.latency_p95_ms == pytest.approx(955.0)
        assert one.mean_input_tokens == 100 and one.mean_output_tokens == pytest.approx(55.0)
        assert one.total_cost == pytest.approx(0.1) and one.mean_cost == pytest.approx(0.01)
        assert one.mean_quality_score == pytest.approx(0.5)
        assert (one.rated_runs, one.approval_rate) == (4, 0.75)
        assert (two.version, two.runs, two.error_rate, two.approval_rate) == ("2", 4, 0.0, 1.0)
        assert two.total_cost == pytest.approx(0.008) and two.mean_quality_score is None

        assert await telemetry.prompt_stats("Greet", since="2999-01-01") == []
        assert [s.runs for s in await telemetry.prompt_stats("Greet", since="1h")] == [10, 4]
    finally:
        await registry.close()


@pytest.mark.anyio
@ON_BOTH_ENGINES
async def test_feedback_values_are_constrained(tmp_path: Path) -> None:
    import sqlite3

    registry = await open_registry(tmp_path)
    try:
        with pytest.raises((sqlite3.IntegrityError, StorageError)):
            await Telemetry(registry.storage).record_run(Run("Greet", "1", 1, 1, 1, 0, feedback="meh"))  # type: ignore[arg-type]
        assert await rows(registry, "SELECT count(*) FROM prompt_runs") == [(0,)]
    finally:
        await registry.close()


class RecordingTracer:
    """Stands in for an OpenTelemetry tracer: keeps each span's name and attributes."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, object]]] = []

    def start_as_current_span(self, name: str):  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        attributes: dict[str, object] = {}
        self.spans.append((name, attributes))

        class Span:
            def set_attribute(self, key: str, value: object) -> None:
                attributes[key] = value

        @contextmanager
        def span():  # type: ignore[no-untyped-def]
            yield Span()

        return span()


@pytest.mark.anyio
@ON_BOTH_ENGINES
async def test_runs_become_spans_when_asked(tmp_path: Path) -> None:
    registry = await open_registry(tmp_path)
    tracer = RecordingTracer()
    try:
        await Telemetry(registry.storage, tracer=tracer).record_run(
            Run("Greet", "2", 12.5, 100, 20, 0.01, feedback="negative", error="timeout")
        )
        await Telemetry(registry.storage).record_run(Run("Greet", "2", 1, 1, 1, 0))  # off by default: no span
    finally:
        await registry.close()
    [(name, attributes)] = tracer.spans
    assert name == "prompt.run"
    assert attributes["prompt.name"] == "Greet" and attributes["prompt.version"] == "2"
    assert attributes["gen_ai.usage.input_tokens"] == 100 and attributes["prompt.feedback"] == "negative"
    assert attributes["error.type"] == "timeout"


def test_export_without_an_sdk_says_spans_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("opentelemetry.trace")
    from mcp_suite.servers.prompts.telemetry import configure_export

    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        assert configure_export().startswith("nowhere")
        assert "pip install opentelemetry-sdk" in caplog.text
    else:  # pragma: no cover - an environment with the SDK installed
        assert configure_export()


@pytest.mark.anyio
async def test_runs_recorded_before_the_optional_cost_migration_survive_it(tmp_path: Path) -> None:
    from mcp_suite.servers.prompts.storage.schema import LEGACY_NAMES, SQLITE_MIGRATIONS
    from mcp_suite.shared.db import Database, Migration

    # A registry as releases before namespaced migration names left it, before the optional-cost step.
    old_steps = [Migration(old, step.apply) for old, step in zip(LEGACY_NAMES, SQLITE_MIGRATIONS, strict=True)]
    old = await Database.open(tmp_path / "prompts.db", old_steps[:4])
    async with old.transaction() as conn:
        await conn.execute(
            "INSERT INTO prompt_runs (name, version, recorded_at, latency_ms, input_tokens, output_tokens, cost) "
            "VALUES ('Greet', '1', '2026-01-01T00:00:00.000000Z', 12.5, 10, 5, 0.25)"
        )
    await old.close()
    registry = await open_registry(tmp_path)
    try:
        telemetry = Telemetry(registry.storage)
        await telemetry.record_run(Run("Greet", "1", 1.0, 1, 1, None, model="m"))
        [one] = await telemetry.prompt_stats("Greet")
        assert (one.runs, one.priced_runs, one.total_cost, one.latency_p50_ms) == (2, 1, 0.25, 6.75)
    finally:
        await registry.close()
