"""Readers: turn the bytes of a file or a fetched page into a :class:`ParsedDocument`.

One module per format (:mod:`.markdown`, :mod:`.rst`, :mod:`.text`, :mod:`.code`, :mod:`.html`, :mod:`.pdf`),
dispatched from here; :mod:`.detect` tells the type, :mod:`.base` holds what readers share. Every reader
produces clean text plus :class:`Block` values (heading, paragraph, list, code, table) whose heading
path, 1-based line span and character span point into ``ParsedDocument.text``; ``block.text`` is
always exactly ``doc.text[block.start_char:block.end_char]``.

Line-based formats (Markdown, reStructuredText, text, code) keep the file's lines as they are (only
Unicode and whitespace hygiene is applied, see :mod:`mcp_suite.servers.retrieval.cleaning`), so a cited line
span matches the file in an editor. Markdown front matter stays in the text but becomes metadata, not
a block. HTML and PDF are reduced to extracted text with collapsed blank lines.

Limits: a document larger than ``max_bytes`` (ingestion passes ``--max-file-mb``; callers that pass nothing get
:data:`MAX_DOCUMENT_BYTES`, 20 MB) is refused with :class:`DocumentTooLargeError`, a gzipped one also when it
inflates past it; binary data and unknown formats with :class:`UnsupportedFormatError`.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from mcp_suite.servers.retrieval.cleaning import decode, looks_binary, normalize_text
from mcp_suite.servers.retrieval.documents import DocType, ParsedDocument
from mcp_suite.servers.retrieval.readers.base import (
    MAX_DOCUMENT_BYTES,
    DocumentTooLargeError,
    UnsupportedFormatError,
    too_large,
)
from mcp_suite.servers.retrieval.readers.code import parse_code
from mcp_suite.servers.retrieval.readers.detect import detect_type, name_path, sniff, suffix_type, type_for_content_type
from mcp_suite.servers.retrieval.readers.html import parse_html
from mcp_suite.servers.retrieval.readers.markdown import parse_markdown
from mcp_suite.servers.retrieval.readers.pdf import parse_pdf
from mcp_suite.servers.retrieval.readers.rst import parse_rst
from mcp_suite.servers.retrieval.readers.text import parse_plain
from mcp_suite.shared.errors import InvalidInputError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentTooLargeError",
    "UnsupportedFormatError",
    "detect_type",
    "parse_bytes",
    "parse_file",
    "parse_text",
    "type_for_content_type",
]


def parse_file(path: Path, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> ParsedDocument:
    """Read and parse a file; refuses files above ``max_bytes`` before reading them."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > max_bytes:
        raise DocumentTooLargeError(too_large(str(path), size, max_bytes))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_bytes(data, name=str(path), max_bytes=max_bytes)


def parse_bytes(
    data: bytes,
    *,
    name: str,
    doc_type: DocType | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> ParsedDocument:
    """Parse raw bytes. ``name`` (a file name or URL) drives type detection and the title fallback;
    ``encoding`` is an optional hint (e.g. the charset of an HTTP response)."""
    if len(data) > max_bytes:
        raise DocumentTooLargeError(too_large(name, len(data), max_bytes))
    if data[:2] == b"\x1f\x8b" and name.lower().endswith(".gz"):
        data = _gunzip(data, name, max_bytes)
        name = name[:-3]
    if doc_type is None:
        doc_type = detect_type(name_path(name), data)
        expected = suffix_type(name_path(name))
        if doc_type is None and expected not in (None, "pdf"):
            raise UnsupportedFormatError(f"{name}: looks like binary data, not a {expected} document; nothing was read")
        if doc_type is None:
            raise UnsupportedFormatError(
                f"{name}: unsupported format or binary data; supported are Markdown, reStructuredText, "
                "plain text, HTML, source code and PDF"
            )
    if doc_type == "pdf":
        return parse_pdf(data, name)
    if looks_binary(data):
        raise UnsupportedFormatError(f"{name}: looks like binary data, not a {doc_type} document; nothing was read")
    text = decode(data, encoding=encoding, html=doc_type == "html")
    return parse_text(text, name=name, doc_type=doc_type, max_bytes=max_bytes)


def parse_text(
    text: str, *, name: str, doc_type: DocType | None = None, max_bytes: int = MAX_DOCUMENT_BYTES
) -> ParsedDocument:
    """Parse text that is already decoded (e.g. raw text given to the server with a source name)."""
    if len(text) > max_bytes:
        raise DocumentTooLargeError(too_large(name, len(text), max_bytes))
    if doc_type is None:
        doc_type = suffix_type(name_path(name)) or sniff(text[:2048].encode("utf-8", "replace"))
    if doc_type is None:
        raise UnsupportedFormatError(f"{name}: unsupported format")
    if doc_type == "pdf":
        raise UnsupportedFormatError(f"{name}: a PDF must be given as bytes (parse_bytes or parse_file), not text")
    if doc_type == "html":
        return parse_html(text, name)
    text = normalize_text(text)
    if doc_type == "markdown":
        return parse_markdown(text, name)
    if doc_type == "rst":
        return parse_rst(text, name)
    if doc_type == "code":
        return parse_code(text, name)
    return parse_plain(text, name)


def _gunzip(data: bytes, name: str, max_bytes: int) -> bytes:
    """Decompress a ``.gz`` document, refusing to inflate past the document limit (zip bombs)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise UnsupportedFormatError(f"{name}: corrupt gzip data ({exc})") from exc
    if len(out) > max_bytes:
        raise DocumentTooLargeError(too_large(f"{name} (after decompression)", len(out), max_bytes))
    if not inflater.eof:
        raise UnsupportedFormatError(f"{name}: corrupt gzip data (truncated stream)")
    return out
