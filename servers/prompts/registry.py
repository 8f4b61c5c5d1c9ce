"""The prompt registry: immutable published versions, labels with history, and rollouts, in SQLite.

A *draft* (a file with ``draft: true`` whose version is not published yet) is stored apart, one
per prompt name, and replaced whenever its file changes; publishing its version freezes it and
removes the draft.

A published version (name + version) never changes: publishing the same content again is a no-op
(same content hash), and publishing different content under an existing name + version is a
:class:`ConflictError` that asks for a version bump. Labels (``production``, ``staging``, any
custom name) point at versions; every move is appended to ``label_history`` so :meth:`rollback`
can walk a label back to where it pointed before. A rollout splits a label's traffic between
versions (see :mod:`mcp_suite.servers.prompts.rollout`).

:meth:`Registry.catalog` reads the whole registry into plain objects the server serves from
memory; :meth:`Registry.changed_elsewhere` tells when another process sharing the file wrote to
it, so that copy can be refreshed.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from mcp_suite.servers.prompts.records import LabelAction, now
from mcp_suite.servers.prompts.rollout import validate_splits
from mcp_suite.servers.prompts.telemetry import MIGRATIONS as TELEMETRY_MIGRATIONS
from mcp_suite.servers.prompts.versioning import LABEL_PATTERN, version_key
from mcp_suite.shared.db import Connection, Database, Migration
from mcp_suite.shared.errors import ConflictError, InvalidInputError, NotFoundError
from mcp_suite.shared.rows import scalar_or_none

MIGRATIONS = [
    Migration(
        "0001_prompt_registry",
        """
        CREATE TABLE prompt_versions (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            source_text TEXT NOT NULL,
            source_file TEXT,
            description TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL,
            published_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE labels (
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            version TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (name, label),
            FOREIGN KEY (name, version) REFERENCES prompt_versions (name, version)
        );
        CREATE TABLE label_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            version TEXT NOT NULL,
            previous_version TEXT,
            action TEXT NOT NULL CHECK (action IN ('set', 'rollback')),
            reverted INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL,
            author TEXT NOT NULL
        );
        CREATE INDEX label_history_by_label ON label_history (name, label, seq);
        CREATE TABLE rollouts (
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            splits TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (name, label)
        );
        """,
    ),
    Migration(
        "0002_summaries_and_library_files",
        """
        ALTER TABLE prompt_versions ADD COLUMN summary TEXT;
        CREATE TABLE library_files (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "0003_prompt_drafts",
        """
        CREATE TABLE prompt_drafts (
            name TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            source_text TEXT NOT NULL,
            source_file TEXT,
            description TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL,
            published_at TEXT NOT NULL,
            summary TEXT
        );
        """,
    ),
]


@dataclass(frozen=True)
class PublishItem:
    """One prompt file's content as it is offered for publication."""

    name: str
    version: str
    content_hash: str
    source_text: str
    source_file: str | None = None
    description: str = ""
    line: int | None = None
    """Line of ``version:`` in the source, to point a conflict at."""
    summary: str | None = None
    """JSON of what prompts/list shows (description, arguments), so listing never parses YAML."""


@dataclass(frozen=True)
class PublishedVersion:
    name: str
    version: str
    content_hash: str
    source_text: str
    source_file: str | None
    description: str
    author: str
    published_at: str
    summary: str | None = None


@dataclass(frozen=True)
class KnownFileRow:
    path: str
    size: int
    mtime_ns: int
    name: str
    version: str
    content_hash: str


@dataclass(frozen=True)
class Conflict:
    item: PublishItem
    published_hash: str

    @property
    def reason(self) -> str:
        return (
            f"prompt '{self.item.name}' version {self.item.version} is already published with different "
            f"content (hash {self.published_hash[:12]}, this file {self.item.content_hash[:12]}); published versions "
            "are immutable, so bump `version:` to publish this change"
        )

    @property
    def message(self) -> str:
        where = f"{self.item.source_file}:{self.item.line or 1}: " if self.item.source_file else ""
        return where + self.reason


@dataclass
class PublishOutcome:
    published: list[PublishItem] = field(default_factory=list)
    unchanged: list[PublishItem] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class PromptEntry:
    """Everything the registry knows about one prompt name."""

    name: str
    versions: dict[str, PublishedVersion] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    rollouts: dict[str, dict[str, float]] = field(default_factory=dict)
    draft: PublishedVersion | None = None
    """The prompt's draft (``published_at``: when it was last saved), served only on request."""

    @property
    def latest(self) -> str:
        return max(self.versions, key=version_key)

    def ordered_versions(self) -> list[PublishedVersion]:
        return [self.versions[v] for v in sorted(self.versions, key=version_key)]


@dataclass(frozen=True)
class LabelChange:
    seq: int
    label: str
    version: str
    previous_version: str | None
    action: LabelAction
    reverted: bool
    at: str
    author: str


