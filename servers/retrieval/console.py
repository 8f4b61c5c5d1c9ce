"""The retrieval server's pages in the web console: index status, every source with its chunks and
last ingest and its last ingest error, the stored evaluation runs (a table and nDCG over time), a hybrid search showing
citations and which leg (BM25, vectors) found each hit, and deleting a source.

It opens its own :class:`~mcp_suite.servers.retrieval.library.KnowledgeBase` over the same database
(with the configured embedder, loaded on the first search) and follows other processes' commits as
the library does; deleting goes through the same ``delete_source`` as the MCP tool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_suite.servers.retrieval.factory import build_embedder, build_reranker, ranking_config
from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.search import Mode, SearchResult, search
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.base import EvalRunRow
from mcp_suite.shared.console.web import BASE, Section, confirmed_action, render
from mcp_suite.shared.errors import SuiteError

SOURCES_SHOWN = 500
HITS = 10
EVAL_ROWS = 60  # stored evaluation rows shown (one per mode and run)
MODES: tuple[str, ...] = get_args(Mode)


def eval_trend(rows: Sequence[EvalRunRow]) -> tuple[list[str], list[tuple[str, list[float | None]]]]:
    """Stored evaluation runs as a line chart of nDCG@k (in %): one point per run, one line per mode."""
    runs = {r.run: f"#{r.run} {r.run_at}" for r in rows}
    modes = list(dict.fromkeys(r.mode for r in rows))
    at = {(r.run, r.mode): 100 * r.ndcg for r in rows}
    return list(runs.values()), [(mode, [at.get((run, mode)) for run in runs]) for mode in modes]


@dataclass
class _Retrieval:
    settings: RetrievalSettings
    kb: KnowledgeBase | None = None
    reranker: Any = None

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        self.kb = await KnowledgeBase.open(self.settings.database, build_embedder(self.settings))
        self.kb.start_lexical_build()
        self.reranker = build_reranker(self.settings)
        try:
            yield
        finally:
            await self.kb.close()
            self.kb = None

    def base(self) -> KnowledgeBase:
        assert self.kb is not None, "the console's lifespan opens the knowledge base"
        return self.kb

    async def index(self, request: Request) -> Response:
        kb = self.base()
        query = request.query_params.get("q", "").strip()
        mode = request.query_params.get("mode", "hybrid")
        mode = mode if mode in MODES else "hybrid"
        result: SearchResult | None = None
        problem = None
        if query:
            try:
                result = await search(
                    kb,
                    query,
                    k=HITS,
                    mode=mode,  # type: ignore[arg-type]  # checked against MODES above
                    ranking=ranking_config(self.settings),
                    reranker=self.reranker,
                )
            except SuiteError as exc:
                problem = str(exc)
        documents, total = await kb.list_documents(limit=SOURCES_SHOWN)
        evaluations = await kb.evaluation_runs(EVAL_ROWS)
        errors = await kb.ingest_errors()
        shown = {d.source for d in documents}
        return render(
            request,
            "retrieval_index.html",
            {
                "stats": await kb.stats(),
                "documents": documents,
                "total": total,
                "shown": SOURCES_SHOWN,
                "query": query,
                "mode": mode,
                "modes": MODES,
                "result": result,
                "problem": problem,
                "errors": errors,
                "failed_only": [e for source, e in errors.items() if source not in shown],
                "evaluations": list(reversed(evaluations)),
                "eval_trend": eval_trend(evaluations),
            },
        )

    async def delete(self, request: Request) -> Response:
        kb = self.base()
        source = str((await request.form()).get("source", ""))

        async def perform() -> str:
            sources, chunks = await kb.delete_source(source)
            return f"deleted {', '.join(sources)} ({chunks} chunks)"

        return await confirmed_action(
            request,
            title="Delete a source",
            describe=f"Remove {source} and its chunks from the index? The file itself is not touched; "
            "ingesting it again brings it back.",
            perform=perform,
            back=f"{BASE}/retrieval/",
        )


def section(settings: RetrievalSettings) -> Section:
    retrieval = _Retrieval(settings)
    return Section(
        name="retrieval",
        title="Retrieval",
        summary="Indexed sources and their status; hybrid search with citations and the leg that found each hit.",
        routes=[Route("/", retrieval.index), Route("/delete", retrieval.delete, methods=["POST"])],
        templates=Path(__file__).with_name("console_templates"),
        lifespan=retrieval.lifespan,
    )
