"""What every benchmark corpus shares: the question record, the relevance rule and the question templates.

A corpus is prepared once into a cache folder (the documents as they are indexed, plus
``questions.jsonl``); the benchmark then ingests that folder into our server and into the naive
baseline and asks every question of both.

Relevance (the same rule for every mode, our server and the baseline): a retrieved chunk is relevant
when it comes from the answering document (same path relative to the corpus folder) **and** either

* it contains one of the answer snippets (``snippets``; whitespace and case ignored) — the rule of the
  hand-written SQLite set, or
* it overlaps the answering passage (``answer``): at least ``min(3, n)`` of the answer's word
  5-grams occur in the chunk, where ``n`` is how many 5-grams the answer has (words are runs of
  letters and digits, case-folded, so markup and the chunker's whitespace do not matter); an
  answer of fewer than five words must occur whole.

Chunkers differ (ours vs the baseline's windows), so relevance never looks at chunk ids or line
numbers: only at the source file and the text the chunk carries.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

SHINGLE = 5
MIN_SHARED = 3
ANSWER_CHARS = 1500  # the answering passage of a section: its first 1,500 characters
MIN_SECTION_CHARS = 200  # sections with less body text than this make no question
DEFAULT_CAP = 300
# Spelled out rather than calendar.month_name, which follows the locale: generated corpora must not.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_WS = re.compile(r"\s+")


@dataclass
class Question:
    id: str
    query: str
    source: str  # path of the answering document, relative to the corpus folder
    answer: str = ""  # the answering passage (its words are matched by 5-gram overlap)
    snippets: list[str] = field(default_factory=list)  # or spans of which an answering chunk must contain one
    rule: str = ""  # which generation rule made it (heading, glossary, name-line, fact, handwritten)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Question:
        return cls(**json.loads(line))


def words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def shingles(text: str, n: int = SHINGLE) -> set[tuple[str, ...]]:
    w = words(text)
    if len(w) < n:
        return {tuple(w)} if w else set()
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


def normalise_text(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


@dataclass
class Judge:
    """Relevance of hits for one question (precomputes the answer's shingles)."""

    question: Question
    _shingles: set[tuple[str, ...]] = field(default_factory=set)
    _n: int = SHINGLE

    def __post_init__(self) -> None:
        if self.question.answer:
            # An answer shorter than five words ("Recommended by Isla Murray") is matched as a whole.
            self._n = max(1, min(SHINGLE, len(words(self.question.answer))))
            self._shingles = shingles(self.question.answer, self._n)

    def relevant(self, source: str, text: str) -> bool:
        if not same_source(self.question.source, source):
            return False
        if self.question.snippets:
            flat = normalise_text(text)
            if any(normalise_text(s) in flat for s in self.question.snippets):
                return True
        if self._shingles:
            need = min(MIN_SHARED, len(self._shingles))
            return len(self._shingles & shingles(text, self._n)) >= need
        return False


def same_source(expected: str, source: str) -> bool:
    """``source`` (an absolute path or a path relative to the corpus) names the file ``expected``."""
    source = source.replace("\\", "/").removeprefix("file://")
    expected = expected.replace("\\", "/").lstrip("./")
    return source == expected or source.endswith("/" + expected)


def clip(text: str, limit: int = ANSWER_CHARS) -> str:
    """The first ``limit`` characters of ``text``, cut at a word boundary."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit]


# ---------------------------------------------------------------------------------------------
# Headings turned into questions: one fixed rule for every documentation corpus.

# "9.7.1. ", "F.35.2. ", "Chapter 8. ", "Part II. ": section numbers, never words of the question.
_NUMBER = re.compile(
    r"^\s*(?:(?i:chapter|part|appendix|section)\s+)?(?:[A-Z](?:\.\d+)*\.|[IVX]+\.|\d+(?:\.\d+)*\.?)(?:\s+|$)"
)
_CALL = re.compile(r"^(?:new\s+)?([\w$.\[\]'\"]+?)\s*\(.*\)\s*$")
_GENERIC = (
    "What should I know about {h}?",
    "Can you explain {h}?",
    "Tell me about {h}.",
    "How does {h} work?",
)


def clean_heading(text: str) -> str:
    """A heading's plain text: no section number, markup characters or trailing colon."""
    text = _WS.sub(" ", text).strip()
    text = _NUMBER.sub("", text)
    text = text.replace("`", "").replace("*", "").strip()
    return text.rstrip(":").strip()


def _lower_first(text: str) -> str:
    """Sentence case for a heading inside a question: an all-caps heading of several words is lowered,
    and so is every capitalised word (``Closing a Connection`` -> ``closing a connection``); acronyms
    and code (``LIKE``, ``ERR_INVALID_ARG``) stay."""
    if text.isupper() and " " in text:
        return text.lower()
    return " ".join(w.lower() if re.fullmatch(r"[A-Z][a-z]+", w) else w for w in text.split(" "))


def heading_question(heading: str, rng: random.Random) -> str | None:
    """The question a heading asks (None when the heading carries no words to ask with)."""
    h = clean_heading(heading)
    if len(h) < 3 or not words(h):  # "I", "A": letters of a back-of-book index
        return None
    lower = h.casefold()
    if lower.startswith("how to "):
        return f"How do I {h[7:].strip()}?"
    if lower.startswith("class: "):
        return f"What is the {h[7:].strip()} class for?"
    if lower.startswith("event: "):
        return f"When is the {h[7:].strip()} event emitted?"
    call = _CALL.match(h)
    if call and " " not in call.group(1):
        return f"What does {call.group(1)}() do?"
    first = h.split()[0]
    if len(first) > 4 and first.endswith("ing") and first[0].isupper():
        return f"How do I go about {_lower_first(h)}?"
    return rng.choice(_GENERIC).format(h=_lower_first(h))


def glossary_question(term: str) -> str:
    return f"What does {clean_heading(term)} mean?"


def sample(questions: Sequence[Question], cap: int, seed: str) -> list[Question]:
    """A seeded sample of at most ``cap`` questions, in a stable order."""
    pool = sorted(questions, key=lambda q: q.id)
    if len(pool) > cap:
        pool = random.Random(seed).sample(pool, cap)
    return sorted(pool, key=lambda q: q.id)


def unique_by(items: Iterable[tuple[str, Question]]) -> list[Question]:
    """Questions whose key (a normalised heading or term) occurs once in the corpus."""
    seen: dict[str, list[Question]] = {}
    for key, q in items:
        seen.setdefault(key, []).append(q)
    return [qs[0] for qs in seen.values() if len(qs) == 1]


def write_questions(path: Path, questions: Sequence[Question]) -> None:
    path.write_text("".join(q.to_json() + "\n" for q in questions), encoding="utf-8")


def read_questions(path: Path) -> list[Question]:
    return [Question.from_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
