"""The prompt registry in PostgreSQL (schema ``mcp_suite_prompts``), shared by any number of replicas.

Every write is one :meth:`PostgresDatabase.run` change at SERIALIZABLE, retried whole on a
serialization failure, so each change re-reads what it decides on inside its transaction: two
replicas publishing the same library at start-up both end with one copy of each version (the later
one finds it stored and counts it unchanged), and served counters add up instead of overwriting.
A change other replicas serve differently (a version published, a label moved, a rollout, a draft)
announces itself with :func:`mcp_suite.shared.changes.publish` in the same transaction; each
replica hears the others through :meth:`PostgresPromptStorage.changes`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

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
from mcp_suite.servers.prompts.storage.schema import POSTGRES_MIGRATIONS
from mcp_suite.shared.changes import Change, ChangeFeed, publish
from mcp_suite.shared.database_url import PostgresUrl
from mcp_suite.shared.errors import NotFoundError, StorageError
from mcp_suite.shared.postgres import (
    DriverError,
    PostgresDatabase,
    PostgresSession,
    connect,
    one_line,
    schema_name,
)

T = TypeVar("T")
SERVER = "prompts"
TOPIC = "prompts"
VERSION_COLUMNS = "name, version, content_hash, source_text, source_file, description, author, published_at, summary"
VERSION_VALUES = "%s, %s, %s, %s, %s, %s, %s, %s, %s"
RUN_COLUMNS = "version, recorded_at, latency_ms, input_tokens, output_tokens, cost, quality_score, feedback, error"


class PostgresPromptStorage:
    """The registry's tables in one PostgreSQL schema, over a pooled :class:`PostgresDatabase`."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.origin = uuid.uuid4().hex
        """This replica, as the origin of the changes it announces (its own feed skips them)."""

    @classmethod
    async def open(cls, url: PostgresUrl) -> PostgresPromptStorage:
        return cls(await PostgresDatabase.open(url, SERVER, POSTGRES_MIGRATIONS, require_vector=False))

    async def close(self) -> None:
        await self.db.close()

    async def _run(self, change: Callable[[PostgresSession], Awaitable[T]]) -> T:
        """One change, retried on conflicts; a database failure becomes one readable line."""
        try:
            return await self.db.run(change)  # type: ignore[arg-type]  # the session is a PostgresSession
        except DriverError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageError(f"PostgreSQL at {self.db.url.redacted()} failed: {first}") from exc

    async def _read(self, query: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        try:
            async with self.db.snapshot() as session:
                return await session.fetchall(query, params)
        except DriverError as exc:
            raise StorageError(f"PostgreSQL at {self.db.url.redacted()} failed: {exc}") from exc

    async def _announce(self, session: PostgresSession, key: str = "") -> None:
        await publish(session, SERVER, Change(topic=TOPIC, key=key, origin=self.origin))

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(
        self, items: Mapping[tuple[str, str], PublishItem], author: str, stamp: str, *, atomic: bool
    ) -> PublishOutcome:
        async def change(session: PostgresSession) -> PublishOutcome:
            names = sorted({name for name, _ in items})
            rows = await session.fetchall(
                "SELECT name, version, content_hash FROM prompt_versions WHERE name = ANY(%s)", (names,)
            )
            stored = {(str(r[0]), str(r[1])): str(r[2]) for r in rows}
            outcome = classify(items, stored, atomic=atomic)
            frozen = [(i.name, i.version) for i in [*outcome.published, *outcome.unchanged]]
            async with session.conn.cursor() as cur:
                if frozen:
                    await cur.executemany("DELETE FROM prompt_drafts WHERE name = %s AND version = %s", frozen)
                if outcome.published:
                    await cur.executemany(
                        f"INSERT INTO prompt_versions ({VERSION_COLUMNS}) VALUES ({VERSION_VALUES})",
                        [version_row(i, author, stamp) for i in outcome.published],
                    )
            if outcome.published:
                await self._announce(session)
            return outcome

        return await self._run(change)

    async def save_drafts(self, items: Sequence[PublishItem], author: str, stamp: str, forget: Sequence[str]) -> None:
        async def change(session: PostgresSession) -> None:
            files = [*forget, *(i.source_file for i in items if i.source_file)]
            if files:
                await session.execute("DELETE FROM prompt_drafts WHERE source_file = ANY(%s)", (files,))
            async with session.conn.cursor() as cur:
                if items:
                    await cur.executemany(
                        f"INSERT INTO prompt_drafts ({VERSION_COLUMNS}) VALUES ({VERSION_VALUES}) "
                        "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
                        "content_hash = excluded.content_hash, source_text = excluded.source_text, "
                        "source_file = excluded.source_file, description = excluded.description, "
                        "author = excluded.author, published_at = excluded.published_at, summary = excluded.summary",
                        [version_row(i, author, stamp) for i in items],
                    )
            await self._announce(session)

        await self._run(change)

    # -- reading ------------------------------------------------------------------------------------

    async def catalog(self) -> dict[str, PromptEntry]:
        entries: dict[str, PromptEntry] = {}
        try:
            async with self.db.snapshot() as session:
                versions = await session.fetchall(f"SELECT {VERSION_COLUMNS} FROM prompt_versions")
                drafts = await session.fetchall(f"SELECT {VERSION_COLUMNS} FROM prompt_drafts")
                labels = await session.fetchall("SELECT name, label, version FROM labels")
                rollouts = await session.fetchall("SELECT name, label, splits FROM rollouts")
        except DriverError as exc:
            raise StorageError(f"PostgreSQL at {self.db.url.redacted()} failed: {exc}") from exc
        for row in versions:
            entry = entries.setdefault(str(row[0]), PromptEntry(str(row[0])))
            entry.versions[str(row[1])] = PublishedVersion(*row)
        for row in drafts:
            entries.setdefault(str(row[0]), PromptEntry(str(row[0]))).draft = PublishedVersion(*row)
        for name, label, version in labels:
            entries[str(name)].labels[str(label)] = str(version)
        for name, label, splits in rollouts:
            if name in entries:
                entries[str(name)].rollouts[str(label)] = json.loads(str(splits))
        return entries

    async def changed_elsewhere(self) -> bool:
        return False  # other replicas announce their changes: see changes()

    async def changes(self) -> AsyncGenerator[None, None]:
        async with ChangeFeed(self.db.url, SERVER, origin=self.origin) as feed:
            yield  # listening now: one refresh covers whatever changed before
            async for heard in feed:
                if heard.topic in (TOPIC, "*"):
                    yield

    async def known_files(self) -> list[KnownFileRow]:
        rows = await self._read("SELECT path, size, mtime_ns, name, version, content_hash FROM library_files")
        return [KnownFileRow(*row) for row in rows]  # type: ignore[arg-type]

    async def remember_files(self, files: Sequence[KnownFileRow], forget: Sequence[str]) -> None:
        async def change(session: PostgresSession) -> None:
            if forget:
                await session.execute("DELETE FROM library_files WHERE path = ANY(%s)", (list(forget),))
            if files:
                async with session.conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO library_files (path, size, mtime_ns, name, version, content_hash) "
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
                        "mtime_ns = excluded.mtime_ns, name = excluded.name, version = excluded.version, "
                        "content_hash = excluded.content_hash",
                        [(f.path, f.size, f.mtime_ns, f.name, f.version, f.content_hash) for f in files],
                    )

        await self._run(change)

    async def label_history(self, name: str, label: str | None) -> list[LabelChange]:
        query = "SELECT seq, label, version, previous_version, action, reverted, at, author FROM label_history"
        query += " WHERE name = %s" + (" AND label = %s" if label is not None else "")
        params = (name,) if label is None else (name, label)
        rows = await self._read(query + " ORDER BY seq", params)
        return [LabelChange(*row) for row in rows]  # type: ignore[arg-type]

    # -- labels and rollouts ------------------------------------------------------------------------

    async def set_label(self, name: str, label: str, version: str, author: str, stamp: str) -> str | None:
        async def change(session: PostgresSession) -> str | None:
            known = await session.fetchall("SELECT version FROM prompt_versions WHERE name = %s", (name,))
            require_version(name, version, [str(r[0]) for r in known])
            previous = await _label_target(session, name, label)
            if previous == version:
                return previous
            await session.execute(
                "INSERT INTO labels (name, label, version, updated_at, updated_by) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name, label) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (name, label, version, stamp, author),
            )
            await session.execute(
                "INSERT INTO label_history (name, label, version, previous_version, action, at, author) "
                "VALUES (%s, %s, %s, %s, 'set', %s, %s)",
                (name, label, version, previous, stamp, author),
            )
            await session.execute("DELETE FROM rollouts WHERE name = %s AND label = %s", (name, label))
            await self._announce(session, name)
            return previous

        return await self._run(change)

    async def rollback(
        self, name: str, label: str, author: str, stamp: str, check: RollbackCheck | None
    ) -> tuple[str, str]:
        async def change(session: PostgresSession) -> tuple[str, str]:
            current = await _label_target(session, name, label)
            if current is None:
                raise missing_label(name, label)
            rows = await session.fetchall(
                "SELECT seq, version FROM label_history WHERE name = %s AND label = %s AND action = 'set' "
                "AND NOT reverted ORDER BY seq DESC LIMIT 2",
                (name, label),
            )
            target = rollback_target(name, label, current, [str(r[1]) for r in rows])
            if check is not None:
                check(current, target)
            await session.execute("UPDATE label_history SET reverted = true WHERE seq = %s", (rows[0][0],))
            await session.execute(
                "UPDATE labels SET version = %s, updated_at = %s, updated_by = %s WHERE name = %s AND label = %s",
                (target, stamp, author, name, label),
            )
            await session.execute(
                "INSERT INTO label_history (name, label, version, previous_version, action, at, author) "
                "VALUES (%s, %s, %s, %s, 'rollback', %s, %s)",
                (name, label, target, current, stamp, author),
            )
            await session.execute("DELETE FROM rollouts WHERE name = %s AND label = %s", (name, label))
            await self._announce(session, name)
            return current, target

        return await self._run(change)

    async def set_rollout(
        self, name: str, label: str, splits: Mapping[str, float], author: str, stamp: str, validate: SplitCheck
    ) -> dict[str, float]:
        async def change(session: PostgresSession) -> dict[str, float]:
            if await _label_target(session, name, label) is None:
                raise no_rollout_label(name, label)
            await self._announce(session, name)
            if not splits:
                await session.execute("DELETE FROM rollouts WHERE name = %s AND label = %s", (name, label))
                return {}
            known = await session.fetchall("SELECT version FROM prompt_versions WHERE name = %s", (name,))
            clean = validate(splits, {str(r[0]) for r in known})
            await session.execute(
                "INSERT INTO rollouts (name, label, splits, updated_at, updated_by) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name, label) DO UPDATE SET splits = excluded.splits, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (name, label, json.dumps(clean), stamp, author),
            )
            return clean

        return await self._run(change)

    # -- telemetry ----------------------------------------------------------------------------------

    async def add_serves(self, counts: Mapping[ServeKey, int]) -> None:
        rows = [(*key, count) for key, count in sorted(counts.items())]  # one order: fewer deadlocks between replicas

        async def change(session: PostgresSession) -> None:
            async with session.conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO prompt_serves (name, version, label, via, hour, count) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name, version, label, via, hour) "
                    "DO UPDATE SET count = prompt_serves.count + excluded.count",
                    rows,
                )

        await self._run(change)

    async def insert_run(self, run: Run, stamp: str) -> int:
        async def change(session: PostgresSession) -> int:
            rows = await session.fetchall(
                "INSERT INTO prompt_runs (name, version, recorded_at, latency_ms, input_tokens, output_tokens, cost, "
                "quality_score, feedback, error, subject, model) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
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
                ),
            )
            return int(str(rows[0][0]))

        return await self._run(change)

    async def insert_golden_runs(self, runs: Sequence[GoldenRun]) -> None:
        async def change(session: PostgresSession) -> None:
            async with session.conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO golden_runs (name, version, run_at, mode, passed, failed, error, rendered, not_run) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (r.name, r.version, r.run_at, r.mode, r.passed, r.failed, r.error, r.rendered, r.not_run)
                        for r in runs
                    ],
                )

        await self._run(change)

    async def golden_runs(self, name: str) -> list[GoldenRun]:
        rows = await self._read(
            "SELECT name, version, run_at, mode, passed, failed, error, rendered, not_run FROM golden_runs "
            "WHERE name = %s ORDER BY id DESC",
            (name,),
        )
        return [GoldenRun(*row) for row in rows]  # type: ignore[arg-type]

    async def runs(self, name: str, since: str | None) -> list[RunRow]:
        query = f"SELECT {RUN_COLUMNS} FROM prompt_runs WHERE name = %s"
        params: tuple[str, ...] = (name,)
        if since is not None:
            query += " AND recorded_at >= %s"
            params = (name, since)
        rows = await self._read(query + " ORDER BY recorded_at, id", params)
        return [RunRow(*row) for row in rows]  # type: ignore[arg-type]

    async def serves(self, name: str, since_hour: str | None) -> list[ServeCount]:
        query = "SELECT version, label, via, SUM(count) FROM prompt_serves WHERE name = %s"
        params: tuple[str, ...] = (name,)
        if since_hour is not None:
            query += " AND hour >= %s"
            params = (name, since_hour)
        rows = await self._read(query + " GROUP BY version, label, via", params)
        return [ServeCount(str(r[0]), str(r[1]), str(r[2]), int(str(r[3]))) for r in rows]

    # -- copying between engines --------------------------------------------------------------------

    async def export_rows(self) -> TableRows:
        try:
            async with self.db.snapshot() as session:
                return {
                    table: await session.fetchall(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}")
                    for table, columns in TABLES.items()
                }
        except DriverError as exc:
            raise StorageError(f"PostgreSQL at {self.db.url.redacted()} failed: {exc}") from exc

    async def import_rows(self, rows: TableRows) -> dict[str, int]:
        where = self.db.url.redacted()

        async def change(session: PostgresSession) -> dict[str, int]:
            before = {table: await _count(session, table) for table in TABLES}
            if any(before.values()):
                raise not_empty(where, before)
            async with session.conn.cursor() as cur:
                for table, columns in TABLES.items():
                    if rows[table]:
                        marks = ", ".join("%s" for _ in columns)
                        await cur.executemany(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                            [_typed(table, columns, row) for row in rows[table]],
                        )
            for table, column in IDENTITIES.items():  # the next id follows the copied ones
                await session.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"COALESCE((SELECT max({column}) FROM {table}), 0) + 1, false)"
                )
            counts = {table: await _count(session, table) for table in TABLES}
            expected = {table: len(rows[table]) for table in TABLES}
            if counts != expected:
                raise count_mismatch(where, expected, counts)
            return counts

        return await self._run(change)


