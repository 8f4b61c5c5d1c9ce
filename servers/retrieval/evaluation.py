"""Retrieval evaluation: datasets of queries with known answers, and the metrics that score a search.

This is the retrieval leg of the RAG triad as a feature: a user writes a JSONL file of queries, each
naming the source (path suffix, glob or URL) and optionally a text span that an answering chunk must
contain, and :func:`evaluate` runs every query through each search mode and reports recall@k,
precision@k, MRR@10, nDCG@k and hit rate, plus each case's ranks so failing queries are visible.

The module knows nothing about storage or the protocol: :func:`evaluate` takes any ``search``
callable returning objects with ``.source`` and ``.text`` (:class:`Hit`).

Relevance is binary. A hit is relevant when its source matches ``expected_source`` and, if given,
its text contains ``expected_text`` (or one of them, when a list; case- and whitespace-insensitive).
A case may have several relevant chunks; how many exist is estimated by pooling (as TREC does): the distinct relevant
chunks that any evaluated mode retrieved, unless the case states ``relevant_count``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mcp_suite.shared.errors import InvalidInputError

MRR_DEPTH = 10  # MRR is reported at a fixed depth so it is comparable across k
MAX_ERRORS_SHOWN = 10


class Hit(Protocol):
    """What a search result must offer to be scored: where it came from and what it says."""

    @property
    def source(self) -> str: ...

    @property
    def text(self) -> str: ...


SearchFn = Callable[[str, int, str], Awaitable[Sequence[Hit]]]
"""``search(query, k, mode)`` returning the top ``k`` hits, best first."""


class EvalCase(BaseModel):
    """One query and what counts as a relevant answer to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1, description="The question, as a user would ask it.")
    expected_source: str = Field(
        min_length=1,
        description=(
            "Which source answers it: a path suffix ('docs/lang.html'), a glob ('*/lang_*.html') or a URL. "
            "A hit from any other source is not relevant."
        ),
    )
    expected_text: str | list[str] | None = Field(
        default=None,
        description="A span an answering chunk must contain (case and whitespace are ignored), or a list of "
        "spans of which it must contain one (when several passages answer). Without it, any chunk of the source "
        "counts.",
    )
    relevant_count: int | None = Field(
        default=None,
        ge=1,
        description="How many chunks are relevant, if known; otherwise estimated by pooling the modes' results.",
    )
    id: str | None = Field(default=None, description="A name for the case in reports; defaults to its line number.")

    @field_validator("query", "expected_source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("expected_text")
    @classmethod
    def _text_not_blank(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None:
            return None
        spans = [value] if isinstance(value, str) else value
        if not spans or not all(_normalise(span) for span in spans):
            raise ValueError("must not be blank or empty; leave it out to accept any chunk of the source")
        return value

    @property
    def expected_spans(self) -> list[str]:
        """The acceptable spans (empty: any chunk of the source is relevant)."""
        if self.expected_text is None:
            return []
        return [self.expected_text] if isinstance(self.expected_text, str) else list(self.expected_text)


# ---------------------------------------------------------------------------------------------
# Dataset loading


def load_dataset(path_or_text: str | Path) -> list[EvalCase]:
    """Read evaluation cases from a JSONL file or from JSONL text.

    A string holding a newline or starting with ``{`` is JSONL text; any other string, or a
    :class:`~pathlib.Path`, names a file.
    Blank lines and lines starting with ``#`` are skipped. Every bad line is reported with its
    number in one :class:`InvalidInputError`, so a user can fix the file in one pass.
    """
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and not path_or_text.lstrip().startswith("{")):
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInputError(f"evaluation dataset {str(path)!r} does not exist; give a JSONL file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read evaluation dataset {str(path)!r}: {exc}") from None
    else:
        text = path_or_text
    return parse_dataset(text)


def parse_dataset(text: str) -> list[EvalCase]:
    """Parse JSONL text into cases (see :func:`load_dataset`)."""
    cases: list[EvalCase] = []
    errors: list[str] = []
    seen_ids: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(data, dict):
            errors.append(f'line {lineno}: expected a JSON object like {{"query": ..., "expected_source": ...}}')
            continue
        data.setdefault("id", f"line {lineno}")
        try:
            case = EvalCase.model_validate(data)
        except ValidationError as exc:
            errors.append(f"line {lineno}: {_describe(exc)}")
            continue
        assert case.id is not None
        if case.id in seen_ids:
            errors.append(f"line {lineno}: id {case.id!r} was already used on line {seen_ids[case.id]}")
            continue
        seen_ids[case.id] = lineno
        cases.append(case)
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n… and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise InvalidInputError("invalid evaluation dataset:\n" + "\n".join(shown) + more)
    if not cases:
        raise InvalidInputError(
            "evaluation dataset has no cases; write one JSON object per line: "
            '{"query": "...", "expected_source": "..."}'
        )
    return cases


def dataset_hash(cases: Sequence[EvalCase]) -> str:
    """A short fingerprint of the cases, so stored runs over the same questions can be told apart."""
    text = json.dumps([c.model_dump(mode="json") for c in cases], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "case"
        if err["type"] == "missing":
            parts.append(f"field {field!r} is required")
        elif err["type"] == "extra_forbidden":
            parts.append(f"unknown field {field!r} (allowed: {', '.join(EvalCase.model_fields)})")
        else:
            parts.append(f"field {field!r}: {err['msg']}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Relevance


_WS = re.compile(r"\s+")


def _normalise(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


def _normalise_source(source: str) -> str:
    source = source.strip().replace("\\", "/")
    if source.startswith("file://"):
        source = source[len("file://") :]
    return source


def source_matches(expected: str, source: str) -> bool:
    """Whether a hit's ``source`` is the one ``expected`` names.

    URLs must match exactly (a trailing slash and a ``#fragment`` are ignored); a pattern with
    ``*``, ``?`` or ``[`` is a glob matched against the whole source or any trailing part of it;
    anything else is a path suffix that must end on a path-segment boundary (``lang.html`` matches
    ``/docs/lang.html`` but not ``/docs/xlang.html``).
    """
    expected = _normalise_source(expected)
    source = _normalise_source(source)
    if "://" in expected:
        return _strip_url(expected) == _strip_url(source)
    if any(ch in expected for ch in "*?["):
        return fnmatch.fnmatchcase(source, expected) or fnmatch.fnmatchcase(source, "*/" + expected.lstrip("/"))
    expected = expected.removeprefix("./")
    return source == expected or source.endswith("/" + expected.lstrip("/"))


def _strip_url(url: str) -> str:
    return url.split("#", 1)[0].rstrip("/")


def is_relevant(case: EvalCase, hit: Hit) -> bool:
    """Binary relevance of one hit for one case."""
    if not source_matches(case.expected_source, hit.source):
        return False
    spans = case.expected_spans
    if not spans:
        return True
    text = _normalise(hit.text)
    return any(_normalise(span) in text for span in spans)


# ---------------------------------------------------------------------------------------------
# Metrics: pure functions over a ranked list of binary relevance judgements (best first).


def first_relevant_rank(relevance: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant result, or None."""
    for rank, relevant in enumerate(relevance, start=1):
        if relevant:
            return rank
    return None


def hit_rate_at_k(relevance: Sequence[bool], k: int) -> float:
    """1.0 if any of the top ``k`` is relevant."""
    return 1.0 if any(relevance[:k]) else 0.0


def precision_at_k(relevance: Sequence[bool], k: int) -> float:
    """Relevant results among the top ``k``, divided by ``k`` (a short result list is not rewarded)."""
    return sum(relevance[:k]) / k


def recall_at_k(relevance: Sequence[bool], k: int, n_relevant: int) -> float:
    """Relevant results among the top ``k``, divided by ``min(n_relevant, k)``.

    Capped at ``k`` (as BEIR's R_cap does) so a case with more relevant chunks than ``k`` can still
    reach 1.0; with one relevant chunk it equals the hit rate. 0.0 when nothing is relevant.
    """
    if n_relevant <= 0:
        return 0.0
    return sum(relevance[:k]) / min(n_relevant, k)


def reciprocal_rank(relevance: Sequence[bool], depth: int = MRR_DEPTH) -> float:
    """1/rank of the first relevant result within ``depth``, else 0.0 (averaged over cases: MRR)."""
    rank = first_relevant_rank(relevance[:depth])
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at_k(relevance: Sequence[bool], k: int, n_relevant: int) -> float:
    """Normalised discounted cumulative gain with binary gains.

    DCG = Σ rel_i / log2(i + 1) over the top ``k``; the ideal ranking puts ``min(n_relevant, k)``
    relevant results first.
    """
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(n_relevant, k) + 1))
    if ideal == 0.0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevance[:k], start=1) if rel)
    return dcg / ideal


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (``pct`` in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * pct / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# ---------------------------------------------------------------------------------------------
# Reports


class CaseModeResult(BaseModel):
    """How one mode did on one case."""

    rank: int | None = Field(description=f"1-based rank of the first relevant hit within {MRR_DEPTH}, or null.")
    relevant_ranks: list[int] = Field(description="Ranks of every relevant hit returned.")
    recall: float
    precision: float
    reciprocal_rank: float
    ndcg: float
    top_sources: list[str] = Field(description="Sources of the first three hits, to see what came instead.")


class CaseReport(BaseModel):
    """One case across all modes."""

    id: str
    query: str
    expected_source: str
    expected_text: str | list[str] | None = None
    relevant_count: int = Field(description="Relevant chunks assumed to exist (stated, or pooled across modes).")
    modes: dict[str, CaseModeResult]


class ModeReport(BaseModel):
    """Averages over all cases for one search mode."""

    mode: str
    recall: float = Field(description="Mean recall@k (capped at k).")
    precision: float = Field(description="Mean precision@k.")
    mrr: float = Field(description=f"Mean reciprocal rank at depth {MRR_DEPTH}.")
    ndcg: float = Field(description="Mean nDCG@k.")
    hit_rate: float = Field(description="Share of cases with a relevant hit in the top k.")
    misses: int = Field(description="Cases with no relevant hit in the top k.")
    median_latency_ms: float = Field(description="Median time per search call (the first call may load the index).")


class EvalReport(BaseModel):
    """The result of :func:`evaluate`."""

    k: int
    case_count: int
    modes: list[ModeReport]
    cases: list[CaseReport]

    def mode(self, name: str) -> ModeReport:
        for report in self.modes:
            if report.mode == name:
                return report
        raise KeyError(name)

    def to_markdown(self, *, failures: int = 20) -> str:
        return render_markdown(self, failures=failures)


async def evaluate(
    cases: Sequence[EvalCase],
    search: SearchFn,
    *,
    modes: Sequence[str] = ("lexical", "semantic", "hybrid"),
    k: int = 5,
) -> EvalReport:
    """Run every case through ``search`` in each mode and score the rankings.

    ``search`` is asked for ``max(k, 10)`` hits so MRR@10 is measured even when ``k`` is smaller.
    Searches run one after another: latency is reported and concurrent calls would distort it.
    Errors raised by ``search`` (e.g. a mode the index cannot serve) propagate to the caller.
    """
    if not cases:
        raise InvalidInputError("no evaluation cases given; the dataset needs at least one query")
    if not modes:
        raise InvalidInputError("no search modes given; use any of lexical, semantic, hybrid")
    if len(set(modes)) != len(modes):
        raise InvalidInputError(f"search modes repeat: {list(modes)}; name each mode once")
    if not 1 <= k <= 100:
        raise InvalidInputError(f"k must be between 1 and 100, got {k}")
    depth = max(k, MRR_DEPTH)

    relevance: dict[str, list[list[bool]]] = {mode: [] for mode in modes}
    top_sources: dict[str, list[list[str]]] = {mode: [] for mode in modes}
    pooled: list[set[object]] = [set() for _ in cases]
    latency: dict[str, list[float]] = {mode: [] for mode in modes}
    for mode in modes:
        for i, case in enumerate(cases):
            started = time.perf_counter()
            hits = list(await search(case.query, depth, mode))[:depth]
            latency[mode].append(time.perf_counter() - started)
            judged = [is_relevant(case, hit) for hit in hits]
            relevance[mode].append(judged)
            top_sources[mode].append([hit.source for hit in hits[:3]])
            pooled[i].update(_hit_key(hit) for hit, rel in zip(hits, judged, strict=True) if rel)

    case_reports: list[CaseReport] = []
    for i, case in enumerate(cases):
        n_relevant = case.relevant_count or max(1, len(pooled[i]))
        per_mode = {}
        for mode in modes:
            rel = relevance[mode][i]
            per_mode[mode] = CaseModeResult(
                rank=first_relevant_rank(rel[:MRR_DEPTH]),
                relevant_ranks=[r for r, flag in enumerate(rel, start=1) if flag],
                recall=recall_at_k(rel, k, n_relevant),
                precision=precision_at_k(rel, k),
                reciprocal_rank=reciprocal_rank(rel),
                ndcg=ndcg_at_k(rel, k, n_relevant),
                top_sources=top_sources[mode][i],
            )
        case_reports.append(
            CaseReport(
                id=case.id or f"case {i + 1}",
                query=case.query,
                expected_source=case.expected_source,
                expected_text=case.expected_text,
                relevant_count=n_relevant,
                modes=per_mode,
            )
        )

    mode_reports = []
    n = len(cases)
    for mode in modes:
        results = [c.modes[mode] for c in case_reports]
        hits_at_k = [hit_rate_at_k(relevance[mode][i], k) for i in range(n)]
        mode_reports.append(
            ModeReport(
                mode=mode,
                recall=sum(r.recall for r in results) / n,
                precision=sum(r.precision for r in results) / n,
                mrr=sum(r.reciprocal_rank for r in results) / n,
                ndcg=sum(r.ndcg for r in results) / n,
                hit_rate=sum(hits_at_k) / n,
                misses=sum(1 for h in hits_at_k if h == 0.0),
                median_latency_ms=1000 * percentile(latency[mode], 50),
            )
        )
    return EvalReport(k=k, case_count=n, modes=mode_reports, cases=case_reports)


def _hit_key(hit: Hit) -> object:
    # Chunks are told apart by id when the hit carries one, else by where they are and what they say.
    chunk_id = getattr(hit, "chunk_id", None) or getattr(hit, "id", None)
    return ("id", chunk_id) if chunk_id is not None else ("text", hit.source, hit.text)


def render_markdown(report: EvalReport, *, failures: int = 20) -> str:
    """The report as Markdown: one row per mode, then up to ``failures`` cases some mode missed."""
    k = report.k
    lines = [
        f"Retrieval evaluation: {report.case_count} queries, k = {k}",
        "",
        f"| mode | recall@{k} | precision@{k} | MRR@{MRR_DEPTH} | nDCG@{k} | hit rate@{k} | misses | median ms/query |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in report.modes:
        lines.append(
            f"| {m.mode} | {m.recall:.3f} | {m.precision:.3f} | {m.mrr:.3f} | {m.ndcg:.3f} | {m.hit_rate:.3f} "
            f"| {m.misses} | {m.median_latency_ms:.1f} |"
        )
    missed = [c for c in report.cases if any(r.rank is None or r.rank > k for r in c.modes.values())]
    if missed and failures > 0:
        names = [m.mode for m in report.modes]
        lines += [
            "",
            f"Queries without a relevant hit in the top {k} in some mode ({len(missed)}; rank within {MRR_DEPTH}, "
            "'-' = not found):",
            "",
            "| id | query | expected source | " + " | ".join(names) + " |",
            "|---|---|---|" + "---:|" * len(names),
        ]
        for case in missed[:failures]:
            ranks = " | ".join(_rank_cell(case.modes[name].rank) for name in names)
            lines.append(f"| {_cell(case.id)} | {_cell(case.query)} | {_cell(case.expected_source)} | {ranks} |")
        if len(missed) > failures:
            lines.append(f"\n… and {len(missed) - failures} more.")
    return "\n".join(lines) + "\n"


def _rank_cell(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
