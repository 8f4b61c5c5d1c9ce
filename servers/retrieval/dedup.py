"""One hit per passage: copies of the same text from other renderings or files collapse into the best-ranked
hit, which lists where else the text lives (``also_in``).

Two chunks are copies when their *normalised* text is the same (casefolded, markup and punctuation
dropped, whitespace collapsed, so ``fs.md``'s ``**Returns:** `<Buffer>` `` and ``fs.html``'s "Returns:
<Buffer>" agree) or nearly the same (word-trigram Jaccard similarity of at least
:data:`NEAR_DUPLICATE` — a renderer that adds a link target or drops a heading does not make a new
passage). Besides the candidates a search ranked, the index is asked for stored chunks with the very
same text, so a hit lists every file that holds it even when only one made the ranked list.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, TypeVar

from pydantic import BaseModel, Field

from mcp_suite.servers.retrieval.citations import citation
from mcp_suite.servers.retrieval.library import KnowledgeBase

NEAR_DUPLICATE = 0.8
MAX_ALSO_IN = 20  # a boilerplate paragraph repeated in a thousand pages needs no thousand-entry list
_WORD = re.compile(r"[^\W_]+")


class AlsoIn(BaseModel):
    """Another place that holds the same passage."""

    chunk_id: int
    source: str
    title: str
    start_line: int
    end_line: int
    citation: str = Field(description="ready-made citation of this copy")


class Collapsible(Protocol):
    """What a ranked hit exposes for de-duplication (a :class:`~.search.SearchHit`)."""

    chunk_id: int
    text: str
    source: str
    title: str
    start_line: int
    end_line: int
    citation: str
    also_in: list[AlsoIn]


H = TypeVar("H", bound=Collapsible)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def normalise(text: str) -> str:
    """Casefolded words separated by single spaces; punctuation, markup characters and underscores dropped."""
    return " ".join(_words(text))


def text_key(text: str) -> str:
    """A short hash of :func:`normalise`\\ d text: equal keys mean the same passage."""
    return _key(_words(text))


def _key(words: list[str]) -> str:
    return hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=12).hexdigest()


Shingles = set[tuple[str, ...]]


def _shingles(words: list[str]) -> Shingles:
    if len(words) < 3:
        return {tuple(words)}
    return set(zip(words, words[1:], words[2:], strict=False))


def _similar(a: Shingles, b: Shingles) -> bool:
    if not a or not b:
        return False
    smaller, larger = sorted((len(a), len(b)))
    if smaller < NEAR_DUPLICATE * larger:  # Jaccard cannot reach the threshold: skip the set operations
        return False
    common = len(a & b)
    return common >= NEAR_DUPLICATE * (len(a) + len(b) - common)


def collapse(hits: Sequence[H], k: int) -> tuple[list[H], dict[int, list[H]]]:
    """The first ``k`` distinct hits in rank order, and for each kept chunk id the lower-ranked copies it absorbed
    (looked for among the ``k`` candidates after the cut as well)."""
    kept: list[H] = []
    keys: dict[str, int] = {}
    shingles: list[Shingles] = []
    absorbed: dict[int, list[H]] = {}
    after_fill = 0
    for hit in hits:
        if len(kept) == k:
            after_fill += 1
            if after_fill > k:  # copies ranked far below the cut are left out: each costs a normalisation
                break
        words = _words(hit.text)
        owner = keys.get(_key(words))
        # Near-duplicates matter while top-k fills; below it, exact copies are still listed under their hit.
        if owner is None and len(kept) < k:
            mine = _shingles(words)
            owner = next((i for i, theirs in enumerate(shingles) if _similar(mine, theirs)), None)
            if owner is None:
                keys[_key(words)] = len(kept)
                shingles.append(mine)
                kept.append(hit)
                continue
        if owner is not None:
            absorbed.setdefault(kept[owner].chunk_id, []).append(hit)
    return kept, absorbed


async def distinct_hits(kb: KnowledgeBase, hits: Sequence[H], k: int) -> list[H]:
    """Collapse copies among ``hits`` (best first) into the first ``k`` distinct ones, each listing its copies —
    the ranked ones it absorbed and any stored chunk with the identical text — in ``also_in``."""
    kept, absorbed = collapse(hits, k)
    if not kept:
        return kept
    copies, rows = await kb.identical_chunks([hit.chunk_id for hit in kept], MAX_ALSO_IN)
    for hit in kept:
        seen = {hit.chunk_id}
        entries: list[AlsoIn] = []
        for copy in absorbed.get(hit.chunk_id, []):
            if copy.chunk_id not in seen:
                seen.add(copy.chunk_id)
                entries.append(
                    AlsoIn(
                        chunk_id=copy.chunk_id,
                        source=copy.source,
                        title=copy.title,
                        start_line=copy.start_line,
                        end_line=copy.end_line,
                        citation=copy.citation,
                    )
                )
        for cid in copies.get(hit.chunk_id, []):
            row = rows.get(cid)
            if row is not None and row.id not in seen:
                seen.add(row.id)
                entries.append(
                    AlsoIn(
                        chunk_id=row.id,
                        source=row.source,
                        title=row.title,
                        start_line=row.start_line,
                        end_line=row.end_line,
                        citation=citation(row),
                    )
                )
        hit.also_in = entries[:MAX_ALSO_IN]
    return kept
