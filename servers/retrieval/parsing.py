"""Readers: turn the bytes of a file or a fetched page into a :class:`ParsedDocument`.

Supported formats: Markdown, reStructuredText, plain text, HTML, source code and PDF. Every reader
produces clean text plus :class:`Block` values (heading, paragraph, list, code, table) whose heading
path, 1-based line span and character span point into ``ParsedDocument.text``; ``block.text`` is
always exactly ``doc.text[block.start_char:block.end_char]``.

Line-based formats (Markdown, reStructuredText, text, code) keep the file's lines as they are (only
Unicode and whitespace hygiene is applied, see :mod:`mcp_suite.servers.retrieval.cleaning`), so a cited line
span matches the file in an editor. Markdown front matter stays in the text but becomes metadata, not
a block. HTML and PDF are reduced to extracted text with collapsed blank lines.

Limits: a document larger than :data:`MAX_DOCUMENT_BYTES` (20 MB) is refused with
:class:`DocumentTooLargeError`; binary data and unknown formats with :class:`UnsupportedFormatError`.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from mcp_suite.servers.retrieval.cleaning import collapse_blank_lines, decode, dehyphenate, looks_binary, normalize_text
from mcp_suite.servers.retrieval.documents import Block, DocType, ParsedDocument
from mcp_suite.shared.errors import InvalidInputError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
"""Largest document accepted, in bytes (characters for :func:`parse_text`)."""


class UnsupportedFormatError(InvalidInputError):
    """The data is binary junk or in a format no reader understands."""


class DocumentTooLargeError(InvalidInputError):
    """The document exceeds :data:`MAX_DOCUMENT_BYTES`."""


# --------------------------------------------------------------------------------------------------
# Type detection

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd", ".mkdn", ".mdx"})
RST_SUFFIXES = frozenset({".rst", ".rest"})
TEXT_SUFFIXES = frozenset({".txt", ".text", ".log", ".csv", ".tsv", ".org", ".adoc", ".asciidoc"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
CODE_LANGUAGES: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".m": "objective-c", ".sh": "shell", ".bash": "shell",
    ".zsh": "shell", ".fish": "shell", ".ps1": "powershell", ".sql": "sql", ".lua": "lua", ".pl": "perl",
    ".r": "r", ".jl": "julia", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell",
    ".ml": "ocaml", ".clj": "clojure", ".dart": "dart", ".vue": "vue", ".svelte": "svelte", ".css": "css",
    ".scss": "scss", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonl": "json",
    ".ini": "ini", ".cfg": "ini", ".conf": "ini", ".xml": "xml", ".proto": "protobuf", ".graphql": "graphql",
    ".tf": "hcl", ".nix": "nix", ".cmake": "cmake", ".mk": "make", ".gradle": "groovy",
}  # fmt: skip
CODE_FILE_NAMES: dict[str, str] = {
    "makefile": "make", "gnumakefile": "make", "dockerfile": "dockerfile", "containerfile": "dockerfile",
    "justfile": "just", "rakefile": "ruby", "gemfile": "ruby", "cmakelists.txt": "cmake",
}  # fmt: skip
TEXT_FILE_NAMES = frozenset(
    {"readme", "license", "licence", "copying", "changes", "changelog", "news", "authors", "install", "todo",
     "notice", "contributing", "history", "thanks", "bugs", "faq"}
)  # fmt: skip
_SHEBANG_LANGUAGES = {"python": "python", "node": "javascript", "bash": "shell", "sh": "shell", "ruby": "ruby",
                      "perl": "perl", "zsh": "shell"}  # fmt: skip
_CONTENT_TYPES: dict[str, DocType] = {
    "text/markdown": "markdown", "text/x-markdown": "markdown", "text/x-rst": "rst", "text/prs.fallenstein.rst": "rst",
    "text/plain": "text", "text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf",
    "application/json": "code", "application/x-yaml": "code", "application/yaml": "code", "text/x-python": "code",
    "application/javascript": "code", "text/javascript": "code", "text/csv": "text", "application/xml": "code",
    "text/xml": "code",
}  # fmt: skip


def _suffix_type(path: PurePosixPath | Path) -> DocType | None:
    suffix = path.suffix.lower()
    if suffix == ".gz":  # Debian ships most docs gzipped: README.md.gz reads as Markdown
        return _suffix_type(path.with_suffix("")) if path.stem and path.stem != path.name else None
    name = path.name.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in RST_SUFFIXES:
        return "rst"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix == ".pdf":
        return "pdf"
    if name in CODE_FILE_NAMES or suffix in CODE_LANGUAGES:
        return "code"
    if suffix in TEXT_SUFFIXES or name in TEXT_FILE_NAMES or path.stem.lower() in TEXT_FILE_NAMES:
        return "text"
    return None


def _sniff(data: bytes) -> DocType | None:
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if looks_binary(data):
        return None
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]:
        return "html"
    if head.startswith(b"#!"):
        return "code"
    return "text"


def detect_type(path: Path | PurePosixPath, data: bytes | None = None) -> DocType | None:
    """The document type of ``path``: by its suffix or well-known name, else by sniffing ``data``.

    Returns None for unsupported formats: unknown suffixes when no data is given, and data that looks
    binary (a text suffix on binary content is also None). A PDF signature wins over any suffix.
    """
    by_name = _suffix_type(path)
    if data is None:
        return by_name
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if by_name == "pdf":
        return None  # a .pdf without the PDF signature is junk
    if by_name is not None:
        return None if looks_binary(data) else by_name
    return _sniff(data)


def type_for_content_type(content_type: str | None) -> DocType | None:
    """Map an HTTP ``Content-Type`` (parameters ignored) to a document type, or None if unknown."""
    if not content_type:
        return None
    return _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())


def _name_path(name: str) -> PurePosixPath:
    """The path part of a file name or URL, for suffix detection and the title fallback."""
    if "://" in name:
        return PurePosixPath(unquote(urlparse(name).path) or "/")
    return PurePosixPath(name.replace("\\", "/"))


def _stem_title(name: str) -> str:
    path = _name_path(name)
    stem = path.stem if path.name else ""
    if not stem and "://" in name:
        stem = urlparse(name).netloc
    return stem or name


# --------------------------------------------------------------------------------------------------
# Public entry points


def parse_file(path: Path) -> ParsedDocument:
    """Read and parse a file; refuses files above :data:`MAX_DOCUMENT_BYTES` before reading them."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(_too_large(str(path), size))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_bytes(data, name=str(path))