IDENTITIES = {"label_history": "seq", "prompt_runs": "id", "golden_runs": "id"}


def _typed(table: str, columns: Sequence[str], row: tuple[object, ...]) -> tuple[object, ...]:
    """SQLite keeps booleans as 0/1; PostgreSQL's boolean column wants a bool."""
    if table != "label_history":
        return row
    at = columns.index("reverted")
    return (*row[:at], bool(row[at]), *row[at + 1 :])


async def _count(session: PostgresSession, table: str) -> int:
    rows = await session.fetchall(f"SELECT count(*) FROM {table}")
    return int(str(rows[0][0]))


async def _label_target(session: PostgresSession, name: str, label: str) -> str | None:
    rows = await session.fetchall("SELECT version FROM labels WHERE name = %s AND label = %s", (name, label))
    return str(rows[0][0]) if rows else None


async def published_hashes(url: PostgresUrl) -> dict[tuple[str, str], str]:
    """(name, version) → content hash of every published version in the registry at ``url``, read-only.

    For CI checks (``mcp-suite prompts check --registry postgresql://…``): one plain connection, never
    creates or migrates the schema, so pointing a check at the production database changes nothing.
    """
    table = f"{schema_name(SERVER)}.prompt_versions"
    conn = await connect(url)
    try:
        cursor = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        found = await cursor.fetchone()
        if not (found and found[0]):
            raise NotFoundError(f"no prompt registry at {url.redacted()} (no table {table})")
        cursor = await conn.execute(f"SELECT name, version, content_hash FROM {table}")
        return {(str(r[0]), str(r[1])): str(r[2]) for r in await cursor.fetchall()}
    except DriverError as exc:
        raise StorageError(f"PostgreSQL at {url.redacted()} failed: {one_line(exc)}") from exc
    finally:
        await conn.close()
