"""reStructuredText reader: adornment-styled headings (levels in order of first use), directives, literal
blocks, tables, lists; a leading field list becomes metadata.

A directive's line with an argument (``.. function:: join(path, *paths)``, ``.. class:: Popen(args)``,
``.. versionchanged:: 3.6``) stays in its block: in API documentation it is the only place the
object's name occurs, and leaving it out also cut every entry into a chunk of its own. Heading text
loses its inline markup (``:mod:`!os.path``` is ``os.path``); a transition (a lone rule) is skipped.
"""

from __future__ import annotations

import re

from mcp_suite.servers.retrieval.documents import ParsedDocument
from mcp_suite.servers.retrieval.readers.base import LineDoc, pick_title
from mcp_suite.servers.retrieval.readers.detect import stem_title

_RST_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.!$%&,/;?@\\|])\1{2,}[ \t]*$")
_RST_DIRECTIVE = re.compile(r"^\.\.[ \t]+([\w:.+-]+)::(?:[ \t]+(.*))?$")
_RST_COMMENT = re.compile(r"^\.\.(?:[ \t]|$)")
_RST_LIST = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)]|#\.|\(\d+\)|[a-zA-Z][.)])[ \t]+")
_RST_GRID = re.compile(r"^[ \t]*\+[-=+]+\+[ \t]*$")
_RST_SIMPLE_TABLE = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")
_RST_FIELD = re.compile(r"^:([\w][\w \-]*):[ \t]*(.*)$")
_RST_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`[!~]?([^`<]*?)\s*(?:<[^>]*>)?`")
_RST_LITERAL = re.compile(r"``([^`]+)``")
_RST_REFERENCE = re.compile(r"`([^`<]*?)\s*(?:<[^>]*>)?`__?")
_RST_EMPHASIS = re.compile(r"\*\*?([^*]+)\*\*?")
_RST_CODE_DIRECTIVES = frozenset({"code", "code-block", "sourcecode", "literalinclude", "doctest", "testcode", "math"})
# Directives with no prose worth indexing. ``index`` and ``module`` are kept: their entries and synopsis
# are the words a reader searches by, and skipped text between two blocks would end a chunk there.
_RST_SKIP_DIRECTIVES = frozenset(
    {"toctree", "image", "figure", "contents", "include", "highlight", "raw", "meta", "only",
     "automodule", "autoclass", "autofunction", "sectnum", "default-role", "role", "tabularcolumns"}
)  # fmt: skip
_RST_TABLE_DIRECTIVES = frozenset({"csv-table", "list-table", "table"})


def _indented_end(lines: list[str], j: int) -> int:
    """Index after the indented body starting at ``j`` (blank lines inside the body included)."""
    n = len(lines)
    last = j - 1
    while j < n:
        if not lines[j].strip():
            j += 1
            continue
        if lines[j][:1] in (" ", "\t"):
            last = j
            j += 1
            continue
        break
    return last + 1


def plain_rst(text: str) -> str:
    """Heading text without rST inline markup: roles, literals, references, emphasis."""
    text = _RST_ROLE.sub(r"\1", text)
    text = _RST_LITERAL.sub(r"\1", text)
    text = _RST_REFERENCE.sub(r"\1", text)
    text = _RST_EMPHASIS.sub(r"\1", text)
    return " ".join(text.replace("`", "").split())


def parse_rst(text: str, name: str) -> ParsedDocument:
    doc = LineDoc(text)
    lines = doc.lines
    n = len(lines)
    styles: list[tuple[str, bool]] = []
    metadata: dict[str, str] = {}
    literal_next = False

    def level_of(style: tuple[str, bool]) -> int:
        if style not in styles:
            styles.append(style)
        return styles.index(style) + 1

    i = 0
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < n else ""
        # Over- and underlined title.
        if _RST_ADORN.match(line) and i + 2 < n and lines[i + 2].strip() == stripped and lines[i + 1].strip():
            title = plain_rst(lines[i + 1].strip())
            doc.add("heading", i, i + 2, level=level_of((stripped[0], True)), title=title)
            i += 3
            continue
        if (
            line[:1] not in (" ", "\t")
            and _RST_ADORN.match(nxt)
            and len(nxt.strip()) >= min(len(stripped), 3)
            and not _RST_ADORN.match(line)
        ):
            doc.add("heading", i, i + 1, level=level_of((nxt.strip()[0], False)), title=plain_rst(stripped))
            i += 2
            continue
        if _RST_ADORN.match(line) and line[:1] not in (" ", "\t"):  # a transition: a rule between paragraphs
            i += 1
            continue
        if literal_next and line[:1] in (" ", "\t"):
            end = _indented_end(lines, i)
            doc.add("code", i, end - 1)
            i, literal_next = end, False
            continue
        literal_next = False
        directive = _RST_DIRECTIVE.match(line)
        if directive:
            kind = directive.group(1).lower()
            end = _indented_end(lines, i + 1)
            if kind in _RST_CODE_DIRECTIVES:
                doc.add("code", i, end - 1)
            elif kind in _RST_TABLE_DIRECTIVES:
                doc.add("table", i, end - 1)
            elif kind not in _RST_SKIP_DIRECTIVES and directive.group(2):  # a described object: keep its name
                doc.add("paragraph", i, end - 1)
            elif kind not in _RST_SKIP_DIRECTIVES and end - 1 > i:  # an admonition: its body
                doc.add("paragraph", i + 1, end - 1)
            i = end
            continue
        if _RST_COMMENT.match(line):
            i = _indented_end(lines, i + 1)
            continue
        if _RST_GRID.match(line) or _RST_SIMPLE_TABLE.match(line):
            j = i + 1
            while j < n and lines[j].strip():
                j += 1
            doc.add("table", i, j - 1)
            i = j
            continue
        if _RST_LIST.match(line):
            j = i + 1
            while j < n:
                if not lines[j].strip():
                    k = j
                    while k < n and not lines[k].strip():
                        k += 1
                    if k < n and (lines[k][:1] in (" ", "\t") or _RST_LIST.match(lines[k])):
                        j = k
                        continue
                    break
                j += 1
            doc.add("list", i, j - 1)
            i = j
            continue
        j = i + 1
        while j < n and lines[j].strip() and not (j + 1 < n and _RST_ADORN.match(lines[j + 1])):
            j += 1
        para = lines[i:j]
        fields = [_RST_FIELD.match(p) for p in para]
        if all(fields) and not any(b.kind in ("paragraph", "list") for b in doc.blocks):
            for m in fields:
                assert m is not None
                metadata[m.group(1).strip().lower()] = m.group(2).strip()
        else:
            doc.add("paragraph", i, j - 1)
            literal_next = para[-1].rstrip().endswith("::")
        i = j
    title = pick_title(doc.blocks, metadata.get("title"), stem_title(name))
    return ParsedDocument(title=title, doc_type="rst", text=text, blocks=tuple(doc.blocks), metadata=metadata)
