"""Deterministic, sticky traffic splits between prompt versions.

A rollout on a label (``{"1": 90, "2": 10}``) sends each caller-provided subject key to one
version. The bucket is derived from sha256 of the prompt name, the label and the subject, so the
same subject always lands on the same version (sticky), different prompts split independently,
and no state is kept per subject. Changing the weights only moves the subjects whose bucket
crosses a boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from mcp_suite.servers.prompts.versioning import version_key
from mcp_suite.shared.errors import InvalidInputError

BUCKETS = 10_000
"""Buckets per split: weights are percentages, resolved to 0.01 %."""


def bucket(name: str, label: str, subject: str) -> int:
    """The subject's fixed bucket in ``[0, BUCKETS)`` for this prompt and label."""
    digest = hashlib.sha256(f"{name}\x1f{label}\x1f{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def validate_splits(splits: Mapping[str, float], known_versions: set[str] | None = None) -> dict[str, float]:
    """Check a split: percentages above 0 that add up to 100, over versions that exist."""
    if not splits:
        raise InvalidInputError("a rollout needs at least one version, e.g. {'1': 90, '2': 10}")
    clean: dict[str, float] = {}
    for version, weight in splits.items():
        if not isinstance(weight, int | float) or isinstance(weight, bool) or weight <= 0 or weight > 100:
            raise InvalidInputError(f"rollout weight for version '{version}' must be a percentage in (0, 100]")
        if known_versions is not None and version not in known_versions:
            listed = ", ".join(sorted(known_versions)) or "none"
            raise InvalidInputError(f"version '{version}' is not published (published: {listed}); publish it first")
        clean[str(version)] = float(weight)
    total = sum(clean.values())
    if abs(total - 100.0) > 1e-6:
        raise InvalidInputError(f"rollout weights must add up to 100, got {total:g}")
    # A canonical order, so the same split given in another order sends subjects to the same versions.
    return {version: clean[version] for version in sorted(clean, key=version_key)}


def choose(splits: Mapping[str, float], slot: int) -> str:
    """The version whose share of the ``BUCKETS`` covers ``slot`` (versions in the split's order)."""
    edge = 0.0
    last = ""
    for version, weight in splits.items():
        edge += weight * BUCKETS / 100.0
        last = version
        if slot < edge:
            return version
    return last  # float rounding at the top edge
