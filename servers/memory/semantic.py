"""Meaning-based recall for ``search_nodes``: the in-memory vector matrix and the fusion rule.

No SQL and no protocol here. :mod:`mcp_suite.servers.memory.recall` keeps the vectors in SQLite and
feeds them to a :class:`VectorMatrix`; :mod:`mcp_suite.servers.memory.graph` asks it for candidates
and fuses them with the BM25 tiers using :func:`fuse`.

Rows are observations (keyed by observation id) and entity lines ``name (type)`` (keyed by entity
id). A small matrix is scored exactly (one matrix-vector product). Past ``COARSE_FROM`` rows the full
product is bandwidth-bound (20,000 entities with 3 facts each are 80,000 × 256 floats, 80 MB, about
8 ms a query), so a ``COARSE_DIMS``-dimension prefix copy (15 MB) picks ``SHORTLIST`` entities and only
their rows are scored in full; no approximate index is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

Kind = Literal["observation", "entity"]
OBSERVATION: Kind = "observation"
ENTITY: Kind = "entity"
_KIND_CODE = {OBSERVATION: 0, ENTITY: 1}


def entity_text(name: str, entity_type: str) -> str:
    """The text embedded for an entity itself (its observations are embedded one by one)."""
    return f"{name} ({entity_type})"


COARSE_DIMS = 48
"""Dimensions of the candidate-picking copy of a large matrix (wordllama is trained to work truncated).
48 rather than 64: a quarter fewer bytes per query and the same memory-search recall on both seeds of
``bench/memory_quality_bench.py``; 32 lost questions on seed 1."""
COARSE_FROM = 20_000
"""Matrices with more rows than this search in two stages; smaller ones are scored in full."""
SHORTLIST = 800
"""Entities the first stage keeps for exact scoring (at least this many, and four per entity asked for)."""


def _prefix(vectors: np.ndarray) -> np.ndarray:
    """The first ``COARSE_DIMS`` dimensions of unit rows, made unit again."""
    import numpy as np  # loads on the first vector operation, not at start-up

    part = np.ascontiguousarray(vectors[:, :COARSE_DIMS], dtype=np.float32)
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = part / norms
    return unit


class VectorMatrix:
    """(kind, id) → unit float32 vector; exact top-k by dot product. Replacing a key overwrites its row;
    removed rows are tombstoned and compacted once a quarter of the matrix is dead."""

    def __init__(self, dimension: int) -> None:
        import numpy as np  # loads on the first vector operation, not at start-up

        self.dimension = dimension
        self._matrix = np.zeros((0, dimension), dtype=np.float32)
        self._kinds = np.zeros(0, dtype=np.int8)
        self._ids = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._groups = np.zeros(0, dtype=np.int64)  # dense index of the entity each row belongs to
        self._current = np.zeros(0, dtype=bool)  # False once an observation stopped holding (superseded)
        self._coarse = np.zeros((0, min(dimension, COARSE_DIMS)), dtype=np.float32)  # see search_entities
        self._used = 0
        self._row: dict[tuple[int, int], int] = {}
        self._group_of: dict[int, int] = {}  # entity id -> dense index
        self._entity_at: list[int] = []  # dense index -> entity id

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, key: tuple[Kind, int]) -> bool:
        return (_KIND_CODE[key[0]], key[1]) in self._row

    def add(self, kind: Kind, ids: Sequence[int], vectors: np.ndarray, entities: Sequence[int]) -> None:
        """Rows for ``ids`` (observation or entity ids), each belonging to the entity in ``entities``."""
        import numpy as np  # loads on the first vector operation, not at start-up

        if not len(ids):
            return
        if vectors.shape != (len(ids), self.dimension):
            raise ValueError(f"expected {len(ids)} vectors of {self.dimension} dims, got {vectors.shape}")
        code = _KIND_CODE[kind]
        fresh: list[int] = []
        for offset, key_id in enumerate(ids):
            row = self._row.get((code, int(key_id)))
            if row is None:
                fresh.append(offset)
            else:
                self._matrix[row] = vectors[offset]
                self._coarse[row] = _prefix(vectors[offset : offset + 1])[0]
                self._groups[row] = self._group(entities[offset])
        need = self._used + len(fresh)
        if need > len(self._ids):
            self._grow(max(need, 2 * len(self._ids), 1024))
        start = self._used
        self._matrix[start:need] = vectors[fresh]
        self._coarse[start:need] = _prefix(vectors[fresh])
        self._kinds[start:need] = code
        self._ids[start:need] = np.asarray([ids[i] for i in fresh], dtype=np.int64)
        self._alive[start:need] = True
        self._current[start:need] = True
        self._groups[start:need] = np.asarray([self._group(entities[i]) for i in fresh], dtype=np.int64)
        for row, offset in enumerate(fresh, start=start):
            self._row[(code, int(ids[offset]))] = row
        self._used = need

    def _group(self, entity_id: int) -> int:
        index = self._group_of.get(int(entity_id))
        if index is None:
            index = self._group_of[int(entity_id)] = len(self._entity_at)
            self._entity_at.append(int(entity_id))
        return index

    def retire(self, observation_ids: Sequence[int]) -> None:
        """These observations stopped holding: left out of searches of the present, kept for ``as_of``."""
        code = _KIND_CODE[OBSERVATION]
        for obs_id in observation_ids:
            row = self._row.get((code, int(obs_id)))
            if row is not None:
                self._current[row] = False

    def move(self, observation_ids: Sequence[int], entity_id: int) -> None:
        """Observations now belong to another entity (a merge)."""
        code = _KIND_CODE[OBSERVATION]
        for obs_id in observation_ids:
            row = self._row.get((code, int(obs_id)))
            if row is not None:
                self._groups[row] = self._group(entity_id)

    def add_blobs(self, kind: Kind, rows: Sequence[tuple[int, int, bytes]]) -> None:
        """Add ``(id, entity id, float32 blob)`` rows as the store keeps them (blobs of another size are skipped)."""
        import numpy as np  # loads on the first vector operation, not at start-up

        rows = [r for r in rows if len(r[2]) == 4 * self.dimension]
        if rows:
            matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), self.dimension)
            self.add(kind, [r[0] for r in rows], matrix, [r[1] for r in rows])

    def remove(self, kind: Kind, ids: Sequence[int]) -> None:
        code = _KIND_CODE[kind]
        for key_id in ids:
            row = self._row.pop((code, int(key_id)), None)
            if row is not None:
                self._alive[row] = False
        if self._used > 4096 and len(self._row) < 0.75 * self._used:
            self._compact()

    def search_entities(self, query: np.ndarray, k: int, past: bool = False) -> list[tuple[int, float]]:
        """The ``k`` entities whose rows together are closest to ``query``: each row adds what its cosine
        exceeds the noise floor, so an entity matching several parts of a question ("painter",
        "pony") outranks one matching a single part, and unrelated facts add nothing."""
        import numpy as np  # loads on the first vector operation, not at start-up

        used = self._used
        if used == 0 or k <= 0:
            return []
        query = query.astype(np.float32, copy=False)
        live = self._alive[:used] if past else self._alive[:used] & self._current[:used]
        groups = self._groups[:used]
        entities = len(self._entity_at)
        if used > COARSE_FROM and self._coarse.shape[1] < self.dimension:
            # Two stages (see the module docstring): the first dimensions of these (Matryoshka-trained)
            # vectors rank entities almost as well, so the prefix copy picks the candidates.
            rough = self._coarse[:used] @ _prefix(query[None, :])[0]
            rough -= NOISE
            np.maximum(rough, 0.0, out=rough)
            if not live.all():
                rough[~live] = 0.0
            totals = np.bincount(groups, weights=rough, minlength=entities)
            shortlist = max(SHORTLIST, 4 * k)
            if shortlist < entities:
                candidates = np.argpartition(-totals, shortlist - 1)[:shortlist]
                kept = np.zeros(entities, dtype=bool)
                kept[candidates] = True
                live = live & kept[groups]  # a lookup per row: cheaper than np.isin
            else:
                candidates = np.arange(entities)
            rows = np.flatnonzero(live)
            scores = self._matrix[rows] @ query
            scores -= NOISE
            np.maximum(scores, 0.0, out=scores)
            totals = np.bincount(groups[rows], weights=scores, minlength=entities)[candidates]
        else:
            scores = self._matrix[:used] @ query
            excess = np.where(live, np.clip(scores - NOISE, 0.0, None), 0.0)
            candidates = np.arange(entities)
            totals = np.bincount(groups, weights=excess, minlength=entities)
        # The best k of the candidates (only the shortlist has exact scores).
        k = min(k, int(np.count_nonzero(totals)))
        if k <= 0:
            return []
        top = np.argpartition(-totals, k - 1)[:k] if k < len(totals) else np.arange(len(totals))
        top = top[np.argsort(-totals[top], kind="stable")]
        entity_at = self._entity_at
        return [
            (entity_at[i], score)
            for i, score in zip(candidates[top].tolist(), totals[top].tolist(), strict=True)
            if score > 0
        ]

    def search(self, query: np.ndarray, k: int) -> list[tuple[Kind, int, float]]:
        """The ``k`` rows most similar to the unit vector ``query``, best first, with their cosine."""
        import numpy as np  # loads on the first vector operation, not at start-up

        used = self._used
        if used == 0 or k <= 0:
            return []
        scores = self._matrix[:used] @ query.astype(np.float32, copy=False)
        scores[~self._alive[:used]] = -np.inf  # (used by tests and tools that want rows, not entities)
        k = min(k, len(self._row))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k] if k < used else np.arange(used)
        top = top[np.argsort(-scores[top], kind="stable")]
        kinds = (OBSERVATION, ENTITY)
        return [(kinds[int(self._kinds[i])], int(self._ids[i]), float(scores[i])) for i in top if self._alive[i]]

    def similarities(self, query: np.ndarray, kind: Kind, ids: Sequence[int]) -> dict[int, float]:
        """Cosine of ``query`` with the rows of these ids (ids without a row are left out)."""
        code = _KIND_CODE[kind]
        rows = [(key_id, self._row[(code, key_id)]) for key_id in ids if (code, key_id) in self._row]
        if not rows:
            return {}
        scores = self._matrix[[row for _, row in rows]] @ query
        return {key_id: float(score) for (key_id, _), score in zip(rows, scores, strict=True)}

    def _grow(self, capacity: int) -> None:
        import numpy as np  # loads on the first vector operation, not at start-up

        used = self._used
        matrix = np.zeros((capacity, self.dimension), dtype=np.float32)
        matrix[:used] = self._matrix[:used]
        kinds = np.zeros(capacity, dtype=np.int8)
        kinds[:used] = self._kinds[:used]
        ids = np.zeros(capacity, dtype=np.int64)
        ids[:used] = self._ids[:used]
        alive = np.zeros(capacity, dtype=bool)
        alive[:used] = self._alive[:used]
        groups = np.zeros(capacity, dtype=np.int64)
        groups[:used] = self._groups[:used]
        current = np.zeros(capacity, dtype=bool)
        current[:used] = self._current[:used]
        coarse = np.zeros((capacity, self._coarse.shape[1]), dtype=np.float32)
        coarse[:used] = self._coarse[:used]
        self._coarse = coarse
        self._matrix, self._kinds, self._ids, self._alive = matrix, kinds, ids, alive
        self._groups, self._current = groups, current

    def _compact(self) -> None:
        keep = self._alive[: self._used].nonzero()[0]
        n = len(keep)
        self._matrix[:n] = self._matrix[keep]
        self._coarse[:n] = self._coarse[keep]
        self._kinds[:n] = self._kinds[keep]
        self._ids[:n] = self._ids[keep]
        self._groups[:n] = self._groups[keep]
        self._current[:n] = self._current[keep]
        self._alive[:n] = True
        self._alive[n:] = False
        self._used = n
        self._row = {(int(self._kinds[r]), int(self._ids[r])): r for r in range(n)}


# ---- fusion -------------------------------------------------------------------------------------

STRONG_LEXICAL_TIERS = (0, 1)
"""Tier 0: every query word (or prefix) is in the entity; tier 1: the query is a substring of it.
Tier 2 (any single word matches) is weak evidence: a question's "where" or "does" matches it."""

