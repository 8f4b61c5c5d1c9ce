"""Search over the knowledge base: BM25, dense vectors, and their fusion.

Lexical search is FTS5's BM25, computed by the in-memory index (lexical.py) with the same scores,
or by the storage engine's full text when that index is not built (a one-shot CLI search). Filters
(source prefix/glob, tags, type, kind, date range, metadata values) are applied before ranking: both
in-memory retrievers restrict their rows to the matching documents (the SQL fallback compiles the
typed filter into its own query).

Fusion (hybrid mode, and query variants from expansion) is by default a convex combination of
z-scores: each ranked list's scores are standardised over its own top ``depth``, so a chunk scores
by how far it stands out in each list rather than by its rank alone. Each list's weight is then
scaled by its confidence for this query, the square root of its best z-score: a leg whose top hit
barely stands out from the rest (a flat, unsure list) counts less, so a weak leg cannot drag a
strong one down the way rank fusion lets it. Weighted Reciprocal Rank Fusion
(``weight / (rrf_k + rank)``) remains available (``fusion="rrf"``).

In hybrid mode each candidate then gains ``neighbour_share`` of its better adjacent candidate's
score (same document, ordinal ± 1; :mod:`neighbours`): an answer that straddles a chunk boundary, or
whose neighbour carries the question's words, outranks an isolated chunk of the same score. Last,
a ranked chunk adjacent to a better one joins its hit (``passage_chunks``, text in document order)
rather than taking a slot of its own: k hits are k distinct passages.

Stored feedback then nudges the fused score by at most ``feedback_weight`` times the score range
of the top ten candidates (RRF: ``feedback_weight / (rrf_k + 1)``) — enough to reorder neighbours,
never enough to lift an irrelevant chunk over a clear winner. An optional reranker reorders the fused
candidates last.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, Protocol

import anyio
from pydantic import BaseModel, ConfigDict, Field

from mcp_suite.servers.retrieval.citations import citation
from mcp_suite.servers.retrieval.dedup import AlsoIn, distinct_hits
from mcp_suite.servers.retrieval.documents import DocType
from mcp_suite.servers.retrieval.lexical import LexicalIndex
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.neighbours import join_adjacent, passage_row, smooth_neighbours
from mcp_suite.servers.retrieval.storage.base import ChunkRow, DocumentFilter
from mcp_suite.shared.errors import ConflictError, InvalidInputError

Mode = Literal["hybrid", "lexical", "semantic"]
MAX_K = 50
EXPANSION_WEIGHT = 0.6  # a model-written variant is a guess; the user's own words count more
FEEDBACK_SPAN = 10  # top candidates whose score range sizes a feedback nudge (z-score fusion)
MIN_DEPTH = 50  # candidates per ranked list; z-scores need enough of a list to measure its spread

_WORD = re.compile(r"\w+", re.UNICODE)
# Words so common that OR-ing them in only slows BM25 down and adds noise.
_STOPWORD_TEXT = (
    "a an and are as at be but by can do does for from has have how i if in into is it its me my no not "
    "of on or so such that the their then there these they this to was we what when where which who why "
    "will with you your"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class SearchFilters(BaseModel):
    """Narrow the search before ranking. Every given filter must hold (AND)."""

    model_config = ConfigDict(extra="forbid")

    source_prefix: str | None = Field(
        default=None,
        description="only sources starting with this, e.g. a folder path '/home/me/notes/' or 'https://docs.x.org/'",
    )
    source_glob: str | None = Field(default=None, description="only sources matching this glob, e.g. '*/guides/*.md'")
    tags: list[str] = Field(default_factory=list, description="only documents carrying every one of these tags")
    doc_types: list[DocType] = Field(
        default_factory=list, description="only these document types: markdown, rst, text, html, code, pdf"
    )
    kinds: list[Literal["file", "url", "text"]] = Field(
        default_factory=list, description="only sources ingested as file, url or text"
    )
    modified_after: datetime | date | None = Field(default=None, description="only documents modified at or after this")
    modified_before: datetime | date | None = Field(default=None, description="only documents modified before this")
    metadata: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="only documents whose metadata has exactly these key/value pairs"
    )

    def to_filter(self) -> DocumentFilter:
        """The storage's typed filter (each engine compiles it to its own SQL)."""
        if self.modified_after and self.modified_before and _ts(self.modified_after) >= _ts(self.modified_before):
            raise InvalidInputError("modified_after must be earlier than modified_before")
        return DocumentFilter(
            source_prefix=self.source_prefix or None,
            source_glob=self.source_glob or None,
            tags=tuple(self.tags),
            doc_types=tuple(self.doc_types),
            kinds=tuple(self.kinds),
            modified_after=_ts(self.modified_after) if self.modified_after else None,
            modified_before=_ts(self.modified_before) if self.modified_before else None,
            metadata=tuple(self.metadata.items()),
        )


