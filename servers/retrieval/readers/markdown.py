"""Markdown reader: ATX/setext headings, fences, lists, tables; YAML front matter becomes metadata.

Lines are kept as they are, so a block's line span matches the file in an editor.
"""

from __future__ import annotations

import re

from mcp_suite.servers.retrieval.documents import ParsedDocument
from mcp_suite.servers.retrieval.readers.base import LIST_ITEM, LineDoc, pick_title, plain_inline
from mcp_suite.servers.retrieval.readers.detect import stem_title

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HRULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TABLE_DELIM = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def _list_marker(line: str) -> str | None:
    """The kind of list marker a top-level item uses ("-", "*", "+", "." or ")"), None if not an item."""
    if line[:1] in (" ", "\t") or not LIST_ITEM.match(line):
        return None
    return line[0] if not line[0].isdigit() else line.lstrip("0123456789")[:1]


def _md_block_start(line: str, next_line: str | None) -> bool:
    return bool(
        _FENCE.match(line)
        or _ATX.match(line)
        or _HRULE.match(line)
        or LIST_ITEM.match(line)
        or ("|" in line and next_line is not None and "-" in next_line and _TABLE_DELIM.match(next_line))
    )


def _front_matter(raw: str) -> dict[str, str] | None:
    from mcp_suite.shared.yaml_safe import FRONT_MATTER_LIMITS, UnsafeYamlError, safe_load

    try:
        # No aliases, small and shallow: a 400-byte alias bomb would otherwise expand to gigabytes of metadata.
        data = safe_load(raw, FRONT_MATTER_LIMITS, source="front matter")
    except UnsafeYamlError:
        return None
    if not isinstance(data, dict):
        return None
    meta: dict[str, str] = {}
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            meta[str(key)] = ", ".join(str(v) for v in value)
        else:
            meta[str(key)] = str(value)
    return meta


def parse_markdown(text: str, name: str) -> ParsedDocument:
    doc = LineDoc(text)
    lines = doc.lines
    n = len(lines)
    i = 0
    metadata: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        for j in range(1, min(n, 500)):
            if lines[j].strip() in ("---", "..."):
                parsed = _front_matter("\n".join(lines[1:j]))
                if parsed is not None:
                    metadata, i = parsed, j + 1
                break
    prev_blank = True
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            prev_blank = True
            continue
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            j = i + 1
            while j < n and not (lines[j].strip().startswith(marker) and set(lines[j].strip()) == {marker[0]}):
                j += 1
            end = min(j, n - 1)
            doc.add("code", i, end)
            i, prev_blank = end + 1, False
            continue
        atx = _ATX.match(line)
        if atx:
            title = plain_inline(atx.group(2) or "")
            if title:
                doc.add("heading", i, i, level=len(atx.group(1)), title=title)
            i, prev_blank = i + 1, False
            continue
        if _HRULE.match(line):
            i, prev_blank = i + 1, True
            continue
        next_line = lines[i + 1] if i + 1 < n else None
        if "|" in line and next_line is not None and _TABLE_DELIM.match(next_line) and "-" in next_line:
            j = i + 2
            while j < n and lines[j].strip() and "|" in lines[j]:
                j += 1
            doc.add("table", i, j - 1)
            i, prev_blank = j, False
            continue
        if LIST_ITEM.match(line):
            marker = _list_marker(line)
            j = i + 1
            while j < n:
                current = lines[j]
                if not current.strip():
                    k = j
                    while k < n and not lines[k].strip():
                        k += 1
                    if k < n and (lines[k][:1] in (" ", "\t") or _list_marker(lines[k]) == marker):
                        j = k
                        continue
                    break
                if current[:1] in (" ", "\t") or _list_marker(current) == marker:
                    j += 1
                    continue
                if LIST_ITEM.match(current):
                    break  # a different marker starts a new list
                if _md_block_start(current, lines[j + 1] if j + 1 < n else None):
                    break
                j += 1  # lazy continuation of the item's paragraph
            doc.add("list", i, j - 1)
            i, prev_blank = j, False
            continue
        if prev_blank and (line.startswith("    ") or line.startswith("\t")):
            j = i + 1
            while j < n and (not lines[j].strip() or lines[j].startswith(("    ", "\t"))):
                j += 1
            doc.add("code", i, j - 1)
            i, prev_blank = j, False
            continue
        # Paragraph, possibly a setext heading.
        j = i + 1
        heading_level = 0
        while j < n and lines[j].strip():
            if _SETEXT.match(lines[j]):
                heading_level = 1 if lines[j].strip()[0] == "=" else 2
                break
            if _md_block_start(lines[j], lines[j + 1] if j + 1 < n else None):
                break
            j += 1
        if heading_level:
            title = plain_inline(" ".join(lines[k].strip() for k in range(i, j)))
            doc.add("heading", i, j, level=heading_level, title=title)
            i = j + 1
        else:
            doc.add("paragraph", i, j - 1)
            i = j
        prev_blank = False
    title = pick_title(doc.blocks, metadata.get("title"), stem_title(name))
    return ParsedDocument(title=title, doc_type="markdown", text=text, blocks=tuple(doc.blocks), metadata=metadata)
