"""What a chunk's vectors are computed from: one embedded text per window of the chunk (multi-vector).

A chunk is sized for BM25 and for the reader of a hit (a few hundred tokens), but one vector of
a static embedding model is the mean of its token vectors: over a whole chunk that mixes bullets,
turns of a chat or entries of an API page, the mean is about everything and nothing. So a chunk
is embedded as windows of up to ``WINDOW_TOKENS`` tokens (whole paragraphs), each prefixed with
the document title and heading path, and the chunk scores by its
best window (max-sim, as ColBERT-style late interaction does per token). On the quality
benchmark this lifted the vector leg's recall@5 from 0.28 to 0.64 on chat logs and from 0.42 to
0.54 on the PostgreSQL manual (see ``bench/results/quality-log-quality3.md``).

The vectors of one chunk are stored concatenated in its one embedding blob (a single-window
chunk, and any index written before, holds one vector): readers split a blob by the dimension.
PostgreSQL keeps one ``chunk_vectors`` row per window and hands back the same blob.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mcp_suite.servers.retrieval.chunking import count_tokens

WINDOW_TOKENS = 100
MAX_WINDOWS = 8  # bounds the matrix (and the search time) a long chunk can claim
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SEPARATOR = "\x1e"  # joins a chunk's window texts into the one string its embed hash is taken of


def context(title: str, heading_path: Sequence[str]) -> str:
    return " > ".join([title, *heading_path]) if title else " > ".join(heading_path)


def _pieces(text: str) -> list[tuple[str, int]]:
    """Paragraphs of ``text`` with their token counts (a long paragraph stays whole: cutting a turn of a
    chat or a definition mid-way measured worse than one wide window)."""
    out: list[tuple[str, int]] = []
    for para in _PARAGRAPH.split(text):
        para = para.strip()
        if para:
            out.append((para, count_tokens(para)))
    return out


def windows(text: str) -> list[str]:
    """``text`` packed greedily into windows of whole paragraphs of at most
    ``WINDOW_TOKENS`` tokens, widened as needed so there are at most ``MAX_WINDOWS``."""
    pieces = _pieces(text)
    if not pieces:
        return [text]
    limit = max(WINDOW_TOKENS, sum(tokens for _, tokens in pieces) / MAX_WINDOWS)
    while True:
        out: list[str] = []
        current: list[str] = []
        used = 0
        for piece, tokens in pieces:
            if current and used + tokens > limit:
                out.append("\n\n".join(current))
                current, used = [], 0
            current.append(piece)
            used += tokens
        out.append("\n\n".join(current))
        if len(out) <= MAX_WINDOWS:
            return out
        limit *= 1.25


def embedding_texts(title: str, heading_path: Sequence[str], text: str) -> list[str]:
    """The texts embedded for one chunk: each window under the chunk's title and heading path."""
    ctx = context(title, heading_path)
    return [f"{ctx}\n{window}" if ctx else window for window in windows(text)]


def embed_key(texts: Sequence[str]) -> str:
    """The string whose hash identifies a chunk's vectors (same windows, same vectors)."""
    return _SEPARATOR.join(texts)