def _ts(value: datetime | date) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()


class SearchHit(BaseModel):
    """One retrieved chunk with everything needed to cite it."""

    chunk_id: int = Field(description="pass to get_chunk to widen context, or to feedback")
    score: float = Field(description="fused ranking score (higher is better; comparable within one result list)")
    text: str
    source: str = Field(description="file path, URL or text source name")
    title: str
    doc_type: str
    heading_path: list[str] = Field(description="section headings enclosing the chunk, outermost first")
    start_line: int
    end_line: int
    citation: str = Field(
        description="ready-made citation: source:start-end § heading path (PDF: source#page=N, HTML: source#anchor)"
    )
    page: int | None = Field(default=None, description="1-based PDF page the passage starts on")
    anchor: str | None = Field(default=None, description="id of the nearest HTML heading: open source#anchor")
    lexical_rank: int | None = Field(default=None, description="rank in the BM25 list, if it was there")
    semantic_rank: int | None = Field(default=None, description="rank in the vector list, if it was there")
    also_in: list[AlsoIn] = Field(default_factory=list, description="other sources holding the same passage")
    joined_chunk_ids: list[int] = Field(
        default_factory=list,
        description="adjacent chunks of the same document joined into this hit (their text is included)",
    )


class SearchResult(BaseModel):
    query: str
    mode: Mode
    hits: list[SearchHit]
    notes: list[str] = Field(default_factory=list, description="anything that changed how the search ran")
    took_ms: float


Fusion = Literal["zscore", "rrf"]


@dataclass(frozen=True)
class RankingConfig:
    lexical_weight: float = 1.5
    semantic_weight: float = 1.0
    rrf_k: int = 60
    feedback_weight: float = 0.5
    fusion: Fusion = "zscore"
    neighbour_share: float = 0.25  # hybrid: share of the better adjacent candidate's score (neighbours.py)
    passage_chunks: int = 2  # hybrid: adjacent ranked chunks join into passages of at most this many


class Reranker(Protocol):
    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]: ...


def query_key(query: str) -> str:
    """A query normalised for matching feedback to later searches for the same thing."""
    return " ".join(_WORD.findall(query.casefold()))


def query_words(query: str) -> list[str]:
    """The words BM25 ranks by: distinct, stopwords dropped (unless that leaves none), at most 32."""
    words = list(dict.fromkeys(w for w in _WORD.findall(query.casefold())))
    return ([w for w in words if w not in STOPWORDS] or words)[:32]


def fts_match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression: each word a quoted phrase (no operator injection), OR-ed for BM25."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def fts_query(query: str) -> str | None:
    """The FTS5 MATCH expression for a user query (None when it has no words)."""
    words = query_words(query)
    return fts_match(words) if words else None


async def lexical_ranked(
    kb: KnowledgeBase, index: LexicalIndex, words: Sequence[str], depth: int, doc_ids: Sequence[int] | None
) -> list[tuple[int, float]]:
    """BM25 from the in-memory index; words that FTS5 reads as multi-token phrases are scored by the storage
    (FTS5 on SQLite), or term by term where the engine cannot score them on BM25's scale."""
    if doc_ids is not None and not doc_ids:
        return []
    terms: list[str] = []
    phrases: list[str] = []
    for word in words:
        found = kb.query_terms(word)
        if len(found) == 1:
            terms.append(found[0])
        elif found:  # the in-memory index keeps no positions; FTS5's share of the score adds up
            phrases.append(word)
    extra: list[tuple[int, float]] = []
    if phrases:
        scored = await kb.phrase_scores(phrases)
        if scored is None:
            terms += [term for word in phrases for term in kb.query_terms(word)]
        else:
            extra = scored
    return index.search(terms, depth, doc_ids, extra)


def hit_from_chunk(
    chunk: ChunkRow, score: float = 0.0, ranks: tuple[int | None, int | None] = (None, None)
) -> SearchHit:
    return SearchHit(
        chunk_id=chunk.id,
        score=round(score, 6),
        text=chunk.text,
        source=chunk.source,
        title=chunk.title,
        doc_type=chunk.doc_type,
        heading_path=list(chunk.heading_path),
        start_line=chunk.start_line,
        end_line=chunk.end_line,
        citation=citation(chunk),
        page=chunk.page,
        anchor=chunk.anchor,
        lexical_rank=ranks[0],
        semantic_rank=ranks[1],
    )


