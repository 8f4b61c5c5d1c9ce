"""The naive control pipeline the quality benchmark measures our server against.

* text: the retrieval server's own reader (``readers.parse_file(path).text``), so extraction is not
  what differs;
* chunks: windows of about 1,200 characters cut at blank lines (paragraphs are packed until the
  next would pass 1,200 characters; a longer paragraph is cut every 1,200 characters);
* lexical: SQLite FTS5 (``porter unicode61 remove_diacritics 2``, the tokenizer our index uses)
  ranked by ``bm25()``, the query's words OR-ed;
* semantic: the same wordllama vectors (``mcp_suite.shared.embeddings``), cosine similarity;
* hybrid: plain reciprocal-rank fusion of the two top-50 lists, k = 60, equal weights.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WINDOW = 1200
DEPTH = 50
RRF_K = 60
_QUERY_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class BaseHit:
    source: str
    text: str


def windows(text: str, size: int = WINDOW) -> list[str]:
    out: list[str] = []
    current = ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        while len(para) > size:
            if current:
                out.append(current)
                current = ""
            out.append(para[:size])
            para = para[size:]
        if current and len(current) + 2 + len(para) > size:
            out.append(current)
            current = ""
        current = f"{current}\n\n{para}" if current else para
    if current:
        out.append(current)
    return out


class Baseline:
    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2')")
        self.sources: list[str] = []
        self.texts: list[str] = []
        self.matrix: Any = None
        self.documents = 0

    def build(self, files: Iterable[Path]) -> None:
        import numpy as np

        from mcp_suite.servers.retrieval.readers import parse_file

        for path in files:
            try:
                text = parse_file(path).text
            except Exception:  # the server would skip an unreadable file too; the baseline just leaves it out
                continue
            self.documents += 1
            for chunk in windows(text):
                self.sources.append(str(path))
                self.texts.append(chunk)
        self.db.executemany("INSERT INTO fts(rowid, text) VALUES (?, ?)", enumerate(self.texts))
        parts = [self.embedder.embed_sync(self.texts[i : i + 512]) for i in range(0, len(self.texts), 512)]
        self.matrix = np.vstack(parts).astype(np.float32) if parts else np.zeros((0, 1), dtype=np.float32)

    def lexical(self, query: str, depth: int = DEPTH) -> list[int]:
        words = _QUERY_WORD.findall(query.casefold())
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words))
        rows = self.db.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?", (match, depth))
        return [r[0] for r in rows]

    def semantic(self, query: str, depth: int = DEPTH) -> list[int]:
        import numpy as np

        if not self.texts:
            return []
        vector = self.embedder.embed_sync([query])[0]
        scores = self.matrix @ vector
        top = np.argsort(-scores, kind="stable")[:depth]
        return [int(i) for i in top]

    def hybrid(self, query: str, depth: int = DEPTH) -> list[int]:
        return rrf([self.lexical(query, depth), self.semantic(query, depth)])

    def search(self, query: str, k: int, mode: str) -> list[BaseHit]:
        ranked = {"lexical": self.lexical, "semantic": self.semantic, "hybrid": self.hybrid}[mode](query)
        return [BaseHit(self.sources[i], self.texts[i]) for i in ranked[:k]]


def rrf(lists: Sequence[Sequence[int]], k: int = RRF_K) -> list[int]:
    scores: dict[int, float] = {}
    for ranked in lists:
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda i: -scores[i])