def parse_bytes(
    data: bytes, *, name: str, doc_type: DocType | None = None, encoding: str | None = None
) -> ParsedDocument:
    """Parse raw bytes. ``name`` (a file name or URL) drives type detection and the title fallback;
    ``encoding`` is an optional hint (e.g. the charset of an HTTP response)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(_too_large(name, len(data)))
    if data[:2] == b"\x1f\x8b" and name.lower().endswith(".gz"):
        data = _gunzip(data, name)
        name = name[:-3]
    if doc_type is None:
        doc_type = detect_type(_name_path(name), data)
        expected = _suffix_type(_name_path(name))
        if doc_type is None and expected not in (None, "pdf"):
            raise UnsupportedFormatError(f"{name}: looks like binary data, not a {expected} document; nothing was read")
        if doc_type is None:
            raise UnsupportedFormatError(
                f"{name}: unsupported format or binary data; supported are Markdown, reStructuredText, "
                "plain text, HTML, source code and PDF"
            )
    if doc_type == "pdf":
        return _parse_pdf(data, name)
    if looks_binary(data):
        raise UnsupportedFormatError(f"{name}: looks like binary data, not a {doc_type} document; nothing was read")
    text = decode(data, encoding=encoding, html=doc_type == "html")
    return parse_text(text, name=name, doc_type=doc_type)


def parse_text(text: str, *, name: str, doc_type: DocType | None = None) -> ParsedDocument:
    """Parse text that is already decoded (e.g. raw text given to the server with a source name)."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(_too_large(name, len(text)))
    if doc_type is None:
        doc_type = _suffix_type(_name_path(name)) or _sniff(text[:2048].encode("utf-8", "replace"))
    if doc_type is None:
        raise UnsupportedFormatError(f"{name}: unsupported format")
    if doc_type == "pdf":
        raise UnsupportedFormatError(f"{name}: a PDF must be given as bytes (parse_bytes or parse_file), not text")
    if doc_type == "html":
        return _parse_html(text, name)
    text = normalize_text(text)
    if doc_type == "markdown":
        return _parse_markdown(text, name)
    if doc_type == "rst":
        return _parse_rst(text, name)
    if doc_type == "code":
        return _parse_code(text, name)
    return _parse_plain(text, name)