async def search(
    kb: KnowledgeBase,
    query: str,
    *,
    k: int = 8,
    mode: Mode = "hybrid",
    filters: SearchFilters | None = None,
    ranking: RankingConfig | None = None,
    expansions: Sequence[str] = (),
    reranker: Reranker | None = None,
) -> SearchResult:
    """Rank chunks for ``query`` (see the module docstring for how)."""
    started = time.perf_counter()
    query = query.strip()
    if not query:
        raise InvalidInputError("the query is empty; ask for something, e.g. 'how do I rotate the API key?'")
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be between 1 and {MAX_K}, got {k}")
    ranking = ranking or RankingConfig()
    notes: list[str] = []
    where = (filters or SearchFilters()).to_filter()

    use_lexical = mode in ("hybrid", "lexical")
    use_semantic = mode in ("hybrid", "semantic")
    if use_semantic and not kb.semantic_enabled:
        if mode == "semantic":
            raise InvalidInputError(
                "semantic search needs an embedder, and this server runs with --embedder none; use mode 'lexical'"
            )
        use_semantic = False
        notes.append("no embedder configured: hybrid search ran as lexical only")
    version = await kb.data_version()  # one read for the embedder check and both indexes
    if use_semantic:
        if mode == "semantic":
            await kb.check_embedder(version)
        else:
            try:
                await kb.check_embedder(version)
            except ConflictError as exc:  # keep answering lexically, but say why
                use_semantic = False
                notes.append(f"semantic half skipped: {exc}")

    depth = max(3 * k, MIN_DEPTH)
    queries = [query, *[q.strip() for q in expansions if q.strip() and q.strip() != query]]
    lists: list[tuple[str, float, list[tuple[int, float]]]] = []  # (retriever, weight, ranked (id, score))
    doc_ids = await kb.matching_document_ids(where)
    vector_index = await kb.vector_index(version) if use_semantic else None
    lexical_index = await kb.lexical_index(version) if use_lexical else None

    async def lexical(q: str, weight: float) -> None:
        words = query_words(q)
        if not words:
            return
        if lexical_index is not None:
            ranked = await lexical_ranked(kb, lexical_index, words, depth, doc_ids)
        else:
            ranked = await kb.lexical_search(words, where, depth)
        lists.append(("lexical", weight, ranked))

    async def semantic(q: str, weight: float) -> None:
        assert vector_index is not None
        if doc_ids is not None and not doc_ids:
            return
        vector = await kb.embed_query(q)
        # The matrix product releases the GIL: it runs beside the FTS query on the other core.
        ranked = await anyio.to_thread.run_sync(vector_index.search, vector, depth, doc_ids)
        lists.append(("semantic", weight, ranked))

    async with anyio.create_task_group() as tasks:
        for i, q in enumerate(queries):
            factor = 1.0 if i == 0 else EXPANSION_WEIGHT
            if use_lexical:
                tasks.start_soon(lexical, q, ranking.lexical_weight * factor)
            if vector_index is not None:
                tasks.start_soon(semantic, q, ranking.semantic_weight * factor)
    # Deterministic fusion order whatever finished first: RRF scores tie often (rank 3 in one list
    # only = rank 3 in the other only), and the stable sort below keeps the first-fused chunk first.
    lists.sort(key=lambda item: (-item[1], item[0]))

    fused, best_rank = fuse(lists, ranking, depth)
    if not fused:
        return SearchResult(query=query, mode=mode, hits=[], notes=notes, took_ms=_ms(started))

    candidates = sorted(fused, key=lambda cid: -fused[cid])[: max(depth, k)]
    if ranking.feedback_weight > 0:
        rows, counts = await kb.chunks_and_feedback(candidates, query)
    else:
        rows, counts = await kb.chunks(candidates), {}
    candidates = [cid for cid in candidates if cid in rows]
    if mode == "hybrid" and ranking.neighbour_share > 0:
        fused.update(smooth_neighbours(fused, candidates, rows, ranking.neighbour_share))
        candidates.sort(key=lambda cid: -fused[cid])
    if counts:
        unit = _feedback_unit(fused, candidates, ranking)
        for cid in candidates:
            c = counts.get(rows[cid].text_hash)
            if c:
                up, down, q_up, q_down = c
                fused[cid] += unit * math.tanh(0.5 * (up - down) + (q_up - q_down))
        candidates.sort(key=lambda cid: -fused[cid])
    if reranker is not None:
        pool = candidates[: max(2 * k, 20)]
        scores = await reranker.rerank(query, [rows[cid].text for cid in pool])
        order = sorted(range(len(pool)), key=lambda i: -scores[i])
        candidates = [pool[i] for i in order]
        fused = {pool[i]: float(scores[i]) for i in range(len(pool))}
        notes.append("reranked")
    limit = ranking.passage_chunks if mode == "hybrid" else 1
    groups = join_adjacent(candidates, rows, limit, k) if limit > 1 else [[cid] for cid in candidates]
    all_hits: list[SearchHit] = []
    for group in groups:
        best = group[0]
        hit = hit_from_chunk(passage_row(group, rows), fused[best], (best_rank[best][0], best_rank[best][1]))
        hit.joined_chunk_ids = sorted(group[1:], key=lambda cid: rows[cid].ordinal)
        all_hits.append(hit)
    hits = await distinct_hits(kb, all_hits, k)  # copies from other renderings/files collapse into one hit
    return SearchResult(query=query, mode=mode, hits=hits, notes=notes, took_ms=_ms(started))


