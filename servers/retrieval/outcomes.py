"""What preparing one source comes to, before it is written: the ingest pipeline's hand-over types."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from mcp_suite.servers.retrieval.ingest_report import IngestItem
from mcp_suite.servers.retrieval.prepare import Chunked, ChunkJob, failure_message
from mcp_suite.servers.retrieval.storage.base import DocumentRow, NewChunk, NewDocument


@dataclass(frozen=True)
class Prepared:
    """A changed source parsed, chunked and embedded, ready to be written in one transaction."""

    doc: NewDocument
    chunks: list[NewChunk]
    replaces: bool  # an indexed version exists
    embedded: int  # chunks whose vectors were computed for it


@dataclass(frozen=True)
class Unchanged:
    existing: DocumentRow
    mtime: float


@dataclass(frozen=True)
class Failed:
    source: str
    kind: Literal["file", "url"]
    message: str


# What preparing one source comes to; applied (written, recorded) in source order.
Outcome = Prepared | Unchanged | Failed | IngestItem


@dataclass(frozen=True)
class Reading:
    """A changed file read and handed to a worker process; finished (embedded) when its turn comes."""

    source: str
    data: bytes
    mtime: float
    existing: DocumentRow | None
    job: ChunkJob
    chunked: asyncio.Future[Chunked | str] | None  # None: the pool had died, chunk it in a thread
    digest: str


def file_failure(source: str, exc: Exception) -> Failed:
    """One file's problem as its report item: a folder of thousands goes on past it."""
    return Failed(source, "file", failure_message(source, exc))
