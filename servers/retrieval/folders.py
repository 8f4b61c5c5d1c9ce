"""Which files of a folder an ingest reads, and why it leaves the others alone.

A folder walk takes regular files only (a FIFO, socket or device is never opened: reading one can
block forever or never end), in a supported format, and by default leaves out what only adds noise
to a knowledge base:

* folders: hidden ones (``.git``), dependencies (``node_modules``, virtualenvs, ``site-packages``),
  build output (``build``, ``dist``, ``_build``, ``__pycache__``);
* files: stylesheets, scripts, minified files (``*.min.*``), source maps, lock files;
* other renderings of the same page: when one folder holds ``fs.md``, ``fs.html`` and ``fs.json.gz``,
  only the most source-like one is read (Markdown, then reStructuredText, plain text, HTML, PDF, JSON);
* aggregate pages (``all.html``, ``all.json``): one page that concatenates the folder's others.

Explicit ``include`` globs win over these defaults for the files they match; ``default_excludes=False``
turns the defaults off; ``exclude`` globs always apply. Every left-out file or folder is counted
under its reason so the ingest report can say what was not read.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mcp_suite.servers.retrieval.readers import detect_type
from mcp_suite.shared.errors import InvalidInputError

SkipReason = Literal[
    "excluded by pattern",
    "not matching include",
    "hidden",
    "dependency folder",
    "build output",
    "stylesheet",
    "script",
    "minified",
    "source map",
    "lock file",
    "other rendering",
    "aggregate page",
    "not a regular file",
    "broken link",
    "unsupported format",
]

_DEFAULT_DIRS: tuple[tuple[tuple[str, ...], SkipReason], ...] = (
    ((".*",), "hidden"),
    (("node_modules", "bower_components", "site-packages", "venv", ".venv", "vendor"), "dependency folder"),
    (("build", "dist", "_build", "__pycache__", "target"), "build output"),
)
# Order matters: style.min.css is counted as minified, not as a stylesheet.
_DEFAULT_FILES: tuple[tuple[tuple[str, ...], SkipReason], ...] = (
    (("*.min.*", "*-min.js"), "minified"),
    (("*.map",), "source map"),
    (("*.css", "*.scss", "*.sass", "*.less"), "stylesheet"),
    (("*.js", "*.mjs", "*.cjs"), "script"),
    (
        ("*.lock", "*.lockb", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "go.sum"),
        "lock file",
    ),
)
# Renderings of one page, most source-like first; a JSON file beside a page is taken as its API dump.
_RENDERING_RANK = {"markdown": 0, "rst": 1, "text": 2, "html": 3, "pdf": 4, "json": 5}
_AGGREGATE_STEMS = frozenset({"all", "singlehtml", "single-page", "onepage", "print"})
MAX_EXAMPLES = 3


@dataclass
class Skipped:
    """Files and folders a walk left out, counted per reason with the first few as examples."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: SkipReason, example: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < MAX_EXAMPLES:
            shown.append(example)

    def merge(self, other: Skipped) -> None:
        for reason, count in other.counts.items():
            self.counts[reason] = self.counts.get(reason, 0) + count
            shown = self.examples.setdefault(reason, [])
            shown.extend(other.examples.get(reason, [])[: MAX_EXAMPLES - len(shown)])

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class FolderRules:
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    default_excludes: bool = True


def matches(rel: str, patterns: Sequence[str]) -> bool:
    """Whether ``rel`` (a path relative to the walked folder) or its bare name matches one of the globs."""
    name = rel.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatch(rel, p)
        or fnmatch.fnmatch(name, p)
        or fnmatch.fnmatch(rel, p.rstrip("/") + "/*")
        or (p.endswith("/") and fnmatch.fnmatch(rel, p.rstrip("/")))  # "docs/" names the folder itself
        for p in patterns
    )


def _default_reason(name: str, table: tuple[tuple[tuple[str, ...], SkipReason], ...]) -> SkipReason | None:
    lowered = name.lower()
    for patterns, reason in table:
        if any(fnmatch.fnmatchcase(lowered, p) for p in patterns):
            return reason
    return None


def _named_by_include(rel: str, include: Sequence[str]) -> bool:
    """A default-excluded folder is still entered when an include glob names it (``build/*.md``)."""
    parts = rel.split("/")
    return any(any(part in p.split("/") for part in parts) for p in include)


