"""Helpers for the registry/server tests: prompt files written into a temp library, a connected client."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_suite.servers.prompts.registry import Registry
from mcp_suite.servers.prompts.server import PromptsServer, build_server
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.db import Database

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"


def prompt_yaml(
    name: str = "Greet",
    version: str = "1",
    template: str = "Hello {{ person }}, in a {{ tone }} tone.",
    *,
    description: str = "Greets someone.",
    tone_default: str = "warm",
) -> str:
    body = textwrap.indent(template, "  ")
    return (
        f"name: {name}\n"
        f"description: {description}\n"
        f"version: {version}\n"
        "input_variables:\n"
        "  - name: person\n"
        "    description: who to greet\n"
        "  - name: tone\n"
        "    description: how to greet\n"
        "    required: false\n"
        f"    default: {tone_default}\n"
        "    enum: [warm, formal, pirate]\n"
        "execution_settings:\n"
        "  model: test-model\n"
        "  temperature: 0.1\n"
        "  max_tokens: 64\n"
        "tests:\n"
        "  - name: alice\n"
        "    inputs: {person: Alice, tone: formal}\n"
        "    assertions:\n"
        "      - contains: Alice\n"
        "template: |\n"
        f"{body}\n"
    )


def write(path: Path, text: str) -> Path:
    """Write ``text`` and make sure the watcher sees a new mtime even on coarse-timestamp filesystems."""
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(time.time_ns(), before + 1_000_000))
    return path


def settings(tmp_path: Path, library: Path | None, **extra: Any) -> PromptsSettings:
    if DATABASE_URL is not None:
        extra.setdefault("database_url", DATABASE_URL)
    return PromptsSettings(library=library, data_dir=tmp_path / "data", author="tester", **extra)


@asynccontextmanager
async def connected(
    tmp_path: Path,
    library: Path | None,
    *,
    mode: str = "auto",
    client_options: dict[str, Any] | None = None,
    **extra: Any,
) -> AsyncIterator[tuple[PromptsServer, Client]]:
    """A server over ``library`` (not watched unless ``watch_interval`` is given) and a client connected to it."""
    extra.setdefault("watch_interval", 0)
    server = build_server(settings(tmp_path, library, **extra))
    async with Client(server, mode=mode, **(client_options or {})) as client:
        yield server, client


DATABASE_URL: str | None = None
"""The PostgreSQL database the current test runs on (set by the ``database_url`` fixture), None for SQLite."""


def sqlite_only(reason: str) -> None:
    """Skip the PostgreSQL run of an engine-parametrised test; ``reason``: what is SQLite-file specific."""
    if DATABASE_URL is not None:
        pytest.skip(f"SQLite only: {reason}")


async def open_registry(tmp_path: Path) -> Registry:
    """The registry the current test's engine holds: ``tmp_path/prompts.db``, or the test's PostgreSQL database."""
    if DATABASE_URL is not None:
        return await Registry.open(parse_database_url(DATABASE_URL))
    return await Registry.open(tmp_path / "prompts.db")


async def rows(registry: Registry, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """What a query (``?`` placeholders) reads from the registry's tables, on either engine."""
    return await _query(registry, sql, params, write=False)


async def execute(registry: Registry, sql: str, params: tuple[object, ...] = ()) -> None:
    await _query(registry, sql, params, write=True)


async def _query(registry: Registry, sql: str, params: tuple[object, ...], *, write: bool) -> list[tuple[Any, ...]]:
    db: Any = registry.storage.db  # type: ignore[attr-defined]  # tests look under the storage protocol
    if isinstance(db, Database):
        async with db.transaction() if write else db.snapshot() as conn, conn.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]
    async with db.transaction() if write else db.snapshot() as session:
        if write:
            await session.execute(sql.replace("?", "%s"), params)
            return []
        return [tuple(row) for row in await session.fetchall(sql.replace("?", "%s"), params)]