Ranked = list[tuple[int, float]]


def fuse(
    lists: Sequence[tuple[str, float, Ranked]], ranking: RankingConfig, depth: int = 0
) -> tuple[dict[int, float], dict[int, list[int | None]]]:
    """Fused score per chunk and its best (lexical, semantic) ranks, from ``(retriever, weight, ranked)`` lists.

    In hybrid fusion a lexical list shorter than ``depth`` is everything BM25 matched: every other
    chunk scores 0, and those zeros are standardised with it — as many as the vector list ranks chunks
    (it ranks them all, up to ``depth``). A query only one chunk matches is then BM25 at its most
    certain, not a list too short to measure (whose lone hit the vectors' favourites used to bury).
    """
    fused: dict[int, float] = {}
    best_rank: dict[int, list[int | None]] = {}
    # How many chunks a full list would hold: the vector leg's length (it ranks every chunk it may).
    population = min(depth, max((len(r) for name, _, r in lists if name == "semantic"), default=0))
    for retriever, weight, ranked in lists:
        slot = 0 if retriever == "lexical" else 1
        if ranking.fusion == "zscore":
            values = [score for _, score in ranked]
            padding = max(0, population - len(values)) if retriever == "lexical" and values else 0
            scores = standardised(values + [0.0] * padding)
            if any(scores):
                floor = min(scores)
                # Confidence: how far this list's best stands out from its own top ``depth``.
                weight *= math.sqrt(max(scores))
                contributions = [weight * (z - floor) for z in scores[: len(ranked)]]
            else:  # one hit, or scores that do not vary: being in the list is all it says
                contributions = [weight] * len(ranked)
        else:
            contributions = [weight / (ranking.rrf_k + rank) for rank in range(1, len(ranked) + 1)]
        for rank, ((chunk_id, _), value) in enumerate(zip(ranked, contributions, strict=True), start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + value
            ranks = best_rank.setdefault(chunk_id, [None, None])
            if ranks[slot] is None or rank < ranks[slot]:  # type: ignore[operator]
                ranks[slot] = rank
    return fused, best_rank


def standardised(scores: Sequence[float]) -> list[float]:
    """``scores`` (best first) as z-scores over the list itself; all zero when they do not vary."""
    if not scores:
        return []
    mean = math.fsum(scores) / len(scores)
    spread = math.sqrt(math.fsum((s - mean) ** 2 for s in scores) / len(scores))
    if spread <= 1e-12 * max(1.0, abs(mean)):
        return [0.0] * len(scores)
    return [(s - mean) / spread for s in scores]


def _feedback_unit(fused: dict[int, float], candidates: Sequence[int], ranking: RankingConfig) -> float:
    """The largest feedback nudge: RRF's ``feedback_weight / (rrf_k + 1)``; for z-score fusion
    ``feedback_weight`` times the score range of the top ten candidates (whose RRF scores lie closer
    together than one such nudge, too)."""
    if ranking.fusion == "rrf":
        return ranking.feedback_weight / (ranking.rrf_k + 1)
    top = [fused[cid] for cid in candidates[:FEEDBACK_SPAN]]
    return ranking.feedback_weight * (top[0] - top[-1]) if top else 0.0


def _ms(started: float) -> float:
    return round(1000 * (time.perf_counter() - started), 2)