def _gunzip(data: bytes, name: str) -> bytes:
    """Decompress a ``.gz`` document, refusing to inflate past the document limit (zip bombs)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, MAX_DOCUMENT_BYTES + 1)
    except zlib.error as exc:
        raise UnsupportedFormatError(f"{name}: corrupt gzip data ({exc})") from exc
    if len(out) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLargeError(_too_large(name, len(out)) + " (after decompression)")
    if not inflater.eof:
        raise UnsupportedFormatError(f"{name}: corrupt gzip data (truncated stream)")
    return out


def _too_large(name: str, size: int) -> str:
    return (
        f"{name}: {size / 1_048_576:.1f} MB exceeds the {MAX_DOCUMENT_BYTES // 1_048_576} MB document limit; "
        "split it into smaller files"
    )


# --------------------------------------------------------------------------------------------------
# Shared machinery for line-based readers


class _Outline:
    """The stack of open headings; ``path`` is the heading path of the current position."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._stack)


class _LineDoc:
    """Builds blocks from line ranges of a text whose lines are kept as they are."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1
        self.blocks: list[Block] = []
        self.outline = _Outline()

    def add(self, kind: Any, first: int, last: int, *, level: int = 0, title: str | None = None) -> None:
        """Add lines ``first..last`` (0-based, inclusive) as a block, trimming blank edge lines."""
        while first < last and not self.lines[first].strip():
            first += 1
        while last > first and not self.lines[last].strip():
            last -= 1
        if not self.lines[first].strip() and first == last:
            return
        start = self.starts[first]
        end = self.starts[last] + len(self.lines[last])
        # Leading indentation of the first line is not part of a prose block's text.
        if kind != "code":
            start += len(self.lines[first]) - len(self.lines[first].lstrip())
        path = self.outline.push(level, title) if kind == "heading" and title is not None else self.outline.path
        self.blocks.append(
            Block(kind, self.text[start:end], path, first + 1, last + 1, start, end, level if kind == "heading" else 0)
        )


_INLINE_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|!?\[([^\]]*)\]\[[^\]]*\]")
_INLINE_MARKUP = re.compile(r"(\*\*|__|\*|`+|~~|<[^>]+>)")
_HEADING_ATTRS = re.compile(r"\s*\{#[^}]*\}\s*$")


def _plain_inline(text: str) -> str:
    """Heading text without Markdown/HTML inline markup."""
    text = _INLINE_LINK.sub(lambda m: m.group(1) or m.group(2) or "", text)
    text = _HEADING_ATTRS.sub("", text)
    text = _INLINE_MARKUP.sub("", text)
    return " ".join(text.split())


def _title(blocks: Iterable[Block], explicit: str | None, fallback: str) -> str:
    """An explicit title (front matter, docinfo) first, then the first level-1 heading, then the first
    heading of any level, then the fallback (usually the file stem)."""
    headings = [b for b in blocks if b.kind == "heading" and b.heading_path]
    top = next((b.heading_path[-1] for b in headings if b.level == 1), None)
    first = headings[0].heading_path[-1] if headings else None
    for candidate in (explicit, top, first, fallback):
        if candidate and candidate.strip():
            return " ".join(candidate.split())
    return "untitled"


# --------------------------------------------------------------------------------------------------
# Markdown

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HRULE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_DELIM = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def _list_marker(line: str) -> str | None:
    """The kind of list marker a top-level item uses ("-", "*", "+", "." or ")"), None if not an item."""
    if line[:1] in (" ", "\t") or not _LIST_ITEM.match(line):
        return None
    return line[0] if not line[0].isdigit() else line.lstrip("0123456789")[:1]


def _md_block_start(line: str, next_line: str | None) -> bool:
    return bool(
        _FENCE.match(line)
        or _ATX.match(line)
        or _HRULE.match(line)
        or _LIST_ITEM.match(line)
        or ("|" in line and next_line is not None and "-" in next_line and _TABLE_DELIM.match(next_line))
    )


def _front_matter(raw: str) -> dict[str, str] | None:
    import yaml  # lazy: only documents with front matter need it

    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
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


def _parse_markdown(text: str, name: str) -> ParsedDocument:
    doc = _LineDoc(text)
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
            title = _plain_inline(atx.group(2) or "")
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
        if _LIST_ITEM.match(line):
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
                if _LIST_ITEM.match(current):
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
            title = _plain_inline(" ".join(lines[k].strip() for k in range(i, j)))
            doc.add("heading", i, j, level=heading_level, title=title)
            i = j + 1
        else:
            doc.add("paragraph", i, j - 1)
            i = j
        prev_blank = False
    title = _title(doc.blocks, metadata.get("title"), _stem_title(name))
    return ParsedDocument(title=title, doc_type="markdown", text=text, blocks=tuple(doc.blocks), metadata=metadata)


# --------------------------------------------------------------------------------------------------
# reStructuredText

_RST_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.!$%&,/;?@\\|])\1{2,}[ \t]*$")
_RST_DIRECTIVE = re.compile(r"^\.\.[ \t]+([\w:.+-]+)::(?:[ \t]+(.*))?$")
_RST_COMMENT = re.compile(r"^\.\.(?:[ \t]|$)")
_RST_LIST = re.compile(r"^[ \t]*(?:[-*+•]|\d+[.)]|#\.|\(\d+\)|[a-zA-Z][.)])[ \t]+")
_RST_GRID = re.compile(r"^[ \t]*\+[-=+]+\+[ \t]*$")
_RST_SIMPLE_TABLE = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")
_RST_FIELD = re.compile(r"^:([\w][\w \-]*):[ \t]*(.*)$")
_RST_CODE_DIRECTIVES = frozenset({"code", "code-block", "sourcecode", "literalinclude", "doctest", "testcode", "math"})
# Directives with no prose worth indexing.
_RST_SKIP_DIRECTIVES = frozenset(
    {"toctree", "image", "figure", "contents", "include", "highlight", "index", "raw", "meta", "only",
     "automodule", "autoclass", "autofunction", "currentmodule", "module", "sectnum", "default-role", "role",
     "tabularcolumns", "csv-table", "list-table"}
)  # fmt: skip


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


def _parse_rst(text: str, name: str) -> ParsedDocument:
    doc = _LineDoc(text)
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
            title = lines[i + 1].strip()
            doc.add("heading", i, i + 2, level=level_of((stripped[0], True)), title=title)
            i += 3
            continue
        if (
            line[:1] not in (" ", "\t")
            and _RST_ADORN.match(nxt)
            and len(nxt.strip()) >= min(len(stripped), 3)
            and not _RST_ADORN.match(line)
        ):
            doc.add("heading", i, i + 1, level=level_of((nxt.strip()[0], False)), title=stripped)
            i += 2
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
            elif kind not in _RST_SKIP_DIRECTIVES and end - 1 > i:
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
    title = _title(doc.blocks, metadata.get("title"), _stem_title(name))
    return ParsedDocument(title=title, doc_type="rst", text=text, blocks=tuple(doc.blocks), metadata=metadata)


# --------------------------------------------------------------------------------------------------
# Plain text

_TEXT_UNDERLINE = re.compile(r"^[ \t]*([=\-~*#])\1{2,}[ \t]*$")


def _parse_plain(text: str, name: str) -> ParsedDocument:
    """Paragraphs by blank lines; underlined lines, a short first line and short ALL-CAPS lines are headings."""
    doc = _LineDoc(text)
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
        elif all(_LIST_ITEM.match(line) for line in lines[i:j]):
            doc.add("list", i, j - 1)
        else:
            doc.add("paragraph", i, j - 1)
        i, first = j, False
    title = _title(doc.blocks, None, _stem_title(name))
    return ParsedDocument(title=title, doc_type="text", text=text, blocks=tuple(doc.blocks))


# --------------------------------------------------------------------------------------------------
# Source code

_DEFINITION = re.compile(
    r"^(?:export\s+|pub(?:\([\w:]+\))?\s+|public\s+|private\s+|protected\s+|static\s+|abstract\s+|final\s+|"
    r"async\s+|default\s+|unsafe\s+)*"
    r"(?:def|class|function|func|fn|struct|enum|interface|trait|impl|module|type|const|let|var|CREATE\s+\w+)"
    r"\s+(?:\([^)]*\)\s*)?([A-Za-z_][\w.]*)",
    re.I,
)


def _code_language(name: str, text: str) -> str | None:
    path = _name_path(name)
    language = CODE_LANGUAGES.get(path.suffix.lower()) or CODE_FILE_NAMES.get(path.name.lower())
    if language is None and text.startswith("#!"):
        interpreter = text.split("\n", 1)[0].split("/")[-1].split()
        if interpreter:
            word = interpreter[-1] if interpreter[0] == "env" and len(interpreter) > 1 else interpreter[0]
            language = _SHEBANG_LANGUAGES.get(re.sub(r"[\d.]+$", "", word))
    return language


def _parse_code(text: str, name: str) -> ParsedDocument:
    """Blocks are top-level units: a new block starts at a column-0 line after a blank line, so a function
    with blank lines inside its (indented) body stays whole. Heading paths stay empty; a block that starts
    with a definition records it as the block's heading path."""
    doc = _LineDoc(text)
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
        title=_stem_title(name) if not _name_path(name).suffix else _name_path(name).name,
        doc_type="code",
        text=text,
        blocks=tuple(doc.blocks),
        language=_code_language(name, text),
    )


