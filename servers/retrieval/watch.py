"""Watch mode: keep folders in sync with the index by polling.

Polling costs one ``stat`` per file per interval (unchanged files are never read), works on every
platform and file system (network shares included) and needs no dependency. Each pass is an
ordinary incremental ingest, so a pass that fails half-way leaves every document either at its
previous or its new version.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio

from mcp_suite.servers.retrieval.ingest import IngestOptions, Ingestor
from mcp_suite.servers.retrieval.ingest_report import IngestReport
from mcp_suite.servers.retrieval.library import KnowledgeBase


async def watch(
    kb: KnowledgeBase,
    paths: Sequence[str | Path],
    options: IngestOptions,
    *,
    interval: float = 2.0,
    on_change: Callable[[IngestReport], Awaitable[None]] | None = None,
    passes: int | None = None,
) -> None:
    """Re-ingest ``paths`` every ``interval`` seconds, calling ``on_change`` after passes that changed something.

    Runs until cancelled, or for ``passes`` passes when given.
    """
    done = 0
    known_errors: set[tuple[str, str | None]] = set()
    while passes is None or done < passes:
        report = await Ingestor(kb, options).ingest_paths(paths)
        # A file that stays broken is reported once, not on every pass.
        errors = {(item.source, item.message) for item in report.items if item.status == "error"}
        changed = report.added or report.updated or report.removed or (errors - known_errors)
        known_errors = errors
        if changed and on_change is not None:
            await on_change(report)
        done += 1
        if passes is None or done < passes:
            await anyio.sleep(interval)
