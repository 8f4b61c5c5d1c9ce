"""HTML reader: the page's main text as heading, paragraph, list, table and code blocks.

Navigation, scripts, forms and other boilerplate are dropped; when the page marks a main region
(``<main>``, ``<article>``, ``role=main``) only that region is kept.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from mcp_suite.servers.retrieval.cleaning import collapse_blank_lines, normalize_text
from mcp_suite.servers.retrieval.documents import Block, ParsedDocument
from mcp_suite.servers.retrieval.readers.base import Outline, UnsupportedFormatError, pick_title
from mcp_suite.servers.retrieval.readers.detect import stem_title

_HTML_SKIP = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "footer", "aside", "form", "button", "select",
     "textarea", "iframe", "object", "canvas", "dialog", "menu", "head"}
)  # fmt: skip
_HTML_SKIP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu", "dialog"})
_HTML_BOILERPLATE = frozenset(
    {"nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "footer", "sidebar", "cookie", "cookies",
     "banner", "advert", "advertisement", "ads", "share", "social", "skip", "toc", "related", "newsletter",
     "comments", "pagination", "masthead", "nosearch", "noindex", "nocontent", "tagline", "search", "searchbox",
     "searchmenu", "skiplink", "topbar"}
)  # fmt: skip
_HTML_VOID = frozenset(
    {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr", "param"}
)
_HTML_BLOCK = frozenset(
    {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "table", "tr",
     "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "figure", "figcaption", "address", "details", "summary",
     "header", "body", "html", "caption", "thead", "tbody", "tfoot", "center", "fieldset"}
)  # fmt: skip
_WORD_SPLIT = re.compile(r"[\s_-]+")
_SPACE_RUN = re.compile(r"[ \t\r\n\f]+")


@dataclass
class _HtmlItem:
    kind: str  # heading | paragraph | li | tr | code
    text: str
    level: int
    in_main: bool
    anchor: str | None = None  # for headings: the id a link can jump to


@dataclass
class _Open:
    tag: str
    skip: bool
    main: bool
    context: tuple[str, int]  # the innermost pre/heading/list item/table row enclosing this element


MAX_HTML_DEPTH = 256
"""Open elements tracked; deeper ones are read as text of their ancestor (real pages nest a few dozen deep)."""
HTML_TIME_BUDGET = 10.0
"""Seconds one page may take to read, plus :data:`HTML_TIME_PER_MB` per MB, before it is refused (a million
nested tags, not a real page: the 5.8 MB ``all.html`` of the Node.js docs reads in about 3 s on a busy core)."""
HTML_TIME_PER_MB = 0.5
_BUDGET_CHECK_EVERY = 2048  # tags between clock reads


class HtmlTooComplexError(UnsupportedFormatError):
    """The page took longer than :data:`HTML_TIME_BUDGET` to read."""


def _own_context(tag: str) -> tuple[str, int] | None:
    if tag == "pre":
        return "code", 0
    if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
        return "heading", int(tag[1])
    if tag in ("li", "dd", "dt"):
        return "li", 0
    if tag == "tr":
        return "tr", 0
    return None


class _HtmlExtractor(HTMLParser):
    def __init__(self, name: str = "", budget: float = HTML_TIME_BUDGET) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.tags_seen = 0
        self.stack: list[_Open] = []
        self.open_counts: Counter[str] = Counter()  # tag -> how many are on the stack: end tags check in O(1)
        self.items: list[_HtmlItem] = []
        self.buffer: list[str] = []
        self.title_parts: list[str] = []
        self.meta: dict[str, str] = {}
        self.lang: str | None = None
        self.in_title = False
        # Anchors: ids seen since the last text item (a <section id> or <a name> right before a heading
        # names it), and the id of the heading being read (its own, or one on an element inside it).
        self.fresh_ids: list[str] = []
        self.heading_anchor: str | None = None
        self.pre_heading: str | None = None

    # state helpers
    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1].skip

    def _in_main(self) -> bool:
        return bool(self.stack) and self.stack[-1].main

    def _context(self) -> tuple[str, int]:
        return self.stack[-1].context if self.stack else ("paragraph", 0)

    def _check_budget(self) -> None:
        self.tags_seen += 1
        if self.tags_seen % _BUDGET_CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise HtmlTooComplexError(
                f"{self.name}: the HTML took more than {self.budget:g} s to read ({self.tags_seen} tags so far, "
                f"nesting {len(self.stack)} deep); it was not indexed — convert it to text or split it"
            )

    def flush(self) -> None:
        if not self.buffer:
            return
        raw = "".join(self.buffer)
        self.buffer = []
        kind, level = self._context()
        if kind == "code":
            text = raw.strip("\n")
            if not text.strip():
                return
        else:
            text = "\n".join(" ".join(part.split()) for part in raw.split("\n"))
            text = "\n".join(line for line in text.split("\n") if line)
            if kind == "tr":
                text = " | ".join(cell.strip() for cell in text.split("\ue000") if cell.strip())
            text = text.replace("\ue000", " ")
            if not text.strip():
                return
        anchor = None
        if kind == "heading":
            anchor = self.heading_anchor or self.pre_heading
            self.heading_anchor = self.pre_heading = None
        self.items.append(_HtmlItem(kind, text, level, self._in_main(), anchor))
        self.fresh_ids.clear()

    # parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._check_budget()
        attributes = {key: value or "" for key, value in attrs}
        if tag == "html" and attributes.get("lang"):
            self.lang = attributes["lang"]
        if tag == "meta":
            key = (attributes.get("name") or attributes.get("property") or "").lower()
            if key in ("description", "author", "keywords", "og:title", "og:description", "date", "generator"):
                self.meta[key] = " ".join(attributes.get("content", "").split())
            return
        if tag == "title":
            self.in_title = True
            return
        if tag in _HTML_BLOCK or tag in ("td", "th"):
            if tag in ("td", "th") and not self._skipping():
                self.buffer.append("\ue000")
            elif not self._skipping() and not (tag == "pre" and self._context()[0] == "code"):
                self.flush()
        if tag == "br" and not self._skipping():
            self.buffer.append("\n")
        if not self._skipping():
            self._note_anchor(tag, attributes)
        if tag in _HTML_VOID or len(self.stack) >= MAX_HTML_DEPTH:
            return
        parent_skip = self._skipping()
        parent_main = self._in_main()
        tokens = {t.lower() for t in _WORD_SPLIT.split(attributes.get("class", "") + " " + attributes.get("id", ""))}
        skip = (
            parent_skip
            or tag in _HTML_SKIP
            or (tag == "header" and not parent_main)
            or attributes.get("role", "").lower() in _HTML_SKIP_ROLES
            or "hidden" in attributes
            or attributes.get("aria-hidden", "").lower() == "true"
            or bool(tokens & _HTML_BOILERPLATE)
            or "display:none" in attributes.get("style", "").replace(" ", "")
        )
        main = parent_main or tag in ("main", "article") or attributes.get("role", "").lower() == "main"
        self.stack.append(_Open(tag, skip, main, _own_context(tag) or self._context()))
        self.open_counts[tag] += 1

    def _note_anchor(self, tag: str, attributes: dict[str, str]) -> None:
        ident = attributes.get("id") or (attributes.get("name", "") if tag == "a" else "")
        ident = ident.strip()
        if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456":
            self.heading_anchor = ident or None
            self.pre_heading = self.fresh_ids[-1] if self.fresh_ids else None
        elif ident and self._context()[0] == "heading":
            self.heading_anchor = self.heading_anchor or ident
        elif ident:
            self.fresh_ids.append(ident)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        self._check_budget()
        if tag in _HTML_VOID or not self.open_counts[tag]:
            return
        if (tag in _HTML_BLOCK or tag in ("td", "th")) and not self._skipping() and tag not in ("td", "th"):
            self.flush()
        while self.stack:
            open_ = self.stack.pop()
            self.open_counts[open_.tag] -= 1
            if open_.tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self._skipping():
            return
        if self._context()[0] == "code":
            self.buffer.append(data)
        else:
            self.buffer.append(_SPACE_RUN.sub(" ", data))


def parse_html(text: str, name: str) -> ParsedDocument:
    parser = _HtmlExtractor(name, HTML_TIME_BUDGET + HTML_TIME_PER_MB * len(text) / 1_048_576)
    parser.feed(text)
    parser.close()
    parser.stack.clear()
    parser.open_counts.clear()
    parser.flush()
    items = parser.items
    h1s = [item.text for item in items if item.kind == "heading" and item.level == 1]
    # One <h1> names the page; several are section headings (SQLite's docs), so <title> names it then.
    first_h1 = h1s[0] if len(h1s) == 1 else None
    if any(item.in_main for item in items):
        items = [item for item in items if item.in_main]
    # Merge list items and table rows into list and table blocks.
    merged: list[tuple[str, list[str], int, str | None]] = []
    for item in items:
        kind = {"li": "list", "tr": "table"}.get(item.kind, item.kind)
        body = normalize_text(item.text) if kind == "code" else collapse_blank_lines(normalize_text(item.text))
        if kind == "list":
            body = "- " + body.replace("\n", "\n  ")
        if not body.strip():
            continue
        if merged and kind in ("list", "table") and merged[-1][0] == kind:
            merged[-1][1].append(body)
        else:
            merged.append((kind, [body], item.level, item.anchor))
    parts: list[str] = []
    blocks: list[Block] = []
    outline = Outline()
    anchors: list[tuple[int, str | None]] = []  # (heading level, anchor) of the open headings
    offset = 0
    line = 1
    for kind, bodies, level, heading_anchor in merged:
        body = "\n".join(bodies)
        if parts:
            parts.append("\n\n")
            offset += 2
            line += 2
        end_line = line + body.count("\n")
        if kind == "heading":
            title = " ".join(body.split())
            path = outline.push(level, title)
            while anchors and anchors[-1][0] >= level:
                anchors.pop()
            anchors.append((level, heading_anchor))
            anchor = next((a for _, a in reversed(anchors) if a), None)
            block = Block("heading", body, path, line, end_line, offset, offset + len(body), level, anchor=anchor)
        else:
            block_kind: Any = kind
            anchor = next((a for _, a in reversed(anchors) if a), None)
            block = Block(block_kind, body, outline.path, line, end_line, offset, offset + len(body), anchor=anchor)
        blocks.append(block)
        parts.append(body)
        offset += len(body)
        line = end_line
    metadata = {key: value for key, value in parser.meta.items() if value}
    if parser.lang:
        metadata["lang"] = parser.lang
    page_title = " ".join("".join(parser.title_parts).split())
    if page_title:
        metadata["html_title"] = page_title
    title = (
        first_h1
        or page_title
        or metadata.get("og:title")
        or (h1s[0] if h1s else pick_title(blocks, None, stem_title(name)))
    )
    return ParsedDocument(
        title=" ".join(title.split()), doc_type="html", text="".join(parts), blocks=tuple(blocks), metadata=metadata
    )
