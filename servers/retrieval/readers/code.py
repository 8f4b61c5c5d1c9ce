"""Source-code reader: top-level units as blocks, the language from the suffix, file name or shebang."""

from __future__ import annotations

import re

from mcp_suite.servers.retrieval.documents import ParsedDocument
from mcp_suite.servers.retrieval.readers.base import LineDoc
from mcp_suite.servers.retrieval.readers.detect import (
    CODE_FILE_NAMES,
    CODE_LANGUAGES,
    SHEBANG_LANGUAGES,
    name_path,
    stem_title,
)

_DEFINITION = re.compile(
    r"^(?:export\s+|pub(?:\([\w:]+\))?\s+|public\s+|private\s+|protected\s+|static\s+|abstract\s+|final\s+|"
    r"async\s+|default\s+|unsafe\s+)*"
    r"(?:def|class|function|func|fn|struct|enum|interface|trait|impl|module|type|const|let|var|CREATE\s+\w+)"
    r"\s+(?:\([^)]*\)\s*)?([A-Za-z_][\w.]*)",
    re.I,
)


def _code_language(name: str, text: str) -> str | None:
    path = name_path(name)
    language = CODE_LANGUAGES.get(path.suffix.lower()) or CODE_FILE_NAMES.get(path.name.lower())
    if language is None and text.startswith("#!"):
        interpreter = text.split("\n", 1)[0].split("/")[-1].split()
        if interpreter:
            word = interpreter[-1] if interpreter[0] == "env" and len(interpreter) > 1 else interpreter[0]
            language = SHEBANG_LANGUAGES.get(re.sub(r"[\d.]+$", "", word))
    return language


def parse_code(text: str, name: str) -> ParsedDocument:
    """Blocks are top-level units: a new block starts at a column-0 line after a blank line, so a function
    with blank lines inside its (indented) body stays whole. Heading paths stay empty; a block that starts
    with a definition records it as the block's heading path."""
    doc = LineDoc(text)
    lines = doc.lines
    n = len(lines)
    start: int | None = None
    saw_blank = False
    groups: list[tuple[int, int]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            saw_blank = True
            continue
        if start is None:
            start = i
        elif saw_blank and line[:1] not in (" ", "\t", ")", "]", "}"):
            groups.append((start, i - 1))
            start = i
        saw_blank = False
    if start is not None:
        groups.append((start, n - 1))
    for first, last in groups:
        doc.add("code", first, last)
    return ParsedDocument(
        title=stem_title(name) if not name_path(name).suffix else name_path(name).name,
        doc_type="code",
        text=text,
        blocks=tuple(doc.blocks),
        language=_code_language(name, text),
    )
