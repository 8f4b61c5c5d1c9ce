"""The retrieval index's storage contract: its records, its typed filter, and what each engine must offer.

Two implementations sit behind it, chosen by the URL scheme in :func:`.open_storage`: SQLite (FTS5 for the
lexical leg, vectors as float32 blobs) and PostgreSQL (``tsvector`` full text, pgvector with an HNSW index).
Domain code reads through a :class:`Reader` inside :meth:`Storage.snapshot` and writes through a
:class:`Writer` inside :meth:`Storage.run` (one transaction per logical change, retried on conflicts on
PostgreSQL, so a change must re-read what it depends on inside the transaction). SQL never leaves the
storage modules: filters travel as :class:`DocumentFilter` and each engine compiles them itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mcp_suite.shared.database_url import Engine
from mcp_suite.shared.embeddings import EmbedderInfo

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

# BM25 column weights: chunk text, heading path, document title (both engines weigh the columns alike).
BM25_WEIGHTS = (1.0, 1.5, 0.75)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a search or listing may touch; every given condition must hold (AND).

    Times are POSIX seconds (``modified_after`` inclusive, ``modified_before`` exclusive).
    """

    source_prefix: str | None = None
    source_glob: str | None = None
    tags: tuple[str, ...] = ()
    doc_types: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    modified_after: float | None = None
    modified_before: float | None = None
    metadata: tuple[tuple[str, str | int | float | bool], ...] = ()

    @property
    def empty(self) -> bool:
        return self == DocumentFilter()


NO_FILTER = DocumentFilter()


@dataclass(frozen=True)
class DocumentRow:
    id: int
    source: str
    kind: str
    title: str
    doc_type: str
    mtime: float
    size: int
    content_hash: str
    tags: list[str]
    meta: dict[str, Any]
    chunk_count: int
    ingested_at: str
    updated_at: str
    chunker_version: int = 0


@dataclass(frozen=True)
class ChunkRow:
    id: int
    document_id: int
    ordinal: int
    text: str
    heading_path: list[str]
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    token_count: int
    text_hash: str
    source: str
    title: str
    doc_type: str
    kind: str
    page: int | None = None
    anchor: str | None = None


def document_row(row: Sequence[Any]) -> DocumentRow:
    """A document as both engines' SELECTs list its columns."""
    return DocumentRow(
        id=row[0],
        source=row[1],
        kind=row[2],
        title=row[3],
        doc_type=row[4],
        mtime=row[5],
        size=row[6],
        content_hash=row[7],
        tags=json.loads(row[8]),
        meta=json.loads(row[9]),
        chunk_count=row[10],
        ingested_at=row[11],
        updated_at=row[12],
        chunker_version=row[13],
    )


def chunk_row(row: Sequence[Any]) -> ChunkRow:
    """A chunk joined with its document, as both engines' SELECTs list the columns."""
    return ChunkRow(
        id=row[0],
        document_id=row[1],
        ordinal=row[2],
        text=row[3],
        heading_path=json.loads(row[4]),
        start_line=row[5],
        end_line=row[6],
        start_char=row[7],
        end_char=row[8],
        token_count=row[9],
        text_hash=row[10],
        source=row[11],
        title=row[12],
        doc_type=row[13],
        kind=row[14],
        page=row[15],
        anchor=row[16],
    )


@dataclass(frozen=True)
class NewDocument:
    source: str
    kind: str
    title: str
    doc_type: str
    mtime: float
    size: int
    content_hash: str
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    chunker_version: int = 0


@dataclass(frozen=True)
class NewChunk:
    ordinal: int
    text: str
    heading_path: Sequence[str]
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    token_count: int
    text_hash: str
    embedding: bytes | None  # float32 little-endian; a chunk's window vectors concatenated (views.py)
    page: int | None = None
    anchor: str | None = None
    embed_hash: str | None = None  # hash of the text the vector was computed from (see ingest)


