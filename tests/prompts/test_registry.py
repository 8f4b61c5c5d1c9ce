"""The registry's storage: immutable versions, idempotent publish, conflicts, labels, rollback, rollouts."""

from pathlib import Path

import pytest

from mcp_suite.servers.prompts.registry import PublishItem, Registry
from mcp_suite.shared.errors import ConflictError, InvalidInputError, NotFoundError
from tests.prompts.serving import open_registry, sqlite_only

pytestmark = pytest.mark.usefixtures("database_url")


def item(version: str = "1", content: str = "a", name: str = "Greet") -> PublishItem:
    return PublishItem(
        name=name,
        version=version,
        content_hash=f"hash-{content}",
        source_text=f"source {content}",
        source_file=f"/lib/{name}.v{version}.yaml",
        line=3,
    )


@pytest.fixture
async def registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    reg = await open_registry(tmp_path)
    yield reg
    await reg.close()


@pytest.mark.anyio
async def test_database_discipline(registry: Registry) -> None:
    sqlite_only("SQLite pragmas")
    db = registry.storage.db  # type: ignore[attr-defined]
    assert str(await db.pragma("journal_mode")).lower() == "wal"
    assert await db.pragma("foreign_keys") == 1
    assert int(str(await db.pragma("busy_timeout"))) > 0


@pytest.mark.anyio
async def test_publish_is_idempotent(registry: Registry) -> None:
    first = await registry.publish([item("1"), item("2", "b")], "alice")
    assert [(i.name, i.version) for i in first.published] == [("Greet", "1"), ("Greet", "2")]
    again = await registry.publish([item("1"), item("2", "b")], "bob")
    assert again.published == [] and len(again.unchanged) == 2
    catalog = await registry.catalog()
    stored = catalog["Greet"].versions["1"]
    assert (stored.author, stored.content_hash, stored.source_text) == ("alice", "hash-a", "source a")
    assert stored.source_file == "/lib/Greet.v1.yaml" and stored.published_at.endswith("Z")


@pytest.mark.anyio
async def test_same_version_other_content_is_a_conflict_and_nothing_is_written(registry: Registry) -> None:
    await registry.publish([item("1")], "alice")
    with pytest.raises(ConflictError, match=r"/lib/Greet.v1.yaml:3: .*version 1 is already published.*bump `version:`"):
        await registry.publish([item("2", "new"), item("1", "changed")], "alice")
    catalog = await registry.catalog()
    assert set(catalog["Greet"].versions) == {"1"}  # the good item of the failed batch was not written either
    assert catalog["Greet"].versions["1"].content_hash == "hash-a"


@pytest.mark.anyio
async def test_lenient_publish_skips_conflicts(registry: Registry) -> None:
    await registry.publish([item("1")], "alice")
    outcome = await registry.publish([item("2", "new"), item("1", "changed")], "alice", atomic=False)
    assert [i.version for i in outcome.published] == ["2"]
    assert [c.item.version for c in outcome.conflicts] == ["1"]
    assert "bump `version:`" in outcome.conflicts[0].reason


@pytest.mark.anyio
async def test_two_files_with_one_version_conflict(registry: Registry) -> None:
    with pytest.raises(ConflictError, match="also defined, differently"):
        await registry.publish([item("1", "a"), item("1", "b")], "alice")


@pytest.mark.anyio
async def test_labels_and_rollback_walk_back(registry: Registry) -> None:
    await registry.publish([item("1"), item("2", "b"), item("3", "c")], "alice")
    assert await registry.set_label("Greet", "production", "1", "alice") is None
    assert await registry.set_label("Greet", "production", "2", "bob") == "1"
    assert await registry.set_label("Greet", "production", "3", "bob") == "2"
    assert await registry.rollback("Greet", "production", "carol") == ("3", "2")
    assert await registry.rollback("Greet", "production", "carol") == ("2", "1")
    with pytest.raises(ConflictError, match="no earlier version to roll back to"):
        await registry.rollback("Greet", "production", "carol")
    assert (await registry.catalog())["Greet"].labels == {"production": "1"}
    history = await registry.label_history("Greet", "production")
    assert [(h.action, h.version, h.reverted) for h in history] == [
        ("set", "1", False),
        ("set", "2", True),
        ("set", "3", True),
        ("rollback", "2", False),
        ("rollback", "1", False),
    ]
    assert history[-1].author == "carol" and history[-1].previous_version == "2"


