"""Adjacent chunks in hybrid search: neighbour smoothing of scores, and joining neighbours into one passage.

An answer often straddles a chunk boundary, or sits in a short chunk whose neighbour carries the
words the question uses (a section's opening line in one chunk, its body in the next). Two steps
use that, both over candidates already fetched (no extra query):

* smoothing: each candidate gains a fixed share of the better score of its adjacent candidates
  (same document, ordinal ± 1), lifting it over an isolated chunk of the same score;
* joining: walking the ranking best first, a candidate adjacent to a passage already taken joins
  that passage (text in document order, up to ``limit`` chunks) instead of taking another slot, so
  the top k shows k distinct passages rather than the two halves of one. Only chunks ranked above
  the k-th passage join: a hit shows what the ranking put in view, grouped, and nothing from below.

On the quality benchmark each lifted hybrid recall@5 on the tuned and the unseen corpora alike
(``bench/results/quality-log-quality4.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from mcp_suite.servers.retrieval.storage.base import ChunkRow


def smooth_neighbours(
    scores: Mapping[int, float], candidates: Sequence[int], rows: Mapping[int, ChunkRow], share: float
) -> dict[int, float]:
    """Each candidate's score plus ``share`` × the higher score of its adjacent candidates (if any)."""
    place = {(rows[cid].document_id, rows[cid].ordinal): cid for cid in candidates}
    out: dict[int, float] = {}
    for cid in candidates:
        row = rows[cid]
        near = (place.get((row.document_id, row.ordinal + step)) for step in (-1, 1))
        best = max((scores[n] for n in near if n is not None), default=0.0)
        out[cid] = scores[cid] + share * max(best, 0.0)
    return out


def join_adjacent(candidates: Sequence[int], rows: Mapping[int, ChunkRow], limit: int, shown: int) -> list[list[int]]:
    """``candidates`` (best first) grouped into passages of at most ``limit`` adjacent chunks of one document;
    each group starts with its best chunk, and groups keep the order of their best chunks.

    Only chunks ranked above the ``shown``-th passage join one: a hit never pulls in a neighbour that
    ranked below everything the caller shows.
    """
    groups: list[list[int]] = []
    group_of: dict[tuple[int, int], int] = {}
    for cid in candidates:
        row = rows[cid]
        g = group_of.get((row.document_id, row.ordinal - 1))
        if g is None or len(groups[g]) >= limit:
            g = group_of.get((row.document_id, row.ordinal + 1))
        if g is not None and len(groups[g]) < limit and len(groups) < shown:
            groups[g].append(cid)
        else:
            g = len(groups)
            groups.append([cid])
        group_of[(row.document_id, row.ordinal)] = g
    return groups


def passage_row(group: Sequence[int], rows: Mapping[int, ChunkRow]) -> ChunkRow:
    """The best chunk of ``group`` widened to the whole passage: its text and line/character span, in
    document order (the id, heading path and anchor stay the best chunk's)."""
    best = rows[group[0]]
    if len(group) == 1:
        return best
    parts = sorted((rows[cid] for cid in group), key=lambda r: r.ordinal)
    return replace(
        best,
        text="\n\n".join(r.text for r in parts),
        start_line=parts[0].start_line,
        end_line=parts[-1].end_line,
        start_char=parts[0].start_char,
        end_char=parts[-1].end_char,
        token_count=sum(r.token_count for r in parts),
        page=parts[0].page if parts[0].page is not None else best.page,
    )
