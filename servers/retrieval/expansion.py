"""Paraphrase terms for the lexical leg, from the static embedding model's own token matrix.

BM25 only finds the words a question uses; a passage that says "remove" never matches "delete".
wordllama is a static model: each vocabulary token has one vector, so a query word's nearest
whole-word tokens are its paraphrases and inflections ("delete" → "remove", "removing"). Terms that
stem to a query term already, or that the index does not hold, add nothing and are skipped.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from mcp_suite.shared.embeddings import StaticModel

MIN_LETTERS = 3


class TokenNeighbours:
    """Nearest whole-word vocabulary tokens of a single-token word, by cosine of the token vectors."""

    def __init__(self, model: StaticModel) -> None:
        import numpy as np

        self._model = model
        vocab = model.tokenizer.get_vocab()
        ids: list[int] = []
        words: list[str] = []
        for token, i in vocab.items():
            # "▁remove" is a word start; "remove" alone is a word piece, a different thing to match.
            word = token[1:] if token.startswith("\u2581") else ""
            if len(word) >= MIN_LETTERS and word.isascii() and word.isalpha():
                ids.append(i)
                words.append(word.lower())
        rows = np.asarray(model.matrix[np.asarray(ids)], dtype=np.float32)
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        self._rows: np.ndarray = rows
        self._words = words
        self._position = {i: p for p, i in enumerate(ids)}
        self._cache: dict[str, list[tuple[str, float]]] = {}
        self._lock = threading.Lock()

    def of(self, word: str, count: int, min_similarity: float) -> list[tuple[str, float]]:
        """Up to ``count`` (neighbour word, cosine) of ``word``, best first; none for a multi-token word."""
        import numpy as np

        key = f"{word}\0{count}\0{min_similarity}"
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        ids = self._model.token_ids([word])[0]
        found: list[tuple[str, float]] = []
        position = self._position.get(ids[0]) if len(ids) == 1 else None
        if position is not None:
            sims = self._rows @ self._rows[position]
            top = np.argpartition(-sims, min(len(sims) - 1, 4 * count + 8))[: 4 * count + 8]
            seen = {word.lower()}
            for p in top[np.argsort(-sims[top])]:
                w, s = self._words[int(p)], float(sims[int(p)])
                if s < min_similarity:
                    break
                if w not in seen:
                    seen.add(w)
                    found.append((w, s))
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = found
        return found