# --------------------------------------------------------------------------------------------------
# HTML

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


@dataclass
class _Open:
    tag: str
    skip: bool
    main: bool


class _HtmlExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Open] = []
        self.items: list[_HtmlItem] = []
        self.buffer: list[str] = []
        self.title_parts: list[str] = []
        self.meta: dict[str, str] = {}
        self.lang: str | None = None
        self.in_title = False

    # state helpers
    def _skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1].skip

    def _in_main(self) -> bool:
        return bool(self.stack) and self.stack[-1].main

    def _context(self) -> tuple[str, int]:
        for open_ in reversed(self.stack):
            if open_.tag == "pre":
                return "code", 0
            if len(open_.tag) == 2 and open_.tag[0] == "h" and open_.tag[1] in "123456":
                return "heading", int(open_.tag[1])
            if open_.tag in ("li", "dd", "dt"):
                return "li", 0
            if open_.tag == "tr":
                return "tr", 0
        return "paragraph", 0

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
        self.items.append(_HtmlItem(kind, text, level, self._in_main()))

    # parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
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
        if tag in _HTML_VOID:
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
        self.stack.append(_Open(tag, skip, main))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        if tag in _HTML_VOID or not any(open_.tag == tag for open_ in self.stack):
            return
        if (tag in _HTML_BLOCK or tag in ("td", "th")) and not self._skipping() and tag not in ("td", "th"):
            self.flush()
        while self.stack:
            open_ = self.stack.pop()
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