@dataclass(frozen=True)
class IngestErrorRow:
    source: str
    kind: str
    message: str
    failed_at: str


@dataclass(frozen=True)
class EvalRunRow:
    """One search mode's scores in one stored evaluation run."""

    id: int
    run: int
    run_at: str
    mode: str
    k: int
    case_count: int
    dataset_hash: str
    recall: float
    precision: float
    mrr: float
    ndcg: float
    hit_rate: float
    misses: int


EVAL_FIELDS = (
    "run_at", "mode", "k", "case_count", "dataset_hash", "recall", "precision", "mrr", "ndcg", "hit_rate", "misses"
)  # fmt: skip


@dataclass(frozen=True)
class Totals:
    documents: int
    bytes: int
    chunks: int
    embedded_chunks: int
    tokens: int
    by_type: dict[str, int]
    tags: dict[str, int]
    last_update: str | None
    feedback: int


# (chunk id, document id, text, heading, title): a chunk as the lexical index reads it
LexicalRow = tuple[int, int, str, str, str]
# (tokenizer option, (chunk id, document id) by id, (term, posting codes) by term)
LexicalSource = tuple[str, list[tuple[int, int]], Iterator[tuple[str, str]]]


class VectorSearch(Protocol):
    """Nearest stored vectors without the in-memory matrix (one-shot processes). Blocking: run on a thread."""

    def search(self, query: np.ndarray, k: int, doc_ids: Sequence[int] | None = None) -> list[tuple[int, float]]: ...


class Reader(Protocol):
    """Reads inside one consistent snapshot."""

    async def recorded_embedder(self) -> EmbedderInfo | None: ...
    async def has_chunks(self) -> bool: ...
    async def find_document(self, source: str) -> DocumentRow | None: ...
    async def get_document(self, document_id: int) -> DocumentRow | None: ...
    async def documents_with_prefix(self, prefix: str, kind: str = "file") -> list[DocumentRow]: ...
    async def list_documents(
        self, where: DocumentFilter = NO_FILTER, limit: int = 100, offset: int = 0
    ) -> tuple[list[DocumentRow], int]: ...
    async def matching_document_ids(self, where: DocumentFilter) -> list[int]: ...
    async def embeddings_by_hash(self, hashes: Sequence[str]) -> dict[str, bytes]: ...
    async def stored_embed_hashes(self) -> set[str]: ...
    async def get_chunks(self, ids: Sequence[int]) -> dict[int, ChunkRow]: ...
    async def identical_chunks(self, ids: Sequence[int], limit: int) -> dict[int, list[int]]: ...
    async def chunks_in_range(self, document_id: int, first: int, last: int) -> list[ChunkRow]: ...
    async def document_chunks(self, document_id: int) -> list[ChunkRow]: ...
    async def chunk_ids(self) -> list[int]:
        """Ids of the chunks that have a vector."""
        ...

    async def all_chunk_ids(self) -> list[int]: ...
    async def vectors(self, ids: Sequence[int] | None = None) -> list[tuple[int, int, bytes]]:
        """(chunk id, document id, blob of its window vectors) of the given chunks, or of every embedded one."""
        ...

    async def all_chunk_contexts(self) -> list[tuple[int, str, list[str], str]]: ...
    async def lexical_rows(self, ids: Sequence[int]) -> list[LexicalRow]: ...
    async def lexical_search(self, words: Sequence[str], where: DocumentFilter, limit: int) -> list[tuple[int, float]]:
        """Full-text ranking in SQL (paths without the in-memory index); larger scores are better."""
        ...

    async def phrase_scores(self, phrases: Sequence[str]) -> list[tuple[int, float]] | None:
        """BM25 contributions of words that tokenize to several terms; None when the engine cannot score
        them on BM25's scale (the caller then scores their terms one by one)."""
        ...

    async def feedback_counts(self, hashes: Sequence[str], query_key: str) -> dict[str, tuple[int, int, int, int]]: ...
    async def ingest_errors(self) -> dict[str, IngestErrorRow]: ...
    async def recent_eval_runs(self, limit: int) -> list[EvalRunRow]: ...
    async def totals(self) -> Totals: ...


