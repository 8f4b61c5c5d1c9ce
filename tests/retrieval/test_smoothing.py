"""Neighbour smoothing: a hybrid candidate gains a share of its best adjacent candidate's score."""

from __future__ import annotations

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.smoothing import smooth_neighbours
from mcp_suite.servers.retrieval.storage.base import ChunkRow

pytestmark = pytest.mark.anyio


def row(chunk_id: int, document_id: int, ordinal: int) -> ChunkRow:
    return ChunkRow(
        id=chunk_id,
        document_id=document_id,
        ordinal=ordinal,
        text=f"chunk {chunk_id}",
        heading_path=[],
        start_line=1,
        end_line=1,
        start_char=0,
        end_char=8,
        token_count=2,
        text_hash=str(chunk_id),
        source=f"doc{document_id}",
        title="",
        doc_type="text",
        kind="text",
    )


def test_a_chunk_gains_a_share_of_its_better_adjacent_candidate() -> None:
    rows = {1: row(1, 1, 0), 2: row(2, 1, 1), 3: row(3, 1, 3), 4: row(4, 2, 0), 5: row(5, 2, 1)}
    scores = {1: 4.0, 2: 5.0, 3: 6.0, 4: 5.5, 5: -1.0}
    out = smooth_neighbours(scores, [3, 4, 2, 1, 5], rows, 0.25)
    assert out[2] == 5.0 + 0.25 * 4.0  # its one neighbour (ordinal 0); ordinal 3 is not adjacent
    assert out[1] == 4.0 + 0.25 * 5.0
    assert out[3] == 6.0  # no candidate at ordinal 2 or 4
    assert out[4] == 5.5  # a neighbour scoring below zero adds nothing
    assert out[5] == -1.0 + 0.25 * 5.5
    # The passage whose neighbour also matched now outranks the isolated one it tied with.
    assert out[2] > out[4]
    assert smooth_neighbours(scores, [1, 2], rows, 0.0) == {1: 4.0, 2: 5.0}


def section(topic: str, n: int) -> str:
    return "\n\n".join(
        f"The {topic} calibration step {i} compares the quasar flux against the reference lamp." for i in range(n)
    )


async def test_hybrid_search_lifts_chunks_whose_neighbours_match(settings: RetrievalSettings) -> None:
    # chunk_tokens=120: the long note is cut into adjacent chunks that all match; the short one is one chunk.
    long_note = f"# Long note\n\n## Part one\n\n{section('detector', 6)}\n\n## Part two\n\n{section('detector', 6)}\n"
    short_note = f"# Short note\n\n{section('detector', 5)}\n"
    scores: dict[float, dict[str, list[float]]] = {}
    for share in (0.0, 0.25):
        async with Client(build_server(settings.model_copy(update={"neighbour_share": share}))) as client:
            for name, text in (("long", long_note), ("short", short_note)):
                result = await client.call_tool("ingest_text", {"text": text, "source": name})
                assert not result.is_error
            found = await client.call_tool("search", {"query": "quasar flux calibration", "k": 10})
            data = found.structured_content
            assert data is not None
            by_source: dict[str, list[float]] = {}
            for hit in data["hits"]:
                by_source.setdefault(hit["source"], []).append(hit["score"])
            scores[share] = by_source
    assert len(scores[0.0]["long"]) >= 2 and len(scores[0.0]["short"]) == 1
    assert scores[0.25]["short"] == scores[0.0]["short"]  # no neighbour, no change
    assert min(scores[0.25]["long"]) > min(scores[0.0]["long"])
    assert max(scores[0.25]["long"]) > max(scores[0.25]["short"])