class Registry:
    """The registry's storage, over one :class:`shared.db.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._data_version: int | None = None

    @classmethod
    async def open(cls, path: object) -> Registry:
        db = await Database.open(Path(str(path)), [*MIGRATIONS, *TELEMETRY_MIGRATIONS])
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(self, items: Sequence[PublishItem], author: str, *, atomic: bool = True) -> PublishOutcome:
        """Store the new versions among ``items``, in one transaction.

        ``atomic``: any conflict raises :class:`ConflictError` and nothing is written (the CLI and the
        tool). Otherwise conflicting items are skipped and returned, the rest is published (the
        library watcher, which reports the conflicts as broken files).
        """
        outcome = PublishOutcome()
        seen: dict[tuple[str, str], PublishItem] = {}
        for item in items:
            key = (item.name, item.version)
            other = seen.get(key)
            if other is not None and other.content_hash != item.content_hash:
                raise ConflictError(
                    f"{item.source_file}: prompt '{item.name}' version {item.version} is also defined, differently, "
                    f"in {other.source_file}; give one of them another version"
                )
            seen[key] = item
        stamp = now()
        if not seen:
            return outcome
        async with self.db.transaction() as conn:
            stored: dict[tuple[str, str], str] = {}
            if len(seen) > 50:  # one read of every stored hash beats a query per file when a big library starts
                async with conn.execute("SELECT name, version, content_hash FROM prompt_versions") as cur:
                    stored = {(row["name"], row["version"]): row["content_hash"] async for row in cur}
            else:
                for name, version in seen:
                    content_hash = await scalar_or_none(
                        conn,
                        "SELECT content_hash FROM prompt_versions WHERE name = ? AND version = ?",
                        (name, version),
                        str,
                    )
                    if content_hash is not None:
                        stored[(name, version)] = content_hash
            for key, item in seen.items():
                existing = stored.get(key)
                if existing is None:
                    outcome.published.append(item)
                elif existing == item.content_hash:
                    outcome.unchanged.append(item)
                else:
                    outcome.conflicts.append(Conflict(item, existing))
            if atomic and outcome.conflicts:
                raise ConflictError("; ".join(c.message for c in outcome.conflicts))
            # A version published (or already there) freezes a draft of it.
            await conn.executemany(
                "DELETE FROM prompt_drafts WHERE name = ? AND version = ?",
                [(i.name, i.version) for i in [*outcome.published, *outcome.unchanged]],
            )
            await conn.executemany(
                "INSERT INTO prompt_versions (name, version, content_hash, source_text, source_file, description, "
                "author, published_at, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_version_row(i, author, stamp) for i in outcome.published],
            )
        return outcome

    # -- reading ------------------------------------------------------------------------------------

    async def catalog(self) -> dict[str, PromptEntry]:
        """The whole registry, read in one consistent snapshot."""
        entries: dict[str, PromptEntry] = {}
        async with self.db.snapshot() as conn:
            self._data_version = await _data_version(conn)
            async with conn.execute(
                "SELECT name, version, content_hash, source_text, source_file, description, author, published_at, "
                "summary FROM prompt_versions"
            ) as cur:
                async for row in cur:
                    entry = entries.setdefault(row["name"], PromptEntry(row["name"]))
                    entry.versions[row["version"]] = PublishedVersion(**dict(row))
            async with conn.execute(
                "SELECT name, version, content_hash, source_text, source_file, description, author, published_at, "
                "summary FROM prompt_drafts"
            ) as cur:
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

    async def save_drafts(self, items: Sequence[PublishItem], author: str, *, forget_files: Sequence[str] = ()) -> None:
        """Store ``items`` as their prompts' drafts (replacing earlier ones), and forget drafts of removed files."""
        if not items and not forget_files:
            return
        stamp = now()
        async with self.db.transaction() as conn:
            files = [*forget_files, *(i.source_file for i in items if i.source_file)]
            await conn.executemany("DELETE FROM prompt_drafts WHERE source_file = ?", [(f,) for f in files])
            await conn.executemany(
                "INSERT OR REPLACE INTO prompt_drafts (name, version, content_hash, source_text, source_file, "
                "description, author, published_at, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_version_row(i, author, stamp) for i in items],
            )

    async def changed_elsewhere(self) -> bool:
        """True when another connection committed since the last :meth:`catalog` (cheap: one pragma)."""
        version = await self.db.pragma("data_version")
        return self._data_version is not None and version != self._data_version

    async def known_files(self) -> list[KnownFileRow]:
        """Library files as last published: a file with the same size and mtime need not be parsed again."""
        async with self.db.snapshot() as conn, conn.execute("SELECT * FROM library_files") as cur:
            return [KnownFileRow(**dict(row)) async for row in cur]

    async def remember_files(self, files: Sequence[KnownFileRow], forget: Sequence[str] = ()) -> None:
        if not files and not forget:
            return
        async with self.db.transaction() as conn:
            await conn.executemany("DELETE FROM library_files WHERE path = ?", [(p,) for p in forget])
            await conn.executemany(
                "INSERT OR REPLACE INTO library_files (path, size, mtime_ns, name, version, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(f.path, f.size, f.mtime_ns, f.name, f.version, f.content_hash) for f in files],
            )

    async def label_history(self, name: str, label: str | None = None) -> list[LabelChange]:
        query = "SELECT * FROM label_history WHERE name = ?"
        params: tuple[str, ...] = (name,)
        if label is not None:
            query += " AND label = ?"
            params = (name, label)
        async with self.db.snapshot() as conn, conn.execute(query + " ORDER BY seq", params) as cur:
            rows = await cur.fetchall()
        return [
            LabelChange(
                seq=r["seq"],
                label=r["label"],
                version=r["version"],
                previous_version=r["previous_version"],
                action=r["action"],
                reverted=bool(r["reverted"]),
                at=r["at"],
                author=r["author"],
            )
            for r in rows
        ]

    # -- labels and rollouts ------------------------------------------------------------------------

    async def set_label(self, name: str, label: str, version: str, author: str) -> str | None:
        """Point ``label`` at ``version``; returns the version it pointed at before (None: new label).

        A rollout on the label is ended: it split traffic around the old target.
        """
        _check_label(label)
        async with self.db.transaction() as conn:
            await _require_version(conn, name, version)
            previous = await _label_target(conn, name, label)
            if previous == version:
                return previous
            stamp = now()
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
        self, name: str, label: str, author: str, *, check: Callable[[str, str], None] | None = None
    ) -> tuple[str, str]:
        """Move ``label`` back to the version it pointed at before its current one; returns (from, to).

        Each rollback undoes one ``set``: rolling back twice goes two versions back, not back and forth.
        ``check(from, to)`` may refuse the move by raising; nothing is written then.
        """
        _check_label(label)
        async with self.db.transaction() as conn:
            current = await _label_target(conn, name, label)
            if current is None:
                raise NotFoundError(f"prompt '{name}' has no label '{label}'; set it first with set_label")
            async with conn.execute(
                "SELECT seq, version FROM label_history WHERE name = ? AND label = ? AND action = 'set' "
                "AND reverted = 0 ORDER BY seq DESC LIMIT 2",
                (name, label),
            ) as cur:
                rows = list(await cur.fetchall())
            if len(rows) < 2:
                raise ConflictError(
                    f"label '{label}' of prompt '{name}' has no earlier version to roll back to "
                    f"(it points at {current}); use set_label to choose a version"
                )
            target = rows[1]["version"]
            if check is not None:
                check(current, target)
            stamp = now()
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

    async def set_rollout(self, name: str, label: str, splits: Mapping[str, float], author: str) -> dict[str, float]:
        """Split ``label``'s traffic between versions; an empty split ends the rollout."""
        _check_label(label)
        async with self.db.transaction() as conn:
            if await _label_target(conn, name, label) is None:
                raise NotFoundError(
                    f"prompt '{name}' has no label '{label}'; point it at the current version with set_label first"
                )
            if not splits:
                await conn.execute("DELETE FROM rollouts WHERE name = ? AND label = ?", (name, label))
                return {}
            async with conn.execute("SELECT version FROM prompt_versions WHERE name = ?", (name,)) as cur:
                known = {row["version"] async for row in cur}
            clean = validate_splits(splits, known)
            await conn.execute(
                "INSERT INTO rollouts (name, label, splits, updated_at, updated_by) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name, label) DO UPDATE SET splits = excluded.splits, updated_at = excluded.updated_at, "
                "updated_by = excluded.updated_by",
                (name, label, json.dumps(clean), now(), author),
            )
        return clean


