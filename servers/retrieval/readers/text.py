"""Plain-text reader: paragraphs by blank lines; underlined lines, a short first line and short ALL-CAPS
lines are headings.
"""

from __future__ import annotations

import re

from mcp_suite.servers.retrieval.documents import ParsedDocument
from mcp_suite.servers.retrieval.readers.base import LIST_ITEM, LineDoc, pick_title
from mcp_suite.servers.retrieval.readers.detect import stem_title

_TEXT_UNDERLINE = re.compile(r"^[ \t]*([=\-~*#])\1{2,}[ \t]*$")


def parse_plain(text: str, name: str) -> ParsedDocument:
    """Paragraphs by blank lines; underlined lines, a short first line and short ALL-CAPS lines are headings."""
    doc = LineDoc(text)
    lines = doc.lines
    n = len(lines)
    i = 0
    first = True
    while i < n:
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        if _TEXT_UNDERLINE.match(lines[i]):  # a stray rule
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < n else ""
        if _TEXT_UNDERLINE.match(nxt) and len(stripped) <= 100:
            doc.add("heading", i, i + 1, level=1 if nxt.strip()[0] in "=#*" else 2, title=stripped)
            i, first = i + 2, False
            continue
        j = i + 1
        while j < n and lines[j].strip() and not _TEXT_UNDERLINE.match(lines[j]):
            j += 1
        if j < n and _TEXT_UNDERLINE.match(lines[j]) and j - 1 > i:
            j -= 1  # the paragraph's last line is the title of the next section
        single = j == i + 1
        is_caps = stripped.isupper() and len(stripped) <= 60 and any(c.isalpha() for c in stripped)
        if single and len(stripped) <= 80 and (is_caps or (first and stripped[-1] not in ".,;:!?")):
            doc.add("heading", i, i, level=1 if first else 2, title=stripped.rstrip(":"))
        elif all(LIST_ITEM.match(line) for line in lines[i:j]):
            doc.add("list", i, j - 1)
        else:
            doc.add("paragraph", i, j - 1)
        i, first = j, False
    title = pick_title(doc.blocks, None, stem_title(name))
    return ParsedDocument(title=title, doc_type="text", text=text, blocks=tuple(doc.blocks))
