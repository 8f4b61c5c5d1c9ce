"""PDF reader (pypdf): text per page, dehyphenated, split into paragraphs that record their page."""

from __future__ import annotations

import io
import re

from mcp_suite.servers.retrieval.cleaning import collapse_blank_lines, dehyphenate, normalize_text
from mcp_suite.servers.retrieval.documents import Block, ParsedDocument
from mcp_suite.servers.retrieval.readers.base import UnsupportedFormatError
from mcp_suite.servers.retrieval.readers.detect import stem_title

_JUNK_PDF_TITLES = re.compile(r"^(untitled|microsoft word - .*|document\d*|\s*)$", re.I)


def parse_pdf(data: bytes, name: str) -> ParsedDocument:
    from pypdf import PdfReader  # lazy: only PDF ingestion pays for the import

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnsupportedFormatError(f"{name}: the PDF is encrypted with a password; decrypt it first")
        info = reader.metadata
        raw_pages = [page.extract_text() or "" for page in reader.pages]
    except UnsupportedFormatError:
        raise
    except Exception as exc:  # pypdf raises many types on malformed input; report it per file, never crash
        raise UnsupportedFormatError(f"{name}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    metadata: dict[str, str] = {"pages": str(len(raw_pages))}
    pdf_title = ""
    if info is not None:
        for key, label in (("/Title", "pdf_title"), ("/Author", "author"), ("/Subject", "subject"),
                           ("/Keywords", "keywords"), ("/CreationDate", "created")):  # fmt: skip
            value = info.get(key)
            if value:
                metadata[label] = " ".join(str(value).split())
        pdf_title = metadata.pop("pdf_title", "")
    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    line = 1
    for number, raw in enumerate(raw_pages, start=1):
        page_text = collapse_blank_lines(dehyphenate(normalize_text(raw)))
        for paragraph in re.split(r"\n\s*\n", page_text):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            if parts:
                parts.append("\n\n")
                offset += 2
                line += 2
            end_line = line + paragraph.count("\n")
            blocks.append(
                Block("paragraph", paragraph, (), line, end_line, offset, offset + len(paragraph), page=number)
            )
            parts.append(paragraph)
            offset += len(paragraph)
            line = end_line
    text = "".join(parts)
    title = pdf_title if pdf_title and not _JUNK_PDF_TITLES.match(pdf_title) else ""
    if not title and blocks:
        first_line = blocks[0].text.split("\n", 1)[0].strip()
        if 0 < len(first_line) <= 100:
            title = first_line
    return ParsedDocument(
        title=title or stem_title(name), doc_type="pdf", text=text, blocks=tuple(blocks), metadata=metadata
    )
