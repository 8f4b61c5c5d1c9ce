"""The knowledge base as one object: the stored index, the embedder, the in-memory vector matrix and BM25 index.

:class:`KnowledgeBase` is what the MCP surface and the CLI hold. It owns the rules that span the
storage and the vectors: the index records which embedder built it and refuses vectors from any
other; every document is written in one transaction and the vector matrix follows each commit
(and catches up with other processes' or replicas' commits via :meth:`Storage.version`). The in-memory
BM25 index (lexical.py) follows the same way: built once from the storage's lexical source (on a
thread, started with the server), then the chunks this process writes or deletes, and a diff of chunk
ids after other processes' commits. It never knows which engine holds the index.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from mcp_suite.servers.retrieval import lexical
from mcp_suite.servers.retrieval.lexical import LexicalIndex
from mcp_suite.servers.retrieval.storage.base import (
    BM25_WEIGHTS,
    NO_FILTER,
    ChunkRow,
    DocumentFilter,
    DocumentRow,
    EvalRunRow,
    IngestErrorRow,
    NewChunk,
    NewDocument,
    Reader,
    Storage,
    VectorSearch,
    Writer,
    now_iso,
)
from mcp_suite.servers.retrieval.storage.factory import open_storage
from mcp_suite.servers.retrieval.storage.fts5 import FtsTokenizer
from mcp_suite.servers.retrieval.vectors import VectorIndex
from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl
from mcp_suite.shared.embeddings import Embedder, EmbedderInfo, NoEmbedder
from mcp_suite.shared.errors import ConflictError, InvalidInputError, NotFoundError, StorageError

if TYPE_CHECKING:
    import numpy as np

    from mcp_suite.servers.retrieval.evaluation import EvalReport

log = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 256
TERM_CACHE_SIZE = 4096
# More new chunks than this (and than a quarter of the index) are read by rebuilding, not tokenized one by one.
LEXICAL_REBUILD_MIN = 2000


def compatible(recorded: EmbedderInfo, current: EmbedderInfo) -> bool:
    if (recorded.provider, recorded.model) != (current.provider, current.model):
        return False
    return not recorded.dimension or not current.dimension or recorded.dimension == current.dimension


def to_blob(vector: np.ndarray) -> bytes:
    """A vector (or a chunk's window vectors, a row each, concatenated) as a little-endian float32 blob."""
    import numpy as np

    return np.asarray(vector, dtype="<f4").tobytes()


@dataclass(frozen=True)
class WriteResult:
    document_id: int
    chunk_ids: list[int]
    removed_chunk_ids: list[int]


_UNREAD: object = object()  # "read the version yourself"


class KnowledgeBase:
    """A process's handle on one retrieval index."""

    def __init__(self, storage: Storage, embedder: Embedder | None = None, *, in_memory: bool = True) -> None:
        self.storage = storage
        self.embedder: Embedder = embedder or NoEmbedder()
        self._vectors: VectorIndex | None = None
        self._data_version: Any = None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._checked_version: Any = None
        self._lexical: LexicalIndex | None = None
        self._lexical_build: Future[tuple[LexicalIndex, str]] | None = None
        # A one-shot process (a CLI search) answers from SQL full text and the storage's own vector search
        # (a memory-mapped cache on SQLite, HNSW on PostgreSQL): building the in-memory indexes costs more
        # than the one search they would serve.
        self._in_memory = in_memory
        self._lexical_unavailable = not self._in_memory
        self._lexical_version: Any = None
        self._lexical_pending: set[int] = set()  # chunks written here since, not yet in the index
        self._lexical_lock = anyio.Lock()
        self._tokenizer: FtsTokenizer | None = None
        self._term_cache: dict[str, tuple[str, ...]] = {}
        self._mismatch: EmbedderInfo | None = None

    @classmethod
    async def open(
        cls, where: DatabaseUrl | Path | str, embedder: Embedder | None = None, *, in_memory: bool = True
    ) -> KnowledgeBase:
        """Open the index at ``where``: a database URL, or the path of a SQLite file."""
        url = where if isinstance(where, DatabaseUrl) else SqliteUrl(Path(where))
        return cls(await open_storage(url), embedder, in_memory=in_memory)

    async def close(self) -> None:
        await self.storage.close()
        if self._tokenizer is not None:
            self._tokenizer.close()

    def others_changes(self) -> AsyncIterator[None]:
        """One item per change another process or replica announces (never ends; nothing on SQLite)."""
        return self.storage.watch()

    @property
    def semantic_enabled(self) -> bool:
        return self.embedder.info.provider != "none"

    # -- embedder identity ---------------------------------------------------------------------

    async def recorded_embedder(self) -> EmbedderInfo | None:
        async with self.storage.snapshot() as tx:
            if not await tx.has_chunks():
                return None
            return await tx.recorded_embedder()

    async def data_version(self) -> object:
        """The storage's change counter (:meth:`Storage.version`): a search reads it once and hands it to
        :meth:`check_embedder`, :meth:`vector_index` and :meth:`lexical_index`, which read it themselves
        when not given it."""
        return await self.storage.version()

    async def check_embedder(self, version: object = _UNREAD) -> None:
        """Raise :class:`ConflictError` when the index was built by another embedder than the configured one.

        Checked once per database change (:meth:`Storage.version`), not on every search.
        """
        if version is _UNREAD:
            version = await self.storage.version()
        if version != self._checked_version:
            recorded = await self.recorded_embedder()
            self._checked_version = version
            self._mismatch = recorded if recorded is not None and not compatible(recorded, self.embedder.info) else None
        if self._mismatch is not None:
            self._refuse_mismatch(self._mismatch)

    def _refuse_mismatch(self, recorded: EmbedderInfo) -> None:
        current = self.embedder.info
        if not compatible(recorded, current):
            raise ConflictError(
                f"this index was built with the {recorded.describe()} embedder but the server is configured for "
                f"{current.describe()}; mixing them would make search results meaningless. Either start the server "
                f"with the original embedder (--embedder {recorded.provider}), or re-embed the whole index with the "
                "new one: the `reindex` tool or `mcp-suite retrieval reindex`"
            )

    async def _guard_write(self, tx: Writer) -> None:
        # Inside the write transaction, so two processes with different embedders cannot both win.
        recorded = await tx.recorded_embedder()
        if recorded == self.embedder.info:
            return  # the common case, every document of an ingest: nothing to check or write
        if recorded is not None and await tx.has_chunks():
            self._refuse_mismatch(recorded)
        await tx.record_embedder(self.embedder.info)

    # -- embedding -----------------------------------------------------------------------------

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await self.embedder.embed(texts)

    async def embed_query(self, query: str) -> np.ndarray:
        cached = self._query_cache.get(query)
        if cached is not None:
            self._query_cache.move_to_end(query)
            return cached
        vector: np.ndarray = (await self.embedder.embed([query]))[0]
        self._query_cache[query] = vector
        if len(self._query_cache) > QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)
        return vector

    # -- writes --------------------------------------------------------------------------------

    async def write_document(
        self, doc: NewDocument, chunks: Sequence[NewChunk], *, clear_error: bool = True
    ) -> WriteResult:
        """Replace ``doc`` and its chunks in one transaction, then bring the vector matrix up to date.

        ``clear_error=False`` skips deleting the source's stored ingest error, for a caller that knows
        there is none (a folder ingest reads them once).
        """

        async def change(tx: Writer) -> tuple[int, list[int], list[int]]:
            await self._guard_write(tx)
            written = await tx.replace_document(doc, chunks)
            if clear_error:
                await tx.clear_ingest_errors([doc.source])
            return written

        document_id, new_ids, removed = await self.storage.run(change)
        # The write recorded this embedder (or found it recorded): the index is compatible now. Our own commits
        # leave the storage version alone, so check_embedder keeps this until another process writes.
        self._mismatch = None
        if self._vectors is not None:
            self._vectors.remove(removed)
            self._vectors.add_blobs(
                [(cid, document_id, c.embedding) for cid, c in zip(new_ids, chunks, strict=True) if c.embedding]
            )
        self._lexical_changed(new_ids, removed)
        return WriteResult(document_id, new_ids, removed)

    async def update_metadata(self, document_id: int, *, mtime: float, tags: list[str], meta: dict[str, Any]) -> None:
        await self.storage.run(lambda tx: tx.update_document_metadata(document_id, mtime=mtime, tags=tags, meta=meta))

    async def record_ingest_error(self, source: str, kind: str, message: str) -> None:
        """Remember why ``source`` failed to ingest (the last error only)."""
        await self.storage.run(lambda tx: tx.set_ingest_error(source, kind, message))

    async def clear_ingest_error(self, source: str) -> None:
        await self.storage.run(lambda tx: tx.clear_ingest_errors([source]))

    async def ingest_errors(self) -> dict[str, IngestErrorRow]:
        """The last ingest error of every source that has one, by source."""
        async with self.storage.snapshot() as tx:
            return await tx.ingest_errors()

    async def delete_documents(self, documents: Sequence[DocumentRow]) -> int:
        """Delete documents (one transaction for all); returns the number of chunks removed."""

        async def change(tx: Writer) -> list[int]:
            removed: list[int] = []  # built anew on a retry
            for doc in documents:
                removed += await tx.delete_document(doc.id)
            await tx.clear_ingest_errors([doc.source for doc in documents])
            return removed

        removed = await self.storage.run(change)
        if self._vectors is not None:
            self._vectors.remove(removed)
        self._lexical_changed((), removed)
        return len(removed)

    async def reuse_embeddings(self, hashes: Sequence[str]) -> dict[str, bytes]:
        async with self.storage.snapshot() as tx:
            recorded = await tx.recorded_embedder()
            if recorded is None or not compatible(recorded, self.embedder.info):
                return {}
            return await tx.embeddings_by_hash(hashes)

    async def stored_embed_hashes(self) -> set[str]:
        """Every embed hash that may have stored vectors (a superset on some engines): a bulk ingest asks
        :meth:`reuse_embeddings` only about hashes in it."""
        async with self.storage.snapshot() as tx:
            return await tx.stored_embed_hashes()

    async def reindex(self, progress: Any = None) -> dict[str, Any]:
        """Re-embed every chunk with the configured embedder and record it (one transaction)."""
        async with self.storage.snapshot() as tx:
            rows = await tx.all_chunk_contexts()
        from mcp_suite.servers.retrieval.prepare import text_hash  # lazy: readers load only to ingest
        from mcp_suite.servers.retrieval.views import embed_key, embedding_texts

        blobs: list[tuple[int, bytes | None, str | None]] = []
        batch = 256
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            if self.semantic_enabled:
                # The same windows ingest embeds (title and heading path first), so re-embedded vectors match.
                texts = [embedding_texts(title, path, text) for _, text, path, title in part]
                matrix = await self.embed([t for chunk in texts for t in chunk])
                row = 0
                for (cid, *_), chunk in zip(part, texts, strict=True):
                    blobs.append((cid, to_blob(matrix[row : row + len(chunk)]), text_hash(embed_key(chunk))))
                    row += len(chunk)
            else:
                blobs += [(row[0], None, None) for row in part]
            if progress is not None:
                await progress(min(start + batch, len(rows)), len(rows), "re-embedding chunks")

        async def change(tx: Writer) -> None:
            await tx.record_embedder(self.embedder.info)  # first: PostgreSQL splits the blobs by its dimension
            await tx.set_embeddings(blobs)

        await self.storage.run(change)
        self._vectors = None
        self._query_cache.clear()
        self._checked_version = None
        return {"chunks": len(rows), "embedder": self.embedder.info.describe()}

    # -- vectors -------------------------------------------------------------------------------

    async def vector_index(self, version: object = _UNREAD) -> VectorIndex | VectorSearch | None:
        """The vector matrix, loaded on first use and caught up with other processes' commits."""
        if not self.semantic_enabled:
            return None
        if not self._in_memory:
            async with self.storage.snapshot() as tx:
                recorded = await tx.recorded_embedder()
            dimension = (recorded.dimension if recorded else 0) or self.embedder.info.dimension
            return self.storage.vector_search(dimension)
        if version is _UNREAD:
            version = await self.storage.version()
        if self._vectors is not None and version == self._data_version:
            return self._vectors
        async with self.storage.snapshot() as tx:
            recorded = await tx.recorded_embedder()
            if self._vectors is None:
                rows = await tx.vectors()
            else:
                current = set(await tx.chunk_ids())
                cached = self._vectors.ids()
                self._vectors.remove(sorted(cached - current))
                rows = await tx.vectors(sorted(current - cached))
        if self._vectors is None:
            dimension = (recorded.dimension if recorded else 0) or self.embedder.info.dimension
            if not dimension and rows:
                dimension = len(rows[0][2]) // 4
            self._vectors = VectorIndex(dimension)
        self._vectors.add_blobs(rows)
        self._data_version = version
        return self._vectors

    # -- lexical -------------------------------------------------------------------------------

    def start_lexical_build(self) -> None:
        """Start building the in-memory BM25 index on a thread (the server does at start; searches await it)."""
        if self._lexical is not None or self._lexical_build is not None or self._lexical_unavailable:
            return
        future: Future[tuple[LexicalIndex, str]] = Future()

        def build() -> None:
            try:
                future.set_result(lexical.load(self.storage.lexical_source, BM25_WEIGHTS))
            except BaseException as exc:  # handed to the awaiting search, which falls back to FTS5
                future.set_exception(exc)

        threading.Thread(target=build, daemon=True, name="lexical-build").start()
        self._lexical_build = future

    async def lexical_index(self, version: object = _UNREAD) -> LexicalIndex | None:
        """The in-memory BM25 index, caught up with every commit; None when it cannot be built (use SQL)."""
        async with self._lexical_lock:
            for attempt in range(2):
                if self._lexical is None and not await self._lexical_load():
                    return None
                index = self._lexical
                assert index is not None
                if attempt or version is _UNREAD:
                    version = await self.storage.version()
                if version != self._lexical_version:
                    async with self.storage.snapshot() as tx:
                        current = set(await tx.all_chunk_ids())
                    cached = index.ids()
                    index.remove(cached - current)
                    self._lexical_pending = (self._lexical_pending & current) | (current - cached)
                    self._lexical_version = version
                if attempt or len(self._lexical_pending) <= max(LEXICAL_REBUILD_MIN, len(index) // 4):
                    break
                # A big ingest: rebuilding from the lexical source beats re-tokenizing every new chunk.
                self._lexical, self._lexical_pending = None, set()
            index = self._lexical
            assert index is not None
            if self._lexical_pending:
                await self._lexical_add(index, sorted(self._lexical_pending))
            return index

    async def _lexical_load(self) -> bool:
        self.start_lexical_build()
        if self._lexical_build is None:
            return False
        try:
            index, tokenize = await anyio.to_thread.run_sync(self._lexical_build.result)
        except (StorageError, OSError, ValueError) as exc:
            log.warning("in-memory BM25 index unavailable, searching with SQL full text: %s", exc)
            self._lexical_unavailable = True
            return False
        finally:
            self._lexical_build = None
        self._lexical = index
        if self._tokenizer is None:
            self._tokenizer = FtsTokenizer(tokenize)
        self._lexical_version = None  # the build's snapshot may predate commits: diff once
        return True

    async def _lexical_add(self, index: LexicalIndex, ids: list[int]) -> None:
        async with self.storage.snapshot() as tx:
            rows = await tx.lexical_rows(ids)
        assert self._tokenizer is not None
        texts = [(r[0], r[2], r[3], r[4]) for r in rows]
        records = await anyio.to_thread.run_sync(self._tokenizer.postings, texts)
        # A chunk this process deleted while the tokenizer ran is no longer pending: leave it out.
        still = [(r[0], r[1]) for r in rows if r[0] in self._lexical_pending]
        index.add(still, records)
        self._lexical_pending.difference_update(ids)

    def _lexical_changed(self, added: Sequence[int], removed: Sequence[int]) -> None:
        if self._lexical is None:
            return  # a build in flight is diffed against the database when it lands
        self._lexical_pending.difference_update(removed)
        self._lexical.remove(removed)
        self._lexical_pending.update(added)

    def query_terms(self, word: str) -> tuple[str, ...]:
        """The index terms FTS5 makes of one query word (several for e.g. ``foo_bar``, none for ``_``)."""
        found = self._term_cache.get(word)
        if found is None:
            if self._tokenizer is None:
                raise RuntimeError("query_terms needs the lexical index: await lexical_index() first")
            found = tuple(self._tokenizer.terms(word))
            if len(self._term_cache) >= TERM_CACHE_SIZE:
                self._term_cache.clear()
            self._term_cache[word] = found
        return found

    # -- reads ---------------------------------------------------------------------------------

    async def chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]:
        async with self.storage.snapshot() as tx:
            return await tx.get_chunks(ids)

    async def chunks_and_feedback(
        self, ids: Sequence[int], query: str
    ) -> tuple[dict[int, ChunkRow], dict[str, tuple[int, int, int, int]]]:
        """The rows of ``ids`` and the feedback counts of their texts (useful and not, for any query and for
        this one), in one snapshot."""
        from mcp_suite.servers.retrieval.search import query_key

        async with self.storage.snapshot() as tx:
            rows = await tx.get_chunks(ids)
            hashes = list(dict.fromkeys(row.text_hash for row in rows.values()))
            return rows, (await tx.feedback_counts(hashes, query_key(query)) if hashes else {})

    async def chunk_with_neighbors(self, chunk_id: int, neighbors: int) -> tuple[ChunkRow, list[ChunkRow]]:
        async with self.storage.snapshot() as tx:
            found = await tx.get_chunks([chunk_id])
            if chunk_id not in found:
                raise NotFoundError(
                    f"chunk {chunk_id} does not exist (the document may have been re-ingested since); search again"
                )
            chunk = found[chunk_id]
            around = await tx.chunks_in_range(chunk.document_id, chunk.ordinal - neighbors, chunk.ordinal + neighbors)
        return chunk, around

    async def identical_chunks(
        self, ids: Sequence[int], limit: int
    ) -> tuple[dict[int, list[int]], dict[int, ChunkRow]]:
        """Up to ``limit`` other chunks with the same text per chunk id, and the rows of those copies, read in
        one snapshot."""
        async with self.storage.snapshot() as tx:
            copies = await tx.identical_chunks(ids, limit)
            need = sorted({other for others in copies.values() for other in others})
            return copies, (await tx.get_chunks(need) if need else {})

    async def document(self, source_or_id: str | int) -> tuple[DocumentRow, list[ChunkRow]]:
        async with self.storage.snapshot() as tx:
            doc = await self._find(tx, source_or_id)
            return doc, await tx.document_chunks(doc.id)

    async def _find(self, tx: Reader, source_or_id: str | int) -> DocumentRow:
        doc: DocumentRow | None
        if isinstance(source_or_id, int) or (isinstance(source_or_id, str) and source_or_id.isdigit()):
            doc = await tx.get_document(int(source_or_id))
        else:
            doc = await tx.find_document(source_or_id)
        if doc is None:
            raise NotFoundError(f"no indexed source {source_or_id!r}; list_sources shows what is indexed")
        return doc

    async def find_document(self, source: str) -> DocumentRow | None:
        async with self.storage.snapshot() as tx:
            return await tx.find_document(source)

    async def documents_with_prefix(self, prefix: str) -> list[DocumentRow]:
        async with self.storage.snapshot() as tx:
            return await tx.documents_with_prefix(prefix)

    async def list_documents(
        self, where: DocumentFilter = NO_FILTER, limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRow], int]:
        async with self.storage.snapshot() as tx:
            return await tx.list_documents(where, limit, offset)

    async def matching_document_ids(self, where: DocumentFilter) -> list[int] | None:
        """Ids of the documents ``where`` admits; None when it admits every document."""
        if where.empty:
            return None
        async with self.storage.snapshot() as tx:
            return await tx.matching_document_ids(where)

    async def lexical_search(self, words: Sequence[str], where: DocumentFilter, limit: int) -> list[tuple[int, float]]:
        """Full-text ranking by the storage engine, for when the in-memory index is not built."""
        async with self.storage.snapshot() as tx:
            return await tx.lexical_search(words, where, limit)

    async def phrase_scores(self, phrases: Sequence[str]) -> list[tuple[int, float]] | None:
        async with self.storage.snapshot() as tx:
            return await tx.phrase_scores(phrases)

    async def delete_source(self, source: str, *, prefix: bool = False) -> tuple[list[str], int]:
        """Delete one source (or every source starting with ``source``); returns (sources, chunks removed)."""
        if not source.strip():
            raise InvalidInputError("give the source to delete, exactly as list_sources shows it")
        async with self.storage.snapshot() as tx:
            if prefix:
                docs, _ = await tx.list_documents(DocumentFilter(source_prefix=source), limit=10**9)
            else:
                docs = [await self._find(tx, source)]
        if not docs:
            raise NotFoundError(f"no indexed source starts with {source!r}; list_sources shows what is indexed")
        removed = await self.delete_documents(docs)
        return [d.source for d in docs], removed

    async def stats(self) -> dict[str, Any]:
        async with self.storage.snapshot() as tx:
            totals = dataclasses.asdict(await tx.totals())
            recorded = await tx.recorded_embedder()
        totals["index_embedder"] = recorded.describe() if recorded and totals["chunks"] else None
        totals["configured_embedder"] = self.embedder.info.describe()
        totals["embedder_matches"] = (
            recorded is None or not totals["chunks"] or compatible(recorded, self.embedder.info)
        )
        totals["database"] = self.storage.location
        totals["database_bytes"] = await self.storage.size_bytes()
        return totals

    # -- evaluation runs -----------------------------------------------------------------------

    async def record_evaluation(self, report: EvalReport, dataset_hash: str) -> list[EvalRunRow]:
        """Store an evaluation run, one row per mode, in one transaction; returns the stored rows."""
        run_at = now_iso()
        rows = [
            {
                "run_at": run_at,
                "mode": m.mode,
                "k": report.k,
                "case_count": report.case_count,
                "dataset_hash": dataset_hash,
                "recall": m.recall,
                "precision": m.precision,
                "mrr": m.mrr,
                "ndcg": m.ndcg,
                "hit_rate": m.hit_rate,
                "misses": m.misses,
            }
            for m in report.modes
        ]

        async def change(tx: Writer) -> list[EvalRunRow]:
            await tx.add_eval_runs(rows)
            return await tx.recent_eval_runs(len(rows))

        return await self.storage.run(change)

    async def evaluation_runs(self, limit: int = 50) -> list[EvalRunRow]:
        """The newest stored evaluation rows (one per mode and run), oldest first."""
        async with self.storage.snapshot() as tx:
            return await tx.recent_eval_runs(limit)

    # -- feedback ------------------------------------------------------------------------------

    async def add_feedback(self, chunk_id: int, query: str, useful: bool) -> ChunkRow:
        from mcp_suite.servers.retrieval.search import query_key

        if not query.strip():
            raise InvalidInputError("give the query the chunk was retrieved for")

        async def change(tx: Writer) -> ChunkRow:
            found = await tx.get_chunks([chunk_id])
            if chunk_id not in found:
                raise NotFoundError(f"chunk {chunk_id} does not exist; give an id from a recent search result")
            chunk = found[chunk_id]
            await tx.add_feedback(
                text_hash=chunk.text_hash, chunk_id=chunk_id, query=query, query_key=query_key(query), useful=useful
            )
            return chunk

        return await self.storage.run(change)
