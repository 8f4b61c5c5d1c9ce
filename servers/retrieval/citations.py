"""Citations a person can follow: where a chunk sits in its source, as one string.

* a PDF chunk: ``report.pdf#page=3`` (the PDF open parameter every viewer understands), with the heading path;
* an HTML chunk under a heading with an id: ``page.html#key-rotation § Security > Key rotation`` — line
  numbers of extracted HTML text would point nowhere in the file, the anchor opens the right section;
* everything else: ``notes.md:12-18 § Setup > Linux``, the line span as an editor shows it.
"""

from __future__ import annotations

from mcp_suite.servers.retrieval.storage.base import ChunkRow


def location(chunk: ChunkRow) -> str:
    """The source with the most precise pointer a viewer can open: ``#page=N``, ``#anchor`` or ``:lines``."""
    if chunk.page is not None:
        return f"{chunk.source}#page={chunk.page}"
    if chunk.anchor:
        return f"{chunk.source.split('#', 1)[0]}#{chunk.anchor}"
    span = f"{chunk.start_line}" if chunk.start_line == chunk.end_line else f"{chunk.start_line}-{chunk.end_line}"
    return f"{chunk.source}:{span}"


def citation(chunk: ChunkRow) -> str:
    heading = f" § {' > '.join(chunk.heading_path)}" if chunk.heading_path else ""
    return f"{location(chunk)}{heading}"