RRF_K = 10
"""Small: the top of each list matters most in a memory search (the caller reads ~5 results)."""


@dataclass(frozen=True)
class LexicalHit:
    entity_id: int
    tier: int  # 0 all words, 1 substring, 2 any word
    in_name: bool = False  # every query word is in the entity's name (or an alias): the strongest evidence
    named: bool = False  # the query is the entity's name (or an alias), case aside: a lookup (see fuse)


@dataclass(frozen=True)
class SemanticHit:
    entity_id: int
    score: float  # summed excess cosine of the entity's rows over NOISE (see VectorMatrix.search_entities)


NOISE = 0.1
"""Cosines of the built-in embedder up to about this are noise between unrelated short texts."""
FLOOR = NOISE
"""Observations below this cosine are not listed as matches."""
CONFIDENT = 0.4
"""Summed excess at or above this is a confident semantic match; below it the semantic leg is damped."""


SEMANTIC_ONLY_MIN = 0.5
"""Weight a semantic hit needs to enter the results when the words did not find that entity."""


def semantic_weight(score: float, best: float) -> float:
    """How much a semantic hit counts: full weight near the best entity of this query, fading to nothing
    at half of it; and the whole leg is damped when even its best is weak (the query matches nothing
    by meaning, e.g. a made-up code name)."""
    if best <= 0 or score <= 0:
        return 0.0
    return max(0.0, min(1.0, (score / best - 0.5) / 0.5)) * min(1.0, best / CONFIDENT)