@pytest.mark.anyio
async def test_set_after_rollback_can_be_rolled_back(registry: Registry) -> None:
    await registry.publish([item("1"), item("2", "b"), item("3", "c")], "alice")
    for version in ("1", "2"):
        await registry.set_label("Greet", "production", version, "alice")
    await registry.rollback("Greet", "production", "alice")  # → 1
    await registry.set_label("Greet", "production", "3", "alice")
    assert await registry.rollback("Greet", "production", "alice") == ("3", "1")


@pytest.mark.anyio
async def test_label_errors(registry: Registry) -> None:
    await registry.publish([item("1")], "alice")
    with pytest.raises(NotFoundError, match=r"no version '9' \(published: 1\)"):
        await registry.set_label("Greet", "production", "9", "alice")
    with pytest.raises(NotFoundError, match="'Nope' is not published"):
        await registry.set_label("Nope", "production", "1", "alice")
    with pytest.raises(InvalidInputError, match="label 'bad label' is not valid"):
        await registry.set_label("Greet", "bad label", "1", "alice")
    with pytest.raises(NotFoundError, match="has no label 'staging'"):
        await registry.rollback("Greet", "staging", "alice")
    assert (await registry.catalog())["Greet"].labels == {}


@pytest.mark.anyio
async def test_rollouts(registry: Registry) -> None:
    await registry.publish([item("1"), item("2", "b")], "alice")
    with pytest.raises(NotFoundError, match="no label 'production'"):
        await registry.set_rollout("Greet", "production", {"1": 90, "2": 10}, "alice")
    await registry.set_label("Greet", "production", "1", "alice")
    assert await registry.set_rollout("Greet", "production", {"2": 10, "1": 90}, "alice") == {"1": 90.0, "2": 10.0}
    assert (await registry.catalog())["Greet"].rollouts == {"production": {"1": 90.0, "2": 10.0}}
    with pytest.raises(InvalidInputError, match="add up to 100"):
        await registry.set_rollout("Greet", "production", {"1": 50}, "alice")
    assert (await registry.catalog())["Greet"].rollouts["production"] == {"1": 90.0, "2": 10.0}
    # Promoting a version ends the rollout: it split traffic around the old target.
    await registry.set_label("Greet", "production", "2", "alice")
    assert (await registry.catalog())["Greet"].rollouts == {}
    await registry.set_rollout("Greet", "production", {"1": 50, "2": 50}, "alice")
    assert await registry.set_rollout("Greet", "production", {}, "alice") == {}
    assert (await registry.catalog())["Greet"].rollouts == {}


@pytest.mark.anyio
async def test_changes_by_another_process_are_noticed(tmp_path: Path) -> None:
    sqlite_only("processes sharing one file poll PRAGMA data_version; replicas hear each other (test_replicas)")
    one = await Registry.open(tmp_path / "shared.db")
    two = await Registry.open(tmp_path / "shared.db")
    try:
        await one.catalog()
        assert not await one.changed_elsewhere()
        await one.publish([item("1")], "alice")
        assert not await one.changed_elsewhere()  # its own write
        await two.publish([item("2", "b")], "bob")
        assert await one.changed_elsewhere()
        assert set((await one.catalog())["Greet"].versions) == {"1", "2"}
        assert not await one.changed_elsewhere()
    finally:
        await one.close()
        await two.close()


@pytest.mark.anyio
async def test_a_registry_with_the_old_migration_names_is_adopted_not_migrated_again(tmp_path: Path) -> None:
    sqlite_only("the old names were only ever recorded in SQLite files")
    from mcp_suite.servers.prompts.storage.schema import LEGACY_NAMES, SQLITE_MIGRATIONS
    from mcp_suite.shared.db import Database, Migration

    # The registry as the release before namespaced names left it: same steps, names as main recorded them.
    old = await Database.open(
        tmp_path / "prompts.db",
        [Migration(name, step.apply) for name, step in zip(LEGACY_NAMES, SQLITE_MIGRATIONS, strict=True)],
    )
    async with old.transaction() as conn:
        await conn.execute(
            "INSERT INTO prompt_versions (name, version, content_hash, source_text, author, published_at) "
            "VALUES ('Greet', '1', 'hash-a', 'source a', 'alice', '2026-01-01T00:00:00.000000Z')"
        )
    await old.close()
    registry = await Registry.open(tmp_path / "prompts.db")
    try:
        assert set((await registry.catalog())["Greet"].versions) == {"1"}
        db = registry.storage.db  # type: ignore[attr-defined]
        async with db.snapshot() as conn, conn.execute("SELECT name FROM _migrations ORDER BY name") as cur:
            assert [row[0] for row in await cur.fetchall()] == [m.name for m in SQLITE_MIGRATIONS]
        assert await db.migrate(SQLITE_MIGRATIONS) == []
    finally:
        await registry.close()
