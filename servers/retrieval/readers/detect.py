"""Type detection: a document's type from its name (suffix or well-known file name), its leading bytes,
or an HTTP ``Content-Type``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from mcp_suite.servers.retrieval.cleaning import looks_binary
from mcp_suite.servers.retrieval.documents import DocType

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
SHEBANG_LANGUAGES = {"python": "python", "node": "javascript", "bash": "shell", "sh": "shell", "ruby": "ruby",
                      "perl": "perl", "zsh": "shell"}  # fmt: skip
_CONTENT_TYPES: dict[str, DocType] = {
    "text/markdown": "markdown", "text/x-markdown": "markdown", "text/x-rst": "rst", "text/prs.fallenstein.rst": "rst",
    "text/plain": "text", "text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf",
    "application/json": "code", "application/x-yaml": "code", "application/yaml": "code", "text/x-python": "code",
    "application/javascript": "code", "text/javascript": "code", "text/csv": "text", "application/xml": "code",
    "text/xml": "code",
}  # fmt: skip


def suffix_type(path: PurePosixPath | Path) -> DocType | None:
    suffix = path.suffix.lower()
    if suffix == ".gz":  # Debian ships most docs gzipped: README.md.gz reads as Markdown
        return suffix_type(path.with_suffix("")) if path.stem and path.stem != path.name else None
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


def sniff(data: bytes) -> DocType | None:
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
    by_name = suffix_type(path)
    if data is None:
        return by_name
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if by_name == "pdf":
        return None  # a .pdf without the PDF signature is junk
    if by_name is not None:
        return None if looks_binary(data) else by_name
    return sniff(data)


def type_for_content_type(content_type: str | None) -> DocType | None:
    """Map an HTTP ``Content-Type`` (parameters ignored) to a document type, or None if unknown."""
    if not content_type:
        return None
    return _CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())


def name_path(name: str) -> PurePosixPath:
    """The path part of a file name or URL, for suffix detection and the title fallback."""
    if "://" in name:
        return PurePosixPath(unquote(urlparse(name).path) or "/")
    return PurePosixPath(name.replace("\\", "/"))


def stem_title(name: str) -> str:
    path = name_path(name)
    stem = path.stem if path.name else ""
    if not stem and "://" in name:
        stem = urlparse(name).netloc
    return stem or name
