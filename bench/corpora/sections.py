"""Sections of a document by its own structure, per format, with the raw span of each heading.

Every reader returns :class:`Section` records: the heading's text, the raw character span that
``strip_headings`` blanks out of the indexed copy, and the section's body as plain text (up to the
next heading of any level). The readers are deliberately small and independent of the retrieval
server's parsers, so a change to the server cannot change the questions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass
class Section:
    heading: str  # the heading as written (plain text)
    level: int
    start: int  # raw span of the heading (what the indexed copy loses)
    end: int
    body: str  # plain text of the section up to the next heading
    anchor: str = ""


def strip_spans(raw: str, spans: Sequence[tuple[int, int]], keep_lines: bool = True) -> str:
    """``raw`` without the given character spans (newlines inside a span are kept, so line numbers hold)."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(raw[pos:start])
        if keep_lines:
            out.append("\n" * raw.count("\n", start, end))
        pos = end
    out.append(raw[pos:])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Markdown (ATX headings outside fenced code)

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_LINK = re.compile(r"\]\([^)]*\)")
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def markdown_sections(raw: str) -> list[Section]:
    lines = raw.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    heads: list[tuple[int, int, str]] = []  # (line index, level, text)
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if fenced:
            continue
        m = _MD_HEADING.match(line.rstrip("\n"))
        if m:
            heads.append((i, len(m.group(1)), m.group(2)))
    out: list[Section] = []
    for n, (i, level, text) in enumerate(heads):
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        body = "".join(lines[i + 1 : stop])
        body = _COMMENT.sub(" ", _MD_LINK.sub("]", body))
        out.append(Section(text, level, offsets[i], offsets[i + 1], body.strip()))
    return out


# ---------------------------------------------------------------------------------------------
# reStructuredText and AsciiDoc (two-line titles: text over a line of one repeated punctuation mark)

_RST_ADORN = re.compile(r"^([=\-~^\"'`#*+<>:._])\1{2,}\s*$")
_RST_NOISE = re.compile(r"^\.\. _[^:]+:\s*$", re.M)
_ADOC_ONE_LINE = re.compile(r"^(={1,5})\s+(\S.*?)\s*=*\s*$")
_ADOC_ADORN = re.compile(r"^([=\-~^+])\1+\s*$")


def _line_offsets(lines: Sequence[str]) -> list[int]:
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    return offsets


def rst_sections(raw: str) -> list[Section]:
    lines = raw.splitlines(keepends=True)
    offsets = _line_offsets(lines)
    styles: list[tuple[str, bool]] = []
    heads: list[tuple[int, int, int, str]] = []  # (first line, last line, level, text)
    i = 0
    while i + 1 < len(lines):
        text = lines[i].rstrip("\n")
        under = lines[i + 1].rstrip("\n")
        over = i > 0 and bool(_RST_ADORN.match(lines[i - 1].rstrip("\n")))
        title_ok = text.strip() and not text.startswith((" ", "\t")) and not _RST_ADORN.match(text)
        if title_ok and _RST_ADORN.match(under) and len(under.rstrip()) >= len(text.rstrip()):
            style = (under[0], over)
            if style not in styles:
                styles.append(style)
            first = i - 1 if over else i
            heads.append((first, i + 1, styles.index(style) + 1, text.strip()))
            i += 2
            continue
        i += 1
    out: list[Section] = []
    for n, (first, last, level, text) in enumerate(heads):
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        body = _RST_NOISE.sub(" ", "".join(lines[last + 1 : stop]))
        out.append(Section(text, level, offsets[first], offsets[last + 1], body.strip()))
    return out


