"""Search of the graph store: lexical (the engine's full-text index, or a scan of the past for
``as_of``), semantic (through :class:`~mcp_suite.servers.memory.recall.Recall`) and their fusion, with
the matching observations of each hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_suite.servers.memory import limits, search
from mcp_suite.servers.memory.graph_core import GraphCore, valid_at
from mcp_suite.servers.memory.models import (
    EntityMatch,
    KnowledgeGraph,
    ObservationMatch,
    SearchMode,
)
from mcp_suite.servers.memory.search_rows import SearchRows, read_search_rows
from mcp_suite.servers.memory.semantic import FLOOR, LexicalHit, SemanticHit, fuse, lookup
from mcp_suite.shared.alongside import alongside
from mcp_suite.shared.embeddings import EmbeddingError
from mcp_suite.shared.errors import InvalidInputError

if TYPE_CHECKING:
    import numpy as np

    from mcp_suite.servers.memory.storage.base import Conn

FUSION_POOL = 50
"""Candidates each leg of a hybrid search contributes before fusion."""
MATCHES_SHOWN = 3
"""Matching observations listed per search hit."""


class GraphSearch(GraphCore):
    """Ranked search over the graph (see the module docstring)."""

    async def search(
        self,
        query: str,
        limit: int = limits.DEFAULT_SEARCH_LIMIT,
        mode: SearchMode = "hybrid",
        as_of: str | None = None,
    ) -> KnowledgeGraph:
        """Entities matching ``query`` best first, with every relation touching them, and for each
        hit its matching observations with a score.

        ``lexical``: three tiers: entities containing every word (or word prefix), BM25-ranked with
        names weighing most; then entities containing the query as a case-insensitive substring of
        their name, type or an observation (the reference server's rule, so nothing it would find
        is missed); then, for several words, entities containing any of them. ``semantic``: by
        meaning (nearest observation or entity-line vectors). ``hybrid`` fuses both (see
        :func:`~mcp_suite.servers.memory.semantic.fuse`). A query that is an entity's name or alias is a
        lookup (:func:`~mcp_suite.servers.memory.semantic.lookup`): no any-word tier, no hits by meaning alone.
        """
        notes: list[str] = []
        semantic_on = self.recall is not None and self.recall.enabled
        if mode == "semantic" and not semantic_on:
            raise InvalidInputError(
                "semantic search is off on this server (--embedder none); use mode='lexical' or 'hybrid'"
            )
        if mode == "hybrid" and not semantic_on:
            mode = "lexical"
        want = limit + 1  # one extra tells us whether more exist
        pool = max(want, FUSION_POOL) if mode == "hybrid" else want
        lexical, semantic, query_vector = await self._legs(query, mode, pool, as_of, notes)
        if mode == "lexical":
            ranked = [(hit.entity_id, 1.0) for hit in lookup(lexical)]
        elif mode == "semantic":
            ranked = [(hit.entity_id, round(hit.score, 4)) for hit in semantic]
        else:
            ranked = fuse(lexical, semantic)
        found = ranked[:want]
        # No snapshot: the ranking and the rows read for it may see successive commits (an entity deleted
        # in between drops out, one changed shows its newer facts), which saves BEGIN and COMMIT.
        async with self.db.reads() as conn:
            hits = await read_search_rows(
                conn, self.sql.one_of_ints, self.namespace, [entity_id for entity_id, _ in found[:limit]], as_of
            )
            relations = hits.graph_relations()
            if as_of is not None:
                relations = await self._both_ends_existed(conn, hits.entities, relations, as_of)
        graph = KnowledgeGraph(entities=hits.graph_entities(), relations=relations)
        graph.matches = self._matches(hits, dict(found), query, query_vector)
        graph.asOf = as_of
        if len(found) > limit:
            notes.append(
                f"More entities match than the {limit} shown (best matches first). Pass a larger limit "
                f"(up to {limits.MAX_SEARCH_LIMIT}) or a more specific query."
            )
        if notes:
            graph.hint = " ".join(notes)
        return graph

    async def _lexical(self, conn: Conn, query: str, want: int, as_of: str | None) -> list[LexicalHit]:
        if as_of is not None:
            return await self._lexical_as_of(conn, query, want, as_of)
        found = await self.sql.lexical(conn, self.namespace, query, want)
        words = [w.casefold() for w in search.words(query)]
        return [
            LexicalHit(
                entity_id,
                hit.tier,
                in_name=hit.tier == 0 and _all_in(words, hit.names),
                named=hit.tier == 0 and _is_name(query, hit.names),
            )
            for entity_id, hit in found.items()
        ]

    async def _lexical_as_of(self, conn: Conn, query: str, want: int, as_of: str) -> list[LexicalHit]:
        """Word and substring matching over what held at ``as_of`` (the search index holds only the
        present, so the past is scanned: slower, and only asked for when looking back)."""
        valid, valid_params = valid_at("o", as_of)
        words = [w.casefold() for w in search.words(query)]
        needle = query.casefold()
        hits: list[tuple[int, int, int]] = []  # (tier, -words matched, id)
        named: set[int] = set()
        async with conn.execute(
            "SELECT e.id, e.name, e.entity_type, coalesce((SELECT "
            f"{self.sql.aggregate('o.content', self.sql.newline)} "
            f"FROM observations o WHERE o.entity_id = e.id AND {valid}), '') FROM entities e "
            "WHERE e.namespace = ? AND e.created_at <= ? ORDER BY e.id",
            (*valid_params, self.namespace, as_of),
        ) as cur:
            async for entity_id, name, entity_type, facts in cur:
                text = f"{name}\n{entity_type}\n{facts}".casefold()
                matched = search.matched(words, text)
                if words and matched == len(words):
                    hits.append((-1 if _all_in(words, name) else 0, -matched, entity_id))
                    if _is_name(query, name):
                        named.add(entity_id)
                elif needle in text:
                    hits.append((1, -matched, entity_id))
                elif matched:
                    hits.append((2, -matched, entity_id))
        hits.sort()
        return [
            LexicalHit(entity_id, max(tier, 0), in_name=tier < 0, named=entity_id in named)
            for tier, _, entity_id in hits[:want]
        ]

    async def _legs(
        self, query: str, mode: SearchMode, pool: int, as_of: str | None, notes: list[str]
    ) -> tuple[list[LexicalHit], list[SemanticHit], np.ndarray | None]:
        """The word leg (SQL) and the meaning leg (the query embedded, then a scan of the vectors in memory),
        overlapped: the word leg's statements run in the database (its own process, or SQLite's thread)
        while this thread embeds and scans, so a hybrid search waits for the longer leg, not for both.
        (Entities deleted meanwhile by another process, or created after ``as_of``, drop out when the
        results are read.) Also returns the query vector, which scores the matching observations."""

        async def word_leg() -> list[LexicalHit]:
            if mode == "semantic":
                return []
            async with self.db.reads() as conn:
                return await self._lexical(conn, query, pool, as_of)

        lexical, meaning = await alongside(word_leg, lambda: self._meaning(query, mode, as_of, notes))
        if meaning is None:
            return lexical, [], None
        query_vector, found = meaning
        return lexical, [SemanticHit(entity_id, score) for entity_id, score in found], query_vector

    async def _meaning(
        self, query: str, mode: SearchMode, as_of: str | None, notes: list[str]
    ) -> tuple[np.ndarray, list[tuple[int, float]]] | None:
        """The query vector and the entities nearest to it, or None for a word search."""
        if mode == "lexical" or not query.strip():
            return None
        assert self.recall is not None
        try:
            return await self.recall.search(query, FUSION_POOL, past=as_of is not None)
        except EmbeddingError as exc:
            if mode == "semantic":
                raise
            notes.append(f"Meaning-based matching is unavailable ({exc}); these are word matches only.")
            return None

    def _matches(
        self, hits: SearchRows, scores: dict[int, float], query: str, query_vector: np.ndarray | None
    ) -> list[EntityMatch]:
        """Per hit, the observations that match: by meaning (cosine) and/or by words (share of the query's
        words they contain), whichever is higher, best first."""
        words = [w.casefold() for w in search.words(query)]
        cosines: dict[int, float] = {}
        if query_vector is not None and self.recall is not None:
            cosines = self.recall.cosines(query_vector, [fact.id for fact in hits.facts])
        per_entity: dict[int, list[ObservationMatch]] = {r.id: [] for r in hits.entities}
        for fact in hits.facts:
            lexical = search.matched(words, fact.content) / len(words) if words else 0.0
            cosine = cosines.get(fact.id, 0.0)
            score = max(lexical, cosine if cosine >= FLOOR else 0.0)
            if score > 0:
                per_entity[fact.entity_id].append(ObservationMatch(content=fact.content, score=round(score, 4)))
        matches: list[EntityMatch] = []
        for row in hits.entities:
            found = sorted(per_entity[row.id], key=lambda m: -m.score)
            top = found[0].score if found else 0.0
            shown = [m for m in found if m.score >= 0.5 * top][:MATCHES_SHOWN]
            matches.append(EntityMatch(name=row.name, score=scores.get(row.id, 0.0), observations=shown))
        return matches


def _all_in(words: Sequence[str], text: str) -> bool:
    return bool(words) and search.matched(words, text) == len(words)


def _is_name(query: str, names: str) -> bool:
    """Whether ``query`` is one of ``names`` (a name and its aliases, one per line), case and outer spaces aside."""
    wanted = query.strip().casefold()
    return bool(wanted) and any(name.strip().casefold() == wanted for name in names.split("\n"))
