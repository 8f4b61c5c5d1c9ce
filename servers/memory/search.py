"""Turning a free-text ``search_nodes`` query into safe FTS5 query strings, and matching its words in Python.

User text never reaches FTS5 syntax unquoted: every word becomes a quoted phrase, so operators
(AND, NEAR, column filters, ``*``) in a query are just text. :func:`matched` applies the same word-or-prefix
rule to a text in memory (the per-hit matches, the scan of the past).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"\w+", re.UNICODE)

PREFIX_MIN_CHARS = 3
"""Shorter words match whole words only: a prefix query for "1" would expand to every number."""

TRIGRAM_MIN_CHARS = 3
"""The trigram index can only answer substring queries of at least three characters."""


def words(query: str) -> list[str]:
    """The query's words, in order, without repeats (case-insensitive)."""
    seen: dict[str, str] = {}
    for word in _WORD.findall(query):
        seen.setdefault(word.casefold(), word)
    return list(seen.values())


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _term(word: str) -> str:
    return _quote(word) + ("*" if len(word) >= PREFIX_MIN_CHARS else "")


def all_words(query: str) -> str | None:
    """Every word must appear, each as a word or a word prefix: ``"lang"*`` finds ``language``."""
    found = words(query)
    return " AND ".join(_term(w) for w in found) if found else None


def any_word(query: str) -> str | None:
    """At least one word (or prefix) appears: the recall fallback for multi-word queries."""
    found = words(query)
    return " OR ".join(_term(w) for w in found) if len(found) > 1 else None


def substring(query: str) -> str | None:
    """The whole query as one trigram phrase, i.e. a case-insensitive substring match."""
    return _quote(query) if len(query) >= TRIGRAM_MIN_CHARS else None


def matched(words: Sequence[str], text: str) -> int:
    """How many of the (casefolded) query ``words`` occur in ``text`` as a word or a word prefix."""
    # Each token behind a NUL (never part of a word): "some token starts with w" is one substring test.
    tokens = "\0" + "\0".join(t.casefold() for t in _WORD.findall(text))
    return sum(1 for w in words if "\0" + w in tokens)