def _check_label(label: str) -> None:
    if not re.match(LABEL_PATTERN, label):
        raise InvalidInputError(
            f"label '{label}' is not valid: use 1-64 letters, digits, '_', '.' or '-' (e.g. production, staging)"
        )


async def _data_version(conn: Connection) -> int | None:
    return await scalar_or_none(conn, "PRAGMA data_version", (), int)


async def _label_target(conn: Connection, name: str, label: str) -> str | None:
    return await scalar_or_none(conn, "SELECT version FROM labels WHERE name = ? AND label = ?", (name, label), str)


async def _require_version(conn: Connection, name: str, version: str) -> None:
    async with conn.execute("SELECT version FROM prompt_versions WHERE name = ?", (name,)) as cur:
        known = [row["version"] async for row in cur]
    if not known:
        raise NotFoundError(f"prompt '{name}' is not published; publish the library first (tool publish)")
    if version not in known:
        listed = ", ".join(sorted(known, key=version_key))
        raise NotFoundError(f"prompt '{name}' has no version '{version}' (published: {listed})")


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


def _version_row(item: PublishItem, author: str, stamp: str) -> tuple[object, ...]:
    """The columns a published version and a draft share, in their INSERT order."""
    return (
        item.name,
        item.version,
        item.content_hash,
        item.source_text,
        item.source_file,
        item.description,
        author,
        stamp,
        item.summary,
    )
