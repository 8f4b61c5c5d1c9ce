"""The values that flow from reading a source to indexing it: parsed documents and their chunks.

Readers (:mod:`mcp_suite.servers.retrieval.readers`) produce :class:`ParsedDocument`; the chunker
(:mod:`mcp_suite.servers.retrieval.chunking`) turns it into :class:`Chunk` values that keep enough position
data (heading path, line and character span) for a search hit to cite where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DocType = Literal["markdown", "rst", "text", "html", "code", "pdf"]


@dataclass(frozen=True)
class Block:
    """A structural unit of a document: a heading, a paragraph, a list, a code block or a table.

    ``start_line``/``end_line`` are 1-based and inclusive, ``start_char``/``end_char`` are offsets
    into :attr:`ParsedDocument.text` (end exclusive).
    """

    kind: Literal["heading", "paragraph", "list", "code", "table"]
    text: str
    heading_path: tuple[str, ...]
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    level: int = 0  # heading level for kind == "heading"
    page: int | None = None  # 1-based page number, for doc_type == "pdf"
    anchor: str | None = None  # id of the nearest heading (or its section) above, for doc_type == "html"


@dataclass(frozen=True)
class ParsedDocument:
    """A source reduced to clean text plus its structure."""

    title: str
    doc_type: DocType
    text: str
    blocks: tuple[Block, ...]
    language: str | None = None  # programming language, for doc_type == "code"
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. front matter, HTML <meta>, PDF info


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of one document, never cut mid-sentence."""

    ordinal: int
    text: str
    heading_path: tuple[str, ...]
    start_line: int
    end_line: int
    start_char: int
    end_char: int
    token_count: int
    page: int | None = None  # 1-based page of the chunk's first block, for doc_type == "pdf"
    anchor: str | None = None  # nearest heading anchor of the chunk's first block, for doc_type == "html"