class Writer(Reader, Protocol):
    """Reads and writes inside one transaction."""

    async def record_embedder(self, info: EmbedderInfo) -> None: ...
    async def replace_document(
        self, doc: NewDocument, chunks: Sequence[NewChunk]
    ) -> tuple[int, list[int], list[int]]: ...
    async def update_document_metadata(
        self, document_id: int, *, mtime: float, tags: list[str], meta: dict[str, Any]
    ) -> None: ...
    async def delete_document(self, document_id: int) -> list[int]: ...
    async def set_embeddings(self, rows: Sequence[tuple[int, bytes | None, str | None]]) -> None: ...
    async def add_feedback(
        self, *, text_hash: str, chunk_id: int, query: str, query_key: str, useful: bool
    ) -> None: ...
    async def set_ingest_error(self, source: str, kind: str, message: str) -> None: ...
    async def clear_ingest_errors(self, sources: Sequence[str]) -> None: ...
    async def add_eval_runs(self, rows: Sequence[dict[str, Any]]) -> int: ...


# What `db copy` moves, table by table, in an engine-neutral shape: columns in this order, JSON as text,
# vectors as float32 blobs. Derived data (SQLite's chunks_fts, PostgreSQL's tsvector and HNSW index) is
# rebuilt by the target; parents come before children.
COPY_TABLES: dict[str, tuple[str, ...]] = {
    "index_info": ("key", "value"),
    "documents": (
        "id", "source", "kind", "title", "doc_type", "mtime", "size", "content_hash", "tags", "meta",
        "chunk_count", "ingested_at", "updated_at", "chunker_version",
    ),
    "doc_tags": ("document_id", "tag"),
    "chunks": (
        "id", "document_id", "ordinal", "text", "heading_path", "start_line", "end_line", "start_char", "end_char",
        "token_count", "text_hash", "embedding", "embed_hash", "page", "anchor",
    ),
    "feedback": ("id", "text_hash", "chunk_id", "query", "query_key", "useful", "created_at"),
    "eval_runs": ("id", "run", *EVAL_FIELDS),
    "ingest_errors": ("source", "kind", "message", "failed_at"),
}  # fmt: skip


class Transfer(Protocol):
    """Whole tables in and out, for copying an index between engines."""

    async def export_tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table of :data:`COPY_TABLES`, read in one snapshot."""
        ...

    async def import_rows(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """Insert every table's rows in one transaction; refuse (DatabaseConfigError) a target that holds data."""
        ...

    async def count_rows(self, table: str) -> int: ...


class Storage(Transfer, Protocol):
    """A process's handle on one retrieval index, whichever engine holds it."""

    engine: Engine
    location: str  # the file path or the redacted URL: for stats and messages

    def snapshot(self) -> AbstractAsyncContextManager[Reader]: ...

    async def run(self, change: Callable[[Writer], Awaitable[T]]) -> T:
        """``change`` in one transaction; on PostgreSQL run again after a serialization conflict."""
        ...

    async def version(self) -> object:
        """A value that changes whenever any process commits a change to chunks or the embedder."""
        ...

    def watch(self) -> AsyncIterator[None]:
        """Yields once per change to the sources that another process announced; runs until cancelled."""
        ...

    def lexical_source(self) -> AbstractContextManager[LexicalSource]:
        """Everything the in-memory BM25 index is built from, in one snapshot. Blocking: call on a thread.

        Raises :class:`~mcp_suite.shared.errors.StorageError` when the source cannot be read."""
        ...

    def vector_search(self, dimension: int) -> VectorSearch: ...

    async def size_bytes(self) -> int: ...

    async def close(self) -> None: ...