def fuse(lexical: Sequence[LexicalHit], semantic: Sequence[SemanticHit]) -> list[tuple[int, float]]:
    """Entity ids best first with their fused score (highest possible 1.0).

    Weighted reciprocal-rank fusion in which each leg's weight is its own evidence: a name hit weighs
    2, another strong lexical hit (all words, or the exact substring) 1, an any-word hit 0.35; a semantic hit weighs by
    how close it is to the query's best similarity and how good that best is. So a leg that found
    nothing real (the lexical leg on a paraphrase, the semantic leg on a made-up code name) adds
    little, and cannot push the other leg's good hits down: an entity strong in one leg keeps at
    least that leg's score, and agreement between legs ranks highest.

    A query that names an entity is a lookup (see :func:`lookup`): meaning may reorder what the words
    found, but adds nothing of its own (other names read alike to an embedder: "Entity09182" is near
    "Entity01928", "Anna Berg" near "Anne Borg").
    """
    named = any(hit.named for hit in lexical)
    lexical = lookup(lexical)
    scores: dict[int, float] = {}
    for rank, hit in enumerate(lexical):
        weight = 2.0 if hit.in_name else 1.0 if hit.tier in STRONG_LEXICAL_TIERS else 0.35
        scores[hit.entity_id] = scores.get(hit.entity_id, 0.0) + weight / (RRF_K + rank + 1)
    if semantic:
        best = max(h.score for h in semantic)
        for rank, sem in enumerate(semantic):
            weight = semantic_weight(sem.score, best)
            # A weak meaning match may reorder what the words found, but is not a result on its own.
            if (weight >= SEMANTIC_ONLY_MIN and not named) or (weight > 0 and sem.entity_id in scores):
                scores[sem.entity_id] = scores.get(sem.entity_id, 0.0) + weight / (RRF_K + rank + 1)
    top = 2.0 / (RRF_K + 1)
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return [(entity_id, round(min(1.0, score / top), 4)) for entity_id, score in ordered if score > 0]


def lookup(lexical: Sequence[LexicalHit]) -> list[LexicalHit]:
    """When the query is an entity's name, only that entity and those containing the whole query (every
    word, or the exact text): a lookup of "Anna Berg" is not answered with every other Anna. Otherwise
    all the hits, unchanged."""
    if not any(hit.named for hit in lexical):
        return list(lexical)
    return [hit for hit in lexical if hit.tier in STRONG_LEXICAL_TIERS]
