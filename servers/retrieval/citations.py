"""Citations a person can follow: where a chunk sits in its source, as one string.

``source:start-end § heading path`` for every document.
"""

from __future__ import annotations

from mcp_suite.servers.retrieval.store import ChunkRow


def citation(chunk: ChunkRow) -> str:
    span = f"{chunk.start_line}" if chunk.start_line == chunk.end_line else f"{chunk.start_line}-{chunk.end_line}"
    heading = f" § {' > '.join(chunk.heading_path)}" if chunk.heading_path else ""
    return f"{chunk.source}:{span}{heading}"
