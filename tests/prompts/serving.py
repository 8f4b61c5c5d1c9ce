"""Helpers for the registry/server tests: prompt files written into a temp library, a connected client."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from mcp_suite.servers.prompts.server import PromptsServer, build_server
from mcp_suite.servers.prompts.settings import PromptsSettings

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
