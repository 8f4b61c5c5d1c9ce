"""Plain-text reader (also AsciiDoc): paragraphs by blank lines; underlined lines, a short first line and
short ALL-CAPS lines are headings; AsciiDoc delimited blocks (``----``, ``....``) are code.

A line of ``=``/``-``/``~``/``^``/``+`` (or ``*``/``#``) only underlines the line above when that line is
a plausible heading: non-blank, not indented, and about as long as the underline (AsciiDoc allows
±2 characters). A delimiter line after a blank line opens a delimited block that runs to the next
identical line, unless both fences stand between blank lines around unindented text (then they are
separators): listing (``----``) and literal (``....``) blocks become code, comment blocks (``////``)
are dropped, and the fences of other blocks (examples, sidebars, quotes) are skipped.
"""

from __future__ import annotations

import re

from mcp_suite.servers.retrieval.documents import ParsedDocument
from mcp_suite.servers.retrieval.readers.base import LIST_ITEM, LineDoc, pick_title
from mcp_suite.servers.retrieval.readers.detect import stem_title

_TEXT_UNDERLINE = re.compile(r"^[ \t]*([=\-~^+*#])\1{2,}[ \t]*$")
_FENCE = re.compile(r"^([-.=*_+/])\1{3,}[ \t]*$")
_UNDERLINE_LEVEL = {"=": 1, "#": 1, "*": 1, "-": 2, "~": 3, "^": 4, "+": 5}
_UNDERLINE_SLACK = 2
_CODE_FENCES = "-."


def _underlines(title: str, underline: str) -> bool:
    """Whether ``underline`` can be the setext underline of ``title`` (a heading, not code or a rule)."""
    if not title.strip() or title[0] in " \t" or _TEXT_UNDERLINE.match(title) or len(title.strip()) > 100:
        return False
    return abs(len(title.rstrip()) - len(underline.strip())) <= _UNDERLINE_SLACK


def _fence_end(lines: list[str], i: int) -> int | None:
    """The closing line of a delimited block opened at ``i``, or ``None`` when ``i`` opens none."""
    if not _FENCE.match(lines[i]) or (i > 0 and lines[i - 1].strip()):
        return None
    fence = lines[i].rstrip()
    end = next((k for k in range(i + 1, len(lines)) if lines[k].rstrip() == fence), None)
    if end is None:
        return None
    # A fence sits on its content at one end at least; rules with blank lines on both sides at both
    # ends are separators (plain-text files often repeat one) unless all between is indented.
    inner = [line for line in lines[i + 1 : end] if line.strip()]
    if not lines[i + 1].strip() and not lines[end - 1].strip() and not all(line[0] in " \t" for line in inner):
        return None
    return end


def parse_plain(text: str, name: str) -> ParsedDocument:
    """Paragraphs by blank lines; underlined lines, a short first line and short ALL-CAPS lines are headings."""
    doc = LineDoc(text)
    lines = doc.lines
    n = len(lines)
    skip: set[int] = set()  # closing fences of blocks whose content is parsed as text
    i = 0
    first = True
    while i < n:
        stripped = lines[i].strip()
        if not stripped or i in skip:
            i += 1
            continue
        end = _fence_end(lines, i)
        if end is not None:
            kind = stripped[0]
            if kind in _CODE_FENCES:
                doc.add("code", i, end)  # fences included, as Markdown's: a chunk never starts indented
            if kind in _CODE_FENCES or kind == "/":
                i, first = end + 1, False
            else:
                skip.add(end)
                i += 1
            continue
        if _TEXT_UNDERLINE.match(lines[i]):  # a stray rule
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < n else ""
        if _TEXT_UNDERLINE.match(nxt) and i + 1 not in skip and _underlines(lines[i], nxt):
            level = _UNDERLINE_LEVEL[nxt.strip()[0]]
            doc.add("heading", i, i + 1, level=level, title=stripped)
            i, first = i + 2, False
            continue
        j = i + 1
        while j < n and lines[j].strip() and j not in skip:
            if _TEXT_UNDERLINE.match(lines[j]) and _underlines(lines[j - 1], lines[j]):
                j -= 1  # the paragraph's last line is the title of the next section
                break
            j += 1  # a rule or stray delimiter that underlines nothing stays with the text
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
