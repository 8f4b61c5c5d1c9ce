"""What every reader shares: the errors and size limit, the heading outline, the line-span block builder
and the title rule. Readers never import each other; they import this module and :mod:`.detect`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mcp_suite.servers.retrieval.documents import Block
from mcp_suite.shared.errors import InvalidInputError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
"""Largest document accepted when a caller passes no limit (bytes; characters for ``parse_text``).

The server never relies on it: ingestion passes ``--max-file-mb`` (setting ``max_file_mb``) to every
reader, so that setting is the one limit a file, a text or a fetched page is held to.
"""


class UnsupportedFormatError(InvalidInputError):
    """The data is binary junk or in a format no reader understands."""


class DocumentTooLargeError(InvalidInputError):
    """The document exceeds :data:`MAX_DOCUMENT_BYTES`."""


def too_large(name: str, size: int, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """The one report line for a document over the limit, wherever it was caught."""
    return (
        f"{name}: {size / 1_048_576:.1f} MB exceeds the {limit / 1_048_576:g} MB document limit "
        "(--max-file-mb); split it into smaller files or raise the limit"
    )


class Outline:
    """The stack of open headings; ``path`` is the heading path of the current position."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


class LineDoc:
    """Builds blocks from line ranges of a text whose lines are kept as they are."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1
        self.blocks: list[Block] = []
        self.outline = Outline()

    def add(self, kind: Any, first: int, last: int, *, level: int = 0, title: str | None = None) -> None:
        """Add lines ``first..last`` (0-based, inclusive) as a block, trimming blank edge lines."""
        while first < last and not self.lines[first].strip():
            first += 1
        while last > first and not self.lines[last].strip():
            last -= 1
        if not self.lines[first].strip() and first == last:
            return
        start = self.starts[first]
        end = self.starts[last] + len(self.lines[last])
        # Leading indentation of the first line is not part of a prose block's text.
        if kind != "code":
            start += len(self.lines[first]) - len(self.lines[first].lstrip())
        path = self.outline.push(level, title) if kind == "heading" and title is not None else self.outline.path
        self.blocks.append(
            Block(kind, self.text[start:end], path, first + 1, last + 1, start, end, level if kind == "heading" else 0)
        )


_INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|!?\[([^\]]*)\]\[[^\]]*\]")
_INLINE_MARKUP = re.compile(r"(\*\*|__|\*|`+|~~|<[^>]+>)")
_HEADING_ATTRS = re.compile(r"\s*\{#[^}]*\}\s*$")

LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,9}[.)])(?:[ \t]+|$)")


def plain_inline(text: str) -> str:
    """Heading text without Markdown/HTML inline markup."""
    text = _INLINE_LINK.sub(lambda m: m.group(1) or m.group(2) or "", text)
    text = _HEADING_ATTRS.sub("", text)
    text = _INLINE_MARKUP.sub("", text)
    return " ".join(text.split())


def pick_title(blocks: Iterable[Block], explicit: str | None, fallback: str) -> str:
    """An explicit title (front matter, docinfo) first, then the first level-1 heading, then the first
    heading of any level, then the fallback (usually the file stem)."""
    headings = [b for b in blocks if b.kind == "heading" and b.heading_path]
    top = next((b.heading_path[-1] for b in headings if b.level == 1), None)
    first = headings[0].heading_path[-1] if headings else None
    for candidate in (explicit, top, first, fallback):
        if candidate and candidate.strip():
            return " ".join(candidate.split())
    return "untitled"