def _parse_html(text: str, name: str) -> ParsedDocument:
    parser = _HtmlExtractor()
    parser.feed(text)
    parser.close()
    parser.stack.clear()
    parser.flush()
    items = parser.items
    h1s = [item.text for item in items if item.kind == "heading" and item.level == 1]
    # One <h1> names the page; several are section headings (SQLite's docs), so <title> names it then.
    first_h1 = h1s[0] if len(h1s) == 1 else None
    if any(item.in_main for item in items):
        items = [item for item in items if item.in_main]
    # Merge list items and table rows into list and table blocks.
    merged: list[tuple[str, list[str], int]] = []
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
            merged.append((kind, [body], item.level))
    parts: list[str] = []
    blocks: list[Block] = []
    outline = _Outline()
    offset = 0
    line = 1
    for kind, bodies, level in merged:
        body = "\n".join(bodies)
        if parts:
            parts.append("\n\n")
            offset += 2
            line += 2
        end_line = line + body.count("\n")
        if kind == "heading":
            title = " ".join(body.split())
            path = outline.push(level, title)
            block = Block("heading", body, path, line, end_line, offset, offset + len(body), level)
        else:
            block_kind: Any = kind
            block = Block(block_kind, body, outline.path, line, end_line, offset, offset + len(body))
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
        or (h1s[0] if h1s else _title(blocks, None, _stem_title(name)))
    )
    return ParsedDocument(
        title=" ".join(title.split()), doc_type="html", text="".join(parts), blocks=tuple(blocks), metadata=metadata
    )


# --------------------------------------------------------------------------------------------------
# PDF

_JUNK_PDF_TITLES = re.compile(r"^(untitled|microsoft word - .*|document\d*|\s*)$", re.I)


def _parse_pdf(data: bytes, name: str) -> ParsedDocument:
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
        title=title or _stem_title(name), doc_type="pdf", text=text, blocks=tuple(blocks), metadata=metadata
    )