def _rendering(name: str) -> tuple[str, int] | None:
    """(page key, preference rank) of a file that may be one rendering of a page, else None."""
    lowered = name.lower()
    bare = lowered[:-3] if lowered.endswith(".gz") else lowered
    stem, dot, suffix = bare.rpartition(".")
    if not dot or not stem:
        return None
    if suffix == "json":
        return stem, _RENDERING_RANK["json"]
    doc_type = detect_type(Path(bare))
    if doc_type is None or doc_type not in _RENDERING_RANK:
        return None
    return stem, _RENDERING_RANK[doc_type]


def _pick_renderings(rel_dir: str, names: list[str], rules: FolderRules, skipped: Skipped) -> list[str]:
    """Keep one rendering per page and drop aggregate pages, among the files chosen in one folder."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        found = _rendering(name)
        if found is not None:
            groups.setdefault(found[0], []).append((found[1], name))
    drop: dict[str, tuple[SkipReason, str]] = {}
    documents = sum(1 for key in groups if key not in _AGGREGATE_STEMS)
    for key, members in groups.items():
        members.sort()
        if key in _AGGREGATE_STEMS and documents >= 2:
            for _, name in members:
                drop[name] = ("aggregate page", f"{_rel(rel_dir, name)} (repeats the folder's other pages)")
            continue
        kept = members[0][1]
        for _, name in members[1:]:
            drop[name] = ("other rendering", f"{_rel(rel_dir, name)} ({kept} is read)")
    kept_names: list[str] = []
    for name in names:
        if name in drop and not matches(_rel(rel_dir, name), rules.include):
            reason, example = drop[name]
            skipped.add(reason, example)
        else:
            kept_names.append(name)
    return kept_names


def _rel(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"


def file_kind(mode: int) -> str:
    """A short name for a non-regular file type, for messages."""
    for test, label in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return label
    return "not a regular file"


def walk_folder(folder: Path, rules: FolderRules) -> tuple[list[Path], Skipped]:
    """The files under ``folder`` an ingest reads (sorted; symlinked folders are not followed), and what it
    left out. Patterns match the path relative to ``folder`` (``docs/*.md``) or the bare name (``*.md``)."""
    skipped = Skipped()
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(folder).as_posix()
        keep_dirs: list[str] = []
        for d in sorted(dirnames):
            rel = _rel(rel_dir, d)
            if matches(rel, rules.exclude):
                skipped.add("excluded by pattern", rel + "/")
                continue
            reason = _default_reason(d, _DEFAULT_DIRS) if rules.default_excludes else None
            if reason is None and not rules.default_excludes and d.startswith("."):
                reason = "hidden"  # .git and friends stay out even then; name one in include to read it
            if reason is not None and not _named_by_include(rel, rules.include):
                skipped.add(reason, rel + "/")
                continue
            keep_dirs.append(d)
        dirnames[:] = keep_dirs
        chosen: list[str] = []
        for name in sorted(filenames):
            rel = _rel(rel_dir, name)
            reason = _file_reason(base / name, rel, name, rules)
            if reason is not None:
                skipped.add(reason, rel)
            else:
                chosen.append(name)
        if rules.default_excludes:
            chosen = _pick_renderings(rel_dir, chosen, rules, skipped)
        files += [base / name for name in chosen]
    return files, skipped


def _file_reason(path: Path, rel: str, name: str, rules: FolderRules) -> SkipReason | None:
    try:
        mode = os.stat(path).st_mode  # stat never opens the file, so a FIFO cannot block here
    except OSError:
        return "broken link"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if matches(rel, rules.exclude):
        return "excluded by pattern"
    included = bool(rules.include) and matches(rel, rules.include)
    if rules.include and not included:
        return "not matching include"
    if included:
        return None
    if name.startswith("."):
        return "hidden"
    if rules.default_excludes and (reason := _default_reason(name, _DEFAULT_FILES)) is not None:
        return reason
    if detect_type(Path(name)) is None:
        return "unsupported format"
    return None


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so a FIFO or device put
    where a file was (even after the folder walk) is refused instead of blocking or streaming forever.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InvalidInputError(f"{path}: {file_kind(mode)}, not a regular file; only regular files are read")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise InvalidInputError(
            f"{path}: grew past the {limit / 1_048_576:g} MB file limit (--max-file-mb) while being read"
        )
    return data
