"""The prompt registry in a SQLite file (the default engine): one aiosqlite connection, WAL, ``BEGIN IMMEDIATE``.

Several server processes may share the file (every host spawns its own stdio process): SQLite
serialises their writers, and :meth:`SqlitePromptStorage.changed_elsewhere` (``PRAGMA data_version``)
tells a process that another one wrote, which the library watcher polls.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import closing
from pathlib import Path

import anyio

from mcp_suite.servers.prompts.storage.base import (
    TABLES,
    GoldenRun,
    KnownFileRow,
    LabelChange,
    PromptEntry,
    PublishedVersion,
    PublishItem,
    PublishOutcome,
    RollbackCheck,
    Run,
    RunRow,
    ServeCount,
    ServeKey,
    SplitCheck,
    TableRows,
    classify,
    count_mismatch,
    missing_label,
    no_rollout_label,
    not_empty,
    require_version,
    rollback_target,
    version_row,
)
from mcp_suite.servers.prompts.storage.schema import LEGACY_NAMES, SQLITE_MIGRATIONS
from mcp_suite.shared.db import Connection, Database
from mcp_suite.shared.engine import newer_schema_error
from mcp_suite.shared.errors import InvalidInputError, NotFoundError
from mcp_suite.shared.rows import scalar_or_none

VERSION_COLUMNS = "name, version, content_hash, source_text, source_file, description, author, published_at, summary"
RUN_COLUMNS = "version, recorded_at, latency_ms, input_tokens, output_tokens, cost, quality_score, feedback, error"


class SqlitePromptStorage:
    """The registry's tables in one SQLite file, over :class:`mcp_suite.shared.db.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._data_version: int | None = None

    @classmethod
    async def open(cls, path: Path | str) -> SqlitePromptStorage:
        db = await Database.open(Path(path))
        try:
            await adopt_legacy_names(db)
            await db.migrate(SQLITE_MIGRATIONS)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(
        self, items: Mapping[tuple[str, str], PublishItem], author: str, stamp: str, *, atomic: bool
    ) -> PublishOutcome:
        async with self.db.transaction() as conn:
            stored: dict[tuple[str, str], str] = {}
            if len(items) > 50:  # one read of every stored hash beats a query per file when a big library starts
                async with conn.execute("SELECT name, version, content_hash FROM prompt_versions") as cur:
                    stored = {(row["name"], row["version"]): row["content_hash"] async for row in cur}
            else:
                for name, version in items:
                    content_hash = await scalar_or_none(
                        conn,
                        "SELECT content_hash FROM prompt_versions WHERE name = ? AND version = ?",
                        (name, version),
                        str,
                    )
                    if content_hash is not None:
                        stored[(name, version)] = content_hash
            outcome = classify(items, stored, atomic=atomic)
            # A version published (or already there) freezes a draft of it.
            await conn.executemany(
                "DELETE FROM prompt_drafts WHERE name = ? AND version = ?",
                [(i.name, i.version) for i in [*outcome.published, *outcome.unchanged]],
            )
            await conn.executemany(
                f"INSERT INTO prompt_versions ({VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [version_row(i, author, stamp) for i in outcome.published],
            )
        return outcome

    async def save_drafts(self, items: Sequence[PublishItem], author: str, stamp: str, forget: Sequence[str]) -> None:
        async with self.db.transaction() as conn:
            files = [*forget, *(i.source_file for i in items if i.source_file)]
            await conn.executemany("DELETE FROM prompt_drafts WHERE source_file = ?", [(f,) for f in files])
            await conn.executemany(
                f"INSERT OR REPLACE INTO prompt_drafts ({VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [version_row(i, author, stamp) for i in items],
            )

    # -- reading ------------------------------------------------------------------------------------

    async def catalog(self) -> dict[str, PromptEntry]:
        entries: dict[str, PromptEntry] = {}
        # data_version is per connection: read on the writer's, the one changed_elsewhere asks, before the
        # snapshot begins (a commit between the two only makes the next check reload once more).
        version = await self.db.pragma("data_version")
        self._data_version = version if isinstance(version, int) else None
        async with self.db.snapshot() as conn:
            async with conn.execute(f"SELECT {VERSION_COLUMNS} FROM prompt_versions") as cur:
                async for row in cur:
                    entry = entries.setdefault(row["name"], PromptEntry(row["name"]))
                    entry.versions[row["version"]] = PublishedVersion(**dict(row))
            async with conn.execute(f"SELECT {VERSION_COLUMNS} FROM prompt_drafts") as cur:
                async for row in cur:
                    entries.setdefault(row["name"], PromptEntry(row["name"])).draft = PublishedVersion(**dict(row))
            async with conn.execute("SELECT name, label, version FROM labels") as cur:
                async for row in cur:
                    entries[row["name"]].labels[row["label"]] = row["version"]
            async with conn.execute("SELECT name, label, splits FROM rollouts") as cur:
                async for row in cur:
                    if row["name"] in entries:
                        entries[row["name"]].rollouts[row["label"]] = json.loads(row["splits"])
        return entries

    async def changed_elsewhere(self) -> bool:
        version = await self.db.pragma("data_version")
        return self._data_version is not None and version != self._data_version

    async def changes(self) -> AsyncGenerator[None, None]:
        # Processes sharing a file announce nothing: the watcher polls changed_elsewhere instead.
        await anyio.sleep_forever()
        yield

    async def known_files(self) -> list[KnownFileRow]:
        async with self.db.snapshot() as conn, conn.execute("SELECT * FROM library_files") as cur:
            return [KnownFileRow(**dict(row)) async for row in cur]

    async def remember_files(self, files: Sequence[KnownFileRow], forget: Sequence[str]) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany("DELETE FROM library_files WHERE path = ?", [(p,) for p in forget])
            await conn.executemany(
                "INSERT OR REPLACE INTO library_files (path, size, mtime_ns, name, version, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(f.path, f.size, f.mtime_ns, f.name, f.version, f.content_hash) for f in files],
            )

    async def label_history(self, name: str, label: str | None) -> list[LabelChange]:
        query = "SELECT seq, label, version, previous_version, action, reverted, at, author FROM label_history"
        query += " WHERE name = ?" + (" AND label = ?" if label is not None else "")
        params = (name,) if label is None else (name, label)
        async with self.db.snapshot() as conn, conn.execute(query + " ORDER BY seq", params) as cur:
            rows = await cur.fetchall()
        return [
            LabelChange(
                r["seq"],
                r["label"],
                r["version"],
                r["previous_version"],
                r["action"],
                bool(r["reverted"]),
                r["at"],
                r["author"],
            )
            for r in rows
        ]

    # -- labels and rollouts ------------------------------------------------------------------------

    async def set_label(self, name: str, label: str, version: str, author: str, stamp: str) -> str | None:
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT version FROM prompt_versions WHERE name = ?", (name,)) as cur:
                require_version(name, version, [row["version"] async for row in cur])
            previous = await _label_target(conn, name, label)
            if previous == version:
                return previous
            await conn.execute(
                "INSERT INTO labels (name, label, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name, label) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (name, label, version, stamp, author),
            )
            await conn.execute(
                "INSERT INTO label_history (name, label, version, previous_version, action, at, author) "
                "VALUES (?, ?, ?, ?, 'set', ?, ?)",
                (name, label, version, previous, stamp, author),
            )
            await conn.execute("DELETE FROM rollouts WHERE name = ? AND label = ?", (name, label))
        return previous

    async def rollback(
        self, name: str, label: str, author: str, stamp: str, check: RollbackCheck | None
    ) -> tuple[str, str]:
        async with self.db.transaction() as conn:
            current = await _label_target(conn, name, label)
            if current is None:
                raise missing_label(name, label)
            async with conn.execute(
                "SELECT seq, version FROM label_history WHERE name = ? AND label = ? AND action = 'set' "
                "AND reverted = 0 ORDER BY seq DESC LIMIT 2",
                (name, label),
            ) as cur:
                rows = list(await cur.fetchall())
            target = rollback_target(name, label, current, [row["version"] for row in rows])
            if check is not None:
                check(current, target)
            await conn.execute("UPDATE label_history SET reverted = 1 WHERE seq = ?", (rows[0]["seq"],))
            await conn.execute(
                "UPDATE labels SET version = ?, updated_at = ?, updated_by = ? WHERE name = ? AND label = ?",
                (target, stamp, author, name, label),
            )
            await conn.execute(
                "INSERT INTO label_history (name, label, version, previous_version, action, at, author) "
                "VALUES (?, ?, ?, ?, 'rollback', ?, ?)",
                (name, label, target, current, stamp, author),
            )
            await conn.execute("DELETE FROM rollouts WHERE name = ? AND label = ?", (name, label))
        return current, target

    async def set_rollout(
        self, name: str, label: str, splits: Mapping[str, float], author: str, stamp: str, validate: SplitCheck
    ) -> dict[str, float]:
        async with self.db.transaction() as conn:
            if await _label_target(conn, name, label) is None:
                raise no_rollout_label(name, label)
            if not splits:
                await conn.execute("DELETE FROM rollouts WHERE name = ? AND label = ?", (name, label))
                return {}
            async with conn.execute("SELECT version FROM prompt_versions WHERE name = ?", (name,)) as cur:
                known = {row["version"] async for row in cur}
            clean = validate(splits, known)
            await conn.execute(
                "INSERT INTO rollouts (name, label, splits, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name, label) DO UPDATE SET splits = excluded.splits, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (name, label, json.dumps(clean), stamp, author),
            )
        return clean

    # -- telemetry ----------------------------------------------------------------------------------

    async def add_serves(self, counts: Mapping[ServeKey, int]) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO prompt_serves (name, version, label, via, hour, count) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (name, version, label, via, hour) DO UPDATE SET count = count + excluded.count",
                [(*key, count) for key, count in counts.items()],
            )

    async def insert_run(self, run: Run, stamp: str) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO prompt_runs (name, version, recorded_at, latency_ms, input_tokens, output_tokens, cost, "
                "quality_score, feedback, error, subject, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _run_row(run, stamp),
            )
            return int(cursor.lastrowid or 0)

    async def insert_golden_runs(self, runs: Sequence[GoldenRun]) -> None:
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO golden_runs (name, version, run_at, mode, passed, failed, error, rendered, not_run) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.name, r.version, r.run_at, r.mode, r.passed, r.failed, r.error, r.rendered, r.not_run)
                    for r in runs
                ],
            )

    async def golden_runs(self, name: str) -> list[GoldenRun]:
        async with (
            self.db.snapshot() as conn,
            conn.execute(
                "SELECT name, version, run_at, mode, passed, failed, error, rendered, not_run FROM golden_runs "
                "WHERE name = ? ORDER BY id DESC",
                (name,),
            ) as cur,
        ):
            return [GoldenRun(*tuple(row)) for row in await cur.fetchall()]

    async def runs(self, name: str, since: str | None) -> list[RunRow]:
        query = f"SELECT {RUN_COLUMNS} FROM prompt_runs WHERE name = ?"
        params: tuple[str, ...] = (name,)
        if since is not None:
            query += " AND recorded_at >= ?"
            params = (name, since)
        async with self.db.snapshot() as conn, conn.execute(query + " ORDER BY recorded_at, id", params) as cur:
            return [RunRow(*tuple(row)) for row in await cur.fetchall()]

    async def serves(self, name: str, since_hour: str | None) -> list[ServeCount]:
        query = "SELECT version, label, via, SUM(count) FROM prompt_serves WHERE name = ?"
        params: tuple[str, ...] = (name,)
        if since_hour is not None:
            query += " AND hour >= ?"
            params = (name, since_hour)
        async with self.db.snapshot() as conn, conn.execute(query + " GROUP BY version, label, via", params) as cur:
            return [ServeCount(r[0], r[1], r[2], int(r[3])) for r in await cur.fetchall()]

    # -- copying between engines --------------------------------------------------------------------

    async def export_rows(self) -> TableRows:
        async with self.db.snapshot() as conn:
            return {table: await _all(conn, table, columns) for table, columns in TABLES.items()}

    async def import_rows(self, rows: TableRows) -> dict[str, int]:
        async with self.db.transaction() as conn:
            before = {table: await _count(conn, table) for table in TABLES}
            if any(before.values()):
                raise not_empty(str(self.db.path), before)
            for table, columns in TABLES.items():
                marks = ", ".join("?" for _ in columns)
                await conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows[table])
            counts = {table: await _count(conn, table) for table in TABLES}
            expected = {table: len(rows[table]) for table in TABLES}
            if counts != expected:
                raise count_mismatch(str(self.db.path), expected, counts)
        return counts


