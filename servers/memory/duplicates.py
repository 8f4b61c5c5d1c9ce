"""Which entity names probably name the same thing: the rules behind ``find_duplicates``.

Pure functions over names (no SQL, no protocol). Comparing every pair is quadratic, so names are
compared only within blocks that share a first or a last word; a very common word's block is cut
at ``BLOCK`` names, which trades completeness on huge memories for a bounded answer time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from mcp_suite.servers.memory.models import DuplicateGroup

BLOCK = 200
"""Names sharing a first (or last) word that are compared pairwise."""
SIMILAR = 0.85
"""Spelling similarity (difflib ratio of the normalised names) from which two names are reported."""


def name_key(name: str) -> str:
    """The name without case, punctuation or repeated spaces: "Jon  Doe" and "jon-doe" share one key."""
    return " ".join(re.sub(r"[\W_]+", " ", name.casefold()).split())


def likely_duplicates(names: Sequence[str]) -> list[DuplicateGroup]:
    """Groups of likely duplicates, likeliest first: equal keys, then one name extending the other
    ("Alice" / "Alice Smith"), then near-identical spelling."""
    groups: list[DuplicateGroup] = []
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(name_key(name), []).append(name)
    for same in by_key.values():
        if len(same) > 1:
            groups.append(
                DuplicateGroup(names=same, reason="same name apart from case, spacing or punctuation", score=1.0)
            )
    blocks: dict[str, list[str]] = {}
    for key in by_key:
        tokens = key.split()
        if tokens:
            blocks.setdefault("first:" + tokens[0], []).append(key)
            if len(tokens) > 1:
                blocks.setdefault("last:" + tokens[-1], []).append(key)
    seen: set[tuple[str, str]] = set()
    for block in blocks.values():
        block = block[:BLOCK]
        for i, a in enumerate(block):
            for b in block[i + 1 :]:
                pair = (a, b) if a < b else (b, a)
                if pair in seen:
                    continue
                seen.add(pair)
                ta, tb = a.split(), b.split()
                short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
                ratio = difflib.SequenceMatcher(None, a, b).ratio()
                if long[: len(short)] == short or long[-len(short) :] == short:
                    reason = "one name extends the other"
                elif ratio >= SIMILAR:
                    reason = "near-identical spelling"
                else:
                    continue
                groups.append(DuplicateGroup(names=[by_key[a][0], by_key[b][0]], reason=reason, score=round(ratio, 3)))
    groups.sort(key=lambda g: (-g.score, g.names))
    return groups
