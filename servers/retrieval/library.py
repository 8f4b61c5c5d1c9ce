"""The knowledge base as one object: the SQLite index, the embedder, the in-memory vector matrix and BM25 index.

:class:`KnowledgeBase` is what the MCP surface and the CLI hold. It owns the rules that span the
store and the vectors: the index records which embedder built it and refuses vectors from any
other; every document is written in one transaction and the vector matrix follows each commit
(and catches up with other processes' commits via ``PRAGMA data_version``). The in-memory BM25 index
(lexical.py) follows the same way: built once from FTS5 (on a thread, started with the server),
then the chunks this process writes or deletes, and a diff of chunk ids after other processes' commits.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from mcp_suite.servers.retrieval import lexical, store
from mcp_suite.servers.retrieval.lexical import LexicalIndex
from mcp_suite.servers.retrieval.scan import VectorScan
from mcp_suite.servers.retrieval.store import ChunkRow, DocumentRow, NewChunk, NewDocument
from mcp_suite.servers.retrieval.vectors import VectorIndex
from mcp_suite.shared.db import Database
from mcp_suite.shared.embeddings import Embedder, EmbedderInfo, NoEmbedder
from mcp_suite.shared.errors import ConflictError, InvalidInputError, NotFoundError

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


class KnowledgeBase:
    """A process's handle on one retrieval index."""

    def __init__(self, db: Database, embedder: Embedder | None = None, *, in_memory: bool = True) -> None:
        self.db = db
        self.embedder: Embedder = embedder or NoEmbedder()
        self._vectors: VectorIndex | None = None
        self._data_version: Any = None
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._checked_version: Any = None
        self._lexical: LexicalIndex | None = None
        self._lexical_build: Future[tuple[LexicalIndex, str]] | None = None
        # A one-shot process (a CLI search) answers from FTS5 and a scan of the stored vectors: building the
        # in-memory indexes costs more than the one search they would serve.
        self._in_memory = in_memory or not Path(db.path).is_file()
        self._lexical_unavailable = not self._in_memory
        self._lexical_version: Any = None
        self._lexical_pending: set[int] = set()  # chunks written here since, not yet in the index
        self._lexical_lock = anyio.Lock()
        self._tokenizer: store.FtsTokenizer | None = None
        self._term_cache: dict[str, tuple[str, ...]] = {}
        self._mismatch: EmbedderInfo | None = None

    @classmethod
    async def open(cls, path: Path | str, embedder: Embedder | None = None, *, in_memory: bool = True) -> KnowledgeBase:
        return cls(await store.open_database(path), embedder, in_memory=in_memory)

    async def close(self) -> None:
        await self.db.close()
        if self._tokenizer is not None:
            self._tokenizer.close()

    @property
    def semantic_enabled(self) -> bool:
        return self.embedder.info.provider != "none"

    # -- embedder identity ---------------------------------------------------------------------

    async def recorded_embedder(self) -> EmbedderInfo | None:
        async with self.db.snapshot() as conn:
            if not await store.has_chunks(conn):
                return None
            return await store.recorded_embedder(conn)

    async def check_embedder(self) -> None:
        """Raise :class:`ConflictError` when the index was built by another embedder than the configured one.

        Checked once per database change (``PRAGMA data_version``), not on every search.
        """
        version = await self.db.pragma("data_version")
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

    async def _guard_write(self, conn: Any) -> None:
        # Inside the write transaction, so two processes with different embedders cannot both win.
        if await store.has_chunks(conn):
            recorded = await store.recorded_embedder(conn)
            if recorded is not None:
                self._refuse_mismatch(recorded)
        await store.record_embedder(conn, self.embedder.info)

    # -- embedding -----------------------------------------------------------------------------

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return await self.embedder.embed(texts)

    async def embed_query(self, query: str) -> np.ndarray:
        cached = self._query_cache.get(query)
        if cached is not None:
            self._query_cache.move_to_end(query)
            return cached
        vector = (await self.embedder.embed([query]))[0]
        self._query_cache[query] = vector
        if len(self._query_cache) > QUERY_CACHE_SIZE:
            self._query_cache.popitem(last=False)
        return vector

    # -- writes --------------------------------------------------------------------------------

    async def write_document(self, doc: NewDocument, chunks: Sequence[NewChunk]) -> WriteResult:
        """Replace ``doc`` and its chunks in one transaction, then bring the vector matrix up to date."""
        async with self.db.transaction() as conn:
            await self._guard_write(conn)
            document_id, new_ids, removed = await store.replace_document(conn, doc, chunks)
            await store.clear_ingest_errors(conn, [doc.source])
        self._checked_version = None  # the first write records the embedder; look again next time
        if self._vectors is not None:
            self._vectors.remove(removed)
            self._vectors.add_blobs(
                [(cid, document_id, c.embedding) for cid, c in zip(new_ids, chunks, strict=True) if c.embedding]
            )
        self._lexical_changed(new_ids, removed)
        return WriteResult(document_id, new_ids, removed)

    async def update_metadata(self, document_id: int, *, mtime: float, tags: list[str], meta: dict[str, Any]) -> None:
        async with self.db.transaction() as conn:
            await store.update_document_metadata(conn, document_id, mtime=mtime, tags=tags, meta=meta)

    async def record_ingest_error(self, source: str, kind: str, message: str) -> None:
        """Remember why ``source`` failed to ingest (the last error only)."""
        async with self.db.transaction() as conn:
            await store.set_ingest_error(conn, source, kind, message)

    async def clear_ingest_error(self, source: str) -> None:
        async with self.db.transaction() as conn:
            await store.clear_ingest_errors(conn, [source])

    async def ingest_errors(self) -> dict[str, store.IngestErrorRow]:
        """The last ingest error of every source that has one, by source."""
        async with self.db.snapshot() as conn:
            return await store.ingest_errors(conn)

    async def delete_documents(self, documents: Sequence[DocumentRow]) -> int:
        """Delete documents (one transaction for all); returns the number of chunks removed."""
        removed: list[int] = []
        async with self.db.transaction() as conn:
            for doc in documents:
                removed += await store.delete_document(conn, doc.id)
            await store.clear_ingest_errors(conn, [doc.source for doc in documents])
        if self._vectors is not None:
            self._vectors.remove(removed)
        self._lexical_changed((), removed)
        return len(removed)

    async def reuse_embeddings(self, hashes: Sequence[str]) -> dict[str, bytes]:
        async with self.db.snapshot() as conn:
            recorded = await store.recorded_embedder(conn)
            if recorded is None or not compatible(recorded, self.embedder.info):
                return {}
            return await store.embeddings_by_hash(conn, hashes)

    async def reindex(self, progress: Any = None) -> dict[str, Any]:
        """Re-embed every chunk with the configured embedder and record it (one transaction)."""
        async with self.db.snapshot() as conn:
            rows = await store.all_chunk_contexts(conn)
        from mcp_suite.servers.retrieval.ingest import text_hash  # ingest imports this module
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
        async with self.db.transaction() as conn:
            await store.set_embeddings(conn, blobs)
            await store.record_embedder(conn, self.embedder.info)
        self._vectors = None
        self._query_cache.clear()
        self._checked_version = None
        return {"chunks": len(rows), "embedder": self.embedder.info.describe()}

    # -- vectors -------------------------------------------------------------------------------

    async def vector_index(self) -> VectorIndex | VectorScan | None:
        """The vector matrix, loaded on first use and caught up with other processes' commits."""
        if not self.semantic_enabled:
            return None
        if not self._in_memory:
            async with self.db.snapshot() as conn:
                recorded = await store.recorded_embedder(conn)
            return VectorScan(self.db.path, (recorded.dimension if recorded else 0) or self.embedder.info.dimension)
        version = await self.db.pragma("data_version")
        if self._vectors is not None and version == self._data_version:
            return self._vectors
        async with self.db.snapshot() as conn:
            recorded = await store.recorded_embedder(conn)
            if self._vectors is None:
                rows = await store.vectors(conn)
            else:
                current = set(await store.chunk_ids(conn))
                cached = self._vectors.ids()
                self._vectors.remove(sorted(cached - current))
                rows = await store.vectors(conn, sorted(current - cached))
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
        if not Path(self.db.path).is_file():  # e.g. ":memory:": another connection cannot read it
            self._lexical_unavailable = True
            return
        future: Future[tuple[LexicalIndex, str]] = Future()

        def build() -> None:
            try:
                future.set_result(lexical.load(self.db.path, store.BM25_WEIGHTS))
            except BaseException as exc:  # handed to the awaiting search, which falls back to FTS5
                future.set_exception(exc)

        threading.Thread(target=build, daemon=True, name="lexical-build").start()
        self._lexical_build = future

    async def lexical_index(self) -> LexicalIndex | None:
        """The in-memory BM25 index, caught up with every commit; None when it cannot be built (use FTS5)."""
        async with self._lexical_lock:
            for attempt in range(2):
                if self._lexical is None and not await self._lexical_load():
                    return None
                index = self._lexical
                assert index is not None
                version = await self.db.pragma("data_version")
                if version != self._lexical_version:
                    async with self.db.snapshot() as conn:
                        current = set(await store.all_chunk_ids(conn))
                    cached = index.ids()
                    index.remove(cached - current)
                    self._lexical_pending = (self._lexical_pending & current) | (current - cached)
                    self._lexical_version = version
                if attempt or len(self._lexical_pending) <= max(LEXICAL_REBUILD_MIN, len(index) // 4):
                    break
                # A big ingest: reading the postings FTS5 already has beats re-tokenizing every new chunk.
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
        except (sqlite3.Error, OSError, ValueError) as exc:
            log.warning("in-memory BM25 index unavailable, searching with FTS5: %s", exc)
            self._lexical_unavailable = True
            return False
        finally:
            self._lexical_build = None
        self._lexical = index
        if self._tokenizer is None:
            self._tokenizer = store.FtsTokenizer(tokenize)
        self._lexical_version = None  # the build's snapshot may predate commits: diff once
        return True

    async def _lexical_add(self, index: LexicalIndex, ids: list[int]) -> None:
        async with self.db.snapshot() as conn:
            rows = await store.fts_rows(conn, ids)
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
        async with self.db.snapshot() as conn:
            return await store.get_chunks(conn, ids)

    async def chunk_with_neighbors(self, chunk_id: int, neighbors: int) -> tuple[ChunkRow, list[ChunkRow]]:
        async with self.db.snapshot() as conn:
            found = await store.get_chunks(conn, [chunk_id])
            if chunk_id not in found:
                raise NotFoundError(
                    f"chunk {chunk_id} does not exist (the document may have been re-ingested since); search again"
                )
            chunk = found[chunk_id]
            around = await store.chunks_in_range(
                conn, chunk.document_id, chunk.ordinal - neighbors, chunk.ordinal + neighbors
            )
        return chunk, around

    async def document(self, source_or_id: str | int) -> tuple[DocumentRow, list[ChunkRow]]:
        async with self.db.snapshot() as conn:
            doc = await self._find(conn, source_or_id)
            return doc, await store.document_chunks(conn, doc.id)

    async def _find(self, conn: Any, source_or_id: str | int) -> DocumentRow:
        doc: DocumentRow | None
        if isinstance(source_or_id, int) or (isinstance(source_or_id, str) and source_or_id.isdigit()):
            doc = await store.get_document(conn, int(source_or_id))
        else:
            doc = await store.find_document(conn, source_or_id)
        if doc is None:
            raise NotFoundError(f"no indexed source {source_or_id!r}; list_sources shows what is indexed")
        return doc

    async def find_document(self, source: str) -> DocumentRow | None:
        async with self.db.snapshot() as conn:
            return await store.find_document(conn, source)

    async def documents_with_prefix(self, prefix: str) -> list[DocumentRow]:
        async with self.db.snapshot() as conn:
            return await store.documents_with_prefix(conn, prefix)

    async def list_documents(
        self, where: str = "1", params: Sequence[Any] = (), limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRow], int]:
        async with self.db.snapshot() as conn:
            return await store.list_documents(conn, where, params, limit, offset)

    async def delete_source(self, source: str, *, prefix: bool = False) -> tuple[list[str], int]:
        """Delete one source (or every source starting with ``source``); returns (sources, chunks removed)."""
        if not source.strip():
            raise InvalidInputError("give the source to delete, exactly as list_sources shows it")
        async with self.db.snapshot() as conn:
            if prefix:
                where, params = store.filter_clause(source_prefix=source)
                docs, _ = await store.list_documents(conn, where, params, limit=10**9)
            else:
                docs = [await self._find(conn, source)]
        if not docs:
            raise NotFoundError(f"no indexed source starts with {source!r}; list_sources shows what is indexed")
        removed = await self.delete_documents(docs)
        return [d.source for d in docs], removed

    async def stats(self) -> dict[str, Any]:
        async with self.db.snapshot() as conn:
            totals = await store.totals(conn)
            recorded = await store.recorded_embedder(conn)
            totals["feedback"] = await store.feedback_total(conn)
        totals["index_embedder"] = recorded.describe() if recorded and totals["chunks"] else None
        totals["configured_embedder"] = self.embedder.info.describe()
        totals["embedder_matches"] = (
            recorded is None or not totals["chunks"] or compatible(recorded, self.embedder.info)
        )
        totals["database"] = str(self.db.path)
        try:
            totals["database_bytes"] = Path(self.db.path).stat().st_size
        except OSError:
            totals["database_bytes"] = 0
        return totals

    # -- evaluation runs -----------------------------------------------------------------------

    async def record_evaluation(self, report: EvalReport, dataset_hash: str) -> list[store.EvalRunRow]:
        """Store an evaluation run, one row per mode, in one transaction; returns the stored rows."""
        run_at = store.now_iso()
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
        async with self.db.transaction() as conn:
            await store.add_eval_runs(conn, rows)
            return await store.recent_eval_runs(conn, len(rows))

    async def evaluation_runs(self, limit: int = 50) -> list[store.EvalRunRow]:
        """The newest stored evaluation rows (one per mode and run), oldest first."""
        async with self.db.snapshot() as conn:
            return await store.recent_eval_runs(conn, limit)

    # -- feedback ------------------------------------------------------------------------------

    async def add_feedback(self, chunk_id: int, query: str, useful: bool) -> ChunkRow:
        from mcp_suite.servers.retrieval.search import query_key

        if not query.strip():
            raise InvalidInputError("give the query the chunk was retrieved for")
        async with self.db.transaction() as conn:
            found = await store.get_chunks(conn, [chunk_id])
            if chunk_id not in found:
                raise NotFoundError(f"chunk {chunk_id} does not exist; give an id from a recent search result")
            chunk = found[chunk_id]
            await store.add_feedback(
                conn,
                text_hash=chunk.text_hash,
                chunk_id=chunk_id,
                query=query,
                query_key=query_key(query),
                useful=useful,
            )
        return chunk

    async def feedback_counts(self, hashes: Sequence[str], query: str) -> dict[str, tuple[int, int, int, int]]:
        from mcp_suite.servers.retrieval.search import query_key

        async with self.db.snapshot() as conn:
            return await store.feedback_counts(conn, hashes, query_key(query))
