"""Adjacent chunks in hybrid search: neighbour smoothing of scores and joining neighbours into one passage."""

from __future__ import annotations

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.neighbours import join_adjacent, passage_row, smooth_neighbours
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.servers.retrieval.storage.base import ChunkRow

pytestmark = pytest.mark.anyio


def row(chunk_id: int, document_id: int, ordinal: int) -> ChunkRow:
    return ChunkRow(
        id=chunk_id,
        document_id=document_id,
        ordinal=ordinal,
        text=f"chunk {chunk_id}",
        heading_path=[],
        start_line=10 * ordinal + 1,
        end_line=10 * ordinal + 9,
        start_char=100 * ordinal,
        end_char=100 * ordinal + 90,
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
        update = {"neighbour_share": share, "passage_chunks": 1}
        async with Client(build_server(settings.model_copy(update=update))) as client:
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


def test_adjacent_candidates_join_the_better_ones_passage() -> None:
    rows = {1: row(1, 1, 1), 2: row(2, 2, 0), 3: row(3, 1, 2), 4: row(4, 1, 0), 5: row(5, 1, 3), 6: row(6, 2, 1)}
    assert join_adjacent([1, 2, 3, 4, 5, 6], rows, 2, 10) == [[1, 3], [2, 6], [4], [5]]
    assert join_adjacent([1, 2, 3, 4, 5, 6], rows, 3, 10) == [[1, 3, 4], [2, 6], [5]]
    assert join_adjacent([1, 2, 3], rows, 1, 10) == [[1], [2], [3]]
    # Three passages shown: chunk 6 ranked below the third (chunk 4) and no longer joins chunk 2.
    assert join_adjacent([1, 2, 3, 4, 5, 6], rows, 2, 3) == [[1, 3], [2], [4], [5], [6]]
    passage = passage_row([3, 1], rows)  # the better chunk second in the document
    assert passage.id == 3 and passage.text == "chunk 1\n\nchunk 3"
    assert (passage.start_line, passage.end_line, passage.start_char, passage.end_char) == (11, 29, 100, 290)
    assert passage_row([2], rows) is rows[2]


async def test_hybrid_hits_are_distinct_passages(settings: RetrievalSettings) -> None:
    note = f"# Note\n\n## Part one\n\n{section('detector', 6)}\n\n## Part two\n\n{section('detector', 6)}\n"
    texts: dict[int, str] = {}
    hits: list[dict[str, object]] = []
    for joined in (1, 2):
        async with Client(build_server(settings.model_copy(update={"passage_chunks": joined}))) as client:
            assert not (await client.call_tool("ingest_text", {"text": note, "source": "note"})).is_error
            found = await client.call_tool("search", {"query": "quasar flux calibration", "k": 10})
            assert found.structured_content is not None
            hits = found.structured_content["hits"]
            if joined == 1:
                assert len(hits) >= 2 and all(not h["joined_chunk_ids"] for h in hits)
                texts = {int(h["chunk_id"]): str(h["text"]) for h in hits}
    passages = [h for h in hits if h["joined_chunk_ids"]]
    assert passages and len(hits) < len(texts)
    for hit in passages:
        ids = sorted([int(hit["chunk_id"]), *hit["joined_chunk_ids"]])  # type: ignore[misc]
        assert hit["text"] == "\n\n".join(texts[i] for i in ids)
