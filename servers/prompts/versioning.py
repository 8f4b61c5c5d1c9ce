"""Version strings and label names: ordering (``2`` < ``10``, ``1.2.0`` < ``1.10.0``, ``1`` < ``1.1``), the
label syntax, and the label that decides what is served."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")
LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DEFAULT_LABEL = "production"
"""The label prompts/list and prompts/get serve when it is set."""
DRAFT_LABEL = "draft"
"""The reserved label that serves a prompt's draft, and only on request."""


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing digit runs as numbers and everything else as text."""
    key: list[tuple[int, int | str]] = []
    for part in _PARTS.split(version):
        if not part or part in ".-_":
            continue
        key.append((1, int(part)) if part.isdigit() else (0, part.lower()))
    return tuple(key)


def latest(versions: list[str]) -> str | None:
    return max(versions, key=version_key) if versions else None
