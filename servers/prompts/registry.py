"""The prompt registry: immutable published versions, labels with history, rollouts and drafts.

A *draft* (a file with ``draft: true`` whose version is not published yet) is stored apart, one
per prompt name, and replaced whenever its file changes; publishing its version freezes it and
removes the draft.

A published version (name + version) never changes: publishing the same content again is a no-op
(same content hash), and publishing different content under an existing name + version is a
:class:`ConflictError` that asks for a version bump. Labels (``production``, ``staging``, any
custom name) point at versions; every move is appended to the label history so :meth:`rollback`
can walk a label back to where it pointed before. A rollout splits a label's traffic between
versions (see :mod:`mcp_suite.servers.prompts.rollout`).

:meth:`Registry.catalog` reads the whole registry into plain objects the server serves from
memory; :meth:`Registry.changed_elsewhere` and :meth:`Registry.changes` tell when another process
or replica wrote to it, so that copy can be refreshed. The SQL lives in :mod:`.storage`, one
implementation per engine.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from pathlib import Path

import anyio

from mcp_suite.servers.prompts.records import now
from mcp_suite.servers.prompts.rollout import validate_splits
from mcp_suite.servers.prompts.storage import open_storage
from mcp_suite.servers.prompts.storage.base import (
    Conflict,
    KnownFileRow,
    LabelChange,
    PromptEntry,
    PromptStorage,
    PublishedVersion,
    PublishItem,
    PublishOutcome,
)
from mcp_suite.servers.prompts.versioning import LABEL_PATTERN
from mcp_suite.shared.database_url import DatabaseUrl, PostgresUrl, SqliteUrl, parse_database_url
from mcp_suite.shared.errors import ConflictError, DatabaseConfigError, InvalidInputError

__all__ = [
    "Conflict",
    "KnownFileRow",
    "LabelChange",
    "PromptEntry",
    "PublishItem",
    "PublishOutcome",
    "PublishedVersion",
    "Registry",
    "published_hashes",
]


class Registry:
    """The registry's rules over one :class:`PromptStorage` (SQLite or PostgreSQL)."""

    def __init__(self, storage: PromptStorage) -> None:
        self.storage = storage

    @classmethod
    async def open(cls, where: DatabaseUrl | str | os.PathLike[str]) -> Registry:
        """Open the registry at a database URL (or a SQLite file path), migrating its schema."""
        url = where if isinstance(where, SqliteUrl | PostgresUrl) else SqliteUrl(Path(where))
        return cls(await open_storage(url))

    async def close(self) -> None:
        await self.storage.close()

    # -- publishing ---------------------------------------------------------------------------------

    async def publish(self, items: Sequence[PublishItem], author: str, *, atomic: bool = True) -> PublishOutcome:
        """Store the new versions among ``items``, in one transaction.

        ``atomic``: any conflict raises :class:`ConflictError` and nothing is written (the CLI and the
        tool). Otherwise conflicting items are skipped and returned, the rest is published (the
        library watcher, which reports the conflicts as broken files).
        """
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
        if not seen:
            return PublishOutcome()
        return await self.storage.publish(seen, author, now(), atomic=atomic)

    async def save_drafts(self, items: Sequence[PublishItem], author: str, *, forget_files: Sequence[str] = ()) -> None:
        """Store ``items`` as their prompts' drafts (replacing earlier ones), and forget drafts of removed files."""
        if items or forget_files:
            await self.storage.save_drafts(items, author, now(), forget_files)

    # -- reading ------------------------------------------------------------------------------------

    async def catalog(self) -> dict[str, PromptEntry]:
        """The whole registry, read in one consistent snapshot."""
        return await self.storage.catalog()

    async def changed_elsewhere(self) -> bool:
        """True when another process sharing a SQLite file committed since the last :meth:`catalog` (cheap)."""
        return await self.storage.changed_elsewhere()

    def changes(self) -> AsyncGenerator[None, None]:
        """Yields when another replica announced a change (PostgreSQL); never on SQLite."""
        return self.storage.changes()

    async def known_files(self) -> list[KnownFileRow]:
        """Library files as last published: a file with the same size and mtime need not be parsed again."""
        return await self.storage.known_files()

    async def remember_files(self, files: Sequence[KnownFileRow], forget: Sequence[str] = ()) -> None:
        if files or forget:
            await self.storage.remember_files(files, forget)

    async def label_history(self, name: str, label: str | None = None) -> list[LabelChange]:
        return await self.storage.label_history(name, label)

    # -- labels and rollouts ------------------------------------------------------------------------

    async def set_label(self, name: str, label: str, version: str, author: str) -> str | None:
        """Point ``label`` at ``version``; returns the version it pointed at before (None: new label).

        A rollout on the label is ended: it split traffic around the old target.
        """
        _check_label(label)
        return await self.storage.set_label(name, label, version, author, now())

    async def rollback(
        self, name: str, label: str, author: str, *, check: Callable[[str, str], None] | None = None
    ) -> tuple[str, str]:
        """Move ``label`` back to the version it pointed at before its current one; returns (from, to).

        Each rollback undoes one ``set``: rolling back twice goes two versions back, not back and forth.
        ``check(from, to)`` may refuse the move by raising; nothing is written then.
        """
        _check_label(label)
        return await self.storage.rollback(name, label, author, now(), check)

    async def set_rollout(self, name: str, label: str, splits: Mapping[str, float], author: str) -> dict[str, float]:
        """Split ``label``'s traffic between versions; an empty split ends the rollout."""
        _check_label(label)
        return await self.storage.set_rollout(name, label, splits, author, now(), validate_splits)


def _check_label(label: str) -> None:
    if not re.match(LABEL_PATTERN, label):
        raise InvalidInputError(
            f"label '{label}' is not valid: use 1-64 letters, digits, '_', '.' or '-' (e.g. production, staging)"
        )


def published_hashes(where: str | os.PathLike[str]) -> dict[tuple[str, str], str]:
    """(name, version) → content hash of every published version, read-only.

    ``where`` is a registry file (``DATA_DIR/prompts.db``) or a database URL (``sqlite:///…``,
    ``postgresql://…``): a CI check compares a library with whatever registry the team serves from.
    """
    text = os.fspath(where)
    if "://" not in text:
        from mcp_suite.servers.prompts.storage.sqlite import published_hashes as read_file

        return read_file(text)
    url = parse_database_url(text)
    if isinstance(url, SqliteUrl):
        from mcp_suite.servers.prompts.storage.sqlite import published_hashes as read_file

        return read_file(url.path)
    try:
        from mcp_suite.servers.prompts.storage.postgres import published_hashes as read_database
    except ImportError as exc:
        raise DatabaseConfigError(
            f"PostgreSQL needs the postgres extra ({exc.name} is missing); run: pip install 'mcp-suite[postgres]'"
        ) from None
    return anyio.run(read_database, url)
