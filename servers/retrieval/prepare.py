"""Parse, chunk and window one source: the CPU-only part of ingest, run in a thread or a worker process.

Everything here is a plain function of a source's bytes (no database, no event loop, nothing to embed
yet), so a large folder ingest can run it in worker processes (:class:`ChunkWorkers`). In one process
the pure-Python readers and chunker hold the GIL that the embedding and writing stages also need: on 2
cores a Markdown folder went at about 1 MB/s with every stage waiting its turn for the interpreter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from mcp_suite.servers.retrieval.chunking import chunk_document
from mcp_suite.servers.retrieval.documents import Chunk, DocType, ParsedDocument
from mcp_suite.servers.retrieval.views import embed_key, embedding_texts
from mcp_suite.shared.errors import SuiteError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

__all__ = ["BrokenExecutor", "ChunkJob", "ChunkWorkers", "Chunked", "chunk_parsed", "default_workers", "text_hash"]


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class Chunked:
    """A parsed source's chunks with everything computed from their text alone."""

    doc: ParsedDocument  # from a worker, without its text and blocks: the chunks carry what is kept
    chunks: list[Chunk]
    hashes: list[str]  # of each chunk's text
    embed_texts: list[list[str]]  # each chunk's windows under its title and heading path (views.py)
    embed_hashes: list[str]  # of each chunk's windows together: same windows, same vectors


def chunk_parsed(doc: ParsedDocument, max_tokens: int, overlap_tokens: int) -> Chunked:
    chunks = chunk_document(doc, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    # One vector per window of a chunk, each under the title and heading path: they carry meaning a short
    # window lacks. Vectors are reused only for the same embedded texts, not merely the same chunk text.
    embed_texts = [embedding_texts(doc.title, c.heading_path, c.text) for c in chunks]
    return Chunked(
        doc=doc,
        chunks=chunks,
        hashes=[text_hash(c.text) for c in chunks],
        embed_texts=embed_texts,
        embed_hashes=[text_hash(embed_key(t)) for t in embed_texts],
    )


@dataclass(frozen=True)
class ChunkJob:
    """One file's bytes and the settings its chunks depend on (what a worker process is sent)."""

    data: bytes
    source: str
    max_bytes: int
    max_tokens: int
    overlap_tokens: int
    doc_type: DocType | None = None
    encoding: str | None = None

    def run(self) -> Chunked:
        from mcp_suite.servers.retrieval.readers import parse_bytes

        doc = parse_bytes(
            self.data, name=self.source, doc_type=self.doc_type, encoding=self.encoding, max_bytes=self.max_bytes
        )
        return chunk_parsed(doc, self.max_tokens, self.overlap_tokens)


def _start_worker() -> None:
    # A worker shares the server's stdout, which in stdio mode is the MCP channel: nothing may reach it.
    os.dup2(2, 1)


def failure_message(source: str, exc: Exception) -> str:
    """One file's problem as its report line (a reader bug is logged too): a folder of thousands goes on."""
    if isinstance(exc, SuiteError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{source}: {exc.strerror or exc}"
    log.error("failed to ingest %s", source, exc_info=exc)
    return f"{source}: could not be read ({type(exc).__name__}: {exc})"


def _run_in_worker(job: ChunkJob) -> Chunked | str:
    """A worker's side: the chunks (the document without its text, which need not cross back), or the
    one-line reason the file could not be read, phrased as ingest reports it in one process."""
    try:
        chunked = job.run()
    except Exception as exc:
        return failure_message(job.source, exc)
    return replace(chunked, doc=replace(chunked.doc, text="", blocks=()))


def default_workers() -> int:
    """Worker processes for a large folder: the cores beyond two (at most 4).

    The server's own stages keep about two cores busy (the event loop with embedding, SQLite's thread and the
    tokenizer's): on a 2-core machine a worker only competes with them, measured level with none.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cores - 2))


class ChunkWorkers:
    """A process pool started on first use and shut down with the ingest that made it.

    Processes are spawned, never forked: the server has threads (SQLite, the tokenizer's pool) that a fork
    would copy mid-state. Spawning costs a few hundred milliseconds, so ingest uses workers only for
    folders large enough to repay it.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, job: ChunkJob) -> asyncio.Future[Chunked | str]:
        """Start chunking ``job`` in a worker; raises :class:`BrokenExecutor` if the pool died."""
        if self._pool is None:
            import multiprocessing  # here, not at import: the server starts without them
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_start_worker)
        return asyncio.wrap_future(self._pool.submit(_run_in_worker, job))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
