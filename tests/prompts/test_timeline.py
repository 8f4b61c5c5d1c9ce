"""The A/B readout over time: runs bucketed per day (or hour) and version, from a real registry database."""

from pathlib import Path

import pytest

from mcp_suite.servers.prompts.registry import Registry
from mcp_suite.servers.prompts.telemetry import Run, Telemetry
from mcp_suite.servers.prompts.timeline import timeline
from tests.prompts.serving import execute, open_registry

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]


def run(version: str, latency: float, *, error: str | None = None) -> Run:
    return Run("ticket", version, latency, 100, 20, 0.01, error=error)


async def backdate(registry: Registry, run_id: int, at: str) -> None:
    # Runs are stamped with the time they are recorded; history needs older stamps.
    await execute(registry, "UPDATE prompt_runs SET recorded_at = ? WHERE id = ?", (at, run_id))


async def test_days_and_versions(tmp_path: Path) -> None:
    registry = await open_registry(tmp_path)
    telemetry = Telemetry(registry.storage)
    try:
        plan = [
            ("1", 100.0, None, "2026-01-01T09:00:00.000000Z"),
            ("1", 300.0, "boom", "2026-01-01T17:00:00.000000Z"),
            ("1", 200.0, None, "2026-01-02T09:00:00.000000Z"),
            ("2", 50.0, None, "2026-01-02T10:00:00.000000Z"),
            ("2", 70.0, None, "2026-01-04T10:00:00.000000Z"),
        ]
        for version, latency, error, at in plan:
            await backdate(registry, await telemetry.record_run(run(version, latency, error=error)), at)
        await telemetry.record_run(Run("other", "1", 1.0, 1, 1, 0.0))  # another prompt: not counted

        line = await timeline(registry.storage, "ticket")
        assert line.unit == "day"
        assert line.buckets == ["2026-01-01", "2026-01-02", "2026-01-04"]  # days without runs get no point
        one, two = line.series["1"], line.series["2"]
        assert [s.runs if s else None for s in one] == [2, 1, None]
        assert [s.runs if s else None for s in two] == [None, 1, 1]
        assert one[0] is not None and one[0].error_rate == 0.5 and one[0].latency_p50_ms == 200.0

        recent = await timeline(registry.storage, "ticket", since="2026-01-02")
        assert recent.buckets == ["2026-01-02", "2026-01-04"]
    finally:
        await registry.close()


async def test_hours_when_runs_span_less_than_two_days(tmp_path: Path) -> None:
    registry = await open_registry(tmp_path)
    telemetry = Telemetry(registry.storage)
    try:
        for hour in ("08", "08", "11"):
            at = f"2026-01-01T{hour}:15:00.000000Z"
            await backdate(registry, await telemetry.record_run(run("1", 10.0)), at)
        line = await timeline(registry.storage, "ticket")
        assert line.unit == "hour"
        assert line.buckets == ["2026-01-01T08", "2026-01-01T11"]
        assert [s.runs if s else None for s in line.series["1"]] == [2, 1]
        assert (await timeline(registry.storage, "nothing")).buckets == []
    finally:
        await registry.close()
