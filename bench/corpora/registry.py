"""The benchmark's corpora: where each comes from, how it is prepared, and the fixed tuned/unseen split.

Prepared corpora live in ``~/.cache/mcp-suite-bench/<name>-<fingerprint>/`` (``docs/`` as indexed,
plus ``questions.jsonl``); the fingerprint covers the generator code and the source package, so a
change to either prepares a new copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.corpora import conversations, docs, notes
from bench.corpora.common import DEFAULT_CAP, Question, read_questions, write_questions

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = Path(os.environ.get("MCP_SUITE_BENCH_CACHE", Path.home() / ".cache" / "mcp-suite-bench"))
SQLITE_QUESTIONS = REPO / "bench" / "data" / "sqlite_questions.jsonl"

Prepare = Callable[[Path, Path, int], list[Question]]


@dataclass(frozen=True)
class CorpusSpec:
    name: str
    fmt: str
    group: str  # "tuned" (weights may be chosen on it) or "unseen" (never tuned on)
    package: str  # the Debian package it comes from ("" for a synthetic corpus)
    source: Path  # the installed documentation
    include: tuple[str, ...]  # ingest patterns
    prepare: Prepare | None  # None: ingest ``source`` as shipped (the SQLite set)
    probe: str = ""  # a file that must exist under ``source``


def _conversations(_src: Path, out: Path, cap: int) -> list[Question]:
    return conversations.generate(out, cap)


def _notes(_src: Path, out: Path, cap: int) -> list[Question]:
    return notes.generate(out, cap)


CORPORA: tuple[CorpusSpec, ...] = (
    CorpusSpec(
        "sqlite", "HTML", "tuned", "sqlite3-doc", Path("/usr/share/doc/sqlite3"), ("*.html",), None, "lang_select.html"
    ),
    CorpusSpec(
        "postgres",
        "HTML",
        "tuned",
        "postgresql-doc-15",
        Path("/usr/share/doc/postgresql-doc-15/html"),
        ("*.html",),
        docs.prepare_postgres,
        "sql-select.html",
    ),
    CorpusSpec(
        "conversations", "Markdown chat logs", "tuned", "", Path("."), ("*.md",), _conversations
    ),
    CorpusSpec(
        "git", "AsciiDoc text", "unseen", "git-doc", Path("/usr/share/doc/git-doc"), ("*.txt",), docs.prepare_git,
        "git-add.txt",
    ),
    CorpusSpec(
        "nodejs", "Markdown", "unseen", "nodejs-doc", Path("/usr/share/doc/nodejs/api"), ("*.md",),
        docs.prepare_nodejs, "fs.md.gz",
    ),
    CorpusSpec(
        "policy", "reStructuredText", "unseen", "debian-policy",
        Path("/usr/share/doc/debian-policy/policy.html/_sources"), ("*.rst",), docs.prepare_policy,
        "ch-binary.rst.txt",
    ),
    CorpusSpec("notes", "Markdown notes", "unseen", "", Path("."), ("*.md",), _notes),
)  # fmt: skip
BY_NAME = {c.name: c for c in CORPORA}


def available(spec: CorpusSpec) -> bool:
    return spec.package == "" or (spec.source / spec.probe).is_file()


def install_hint(specs: list[CorpusSpec]) -> str:
    packages = " ".join(s.package for s in specs if s.package)
    return f"apt-get update && apt-get install -y {packages}"


def _fingerprint(spec: CorpusSpec) -> str:
    h = hashlib.sha256()
    for path in sorted(HERE.glob("*.py")):
        h.update(path.read_bytes())
    if spec.package:
        probe = spec.source / spec.probe
        h.update(f"{probe}:{probe.stat().st_size}:{probe.stat().st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def prepared(spec: CorpusSpec, cache: Path = CACHE) -> tuple[Path, list[Question]]:
    """The folder to ingest and the questions for ``spec`` (preparing them into the cache if needed)."""
    if spec.prepare is None:
        return spec.source, sqlite_questions()
    # One folder per generator version, filled in a scratch folder and renamed into place: runs from
    # different branches (or two at once) on one machine never see each other's half-written files.
    fingerprint = _fingerprint(spec)
    root = cache / f"{spec.name}-{fingerprint}"
    if not (root / "stamp.json").is_file():
        cache.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=cache))
        try:
            (scratch / "docs").mkdir()
            questions = spec.prepare(spec.source, scratch / "docs", DEFAULT_CAP)
            write_questions(scratch / "questions.jsonl", questions)
            (scratch / "stamp.json").write_text(json.dumps({"fingerprint": fingerprint, "questions": len(questions)}))
            with contextlib.suppress(OSError):  # another run finished first: use its copy
                scratch.rename(root)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return root / "docs", read_questions(root / "questions.jsonl")


def sqlite_questions() -> list[Question]:
    out = []
    for n, line in enumerate(SQLITE_QUESTIONS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row.get("expected_text")
        spans = [text] if isinstance(text, str) else list(text or [])
        out.append(
            Question(
                id=f"sqlite:{row.get('id') or n}",
                query=row["query"],
                source=row["expected_source"],
                snippets=spans,
                rule="handwritten",
            )
        )
    return out
