"""MCP surface of the retrieval server: ingest, search, context, feedback and evaluation tools,
resources for sources and documents, and the ``answer_with_context`` prompt.

Domain work happens in :mod:`mcp_suite.servers.retrieval.library` (the index),
:mod:`~mcp_suite.servers.retrieval.ingest`, :mod:`~mcp_suite.servers.retrieval.search` and
:mod:`~mcp_suite.servers.retrieval.evaluation`; this module only adapts them to MCP: typed
parameters, progress notifications, client roots and sampling.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, cast

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources.templates import ResourceSecurity
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import SamplingMessage, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_suite import __version__
from mcp_suite.servers.retrieval.documents import DocType
from mcp_suite.servers.retrieval.evaluation import EvalReport
from mcp_suite.servers.retrieval.factory import (
    build_embedder,
    build_reranker,
    ingest_options,
    ranking_config,
    url_policy,
)
from mcp_suite.servers.retrieval.ingest import Ingestor
from mcp_suite.servers.retrieval.ingest_report import IngestReport
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.prompting import grounded_prompt
from mcp_suite.servers.retrieval.roots import RootPolicy, roots_from_uris
from mcp_suite.servers.retrieval.search import MAX_K, Mode, SearchFilters, SearchHit, SearchResult, hit_from_chunk
from mcp_suite.servers.retrieval.search import search as run_search
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.embeddings import Embedder, WordLlamaEmbedder
from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.http import HttpPool
from mcp_suite.shared.server import SuiteServer, notify_log, notify_progress

log = logging.getLogger(__name__)

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
FETCH = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
# Reads the index, but stores each run's scores.
RECORD = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

INSTRUCTIONS = """A private knowledge base over the user's files, folders, URLs and notes.
Use `search` (hybrid BM25 + vector by default) to find passages; every hit carries a `citation`
(source:lines § headings) — cite it when you answer. Widen a hit with `get_chunk(chunk_id, neighbors)`.
Add content with `ingest` (files/folders inside the allowed roots), `ingest_url` or `ingest_text`.
When a hit helped or misled you, call `feedback` so future rankings improve."""

MetadataValue = str | int | float | bool


@dataclass
class RetrievalState:
    kb: KnowledgeBase
    settings: RetrievalSettings
    reranker: Any | None
    http: HttpPool | None = None


class SourceInfo(BaseModel):
    document_id: int
    source: str
    kind: str
    title: str
    doc_type: str
    chunks: int
    size: int
    modified: str
    ingested_at: str
    updated_at: str
    tags: list[str]
    metadata: dict[str, Any]


class SourceList(BaseModel):
    total: int
    offset: int
    sources: list[SourceInfo]
    next_offset: int | None = Field(default=None, description="pass as offset to get the next page")


class ChunkContext(BaseModel):
    chunk: SearchHit
    context: list[SearchHit] = Field(description="the chunk and its neighbours in document order")
    text: str = Field(description="the neighbours' text joined in order, for reading as one passage")


class DeleteResult(BaseModel):
    deleted_sources: list[str]
    chunks_removed: int


class FeedbackResult(BaseModel):
    chunk_id: int
    useful: bool
    message: str


class IndexStats(BaseModel):
    documents: int
    chunks: int
    embedded_chunks: int
    tokens: int
    bytes: int
    by_type: dict[str, int]
    tags: dict[str, int]
    feedback: int
    last_update: str | None
    index_embedder: str | None
    configured_embedder: str
    embedder_matches: bool
    database: str
    database_bytes: int
    roots: list[str]


class ReindexResult(BaseModel):
    chunks: int
    embedder: str


def _source_info(doc: Any) -> SourceInfo:
    from datetime import UTC, datetime

    return SourceInfo(
        document_id=doc.id,
        source=doc.source,
        kind=doc.kind,
        title=doc.title,
        doc_type=doc.doc_type,
        chunks=doc.chunk_count,
        size=doc.size,
        modified=datetime.fromtimestamp(doc.mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        ingested_at=doc.ingested_at,
        updated_at=doc.updated_at,
        tags=doc.tags,
        metadata={k: v for k, v in doc.meta.items() if k != "_user_keys"},
    )


def build_server(
    settings: RetrievalSettings, *, embedder: Embedder | None = None, reranker: Any | None = None
) -> SuiteServer:
    """The retrieval server; ``embedder``/``reranker`` override the settings (tests use HTTP mocks)."""
    live: dict[str, RetrievalState] = {}

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[RetrievalState]:
        http = HttpPool()  # one pooled client for the embedder, the reranker and URL ingest; closed below
        chosen = embedder or build_embedder(settings, http)
        # Opened first: a database that cannot be reached stops the server before any thread starts.
        kb = await KnowledgeBase.open(settings.database, chosen)
        if isinstance(chosen, WordLlamaEmbedder):
            # Load the model in the background: the handshake must not wait for it.
            threading.Thread(target=_quiet_load, args=(chosen,), daemon=True, name="wordllama-load").start()
        kb.start_lexical_build()  # the in-memory BM25 index, on a thread: ready before most first searches

        async def relay_other_replicas() -> None:
            # Sources ingested or deleted through another replica: this replica's subscribers hear of it too.
            async for _ in kb.others_changes():
                await server.resources_updated(changed_resources({}))

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(relay_other_replicas)
                state = RetrievalState(
                    kb=kb, settings=settings, reranker=reranker or build_reranker(settings, http), http=http
                )
                live["state"] = state
                try:
                    yield state
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            live.pop("state", None)
            await http.aclose()
            await kb.close()

    server = SuiteServer(
        "mcp-suite-retrieval",
        title="Retrieval (private knowledge base)",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        resource_updates=True,
    )

    def changed_resources(arguments: dict[str, Any]) -> list[str]:
        # Which document a call changed is known only after it ran: subscribed documents are all told.
        assert server.resource_updates is not None
        documents = [uri for uri in server.resource_updates.subscribed() if uri.startswith("retrieval://documents/")]
        return ["retrieval://sources", *documents]

    server.updates_resources(["ingest", "ingest_url", "ingest_text", "delete_source"], changed_resources)

    def state_of(ctx: Context) -> RetrievalState:
        return cast(RetrievalState, ctx.request_context.lifespan_context)

    async def policy_for(ctx: Context) -> RootPolicy:
        if settings.roots:
            return RootPolicy(settings.roots)
        caps = ctx.client_capabilities
        if caps is not None and caps.roots is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    result = await ctx.session.list_roots()
            except Exception as exc:  # the client may refuse or lack a back channel; then no roots
                log.info("client did not list its roots: %s", exc)
                return RootPolicy([])
            return RootPolicy(roots_from_uris([str(root.uri) for root in result.roots]))
        return RootPolicy([])

    def progress_to(ctx: Context) -> Any:
        async def report(done: float, total: float | None, message: str) -> None:
            await notify_progress(ctx, done, total, message)

        return report

    # ---- ingestion ------------------------------------------------------------------------------

    @server.tool(title="Ingest files or folders", annotations=WRITE)
    async def ingest(
        paths: Annotated[
            list[str],
            Field(min_length=1, max_length=100, description="files or folders to index (inside the allowed roots)"),
        ],
        ctx: Context,
        include: Annotated[
            list[str], Field(description="only files matching these globs, e.g. ['*.md', 'docs/**/*.rst']")
        ] = [],  # noqa: B006 - pydantic copies defaults
        exclude: Annotated[list[str], Field(description="skip files or folders matching these globs")] = [],  # noqa: B006
        tags: Annotated[list[str], Field(description="tags to attach to every ingested document")] = [],  # noqa: B006
        metadata: Annotated[
            dict[str, MetadataValue], Field(description="key/values to attach to every ingested document")
        ] = {},  # noqa: B006
        force: Annotated[bool, Field(description="re-parse and re-chunk even unchanged files")] = False,
        default_excludes: Annotated[
            bool | None,
            Field(
                description="leave out stylesheets, scripts, minified files, lock files, build/dependency folders, "
                "other renderings of a page and aggregate pages (default: the server's setting, normally true)"
            ),
        ] = None,
    ) -> IngestReport:
        """Index files and folders (recursively) so they can be searched.

        Incremental: unchanged files are skipped, changed ones re-indexed, and files deleted from
        an ingested folder are removed from the index. Supports Markdown, reStructuredText, plain
        text, HTML, source code and PDF. Only regular files are read. By default a folder walk leaves
        out web assets, lock files, build and dependency folders and duplicate renderings of a page;
        the report's `excluded` says what was left out and why (include globs bring files back).
        Problems with single files (unreadable, binary, too large) are listed in the report's items;
        the rest is still indexed. Sends progress notifications.
        """
        state = state_of(ctx)
        policy = await policy_for(ctx)
        if not policy:
            policy.confine(".")  # raises the actionable "no roots" error
        options = ingest_options(
            state.settings, include=include, exclude=exclude, tags=tags, metadata=metadata, force=force
        )
        if default_excludes is not None:
            options.default_excludes = default_excludes
        ingestor = Ingestor(state.kb, options, progress=progress_to(ctx), confine=policy.confine)
        report = await ingestor.ingest_paths(paths)
        await notify_log(ctx, "info", f"ingest: {report.summary()}")
        return report

    @server.tool(title="Ingest a URL", annotations=FETCH)
    async def ingest_url(
        url: Annotated[str, Field(min_length=1, max_length=2048, description="http(s) URL of a page or document")],
        ctx: Context,
        title: Annotated[str | None, Field(description="title to use instead of the page's own")] = None,
        tags: Annotated[list[str], Field(description="tags to attach")] = [],  # noqa: B006
        metadata: Annotated[dict[str, MetadataValue], Field(description="key/values to attach")] = {},  # noqa: B006
    ) -> IngestReport:
        """Fetch a web page or document (HTML is reduced to its text) and index it under its URL.

        Downloads are limited in size and time. Re-ingesting an unchanged page changes nothing.
        """
        state = state_of(ctx)
        if not url.lower().startswith(("http://", "https://")):
            raise InvalidInputError(f"{url!r} is not an http(s) URL; for local files use ingest")
        await notify_progress(ctx, 0, 1, f"fetching {url}")
        ingestor = Ingestor(state.kb, ingest_options(state.settings, tags=tags, metadata=metadata))
        report = await ingestor.ingest_url(
            url,
            max_bytes=int(state.settings.max_url_mb * 1_048_576),
            timeout=state.settings.url_timeout,
            title=title,
            policy=url_policy(state.settings),
            client=state.http.client if state.http is not None else None,
        )
        await notify_progress(ctx, 1, 1, "indexed")
        return report

    @server.tool(title="Ingest text", annotations=WRITE)
    async def ingest_text(
        text: Annotated[str, Field(min_length=1, description="the text to index")],
        source: Annotated[
            str, Field(min_length=1, max_length=1024, description="a name to cite it by, e.g. 'notes/standup-05-02.md'")
        ],
        ctx: Context,
        title: Annotated[str | None, Field(description="title (default: from the text's first heading)")] = None,
        doc_type: Annotated[
            DocType | None, Field(description="how to read it: markdown, rst, text, html or code (default: text)")
        ] = None,
        tags: Annotated[list[str], Field(description="tags to attach")] = [],  # noqa: B006
        metadata: Annotated[dict[str, MetadataValue], Field(description="key/values to attach")] = {},  # noqa: B006
    ) -> IngestReport:
        """Index a piece of text under a source name (re-using the name replaces the earlier text)."""
        state = state_of(ctx)
        ingestor = Ingestor(state.kb, ingest_options(state.settings, tags=tags, metadata=metadata))
        return await ingestor.ingest_text(text, source=source, title=title, doc_type=doc_type)

    # ---- search ---------------------------------------------------------------------------------

    async def expand_query(ctx: Context, query: str) -> tuple[list[str], str | None]:
        caps = ctx.client_capabilities
        if caps is None or caps.sampling is None:
            return [], "query expansion skipped: the client does not support sampling"
        prompt = (
            "Write 3 alternative search queries for the question below, using different words a document "
            "might use (synonyms, the technical term, a rephrasing). One per line, no numbering, nothing else.\n\n"
            f"Question: {query}"
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MCPDeprecationWarning)
                result = await ctx.session.create_message(
                    [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
                    max_tokens=200,
                    temperature=0.3,
                )
        except Exception as exc:  # sampling is optional: a refusal must not fail the search
            return [], f"query expansion skipped: {exc}"
        content = result.content
        text = content.text if isinstance(content, TextContent) else ""
        variants = [line.strip(" -*\t").strip() for line in text.splitlines() if line.strip()]
        return variants[:3], None

    async def do_search(
        ctx: Context, query: str, k: int, mode: Mode, filters: SearchFilters | None, expand: bool | None
    ) -> SearchResult:
        state = state_of(ctx)
        expansions: list[str] = []
        note = None
        if expand if expand is not None else state.settings.query_expansion:
            expansions, note = await expand_query(ctx, query)
        result = await run_search(
            state.kb,
            query,
            k=k,
            mode=mode,
            filters=filters,
            ranking=ranking_config(state.settings),
            expansions=expansions,
            reranker=state.reranker,
        )
        if note:
            result.notes.append(note)
        if expansions:
            result.notes.append("expanded with: " + " | ".join(expansions))
        return result

    @server.tool(title="Search the knowledge base", annotations=READ)
    async def search(
        query: Annotated[
            str, Field(min_length=1, max_length=2000, description="what to look for, in natural language")
        ],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=MAX_K, description="number of passages to return")] = 8,
        mode: Annotated[
            Mode,
            Field(description="hybrid (BM25 + vectors, best default), lexical (exact words, identifiers) or semantic"),
        ] = "hybrid",
        filters: Annotated[
            SearchFilters | None, Field(description="restrict by source, tags, type, date or metadata before ranking")
        ] = None,
        expand: Annotated[
            bool | None,
            Field(description="ask your own model (MCP sampling) for query variants; default from server settings"),
        ] = None,
    ) -> SearchResult:
        """Find the passages of the indexed documents most relevant to a query.

        Each hit has the chunk text, its source, title, heading path, line span and a ready-made
        `citation`; cite it when you use the passage. Use get_chunk(chunk_id, neighbors) to read
        around a hit, and feedback(chunk_id, query, useful) to tell the index what helped.
        """
        return await do_search(ctx, query, k, mode, filters, expand)

    @server.tool(title="Get a chunk with its neighbours", annotations=READ)
    async def get_chunk(
        chunk_id: Annotated[int, Field(ge=1, description="chunk_id from a search hit")],
        ctx: Context,
        neighbors: Annotated[int, Field(ge=0, le=10, description="chunks to include before and after")] = 1,
    ) -> ChunkContext:
        """Read a chunk together with the chunks around it in its document, to widen a search hit's context."""
        chunk, around = await state_of(ctx).kb.chunk_with_neighbors(chunk_id, neighbors)
        hits = [hit_from_chunk(c) for c in around]
        return ChunkContext(chunk=hit_from_chunk(chunk), context=hits, text="\n\n".join(c.text for c in around))

    # ---- index management -----------------------------------------------------------------------

    @server.tool(title="List indexed sources", annotations=READ)
    async def list_sources(
        ctx: Context,
        filters: Annotated[SearchFilters | None, Field(description="only sources matching these filters")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="sources per page")] = 100,
        offset: Annotated[int, Field(ge=0, description="sources to skip (next_offset of the previous page)")] = 0,
    ) -> SourceList:
        """List the indexed documents with their type, size, chunk count, tags and metadata."""
        docs, total = await state_of(ctx).kb.list_documents((filters or SearchFilters()).to_filter(), limit, offset)
        next_offset = offset + len(docs) if offset + len(docs) < total else None
        return SourceList(total=total, offset=offset, sources=[_source_info(d) for d in docs], next_offset=next_offset)

    @server.tool(title="Delete a source", annotations=DELETE)
    async def delete_source(
        source: Annotated[str, Field(min_length=1, description="the source exactly as list_sources shows it")],
        ctx: Context,
        prefix: Annotated[
            bool, Field(description="delete every source starting with `source` (a whole folder)")
        ] = False,
    ) -> DeleteResult:
        """Remove a document (or, with prefix, every document under a folder or URL prefix) from the index.

        The files themselves are not touched; ingest them again to bring them back.
        """
        sources, removed = await state_of(ctx).kb.delete_source(source, prefix=prefix)
        return DeleteResult(deleted_sources=sources, chunks_removed=removed)

    @server.tool(title="Index statistics", annotations=READ)
    async def stats(ctx: Context) -> IndexStats:
        """Counts of documents, chunks and tokens, which embedder built the index, and the allowed roots."""
        state = state_of(ctx)
        data = await state.kb.stats()
        policy = await policy_for(ctx)
        return IndexStats(**data, roots=[str(r) for r in policy.roots])

    @server.tool(title="Rate a search hit", annotations=WRITE.model_copy(update={"idempotent_hint": False}))
    async def feedback(
        chunk_id: Annotated[int, Field(ge=1, description="chunk_id of the hit")],
        query: Annotated[str, Field(min_length=1, max_length=2000, description="the query it was retrieved for")],
        useful: Annotated[
            bool, Field(description="true if it helped answer, false if it was irrelevant or misleading")
        ],
        ctx: Context,
    ) -> FeedbackResult:
        """Record whether a retrieved chunk helped. Future searches rank it a little higher (or lower),
        most of all for the same query; the nudge is bounded, so it never overrides clear relevance."""
        await state_of(ctx).kb.add_feedback(chunk_id, query, useful)
        verdict = "useful" if useful else "not useful"
        return FeedbackResult(chunk_id=chunk_id, useful=useful, message=f"recorded chunk {chunk_id} as {verdict}")

    @server.tool(title="Re-embed the index", annotations=WRITE)
    async def reindex(
        ctx: Context,
        confirm: Annotated[bool, Field(description="must be true: re-embedding a large index takes a while")] = False,
    ) -> ReindexResult:
        """Re-compute every chunk's vector with the embedder this server is configured with.

        Needed after switching embedders (search and ingest refuse to mix vectors from different
        models until then). Lexical search keeps working meanwhile.
        """
        if not confirm:
            raise InvalidInputError("reindex re-embeds every chunk; call it again with confirm=true to proceed")
        data = await state_of(ctx).kb.reindex(progress_to(ctx))
        return ReindexResult(**data)

    # ---- evaluation -----------------------------------------------------------------------------

    @server.tool(title="Evaluate retrieval quality", annotations=RECORD)
    async def evaluate(
        dataset: Annotated[
            str,
            Field(
                min_length=1,
                description='JSONL text, one case per line: {"query": ..., "expected_source": ..., '
                '"expected_text"?: ...}; or the path of such a file inside the allowed roots',
            ),
        ],
        ctx: Context,
        k: Annotated[int, Field(ge=1, le=MAX_K, description="cut-off for recall, precision and nDCG")] = 5,
        modes: Annotated[
            list[Mode], Field(min_length=1, max_length=3, description="search modes to compare (default: all three)")
        ]
        | None = None,
    ) -> EvalReport:
        """Score retrieval on queries with known answers: recall@k, precision@k, MRR@10 and nDCG@k per mode.

        Each run's scores are stored, so the console shows them over time. Use it to compare search
        modes, chunk sizes or embedders on your own documents.
        """
        from mcp_suite.servers.retrieval import evaluation

        state = state_of(ctx)
        modes = modes or ["lexical", "semantic", "hybrid"]
        if dataset.lstrip().startswith("{"):
            cases = evaluation.parse_dataset(dataset)
        else:
            path = (await policy_for(ctx)).confine(dataset)
            cases = evaluation.load_dataset(path)
        if not state.kb.semantic_enabled:
            modes = [m for m in modes if m == "lexical"] or ["lexical"]
        total = len(cases) * len(modes)
        done = 0

        async def search_fn(query: str, depth: int, mode: str) -> Sequence[SearchHit]:
            nonlocal done
            result = await run_search(
                state.kb, query, k=min(depth, MAX_K), mode=cast(Mode, mode), ranking=ranking_config(state.settings)
            )
            done += 1
            if done % 10 == 0 or done == total:
                await notify_progress(ctx, done, total, f"{done}/{total} queries")
            return result.hits

        report = await evaluation.evaluate(cases, search_fn, modes=list(dict.fromkeys(modes)), k=k)
        await state.kb.record_evaluation(report, evaluation.dataset_hash(cases))
        return report

    # ---- resources ------------------------------------------------------------------------------

    @server.resource(
        "retrieval://sources",
        name="sources",
        title="Indexed sources",
        description="Every indexed document (first 500) with type, size, chunk count, tags and metadata",
        mime_type="application/json",
    )
    async def sources_resource() -> str:
        docs, total = await live["state"].kb.list_documents(limit=500)
        data = {"total": total, "sources": [_source_info(d).model_dump(mode="json") for d in docs]}
        return json.dumps(data, indent=2, ensure_ascii=False)

    @server.resource(
        "retrieval://documents/{document_id}",
        name="document",
        title="Indexed document",
        description="One indexed document as Markdown: its metadata, then its chunks with line spans",
        mime_type="text/markdown",
        security=ResourceSecurity(exempt_params={"document_id"}),
    )
    async def document_resource(document_id: str, ctx: Context) -> str:
        if not document_id.isdigit():
            raise InvalidInputError(
                f"document id must be a number (document_id from list_sources), got {document_id!r}"
            )
        doc, chunks = await state_of(ctx).kb.document(int(document_id))
        info = _source_info(doc)
        lines = [
            f"# {doc.title}",
            "",
            f"- source: {doc.source}",
            f"- type: {doc.doc_type} ({doc.kind})",
            f"- modified: {info.modified}",
            f"- chunks: {doc.chunk_count}",
        ]
        if doc.tags:
            lines.append(f"- tags: {', '.join(doc.tags)}")
        for key, value in info.metadata.items():
            lines.append(f"- {key}: {value}")
        for chunk in chunks:
            heading = " > ".join(chunk.heading_path)
            lines += [
                "",
                f"## chunk {chunk.id} · lines {chunk.start_line}-{chunk.end_line}"
                + (f" · {heading}" if heading else ""),
                "",
                chunk.text,
            ]
        return "\n".join(lines) + "\n"

    # ---- prompt ---------------------------------------------------------------------------------

    @server.prompt(
        title="Answer with context",
        description="Retrieve passages for a question and return a grounded prompt: numbered, cited context and "
        "instructions to answer only from it",
    )
    async def answer_with_context(
        question: Annotated[str, Field(description="the question to answer from the knowledge base")],
        ctx: Context,
        k: Annotated[str, Field(description="how many passages to include (1-20, default 6)")] = "6",
    ) -> str:
        if not question.strip():
            raise InvalidInputError("the question is empty")
        if not k.strip().isdigit() or not 1 <= int(k) <= 20:
            raise InvalidInputError(f"k must be a whole number from 1 to 20, got {k!r}")
        result = await do_search(ctx, question, int(k), "hybrid", None, None)
        return grounded_prompt(question, result.hits)

    return server


def _quiet_load(embedder: WordLlamaEmbedder) -> None:
    try:
        embedder.load()
    except Exception:  # reported again, with its message, when a request needs the model
        log.warning("could not preload the wordllama model", exc_info=True)


__all__ = ["build_server"]
