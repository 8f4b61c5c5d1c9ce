"""Reference-documentation corpora from Debian doc packages, with questions generated from their structure.

Rules (fixed; the same for every corpus, applied before anyone looks at results):

* **heading** — every section whose cleaned heading (no number, markup or trailing colon) occurs
  once in the corpus and whose body has at least 200 characters becomes a candidate: the heading
  is turned into a question by :func:`common.heading_question`, the heading is removed from the
  indexed copy (HTML: the heading element, the page ``<title>`` when it repeats the heading, and
  links whose text is the heading), and the answering passage is the first 1,500 characters of
  the section's body (up to the next heading of any level).
* **glossary** — a glossary entry (PostgreSQL's ``glossary.html``, git's ``glossary-content.txt``)
  becomes "What does TERM mean?"; the term is removed, the definition is the answer.
* **name-line** — a git command page's NAME line ``git-foo - Do something`` becomes "Which command
  do I use to do something?"; the description is removed from the NAME line (the command name
  stays) and the answer is the DESCRIPTION section.

Candidates are pooled per corpus and a seeded sample of at most ``cap`` is kept; only the sampled
questions' headings are removed (the rest of each document is left as shipped).
"""

from __future__ import annotations

import gzip
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpora.common import (
    MIN_SECTION_CHARS,
    Question,
    clean_heading,
    clip,
    glossary_question,
    heading_question,
    sample,
    unique_by,
)
from bench.corpora.sections import (
    Section,
    asciidoc_sections,
    html_drop_links,
    html_drop_title,
    html_sections,
    html_text,
    html_title,
    markdown_sections,
    rst_sections,
)

Reader = Callable[[str], list[Section]]


@dataclass
class Candidate:
    key: str  # uniqueness key: a candidate whose key repeats in the corpus is dropped
    question: Question
    spans: list[tuple[int, int]]  # raw spans removed from the indexed copy
    replacement: str = ""  # text put in place of the first span (e.g. the bare command name)


@dataclass
class Doc:
    rel: str  # path written in the prepared folder
    raw: str
    candidates: list[Candidate] = field(default_factory=list)


def heading_key(text: str) -> str:
    return " ".join(clean_heading(text).casefold().split())


def heading_candidates(corpus: str, doc: Doc, reader: Reader, rng: random.Random) -> Iterable[Candidate]:
    for n, sec in enumerate(reader(doc.raw)):
        question = heading_question(sec.heading, rng)
        if question is None:
            continue
        body_ok = len(sec.body) >= MIN_SECTION_CHARS
        q = Question(
            id=f"{corpus}:{doc.rel}#h{n}", query=question, source=doc.rel, answer=clip(sec.body), rule="heading"
        )
        # Short sections still count for uniqueness (their heading is in the corpus) but never make a question.
        yield Candidate(heading_key(sec.heading), q if body_ok else _VOID_QUESTION, [(sec.start, sec.end)])


_VOID_QUESTION = Question(id="", query="", source="")


def choose(corpus: str, docs: list[Doc], cap: int) -> list[Candidate]:
    """Pool every document's candidates, keep those with a unique key, sample ``cap`` with a fixed seed."""
    pool = [c for d in docs for c in d.candidates]
    unique_ids = {q.id for q in unique_by((c.key, c.question) for c in pool)}
    by_id = {c.question.id: c for c in pool if c.question.id and c.question.id in unique_ids}
    chosen = sample([c.question for c in by_id.values()], cap, seed=f"{corpus}-questions")
    return [by_id[q.id] for q in chosen]


def write(out: Path, docs: list[Doc], chosen: list[Candidate], *, html: bool = False) -> list[Question]:
    spans: dict[str, list[Candidate]] = {}
    for c in chosen:
        spans.setdefault(c.question.source, []).append(c)
    removed = {heading_key(html_text(d.raw[s:e])) for d in docs for c in spans.get(d.rel, []) for s, e in c.spans}
    removed |= {c.key for c in chosen if not c.key.startswith(("glossary:", "name:"))}
    for d in docs:
        text = d.raw
        mine = spans.get(d.rel, [])
        if mine:
            cut: list[tuple[int, int]] = [s for c in mine for s in c.spans]
            repl = {c.spans[0][0]: c.replacement for c in mine if c.replacement}
            text = _replace_spans(text, cut, repl)
            if html and heading_key(html_title(d.raw)) in {c.key for c in mine}:
                text = html_drop_title(text)
        if html:
            text = html_drop_links(text, removed, heading_key)
        target = out / d.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return [c.question for c in chosen]


