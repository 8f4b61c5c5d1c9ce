"""The A/B readout over time: one prompt's runs bucketed by day (or by hour, when they span less
than two days), summarised per version and bucket exactly as :func:`telemetry.summarise` does for
the whole period. Read-only; the console's trend charts are drawn from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from mcp_suite.servers.prompts.records import VersionStats
from mcp_suite.servers.prompts.storage.base import PromptStorage, RunRow
from mcp_suite.servers.prompts.telemetry import parse_since, summarise
from mcp_suite.servers.prompts.versioning import version_key

MAX_BUCKETS = 60
"""Only the latest buckets are kept: a chart with more points than this says nothing more."""


@dataclass
class Timeline:
    """``buckets`` are ``YYYY-MM-DD`` (or ``YYYY-MM-DDTHH``) labels, oldest first; each version's
    list has one entry per bucket, ``None`` where the version had no runs."""

    unit: str
    buckets: list[str] = field(default_factory=list)
    series: dict[str, list[VersionStats | None]] = field(default_factory=dict)


async def timeline(storage: PromptStorage, name: str, since: str | None = None) -> Timeline:
    rows = await storage.runs(name, parse_since(since))
    if not rows:
        return Timeline(unit="day")
    first, last = rows[0].recorded_at, rows[-1].recorded_at
    hourly = _days_apart(first, last) < 2  # less than two days: hours say more than one or two daily points
    width = 13 if hourly else 10
    grouped: dict[str, dict[str, list[RunRow]]] = {}
    for row in rows:
        grouped.setdefault(row.recorded_at[:width], {}).setdefault(row.version, []).append(row)
    buckets = sorted(grouped)[-MAX_BUCKETS:]
    versions = sorted({row.version for row in rows}, key=version_key)
    series: dict[str, list[VersionStats | None]] = {
        version: [
            summarise(version, grouped[bucket][version]) if version in grouped[bucket] else None for bucket in buckets
        ]
        for version in versions
    }
    return Timeline(unit="hour" if hourly else "day", buckets=buckets, series=series)


def _days_apart(first: str, last: str) -> float:
    start = datetime.fromisoformat(first.replace("Z", "+00:00"))
    end = datetime.fromisoformat(last.replace("Z", "+00:00"))
    return (end - start).total_seconds() / 86400
