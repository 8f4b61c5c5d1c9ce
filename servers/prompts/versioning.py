"""Ordering of prompt version strings: ``2`` < ``10``, ``1.2.0`` < ``1.10.0``, ``1`` < ``1.1``."""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+)")


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
