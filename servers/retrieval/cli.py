"""Command line of the retrieval server: serve (default), ingest, search, eval, sources, delete, stats, reindex.

The terminal commands act for the user at the keyboard, so paths are not confined to ``--root``
(only paths that arrive over MCP are). Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TextIO

from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.cli import Command, ServerSpec, server_main


def _build(settings: RetrievalSettings) -> Any:
    from mcp_suite.servers.retrieval.server import build_server

    return build_server(settings)


def _console(settings: RetrievalSettings) -> Any:
    from mcp_suite.servers.retrieval.console import section

    return section(settings)


class ProgressBar(logging.Filter):
    """A one-line bar on a terminal; on a pipe or file, a plain line per few percent.

    On a terminal the bar clears its line before any log record is written (it is a filter on the root
    logger's handlers while it is open), so a log line never lands inside the bar; the next update redraws it.
    """

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        super().__init__()
        self.stream = stream
        self.width = width
        self.tty = stream.isatty()
        self._last_pct = -100.0
        self._last_time = 0.0
        self._open = False
        self._handlers: list[logging.Handler] = []

    async def __call__(self, done: float, total: float | None, message: str) -> None:
        self.update(done, total, message)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._open:
            self.stream.write("\r\033[K")  # back to column 0 and clear the bar: the record gets a clean line
            self.stream.flush()
            self._open = False
            self._last_time = 0.0  # redraw at the next update
        return True

    def _watch_logs(self, on: bool) -> None:
        if on and not self._handlers:
            self._handlers = list(logging.getLogger().handlers)
            for handler in self._handlers:
                handler.addFilter(self)
        elif not on:
            for handler in self._handlers:
                handler.removeFilter(self)
            self._handlers = []

    def update(self, done: float, total: float | None, message: str) -> None:
        if not total:
            return
        # Messages made for MCP clients start with the counter; the bar shows its own.
        message = message.removeprefix(f"{int(done)}/{int(total)} ")
        pct = 100.0 * done / total
        now = time.monotonic()
        final = done >= total
        if self.tty:
            if not final and now - self._last_time < 0.05:
                return
            filled = int(self.width * done / total)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"\r[{bar}] {int(done)}/{int(total)} {message[:50]:<50}"
            self.stream.write(text)
            self._open = not final
            self._watch_logs(not final)
            if final:
                self.stream.write("\n")
        else:
            if not final and pct - self._last_pct < 5:
                return
            self.stream.write(f"progress: [{int(pct):3d}%] {int(done)}/{int(total)} {message}\n")
        self._last_pct, self._last_time = pct, now
        self.stream.flush()

    def close(self) -> None:
        self._watch_logs(False)
        if self._open:
            self.stream.write("\n")
            self._open = False


def _meta(values: list[str] | None) -> dict[str, str]:
    from mcp_suite.shared.errors import InvalidInputError

    found: dict[str, str] = {}
    for raw in values or []:
        key, sep, value = raw.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--meta takes KEY=VALUE, got {raw!r}")
        found[key.strip()] = value
    return found


def _with_kb(
    settings: RetrievalSettings, work: Callable[[Any], Awaitable[int]], *, one_shot: bool = False, embedder: Any = None
) -> int:
    """Run ``work`` with the knowledge base open. ``one_shot``: a single search, answered from FTS5 and the stored
    vectors (a memory-mapped cache of them on SQLite) instead of building the in-memory indexes a server keeps."""
    import anyio

    from mcp_suite.servers.retrieval.factory import build_embedder
    from mcp_suite.servers.retrieval.library import KnowledgeBase
    from mcp_suite.shared.http import HttpPool

    async def main() -> int:
        http = HttpPool()  # an HTTP embedder's batches share one pool; a wordllama search never builds it
        kb = await KnowledgeBase.open(
            settings.database, embedder or build_embedder(settings, http), in_memory=not one_shot
        )
        try:
            return await work(kb)
        finally:
            await http.aclose()
            await kb.close()

    return anyio.run(main)


def _print_report(report: Any, verbose: bool) -> None:
    for item in report.items:
        if verbose or item.status in ("error", "skipped", "removed"):
            extra = f" ({item.message})" if item.message else ""
            print(f"{item.status:>9} {item.source}{extra}", file=sys.stderr)
    # The report keeps the first items only: say what the list above leaves out, and only if it does.
    listed_errors = sum(1 for item in report.items if item.status == "error")
    if verbose and report.items_omitted:
        print(f"… and {report.items_omitted} more changed items (the report lists the first ones)", file=sys.stderr)
    elif report.errors > listed_errors:
        print(f"… and {report.errors - listed_errors} more errors not listed", file=sys.stderr)
    for exclusion in report.excluded:
        examples = ", ".join(exclusion.examples)
        more = ", …" if exclusion.count > len(exclusion.examples) else ""
        print(f"not read: {exclusion.count} {exclusion.reason} ({examples}{more})", file=sys.stderr)
    print(report.summary())


# ---- ingest -------------------------------------------------------------------------------------


def _ingest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, folders or http(s) URLs to index")
    parser.add_argument(
        "--include", action="append", default=[], metavar="GLOB", help="only files matching (repeatable)"
    )
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip matching files/folders")
    parser.add_argument("--tag", action="append", default=[], dest="tags", metavar="TAG", help="tag every document")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata for every document")
    parser.add_argument("--force", action="store_true", help="re-parse and re-chunk unchanged files too")
    parser.add_argument("--watch", action="store_true", help="keep polling the paths and re-index changes")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between watch passes (default 2)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every changed file")


def _ingest(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    from mcp_suite.servers.retrieval.factory import ingest_options, url_policy
    from mcp_suite.servers.retrieval.ingest import Ingestor
    from mcp_suite.servers.retrieval.ingest_report import IngestReport

    options = ingest_options(
        settings, include=args.include, exclude=args.exclude, tags=args.tags, metadata=_meta(args.meta)
    )
    urls = [p for p in args.paths if p.lower().startswith(("http://", "https://"))]
    paths = [p for p in args.paths if p not in urls]

    async def work(kb: Any) -> int:
        bar = ProgressBar()
        total = IngestReport()
        started = time.perf_counter()
        if paths:
            report = await Ingestor(kb, options, progress=bar).ingest_paths(paths)
            bar.close()
            total = report
        if urls:
            from mcp_suite.shared.http import open_client

            async with open_client() as http:  # every URL of the command over one connection pool
                for url in urls:
                    report = await Ingestor(kb, options).ingest_url(
                        url,
                        max_bytes=int(settings.max_url_mb * 1_048_576),
                        timeout=settings.url_timeout,
                        policy=url_policy(settings),
                        client=http,
                    )
                    for item in report.items:
                        total.record(item)
                    total.bytes_read += report.bytes_read
        total.seconds = time.perf_counter() - started
        if args.json:
            print(total.model_dump_json(indent=2))
        else:
            _print_report(total, args.verbose)
        if args.watch and paths:
            from mcp_suite.servers.retrieval.watch import watch

            print(f"watching {len(paths)} path(s) every {args.interval:g}s; Ctrl-C to stop", file=sys.stderr)

            async def changed(report: IngestReport) -> None:
                _print_report(report, True)

            await watch(kb, paths, options, interval=args.interval, on_change=changed)
        return 1 if total.errors and not (total.added or total.updated or total.unchanged) else 0

    return _with_kb(settings, work)


# ---- search -------------------------------------------------------------------------------------


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="what to look for")
    parser.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    parser.add_argument("--mode", choices=["hybrid", "lexical", "semantic"], default="hybrid")
    parser.add_argument(
        "--filter", dest="filters", default=None, metavar="JSON", help='filters, e.g. \'{"tags": ["x"]}\''
    )
    parser.add_argument("--json", action="store_true", help="print results as JSON")


def _search(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    import threading

    from mcp_suite.servers.retrieval.factory import build_embedder

    embedder = build_embedder(settings)
    load = getattr(embedder, "load", None)
    loader: threading.Thread | None = None
    if args.mode != "lexical" and callable(load):
        # The model loads on the other core while the search modules import and the vectors are read.
        loader = threading.Thread(target=_quietly, args=(load,), daemon=True, name="embedder-load")
        loader.start()

    from pydantic import ValidationError

    from mcp_suite.servers.retrieval.factory import ranking_config
    from mcp_suite.servers.retrieval.search import SearchFilters, search
    from mcp_suite.shared.errors import InvalidInputError

    try:
        filters = SearchFilters.model_validate_json(args.filters) if args.filters else None
    except ValidationError as exc:
        from mcp_suite.shared.messages import format_validation_error

        raise InvalidInputError(f"bad --filter: {format_validation_error(exc)}") from exc

    async def work(kb: Any) -> int:
        result = await search(
            kb, args.query, k=args.k, mode=args.mode, filters=filters, ranking=ranking_config(settings)
        )
        if args.json:
            print(result.model_dump_json(indent=2))
            return 0
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
        if not result.hits:
            print("no results")
        for i, hit in enumerate(result.hits, start=1):
            snippet = " ".join(hit.text.split())[:240]
            print(f"[{i}] {hit.citation}  (score {hit.score:.4f}, chunk {hit.chunk_id})\n    {snippet}\n")
            for also in hit.also_in:
                print(f"    also in {also.citation}")
        return 0

    try:
        return _with_kb(settings, work, one_shot=True, embedder=embedder)
    except BaseException:
        # A fast failure (an unreachable database) must not exit while the model loads: the process would
        # abort from inside the loader ("FATAL: exception not rethrown") after the one-line error.
        if loader is not None:
            import logging

            logging.getLogger("mcp_suite.shared.embeddings").setLevel(logging.WARNING)  # the error is the news
            loader.join()
        raise


def _quietly(load: Callable[[], object]) -> None:
    """Warm the embedder; a failure here is reported by the search that needs it, with its own message."""
    try:
        load()
    except Exception:
        return


# ---- eval ---------------------------------------------------------------------------------------


def _eval_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", metavar="FILE", help='JSONL: {"query": ..., "expected_source": ..., "expected_text"?: ...}'
    )
    parser.add_argument("-k", type=int, default=5, help="cut-off for recall/precision/nDCG (default 5)")
    parser.add_argument(
        "--modes", default="lexical,semantic,hybrid", help="comma-separated modes (default lexical,semantic,hybrid)"
    )
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")


def _eval(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    from mcp_suite.servers.retrieval import evaluation
    from mcp_suite.servers.retrieval.factory import ranking_config
    from mcp_suite.servers.retrieval.search import MAX_K, search

    cases = evaluation.load_dataset(args.file)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    async def work(kb: Any) -> int:
        async def search_fn(query: str, depth: int, mode: str) -> Any:
            result = await search(kb, query, k=min(depth, MAX_K), mode=mode, ranking=ranking_config(settings))  # type: ignore[arg-type]
            return result.hits

        report = await evaluation.evaluate(cases, search_fn, modes=modes, k=args.k)
        await kb.record_evaluation(report, evaluation.dataset_hash(cases))
        print(report.model_dump_json(indent=2) if args.json else report.to_markdown())
        return 0

    return _with_kb(settings, work)


# ---- index management ---------------------------------------------------------------------------


def _sources_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default=None, help="only sources starting with this")
    parser.add_argument("--json", action="store_true", help="print as JSON")


def _sources(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    from mcp_suite.servers.retrieval.storage.base import DocumentFilter

    async def work(kb: Any) -> int:
        docs, total = await kb.list_documents(DocumentFilter(source_prefix=args.prefix or None), limit=10**9)
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "source": d.source,
                            "title": d.title,
                            "type": d.doc_type,
                            "chunks": d.chunk_count,
                            "tags": d.tags,
                        }
                        for d in docs
                    ],
                    indent=2,
                )
            )
        else:
            for d in docs:
                print(f"{d.chunk_count:5d} chunks  {d.doc_type:<8} {d.source}")
            print(f"{total} sources", file=sys.stderr)
        return 0

    return _with_kb(settings, work)


def _delete_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="source as `sources` prints it")
    parser.add_argument("--prefix", action="store_true", help="delete every source starting with SOURCE")


def _delete(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    async def work(kb: Any) -> int:
        sources, removed = await kb.delete_source(args.source, prefix=args.prefix)
        print(f"deleted {len(sources)} source(s), {removed} chunks")
        return 0

    return _with_kb(settings, work)


def _stats(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    async def work(kb: Any) -> int:
        print(json.dumps(await kb.stats(), indent=2))
        return 0

    return _with_kb(settings, work)


def _reindex(settings: RetrievalSettings, args: argparse.Namespace) -> int:
    async def work(kb: Any) -> int:
        bar = ProgressBar()
        result = await kb.reindex(bar)
        bar.close()
        print(f"re-embedded {result['chunks']} chunks with {result['embedder']}")
        return 0

    return _with_kb(settings, work)


SPEC = ServerSpec(
    name="retrieval",
    summary="A private knowledge base for MCP hosts: ingest folders, files, URLs and text; cited hybrid search.",
    settings=RetrievalSettings,
    build=_build,
    console=_console,
    commands={
        "ingest": Command(
            "index files, folders or URLs (incremental; --watch keeps them in sync)", _ingest, _ingest_arguments
        ),
        "search": Command("search the index from the terminal", _search, _search_arguments),
        "eval": Command("score retrieval on a JSONL file of queries with known answers", _eval, _eval_arguments),
        "sources": Command("list indexed sources", _sources, _sources_arguments),
        "delete": Command("remove a source (or a prefix) from the index", _delete, _delete_arguments),
        "stats": Command("show index statistics", _stats),
        "reindex": Command("re-embed every chunk with the configured embedder", _reindex),
    },
    cli_names={
        "list_sources": "mcp-suite retrieval sources",
        "delete_source": "mcp-suite retrieval delete",
        "ingest_url": "mcp-suite retrieval ingest URL",
        "ingest_text": "mcp-suite retrieval ingest",
    },
)

main = server_main("retrieval")
