"""The in-memory BM25 index: FTS5's postings held in numpy and scored exactly like ``bm25(chunks_fts, …)``.

FTS5 answers an OR query ranked by bm25() by scoring every matching row and sorting them all; on a
100k-chunk index a typical question matches half of the rows (~50 ms). Here each term's postings
(row, column-weighted term frequency) sit in numpy arrays, so a query is a gather, one vectorised
BM25 formula, a bincount and an argpartition for the top k (a few ms for the same postings).

Scores are FTS5's bm25() (negated, so larger is better): per phrase
``idf × tf × (k1 + 1) / (tf + k1 × (1 - b + b × D / avgdl))`` with k1 = 1.2, b = 0.75,
``idf = log((N - n + 0.5) / (n + 0.5))`` (1e-6 when not positive), tf = Σ column weight × hits in
that column, D = tokens in the whole row, N and avgdl over every row. The terms themselves always
come from FTS5 (the index's fts5vocab table when building, a private FTS5 table with the same
tokenizer for new chunks and query words), so stemming and case/diacritic folding can never drift
from the SQL index. A word that tokenizes to several tokens (``foo_bar`` is the phrase "foo bar")
needs positions, which are not kept: the caller scores such phrases with FTS5 and adds them in.

Rows follow :class:`~mcp_suite.servers.retrieval.vectors.VectorIndex`: removed chunks are tombstoned (masked
out of postings and statistics at query time) and compacted away once a quarter of the rows are
dead; chunks added after the build live in per-term delta segments, merged into the main arrays
once they grow.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from mcp_suite.servers.retrieval.storage.base import LexicalSource

if TYPE_CHECKING:
    import numpy as np

K1 = 1.2
B = 0.75
COLUMN_BITS = 2  # a posting code is rowid << 2 | column index (chunks_fts has three columns)
_BATCH = 1 << 19  # codes handled per numpy pass while building (bounds the transient memory)


class LexicalIndex:
    """Chunk id → row; term → postings (row, weighted tf); per-row token counts and document ids."""

    def __init__(self, weights: Sequence[float]) -> None:
        import numpy as np

        self.weights = np.zeros(1 << COLUMN_BITS, dtype=np.float64)
        self.weights[: len(weights)] = weights
        self._ids = np.zeros(0, dtype=np.int64)
        self._docs = np.zeros(0, dtype=np.int64)
        self._lengths = np.zeros(0, dtype=np.float64)
        self._alive = np.zeros(0, dtype=bool)
        self._used = 0
        self._row: dict[int, int] = {}
        self._tokens = 0.0  # tokens in all live rows (FTS5's nToken)
        # Main postings, CSR by term id; delta segments hold what was added since the last merge.
        self._vocab: dict[str, int] = {}
        self._starts = np.zeros(1, dtype=np.int64)
        self._post_rows = np.zeros(0, dtype=np.int32)
        self._post_tf = np.zeros(0, dtype=np.float32)
        self._delta: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._delta_size = 0

    # -- size and membership -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, chunk_id: int) -> bool:
        return chunk_id in self._row

    def ids(self) -> set[int]:
        return set(self._row)

    @property
    def terms(self) -> int:
        return len(self._vocab) + sum(1 for t in self._delta if t not in self._vocab)

    @property
    def postings(self) -> int:
        return len(self._post_rows) + self._delta_size

    def nbytes(self) -> int:
        arrays = (self._ids, self._docs, self._lengths, self._alive, self._starts, self._post_rows, self._post_tf)
        delta = sum(r.nbytes + t.nbytes for segs in self._delta.values() for r, t in segs)
        # dict entries: ~100 bytes per term (key string + slot), ~100 per row id
        return sum(a.nbytes for a in arrays) + delta + 100 * (len(self._vocab) + len(self._row))

    # -- building and updating ---------------------------------------------------------------

    @classmethod
    def build(
        cls, weights: Sequence[float], chunks: Sequence[tuple[int, int]], records: Iterable[tuple[str, str]]
    ) -> LexicalIndex:
        """An index of ``chunks`` ((chunk id, document id), by id) from ``records``.

        ``records`` are (term, comma-separated posting codes) grouped by term, codes being
        ``rowid << 2 | column`` per token instance, as :meth:`Storage.lexical_source` yields them.
        """
        import numpy as np

        index = cls(weights)
        index._append_rows(chunks)
        terms: list[str] = []
        rows_parts: list[np.ndarray] = []
        tf_parts: list[np.ndarray] = []
        count_parts: list[np.ndarray] = []
        for batch_terms, term_ids, rows, tf, raw in index._parse(records):
            # Each term comes in exactly one record, so batches never share a term.
            count_parts.append(np.bincount(term_ids, minlength=len(batch_terms)))
            terms += batch_terms
            rows_parts.append(rows.astype(np.int32))
            tf_parts.append(tf.astype(np.float32))
            index._lengths[: index._used] += np.bincount(rows, weights=raw, minlength=index._used)
        index._vocab = {term: i for i, term in enumerate(terms)}
        counts = np.concatenate(count_parts) if count_parts else np.zeros(0, dtype=np.int64)
        index._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        index._post_rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int32)
        index._post_tf = np.concatenate(tf_parts) if tf_parts else np.zeros(0, dtype=np.float32)
        index._tokens = float(index._lengths[: index._used].sum())
        return index

    def add(self, chunks: Sequence[tuple[int, int]], records: Iterable[tuple[str, str]]) -> None:
        """Add (or replace) ``chunks`` ((chunk id, document id)) whose postings are ``records``."""
        import numpy as np

        self.remove([cid for cid, _ in chunks if cid in self._row])
        first = self._used
        self._append_rows(chunks)
        for batch_terms, term_ids, rows, tf, raw in self._parse(records, first):
            np.add.at(self._lengths, rows, raw)
            self._tokens += float(raw.sum())
            bounds = np.flatnonzero(np.diff(term_ids)) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(term_ids)]])
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                term = batch_terms[int(term_ids[s])]
                self._delta.setdefault(term, []).append((rows[s:e].astype(np.int32), tf[s:e].astype(np.float32)))
                self._delta_size += e - s
        if self._delta_size > 50_000 + len(self._post_rows) // 4:
            self._merge()

    def remove(self, chunk_ids: Iterable[int]) -> None:
        for cid in chunk_ids:
            row = self._row.pop(int(cid), None)
            if row is not None:
                self._alive[row] = False
                self._tokens -= float(self._lengths[row])
        if self._used > 4096 and len(self._row) < 0.75 * self._used:
            self._merge()

    def _append_rows(self, chunks: Sequence[tuple[int, int]]) -> None:
        import numpy as np

        need = self._used + len(chunks)
        if need > len(self._ids):
            capacity = max(need, 2 * len(self._ids), 1024)
            self._ids = _grown(self._ids, capacity)
            self._docs = _grown(self._docs, capacity)
            self._lengths = _grown(self._lengths, capacity)
            self._alive = _grown(self._alive, capacity)
        start = self._used
        if chunks:
            pairs = np.asarray(chunks, dtype=np.int64).reshape(len(chunks), 2)
            self._ids[start:need] = pairs[:, 0]
            self._docs[start:need] = pairs[:, 1]
        self._lengths[start:need] = 0.0
        self._alive[start:need] = True
        for offset, (cid, _) in enumerate(chunks):
            self._row[int(cid)] = start + offset
        self._used = need

    def _parse(
        self, records: Iterable[tuple[str, str]], first_row: int = 0
    ) -> Iterable[tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Batches of (terms, term index, row, weighted tf, raw count) per (term, row), term-major.

        Codes of rows unknown to the index (rows below ``first_row`` or never added) are dropped.
        """
        import numpy as np

        terms: list[str] = []
        parts: list[np.ndarray] = []
        size = 0
        for term, codes in records:
            array = np.fromstring(codes, dtype=np.int64, sep=",")  # C-speed parse of the SQL-side join
            terms.append(term)
            parts.append(array)
            size += len(array)
            if size >= _BATCH:
                yield terms, *self._postings_of(parts, first_row)
                terms, parts, size = [], [], 0
        if parts:
            yield terms, *self._postings_of(parts, first_row)

    def _postings_of(
        self, parts: list[np.ndarray], first_row: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        import numpy as np

        term = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p) for p in parts])
        codes = np.concatenate(parts)
        # Equal (term, row, column) instances must be adjacent. fts5vocab yields them in index order
        # (term, rowid, column, offset) already; sort only if some SQLite ever does otherwise.
        if len(codes) > 1 and not np.all((np.diff(codes) >= 0) | (np.diff(term) != 0)):
            order = np.lexsort((codes, term))
            term, codes = term[order], codes[order]
        rowids = codes >> COLUMN_BITS
        columns = codes & ((1 << COLUMN_BITS) - 1)
        ids = self._ids[first_row : self._used]
        if len(ids) == 0:
            known = np.zeros(len(rowids), dtype=bool)
            position = np.zeros(len(rowids), dtype=np.int64)
        else:
            by_id = np.argsort(ids, kind="stable")
            slot = np.minimum(np.searchsorted(ids[by_id], rowids), len(ids) - 1)
            position = by_id[slot]
            known = ids[position] == rowids
        rows = position + first_row
        term, rows, columns = term[known], rows[known], columns[known]
        if len(term) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0), np.zeros(0)
        new_pair = np.empty(len(term), dtype=bool)
        new_pair[0] = True
        new_pair[1:] = (term[1:] != term[:-1]) | (rows[1:] != rows[:-1])
        starts = np.flatnonzero(new_pair)
        tf = np.add.reduceat(self.weights[columns], starts)
        raw = np.diff(np.append(starts, len(term))).astype(np.float64)
        return term[starts], rows[starts], tf, raw

    def _merge(self) -> None:
        """Fold the delta segments into the main arrays and drop dead rows (renumbering the live ones)."""
        import numpy as np

        used = self._used
        alive = self._alive[:used]
        renumber = (np.cumsum(alive) - 1).astype(np.int32)
        terms = list(self._vocab)
        for term in self._delta:
            if term not in self._vocab:
                terms.append(term)
        vocab = {term: i for i, term in enumerate(terms)}
        if self._delta:
            term_parts = [np.repeat(np.arange(len(self._vocab), dtype=np.int64), np.diff(self._starts))]
            row_parts = [self._post_rows]
            tf_parts = [self._post_tf]
            for term, segments in self._delta.items():
                for rows, tf in segments:
                    term_parts.append(np.full(len(rows), vocab[term], dtype=np.int64))
                    row_parts.append(rows)
                    tf_parts.append(tf)
            term_ids = np.concatenate(term_parts)
            rows = np.concatenate(row_parts)
            tf = np.concatenate(tf_parts)
            keep = alive[rows]
            term_ids, rows, tf = term_ids[keep], renumber[rows[keep]], tf[keep]
            order = np.argsort(term_ids, kind="stable")
            rows, tf = rows[order], tf[order]
            counts = np.bincount(term_ids, minlength=len(terms))
        else:  # only dead rows to drop: the main arrays stay term-ordered, count what each term keeps
            keep = alive[self._post_rows]
            rows, tf = renumber[self._post_rows[keep]], self._post_tf[keep]
            kept = np.concatenate([[0], np.cumsum(keep)])
            counts = kept[self._starts[1:]] - kept[self._starts[:-1]]
        live_terms = np.flatnonzero(counts)  # terms whose every chunk is gone leave the vocabulary
        self._vocab = {terms[i]: n for n, i in enumerate(live_terms.tolist())}
        self._starts = np.concatenate([[0], np.cumsum(counts[live_terms])]).astype(np.int64)
        self._post_rows = rows.astype(np.int32, copy=False)
        self._post_tf = tf.astype(np.float32, copy=False)
        self._delta = {}
        self._delta_size = 0
        keep_rows = np.flatnonzero(alive)
        n = len(keep_rows)
        for name in ("_ids", "_docs", "_lengths", "_alive"):
            array = getattr(self, name)
            array[:n] = array[keep_rows]
        self._alive[n:] = False
        self._used = n
        self._row = {int(cid): row for row, cid in enumerate(self._ids[:n].tolist())}

    # -- search ------------------------------------------------------------------------------

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        import numpy as np

        parts_rows: list[np.ndarray] = []
        parts_tf: list[np.ndarray] = []
        i = self._vocab.get(term)
        if i is not None:
            start, end = int(self._starts[i]), int(self._starts[i + 1])
            parts_rows.append(self._post_rows[start:end])
            parts_tf.append(self._post_tf[start:end])
        for rows, tf in self._delta.get(term, ()):
            parts_rows.append(rows)
            parts_tf.append(tf)
        if len(parts_rows) == 1:
            return parts_rows[0], parts_tf[0]
        if not parts_rows:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        return np.concatenate(parts_rows), np.concatenate(parts_tf)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 of every row for single-token phrases ``terms`` (repeats count again, as in FTS5)."""
        import numpy as np

        used = self._used
        live = len(self._row)
        if not live or not terms:
            return np.zeros(used)
        alive = self._alive[:used]
        all_alive = live == used
        avgdl = self._tokens / live
        lengths = self._lengths
        row_parts: list[np.ndarray] = []
        value_parts: list[np.ndarray] = []
        for term in terms:
            rows, tf = self._postings(term)
            if not all_alive and len(rows):
                keep = alive[rows]
                rows, tf = rows[keep], tf[keep]
            hits = len(rows)
            if not hits:
                continue
            idf = math.log((live - hits + 0.5) / (hits + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            tf64 = tf.astype(np.float64)
            norm = (K1 * (1.0 - B)) + (K1 * B / avgdl) * lengths[rows] if avgdl > 0 else K1 * (1.0 - B)
            row_parts.append(rows)
            value_parts.append(idf * (K1 + 1.0) * tf64 / (tf64 + norm))
        if not row_parts:
            return np.zeros(used)
        return np.bincount(np.concatenate(row_parts), weights=np.concatenate(value_parts), minlength=used)

    def search(
        self,
        terms: Sequence[str],
        k: int,
        doc_ids: Sequence[int] | None = None,
        extra: Sequence[tuple[int, float]] = (),
    ) -> list[tuple[int, float]]:
        """Top ``k`` (chunk id, score) by BM25, best first; ``doc_ids`` restricts the rows ranked.

        ``extra`` adds (chunk id, score) contributions scored elsewhere (FTS5's multi-token phrases).
        Only rows some phrase matched are ranked, like an FTS5 MATCH.
        """
        import numpy as np

        if k <= 0 or self._used == 0:
            return []
        scores = self.scores(terms)
        for cid, value in extra:
            row = self._row.get(int(cid))
            if row is not None:
                scores[row] += value
        if doc_ids is not None:
            scores[~np.isin(self._docs[: self._used], np.asarray(doc_ids, dtype=np.int64))] = 0.0
        matched = np.flatnonzero(scores > 0.0)
        if len(matched) == 0:
            return []
        if len(matched) > k:
            # Everything tied with the k-th score stays in, so which of equals make the cut never
            # depends on the row layout (equal scores go by chunk id below).
            kth = np.partition(scores[matched], len(matched) - k)[len(matched) - k]
            matched = matched[scores[matched] >= kth]
        order = np.lexsort((self._ids[matched], -scores[matched]))
        top = matched[order[:k]]
        return [(int(cid), float(s)) for cid, s in zip(self._ids[top].tolist(), scores[top].tolist(), strict=True)]


def load(
    source: Callable[[], AbstractContextManager[LexicalSource]], weights: Sequence[float]
) -> tuple[LexicalIndex, str]:
    """Build the index from a storage's lexical ``source`` (blocking, seconds at 100k chunks: run it on a thread).

    Returns the index and the FTS5 tokenizer option, for an :class:`FtsTokenizer` of query words.
    """
    with source() as (tokenize, chunks, records):
        ahead = _read_ahead(records)
        try:
            index = LexicalIndex.build(weights, chunks, ahead)
        finally:
            ahead.close()  # stops the reader thread before the connection closes
    _release_freed_memory()
    return index, tokenize


def _release_freed_memory() -> None:
    """Hand the build's freed buffers back to the OS (glibc keeps ~100 MB of them at 100k chunks).

    Every MCP host runs its own server process, so resident memory counts several times over.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        trim = getattr(ctypes.CDLL("libc.so.6"), "malloc_trim", None)  # glibc only (not musl)
    except OSError:
        return
    if trim is not None:
        trim(0)


def _read_ahead(records: Iterator[tuple[str, str]], batch: int = 256) -> Generator[tuple[str, str], None, None]:
    """``records`` fetched on a second thread: SQLite steps (without the GIL) while numpy parses (~1.5x faster)."""
    ready: queue.Queue[list[tuple[str, str]] | BaseException | None] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def put(item: list[tuple[str, str]] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            part: list[tuple[str, str]] = []
            for record in records:
                part.append(record)
                if len(part) >= batch:
                    if not put(part):
                        return
                    part = []
            if part and not put(part):
                return
        except BaseException as exc:  # re-raised in the consumer
            put(exc)
            return
        put(None)

    thread = threading.Thread(target=produce, daemon=True, name="lexical-read")
    thread.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()
        thread.join()


def _grown(array: np.ndarray, capacity: int) -> np.ndarray:
    import numpy as np

    grown = np.zeros(capacity, dtype=array.dtype)
    grown[: len(array)] = array
    return grown
