"""Incremental ingestion: files, folders, URLs and raw text into the knowledge base.

A source is re-indexed only when it changed or was chunked by an older
:data:`~mcp_suite.servers.retrieval.chunking.CHUNKER_VERSION`: a file whose size and modification time
match the index is not even read; one whose bytes hash the same only has its metadata refreshed. A changed
document is re-chunked, and only chunks whose embedded text (title, heading path and chunk text) is
new are embedded; an identical embedded text reuses its stored vector. Each document is written in
one transaction, so a failure leaves the previous version intact. Re-ingesting a folder removes the
documents of files that no longer exist.

Problems with one source (unreadable, binary, too large, unsupported) become an item in the
:class:`IngestReport`; only systemic failures (the embedder is down, the index belongs to another
embedder) stop the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from mcp_suite.servers.retrieval.chunking import CHUNKER_VERSION
from mcp_suite.servers.retrieval.documents import DocType, ParsedDocument
from mcp_suite.servers.retrieval.folders import FolderRules, file_kind, read_regular_file, walk_folder
from mcp_suite.servers.retrieval.ingest_report import IngestItem, IngestReport
from mcp_suite.servers.retrieval.library import KnowledgeBase, to_blob
from mcp_suite.servers.retrieval.outcomes import Failed, Outcome, Prepared, Reading, Unchanged, file_failure
from mcp_suite.servers.retrieval.prepare import (
    BrokenExecutor,
    Chunked,
    ChunkJob,
    ChunkWorkers,
    chunk_parsed,
    default_workers,
)
from mcp_suite.servers.retrieval.storage.base import DocumentRow, NewChunk, NewDocument
from mcp_suite.shared.embeddings import EmbeddingError
from mcp_suite.shared.errors import AccessDeniedError, ConflictError, InvalidInputError, SuiteError

log = logging.getLogger(__name__)

Progress = Callable[[float, float | None, str], Awaitable[None]]
Confine = Callable[[Path], Path]

BULK_FILES = 32  # from this many files, an ingest reads what it needs to know per file up front


@dataclass
class IngestOptions:
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    tags: Sequence[str] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    max_tokens: int = 350
    overlap_tokens: int = 0
    max_file_bytes: int = 25 * 1024 * 1024
    force: bool = False  # re-parse and re-chunk even when unchanged (e.g. after changing the chunk size)
    default_excludes: bool = True  # leave out web assets, lock files, build folders, other renderings
    workers: int | None = None  # processes that parse and chunk a large folder (None: the cores beyond two; 0: none)
    worker_min_bytes: int = 2 * 1024 * 1024  # a folder smaller than this is not worth starting processes for


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise_tags(tags: Sequence[str]) -> list[str]:
    cleaned = sorted({tag.strip() for tag in tags if tag and tag.strip()})
    return cleaned


# -- walking -------------------------------------------------------------------------------------


# -- the pipeline --------------------------------------------------------------------------------


class Ingestor:
    """One ingest run's state: the knowledge base, options, progress reporting and the report."""

    def __init__(
        self,
        kb: KnowledgeBase,
        options: IngestOptions,
        *,
        progress: Progress | None = None,
        confine: Confine | None = None,
    ) -> None:
        self.kb = kb
        self.options = options
        self.progress = progress
        self.confine = confine
        self.report = IngestReport()
        self._tags = normalise_tags(options.tags)
        self._errored: set[str] | None = None  # sources with a stored ingest error, read on first need
        self._recent: dict[str, bytes] = {}  # the last prepared document's vectors, by embed hash
        # The indexed documents under the folders being ingested, read in one query instead of one per file.
        self._indexed: dict[str, DocumentRow] = {}
        self._indexed_under: list[str] = []
        self._embedder_checked = False
        # For a bulk ingest, the embed hashes that may have stored vectors: others are not looked up.
        self._stored_embeds: set[str] | None = None

    async def _progress(self, done: float, total: float | None, message: str) -> None:
        if self.progress is not None:
            await self.progress(done, total, message)

    async def ingest_paths(self, paths: Sequence[str | Path]) -> IngestReport:
        started = time.perf_counter()
        if not paths:
            raise InvalidInputError("give at least one file or folder to ingest")
        plan: list[tuple[Path, Path | None]] = []  # (file, folder it came from)
        folders: list[Path] = []
        refused: list[SuiteError] = []
        for raw in paths:
            try:
                path = self._resolve(raw)
            except SuiteError as exc:
                refused.append(exc)
                self.report.record(IngestItem(source=str(raw), status="error", message=str(exc)))
                continue
            if path.is_dir():
                folders.append(path)
                files = await anyio.to_thread.run_sync(self._walk, path)
                plan += [(f, path) for f in files]
            elif path.is_file():
                plan.append((path, None))
            elif path.exists():
                kind = file_kind(path.stat().st_mode)
                message = f"{raw}: {kind}, not a regular file; only regular files are read"
                self.report.record(IngestItem(source=str(raw), status="error", message=message))
            elif (doc := await self.kb.find_document(str(path))) is not None:
                await self._remove([doc], "file no longer exists")
            else:
                self.report.record(
                    IngestItem(source=str(raw), status="error", message=f"{raw}: no such file or folder")
                )
        if refused and len(refused) == len(paths):
            raise refused[0]  # nothing to do at all: an error the caller cannot miss
        await self._read_up_front(folders, len(plan))
        total = len(plan)
        await self._progress(0, total, f"ingesting {total} files")
        seen: set[str] = set()
        workers = await self._chunk_workers(plan)

        # Two stages, one file apart: while a document is written (the database thread), the next one is read,
        # parsed, chunked and embedded (worker threads, or for a large folder worker processes that run ahead),
        # so both cores work. Outcomes are applied in file order.
        send, receive = anyio.create_memory_object_stream[tuple[Path, Outcome]](0)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._prepare_all, plan, seen, workers, send)
                async with receive:
                    done = 0
                    async for file, outcome in receive:
                        await self._apply(outcome)
                        done += 1
                        await self._progress(done, total, f"{done}/{total} {file.name}")
        except BaseExceptionGroup as group:  # one stage's failure (the other is cancelled): raise it as it was
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        for folder in folders:
            gone = [
                d
                for d in await self.kb.documents_with_prefix(str(folder) + os.sep)
                if d.source not in seen and not Path(d.source).exists()
            ]
            if gone:
                await self._remove(gone, "file no longer exists")
        self.report.seconds = time.perf_counter() - started
        return self.report

    async def _read_up_front(self, folders: Sequence[Path], files: int) -> None:
        """What every file would otherwise ask the database for, in a few queries for the whole run."""
        for folder in folders:
            prefix = str(folder) + os.sep
            self._indexed.update((d.source, d) for d in await self.kb.documents_with_prefix(prefix))
            self._indexed_under.append(prefix)
        if files >= BULK_FILES:
            # Per file, a lookup that finds nothing costs more than the set; the errors are read once too.
            if self.kb.semantic_enabled:
                self._stored_embeds = await self.kb.stored_embed_hashes()
            self._errored = set(await self.kb.ingest_errors())

    async def _prepare_all(
        self,
        plan: Sequence[tuple[Path, Path | None]],
        seen: set[str],
        workers: ChunkWorkers | None,
        send: MemoryObjectSendStream[tuple[Path, Outcome]],
    ) -> None:
        """The first stage: each file's outcome, in plan order (with workers, read this many files ahead)."""
        lookahead = 2 * workers.workers if workers is not None else 0
        pending: deque[tuple[Path, Outcome | Reading]] = deque()
        async with send:
            try:
                for file, folder in plan:
                    if folder is not None and self.confine is not None:
                        # A symlink inside a root may point anywhere; it is checked where it leads.
                        try:
                            file = self.confine(file)
                        except AccessDeniedError as exc:
                            pending.append((file, IngestItem(source=str(file), status="skipped", message=str(exc))))
                            continue
                    elif folder is not None:
                        file = file.resolve()
                    if str(file) in seen:  # named twice (a folder and a file in it): once is enough
                        continue
                    seen.add(str(file))
                    pending.append((file, await self._prepare_file(file, workers)))
                    while len(pending) > lookahead:
                        done, started = pending.popleft()
                        await send.send((done, await self._finish_file(started)))
                while pending:
                    done, started = pending.popleft()
                    await send.send((done, await self._finish_file(started)))
            finally:
                if workers is not None:
                    workers.close()

    async def _existing(self, source: str) -> DocumentRow | None:
        if (found := self._indexed.get(source)) is not None:
            return found
        if any(source.startswith(prefix) for prefix in self._indexed_under):
            return None  # under a folder read at the start, and not indexed then
        return await self.kb.find_document(source)

    async def _chunk_workers(self, plan: Sequence[tuple[Path, Path | None]]) -> ChunkWorkers | None:
        """Worker processes for this run, if the options allow them and the files are large enough together."""
        count = default_workers() if self.options.workers is None else self.options.workers
        if count <= 0 or not plan:
            return None

        def large_enough() -> bool:
            size = 0
            for file, _ in plan:
                with contextlib.suppress(OSError):
                    size += file.stat().st_size
                if size >= self.options.worker_min_bytes:
                    return True
            return False

        return ChunkWorkers(count) if await anyio.to_thread.run_sync(large_enough) else None

    def _walk(self, folder: Path) -> list[Path]:
        rules = FolderRules(self.options.include, self.options.exclude, self.options.default_excludes)
        files, skipped = walk_folder(folder, rules)
        self.report.add_exclusions(skipped)
        return files

    def _resolve(self, raw: str | Path) -> Path:
        if self.confine is not None:
            return self.confine(Path(raw))
        return Path(raw).expanduser().resolve()

    async def _remove(self, docs: Sequence[DocumentRow], why: str) -> None:
        await self.kb.delete_documents(docs)
        for doc in docs:
            self.report.record(IngestItem(source=doc.source, status="removed", message=why))

    async def _prepare_file(self, path: Path, workers: ChunkWorkers | None = None) -> Outcome | Reading:
        """Everything up to the write for one file: read, parse, chunk and embed it (or say why not).

        With ``workers`` a changed file is only read and handed to a worker process; :meth:`_finish_file`
        embeds it when its turn comes.
        """
        source = str(path)
        try:
            stat = path.stat()
            if stat.st_size > self.options.max_file_bytes:
                raise InvalidInputError(
                    f"{source}: {stat.st_size / 1_048_576:.1f} MB exceeds the "
                    f"{self.options.max_file_bytes / 1_048_576:g} MB file limit (--max-file-mb); "
                    "split it into smaller files or raise the limit"
                )
            existing = await self._existing(source)
            if (
                existing is not None
                and not self.options.force
                and existing.size == stat.st_size
                and existing.mtime == stat.st_mtime
                and existing.chunker_version >= CHUNKER_VERSION
            ):
                return Unchanged(existing, stat.st_mtime)
            data = await anyio.to_thread.run_sync(read_regular_file, path, self.options.max_file_bytes)
            self.report.bytes_read += len(data)
            if workers is not None:
                digest = content_hash(data)
                if self._is_unchanged(existing, digest):
                    assert existing is not None
                    return Unchanged(existing, stat.st_mtime)
                job = ChunkJob(
                    data=data,
                    source=source,
                    max_bytes=self.options.max_file_bytes,
                    max_tokens=self.options.max_tokens,
                    overlap_tokens=self.options.overlap_tokens,
                )
                try:
                    chunked = workers.submit(job)
                except BrokenExecutor:  # a worker died earlier (killed, out of memory): go on in this process
                    chunked = None
                return Reading(source, data, stat.st_mtime, existing, job, chunked, digest)
            return await self._prepare(
                source=source,
                kind="file",
                data=data,
                mtime=stat.st_mtime,
                existing=existing,
                parse=lambda: _parse_bytes(data, source, None, None, self.options.max_file_bytes),
            )
        except (ConflictError, EmbeddingError):
            raise
        except Exception as exc:
            return file_failure(source, exc)

    async def _finish_file(self, started: Outcome | Reading) -> Outcome:
        """A file handed to a worker, chunked there and now embedded here (other outcomes pass through)."""
        if not isinstance(started, Reading):
            return started
        result: Chunked | str | None = None
        if started.chunked is not None:
            try:
                result = await started.chunked
            except BrokenExecutor:
                log.warning("an ingest worker process died; chunking %s in the server process", started.source)
        try:
            if result is None:
                result = await anyio.to_thread.run_sync(started.job.run)
            if isinstance(result, str):
                return Failed(started.source, "file", result)
            return await self._prepare(
                source=started.source,
                kind="file",
                data=started.data,
                mtime=started.mtime,
                existing=started.existing,
                chunked=result,
                digest=started.digest,
            )
        except (ConflictError, EmbeddingError):
            raise
        except Exception as exc:
            return file_failure(started.source, exc)

    async def _apply(self, outcome: Outcome) -> IngestItem:
        """Record one prepared outcome: write the document, refresh an unchanged one's metadata, or report."""
        if isinstance(outcome, IngestItem):
            self.report.record(outcome)
            return outcome
        if isinstance(outcome, Unchanged):
            return await self._unchanged(outcome.existing, outcome.mtime)
        if isinstance(outcome, Failed):
            await self._failed(outcome.source, outcome.kind, outcome.message)
            return IngestItem(source=outcome.source, status="error", message=outcome.message)
        try:
            return await self._write(outcome)
        except (ConflictError, EmbeddingError):
            raise
        except SuiteError as exc:
            if outcome.doc.kind != "file":
                raise
            await self._failed(outcome.doc.source, "file", str(exc))
            return IngestItem(source=outcome.doc.source, status="error", message=str(exc))

    async def _failed(self, source: str, kind: Literal["file", "url"], message: str) -> None:
        """Report the error and keep it as the source's last ingest error (shown in the console)."""
        self.report.record(IngestItem(source=source, status="error", message=message))
        await self.kb.record_ingest_error(source, kind, message)
        if self._errored is not None:
            self._errored.add(source)

    async def _unchanged(self, existing: DocumentRow, mtime: float) -> IngestItem:
        if self._errored is None:  # read once per run: a success clears an earlier error
            self._errored = set(await self.kb.ingest_errors())
        if existing.source in self._errored:
            await self.kb.clear_ingest_error(existing.source)
            self._errored.discard(existing.source)
        meta = existing.meta
        if self.options.metadata:
            user_keys = self._user_meta_keys(existing) | {"_user_keys"}
            meta = {k: v for k, v in existing.meta.items() if k not in user_keys}
            meta.update(self.options.metadata)
            meta["_user_keys"] = sorted(self.options.metadata)
        tags = self._tags or existing.tags
        if existing.mtime != mtime or tags != existing.tags or meta != existing.meta:
            await self.kb.update_metadata(existing.id, mtime=mtime, tags=tags, meta=meta)
        item = IngestItem(source=existing.source, status="unchanged", chunks=existing.chunk_count)
        self.report.record(item)
        return item

    def _is_unchanged(self, existing: DocumentRow | None, digest: str) -> bool:
        """The same bytes as the indexed version, chunked by the current chunker (and no --force)."""
        return (
            existing is not None
            and existing.content_hash == digest
            and existing.chunker_version >= CHUNKER_VERSION
            and not self.options.force
        )

    @staticmethod
    def _user_meta_keys(existing: DocumentRow) -> set[str]:
        return set(existing.meta.get("_user_keys", []))

    async def _store(
        self,
        *,
        source: str,
        kind: Literal["file", "url", "text"],
        data: bytes,
        mtime: float,
        existing: DocumentRow | None,
        parse: Callable[[], ParsedDocument],
        title: str | None = None,
    ) -> IngestItem:
        prepared = await self._prepare(
            source=source, kind=kind, data=data, mtime=mtime, existing=existing, parse=parse, title=title
        )
        return await self._apply(prepared)

    async def _prepare(
        self,
        *,
        source: str,
        kind: Literal["file", "url", "text"],
        data: bytes,
        mtime: float,
        existing: DocumentRow | None,
        parse: Callable[[], ParsedDocument] | None = None,
        title: str | None = None,
        chunked: Chunked | None = None,
        digest: str | None = None,
    ) -> Prepared | Unchanged:
        """Parse, chunk and embed a changed source (nothing is written yet); an unchanged one says so.

        ``chunked`` is the parse and chunking done already (by a worker process, which checked ``digest``).
        """
        if chunked is None:
            digest = content_hash(data)
            if self._is_unchanged(existing, digest):
                assert existing is not None
                return Unchanged(existing, mtime)
            assert parse is not None
            options = self.options
            chunked = await anyio.to_thread.run_sync(
                lambda: chunk_parsed(parse(), options.max_tokens, options.overlap_tokens)
            )
        assert digest is not None
        doc, chunks = chunked.doc, chunked.chunks
        hashes, embed_texts, embed_hashes = chunked.hashes, chunked.embed_texts, chunked.embed_hashes
        # Refuse before embedding: a paid API should not be billed for vectors the index will reject.
        if not self._embedder_checked:  # once a run: each write checks again inside its transaction
            await self.kb.check_embedder()
            self._embedder_checked = True
        vectors, embedded = await self._vectors(embed_texts, embed_hashes)
        user_meta = dict(self.options.metadata)
        if not user_meta and existing is not None:
            user_meta = {k: existing.meta[k] for k in self._user_meta_keys(existing) if k in existing.meta}
        meta: dict[str, Any] = {**doc.metadata, **user_meta}
        if user_meta:
            meta["_user_keys"] = sorted(user_meta)
        if doc.language:
            meta.setdefault("language", doc.language)
        new_doc = NewDocument(
            source=source,
            kind=kind,
            title=title or doc.title or Path(source).name,
            doc_type=doc.doc_type,
            mtime=mtime,
            size=len(data),
            content_hash=digest,
            tags=self._tags or (existing.tags if existing else []),
            meta=meta,
            chunker_version=CHUNKER_VERSION,
        )
        new_chunks = [
            NewChunk(
                ordinal=i,
                text=c.text,
                heading_path=tuple(c.heading_path),
                start_line=c.start_line,
                end_line=c.end_line,
                start_char=c.start_char,
                end_char=c.end_char,
                token_count=c.token_count,
                text_hash=h,
                embedding=vectors.get(e),
                page=c.page,
                anchor=c.anchor,
                embed_hash=e,
            )
            for i, (c, h, e) in enumerate(zip(chunks, hashes, embed_hashes, strict=True))
        ]
        self._recent = vectors
        return Prepared(new_doc, new_chunks, existing is not None, embedded)

    async def _vectors(self, texts: list[list[str]], hashes: list[str]) -> tuple[dict[str, bytes], int]:
        """Each chunk's window vectors by embed hash, reused where the same windows were embedded before, and
        how many chunks had to be embedded."""
        if not self.kb.semantic_enabled or not texts:
            return {}, 0
        known = self._stored_embeds
        lookup = hashes if known is None else [h for h in hashes if h in known]
        vectors = await self.kb.reuse_embeddings(lookup) if lookup else {}
        if known is not None:
            known.update(hashes)  # written before any later file of this run is prepared
        # The document before this one may still be being written: its vectors are reused from here.
        vectors.update((h, self._recent[h]) for h in hashes if h in self._recent and h not in vectors)
        missing = list({h: i for i, h in enumerate(hashes) if h not in vectors}.values())
        if missing:
            # A window text that recurs in the document (a repeated note, a boilerplate paragraph under the
            # same heading) is embedded once.
            unique = list(dict.fromkeys(t for i in missing for t in texts[i]))
            matrix = await self.kb.embed(unique)
            row_of = {text: row for row, text in enumerate(unique)}
            for i in missing:
                vectors[hashes[i]] = to_blob(matrix[[row_of[t] for t in texts[i]]])
        return vectors, len(missing)

    async def _write(self, prepared: Prepared) -> IngestItem:
        # Without a stored error for the source (read at the start of a bulk run), there is nothing to clear.
        clear = self._errored is None or prepared.doc.source in self._errored
        await self.kb.write_document(prepared.doc, prepared.chunks, clear_error=clear)
        if self._errored is not None:
            self._errored.discard(prepared.doc.source)
        item = IngestItem(
            source=prepared.doc.source,
            status="updated" if prepared.replaces else "added",
            chunks=len(prepared.chunks),
            embedded=prepared.embedded,
            message=None if prepared.chunks else "no text to index",
        )
        self.report.record(item)
        return item

    async def ingest_text(
        self, text: str, *, source: str, title: str | None = None, doc_type: DocType | None = None
    ) -> IngestReport:
        started = time.perf_counter()
        if not source.strip():
            raise InvalidInputError("give the text a source name (e.g. 'notes/meeting-2024-05-01.md')")
        if not text.strip():
            raise InvalidInputError("the text is empty; nothing to ingest")
        from mcp_suite.servers.retrieval.readers import parse_text

        data = text.encode("utf-8")
        if len(data) > self.options.max_file_bytes:
            raise InvalidInputError(
                f"the text is {len(data) / 1_048_576:.1f} MB, over the {self.options.max_file_bytes / 1_048_576:g} "
                "MB limit (--max-file-mb); split it"
            )
        existing = await self.kb.find_document(source)
        if existing is not None and existing.kind != "text":
            raise ConflictError(
                f"source {source!r} is already an indexed {existing.kind}; pick another source name for the text"
            )
        self.report.bytes_read += len(data)
        await self._store(
            source=source,
            kind="text",
            data=data,
            mtime=time.time(),
            existing=existing,
            parse=lambda: parse_text(
                text, name=source, doc_type=doc_type or "text", max_bytes=self.options.max_file_bytes
            ),
            title=title,
        )
        self.report.seconds = time.perf_counter() - started
        return self.report

    async def ingest_url(
        self,
        url: str,
        *,
        max_bytes: int,
        timeout: float,
        client: Any = None,
        title: str | None = None,
        policy: Any = None,
    ) -> IngestReport:
        started = time.perf_counter()
        from mcp_suite.servers.retrieval.fetching import BlockedUrlError, FetchError, charset_of, fetch_url
        from mcp_suite.servers.retrieval.readers import (
            DocumentTooLargeError,
            UnsupportedFormatError,
            type_for_content_type,
        )

        try:
            fetched = await fetch_url(url, max_bytes=max_bytes, timeout=timeout, client=client, policy=policy)
        except BlockedUrlError:
            raise  # refused by the URL policy: not a failure of the source
        except FetchError as exc:
            await self.kb.record_ingest_error(url, "url", str(exc))
            raise
        self.report.bytes_read += len(fetched.data)
        existing = await self.kb.find_document(url)
        fetched_at = getattr(fetched, "fetched_at", None)
        mtime = fetched_at.timestamp() if isinstance(fetched_at, datetime) else float(fetched_at or time.time())
        doc_type = type_for_content_type(getattr(fetched, "content_type", None))
        name = getattr(fetched, "final_url", None) or url
        try:
            await self._store(
                source=url,
                kind="url",
                data=fetched.data,
                mtime=mtime,
                existing=existing,
                parse=lambda: _parse_bytes(
                    fetched.data,
                    name,
                    doc_type,
                    charset_of(getattr(fetched, "content_type", None)),
                    self.options.max_file_bytes,  # a fetched page is held to the same limit as a file
                ),
                title=title,
            )
        except (DocumentTooLargeError, UnsupportedFormatError) as exc:
            await self.kb.record_ingest_error(url, "url", str(exc))  # kept and shown like a file's
            raise
        self.report.seconds = time.perf_counter() - started
        return self.report


def _parse_bytes(
    data: bytes, name: str, doc_type: DocType | None, encoding: str | None, max_bytes: int
) -> ParsedDocument:
    from mcp_suite.servers.retrieval.readers import parse_bytes

    return parse_bytes(data, name=name, doc_type=doc_type, encoding=encoding, max_bytes=max_bytes)
