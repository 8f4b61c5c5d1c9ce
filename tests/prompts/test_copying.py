"""``copy_database`` for the prompts server: a registry moved SQLite → PostgreSQL → SQLite reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_suite.servers.prompts.copying import copy_database
from mcp_suite.servers.prompts.registry import KnownFileRow, PublishItem, Registry
from mcp_suite.servers.prompts.telemetry import Run, Telemetry
from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl, parse_database_url
from mcp_suite.shared.errors import DatabaseConfigError

pytestmark = pytest.mark.anyio


def item(version: str, *, name: str = "Greet", file: str | None = None) -> PublishItem:
    return PublishItem(
        name, version, f"hash-{name}-{version}", f"source {version}", file or f"/lib/{name}.v{version}.yaml"
    )


class Golden:
    def __init__(self, version: str, status: str) -> None:
        self.prompt, self.version, self.status = "Greet", version, status


async def fill(url: DatabaseUrl) -> None:
    registry = await Registry.open(url)
    try:
        await registry.publish([item("1"), item("2"), item("3"), item("1", name="Bye")], "alice")
        for version in ("1", "2", "3"):
            await registry.set_label("Greet", "production", version, "alice")
        await registry.rollback("Greet", "production", "bob")
        await registry.set_label("Greet", "staging", "3", "bob")
        await registry.set_rollout("Greet", "staging", {"2": 25, "3": 75}, "carol")
        await registry.save_drafts([item("4", file="/lib/greet.draft.yaml")], "dave")
        await registry.remember_files([KnownFileRow("/lib/Greet.v1.yaml", 10, 123456789012345, "Greet", "1", "h")])
        telemetry = Telemetry(registry.storage)
        for i in range(7):
            await telemetry.record_run(Run("Greet", str(1 + i % 2), 10.0 + i, 5, 2, 0.5 if i % 3 else None))
        await telemetry.record_run(Run("Greet", "1", 3.0, 1, 1, feedback="positive", error="boom", model="m"))
        telemetry.count_served("Greet", "2", "label", "production")
        telemetry.count_served("Greet", "1", "latest", None)
        await telemetry.flush()
        await telemetry.record_golden("render-only", [Golden("1", "passed"), Golden("2", "failed")])
    finally:
        await registry.close()


async def picture(url: DatabaseUrl) -> dict[str, Any]:
    """Everything the registry answers, in engine-neutral terms."""
    registry = await Registry.open(url)
    try:
        telemetry = Telemetry(registry.storage)
        return {
            "catalog": await registry.catalog(),
            "history": await registry.label_history("Greet"),
            "files": await registry.known_files(),
            "stats": await telemetry.prompt_stats("Greet"),
            "golden": await telemetry.golden_runs("Greet"),
        }
    finally:
        await registry.close()


async def test_round_trip_through_postgres_keeps_everything(tmp_path: Path, postgres_url: str) -> None:
    laptop, team, backup = (
        SqliteUrl(tmp_path / "laptop.db"),
        parse_database_url(postgres_url),
        SqliteUrl(tmp_path / "b.db"),
    )
    await fill(laptop)
    counts = await copy_database(laptop, team)
    assert counts == {
        "prompt_versions": 4,
        "labels": 2,
        "label_history": 5,
        "rollouts": 1,
        "library_files": 1,
        "prompt_drafts": 1,
        "prompt_runs": 8,
        "prompt_serves": 2,
        "golden_runs": 2,
    }
    original = await picture(laptop)
    assert await picture(team) == original
    assert await copy_database(team, backup) == counts
    assert await picture(backup) == original

    # The copy goes on where the source stopped: new ids follow the copied ones.
    registry = await Registry.open(team)
    try:
        await registry.set_label("Greet", "production", "3", "erin")
        assert [c.seq for c in await registry.label_history("Greet")] == [1, 2, 3, 4, 5, 6]
        assert await Telemetry(registry.storage).record_run(Run("Greet", "3", 1.0, 1, 1)) == 9
    finally:
        await registry.close()


async def test_a_target_with_data_is_refused(tmp_path: Path, postgres_url: str) -> None:
    laptop, team = SqliteUrl(tmp_path / "laptop.db"), parse_database_url(postgres_url)
    await fill(laptop)
    await copy_database(laptop, team)
    with pytest.raises(DatabaseConfigError, match="is not empty") as refused:
        await copy_database(laptop, team)
    assert "\n" not in str(refused.value)
    with pytest.raises(DatabaseConfigError, match=r"is not empty \(4 in prompt_versions"):
        await copy_database(team, laptop)
    assert len((await picture(team))["history"]) == 5  # nothing was added by the refused copies