def _replace_spans(raw: str, spans: list[tuple[int, int]], repl: dict[int, str]) -> str:
    """``raw`` without ``spans`` (their newlines kept), or with ``repl[start]`` in place of a span."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(raw[pos:start])
        out.append(repl.get(start, "\n" * raw.count("\n", start, end)))
        pos = end
    out.append(raw[pos:])
    return "".join(out)


def _read(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------------
# The corpora


def prepare_postgres(src: Path, out: Path, cap: int) -> list[Question]:
    rng = random.Random("postgres-templates")
    docs = [Doc(p.name, _read(p)) for p in sorted(src.glob("*.html"))]
    for d in docs:
        d.candidates.extend(heading_candidates("postgres", d, html_sections, rng))
        if d.rel == "glossary.html":
            d.candidates.extend(_html_glossary("postgres", d))
    chosen = choose("postgres", docs, cap)
    return write(out, docs, chosen, html=True)


_GLOSS_DT = re.compile(r"<dt\b[^>]*>(.*?)</dt>\s*<dd\b[^>]*>(.*?)</dd>", re.S | re.I)


def _html_glossary(corpus: str, doc: Doc) -> Iterable[Candidate]:
    for n, m in enumerate(_GLOSS_DT.finditer(doc.raw)):
        term, definition = html_text(m.group(1)), html_text(m.group(2))
        if len(definition) < 80 or definition.startswith("See "):
            continue
        q = Question(
            id=f"{corpus}:{doc.rel}#g{n}",
            query=glossary_question(term),
            source=doc.rel,
            answer=clip(definition),
            rule="glossary",
        )
        yield Candidate("glossary:" + heading_key(term), q, [(m.start(1), m.end(1))])


_GIT_NAME = re.compile(r"^NAME\n-+\n(git[\w-]*|scalar)\s+-\s+(.+)$", re.M)
_GIT_GLOSS = re.compile(r"^\[\[def_\w+\]\](.+?)::\n((?:[ \t]+.*\n|\n(?=[ \t]))+)", re.M)


def prepare_git(src: Path, out: Path, cap: int) -> list[Question]:
    """git's AsciiDoc sources (``*.txt``), without the generated command lists ``cmds-*.txt``."""
    rng = random.Random("git-templates")
    files = sorted(
        p for p in src.rglob("*.txt") if not p.name.startswith("cmds-") and p.name != "RelNotes" and p.is_file()
    )
    docs = [Doc(str(p.relative_to(src)), _read(p)) for p in files]
    for d in docs:
        d.candidates.extend(heading_candidates("git", d, asciidoc_sections, rng))
        m = _GIT_NAME.search(d.raw) if d.rel.startswith("git-") else None  # commands, not concept pages
        if m:
            description = [s for s in asciidoc_sections(d.raw) if s.heading == "DESCRIPTION"]
            if description and len(description[0].body) >= MIN_SECTION_CHARS:
                q = Question(
                    id=f"git:{d.rel}#name",
                    query=name_question(m.group(2)),
                    source=d.rel,
                    answer=clip(description[0].body),
                    rule="name-line",
                )
                d.candidates.append(Candidate("name:" + m.group(1), q, [(m.start(1), m.end(2))], m.group(1)))
        for n, g in enumerate(_GIT_GLOSS.finditer(d.raw)):
            definition = " ".join(g.group(2).split())
            if len(definition) < 80:
                continue
            q = Question(
                id=f"git:{d.rel}#g{n}",
                query=glossary_question(g.group(1)),
                source=d.rel,
                answer=clip(definition),
                rule="glossary",
            )
            d.candidates.append(Candidate("glossary:" + heading_key(g.group(1)), q, [(g.start(), g.start(2))]))
    chosen = choose("git", docs, cap)
    return write(out, docs, chosen)


# Leading words of git's NAME descriptions that are not verbs (a fixed grammar list, not a results filter).
_NOT_VERBS = frozenset(
    [
        "a",
        "an",
        "the",
        "common",
        "simple",
        "graphical",
        "restricted",
        "bidirectional",
        "backend",
        "server",
        "helper",
        "git",
        "git's",
    ]
)


def name_question(description: str) -> str:
    """A command's NAME description as a "which command" question.

    ``Add file contents to the index`` -> "Which command do I use to add file contents to the index?";
    a third-person verb is put in the base form first (``Creates`` -> ``create``, ``Applies`` ->
    ``apply``); a description that starts with a noun phrase becomes "Which command is …?".
    """
    d = " ".join(description.strip().rstrip(".").split())
    first, _, rest = d.partition(" ")
    word = first.rstrip(",").lower()
    if word in _NOT_VERBS:
        return f"Which command is {d[0].lower() + d[1:] if word != 'git' else d}?"
    if word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    comma = "," if first.endswith(",") else ""
    return f"Which command do I use to {word}{comma} {rest}?".replace(" ?", "?")


def prepare_nodejs(src: Path, out: Path, cap: int) -> list[Question]:
    rng = random.Random("nodejs-templates")
    files = sorted(p for p in src.iterdir() if p.name.endswith((".md", ".md.gz")))
    docs = [Doc(p.name.removesuffix(".gz"), _read(p)) for p in files]
    for d in docs:
        d.candidates.extend(heading_candidates("nodejs", d, markdown_sections, rng))
    chosen = choose("nodejs", docs, cap)
    return write(out, docs, chosen)


def prepare_policy(src: Path, out: Path, cap: int) -> list[Question]:
    """The Debian Policy's reStructuredText sources (``_sources/*.rst.txt``), written as ``*.rst``."""
    rng = random.Random("policy-templates")
    files = sorted(src.glob("*.rst.txt"))
    docs = [Doc(p.name.removesuffix(".txt"), _read(p)) for p in files]
    for d in docs:
        d.candidates.extend(heading_candidates("policy", d, rst_sections, rng))
    chosen = choose("policy", docs, cap)
    return write(out, docs, chosen)