def asciidoc_sections(raw: str) -> list[Section]:
    """Two-line titles (underline within two characters of the title's length) and ``== Title`` lines."""
    lines = raw.splitlines(keepends=True)
    offsets = _line_offsets(lines)
    levels = {"=": 0, "-": 1, "~": 2, "^": 3, "+": 4}
    heads: list[tuple[int, int, int, str]] = []
    i = 0
    in_block = False
    while i < len(lines):
        text = lines[i].rstrip("\n")
        if text.startswith("----") and set(text.strip()) == {"-"} and (i == 0 or not lines[i - 1].strip()):
            in_block = not in_block  # a listing block delimiter after a blank line
            i += 1
            continue
        if in_block:
            i += 1
            continue
        one = _ADOC_ONE_LINE.match(text)
        if one:
            heads.append((i, i, len(one.group(1)) - 1, one.group(2)))
            i += 1
            continue
        if i + 1 < len(lines) and text.strip() and not text.startswith((" ", "\t", "[", ".", "//")):
            under = lines[i + 1].rstrip("\n")
            m = _ADOC_ADORN.match(under)
            if m and abs(len(under.rstrip()) - len(text.rstrip())) <= 2 and len(text.strip()) >= 2:
                heads.append((i, i + 1, levels[m.group(1)], text.strip()))
                i += 2
                continue
        i += 1
    out: list[Section] = []
    for n, (first, last, level, text) in enumerate(heads):
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        body = "".join(lines[last + 1 : stop])
        out.append(Section(text, level, offsets[first], offsets[last + 1], body.strip()))
    return out


# ---------------------------------------------------------------------------------------------
# HTML (h1-h6; text inside scripts, styles, navigation and tables of contents is not body text)

_SKIP_TAGS = frozenset({"script", "style", "head", "nav", "noscript", "template"})
_SKIP_CLASSES = frozenset({"toc", "navheader", "navfooter", "nav", "navigation", "breadcrumb", "footer", "sidebar"})
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)


class _HtmlSections(HTMLParser):
    def __init__(self, raw: str) -> None:
        super().__init__(convert_charrefs=True)
        self.raw = raw
        self.line_start = _line_offsets(raw.splitlines(keepends=True))
        self.stack: list[tuple[str, bool]] = []  # (tag, skipping)
        self.heads: list[tuple[int, int, int, str]] = []  # (start, end, level, text)
        self.texts: list[tuple[int, str]] = []  # (offset, text) of body text
        self.current: tuple[int, int, list[str]] | None = None  # open heading: (start, level, parts)

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_start[line - 1] + col

    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        classes = set((dict(attrs).get("class") or "").split())
        skip = self._skipping() or tag in _SKIP_TAGS or bool(classes & _SKIP_CLASSES)
        self.stack.append((tag, skip))
        if re.fullmatch(r"h[1-6]", tag) and not skip and self.current is None:
            self.current = (self._offset(), int(tag[1]), [])

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if self.current is not None and tag == f"h{self.current[1]}":
            start, level, parts = self.current
            end = self.raw.find(">", self._offset()) + 1
            self.heads.append((start, end, level, " ".join("".join(parts).split())))
            self.current = None
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed tags
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        if self._skipping():
            return
        if self.current is not None:
            self.current[2].append(data)
        else:
            self.texts.append((self._offset(), data))


def html_sections(raw: str) -> list[Section]:
    parser = _HtmlSections(raw)
    parser.feed(raw)
    parser.close()
    out: list[Section] = []
    heads = parser.heads
    for n, (start, end, level, text) in enumerate(heads):
        stop = heads[n + 1][0] if n + 1 < len(heads) else len(raw) + 1
        body = " ".join(t for off, t in parser.texts if end <= off < stop)
        out.append(Section(text, level, start, end, " ".join(body.split())))
    return out


def html_text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


_TITLE = re.compile(r"(<title[^>]*>)(.*?)(</title>)", re.S | re.I)
_ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a>", re.S | re.I)


def html_title(raw: str) -> str:
    m = _TITLE.search(raw)
    return html_text(m.group(2)) if m else ""


def html_drop_title(raw: str) -> str:
    return _TITLE.sub(lambda m: m.group(1) + m.group(3), raw, count=1)


def html_drop_links(raw: str, texts: set[str], key: object) -> str:
    """Remove links whose visible text is one of ``texts`` (keyed by ``key``, e.g. a normaliser)."""
    norm = key if callable(key) else (lambda s: s)

    def repl(m: re.Match[str]) -> str:
        return "" if norm(html_text(m.group(1))) in texts else m.group(0)

    return _ANCHOR.sub(repl, raw)