async def _all(conn: Connection, table: str, columns: Sequence[str]) -> list[tuple[object, ...]]:
    async with conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid") as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def _count(conn: Connection, table: str) -> int:
    return await scalar_or_none(conn, f"SELECT count(*) FROM {table}", (), int) or 0


def _run_row(run: Run, stamp: str) -> tuple[object, ...]:
    return (
        run.name,
        run.version,
        stamp,
        run.latency_ms,
        run.input_tokens,
        run.output_tokens,
        run.cost,
        run.quality_score,
        run.feedback,
        run.error,
        run.subject,
        run.model,
    )


async def _label_target(conn: Connection, name: str, label: str) -> str | None:
    return await scalar_or_none(conn, "SELECT version FROM labels WHERE name = ? AND label = ?", (name, label), str)


async def adopt_legacy_names(db: Database) -> None:
    """Rename migrations recorded under their pre-``prompts/`` names, and refuse a newer schema.

    A registry created before the names were namespaced has the same tables; renaming its records
    keeps it from being migrated twice.
    """
    async with db.snapshot() as conn, conn.execute("SELECT name FROM _migrations") as cur:
        recorded = [row[0] for row in await cur.fetchall()]
    known = {m.name for m in SQLITE_MIGRATIONS}
    unknown = [n for n in recorded if n not in known and n not in LEGACY_NAMES]
    if unknown:
        raise newer_schema_error(str(db.path), unknown)
    old = [n for n in recorded if n in LEGACY_NAMES]
    if old:
        async with db.transaction() as conn:
            await conn.executemany(
                "UPDATE _migrations SET name = ? WHERE name = ?", [(LEGACY_NAMES[n], n) for n in old]
            )


def published_hashes(path: str | os.PathLike[str]) -> dict[tuple[str, str], str]:
    """(name, version) → content hash of every published version in the registry file at ``path``, read-only.

    For CI checks (``mcp-suite prompts check --registry``): synchronous, never creates or migrates the file.
    """
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"no prompt registry at {file}; give the registry file (DATA_DIR/prompts.db)")
    try:
        with closing(sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT name, version, content_hash FROM prompt_versions").fetchall()
    except sqlite3.Error as exc:
        raise InvalidInputError(f"{file} is not a prompt registry this release can read: {exc}") from None
    return {(name, version): content_hash for name, version, content_hash in rows}
