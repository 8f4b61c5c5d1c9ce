"""Retrieval evaluation: dataset parsing, relevance, hand-computed metrics and the evaluate loop."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcp_suite.servers.retrieval.evaluation import (
    EvalCase,
    evaluate,
    hit_rate_at_k,
    is_relevant,
    load_dataset,
    ndcg_at_k,
    percentile,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    render_markdown,
    source_matches,
)
from mcp_suite.shared.errors import InvalidInputError

# --- metrics, computed by hand -------------------------------------------------------------------

T, F = True, False


def test_precision_divides_by_k_even_for_short_lists() -> None:
    assert precision_at_k([F, T, F, T, F], 5) == pytest.approx(2 / 5)
    assert precision_at_k([T], 5) == pytest.approx(1 / 5)
    assert precision_at_k([F, T, T], 1) == 0.0


def test_recall_is_capped_at_k() -> None:
    # 3 relevant exist, 2 found in top 5 -> 2/3
    assert recall_at_k([F, T, F, T, F, T], 5, 3) == pytest.approx(2 / 3)
    # 8 relevant exist but only 2 fit in top 2 -> capped denominator 2
    assert recall_at_k([T, T, F], 2, 8) == 1.0
    assert recall_at_k([F, F], 5, 1) == 0.0
    assert recall_at_k([T], 5, 0) == 0.0


def test_reciprocal_rank_stops_at_depth() -> None:
    assert reciprocal_rank([F, F, T]) == pytest.approx(1 / 3)
    assert reciprocal_rank([T, T]) == 1.0
    assert reciprocal_rank([F] * 10 + [T]) == 0.0  # rank 11 is beyond MRR@10
    assert reciprocal_rank([F, F, T], depth=2) == 0.0


def test_ndcg_single_and_multiple_relevant() -> None:
    # one relevant at rank 2: DCG = 1/log2(3), IDCG = 1
    assert ndcg_at_k([F, T, F], 5, 1) == pytest.approx(1 / math.log2(3))
    # two relevant at ranks 1 and 3 of 2 existing: (1 + 1/2) / (1 + 1/log2 3)
    assert ndcg_at_k([T, F, T], 5, 2) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
    # relevant beyond k does not count
    assert ndcg_at_k([F, F, T], 2, 1) == 0.0
    assert ndcg_at_k([T, T], 2, 2) == pytest.approx(1.0)
    assert ndcg_at_k([], 5, 1) == 0.0


def test_hit_rate_and_percentile() -> None:
    assert hit_rate_at_k([F, F, T], 3) == 1.0
    assert hit_rate_at_k([F, F, T], 2) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 95) == 5.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)


# --- relevance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeHit:
    source: str
    text: str


def test_source_matching_suffix_glob_and_url() -> None:
    assert source_matches("lang.html", "/usr/share/doc/sqlite3-doc/lang.html")
    assert source_matches("doc/lang.html", "/usr/share/doc/lang.html")
    assert not source_matches("lang.html", "/usr/share/doc/xlang.html")
    assert source_matches("./lang.html", "lang.html")
    assert source_matches("lang.html", "file:///docs/lang.html")
    assert source_matches(r"docs\lang.html", "C:/x/docs/lang.html")
    assert source_matches("lang_*.html", "/docs/lang_select.html")
    assert not source_matches("lang_*.html", "/docs/pragma.html")
    assert source_matches("https://example.com/a/", "https://example.com/a#intro")
    assert not source_matches("https://example.com/a", "https://example.com/b")


def test_relevance_needs_source_and_text() -> None:
    case = EvalCase(query="q", expected_source="a.md", expected_text="Write-Ahead   LOG")
    assert is_relevant(case, FakeHit("/x/a.md", "the write-ahead\nlog is"))
    assert not is_relevant(case, FakeHit("/x/b.md", "the write-ahead log is"))
    assert not is_relevant(case, FakeHit("/x/a.md", "rollback journal"))
    assert is_relevant(EvalCase(query="q", expected_source="a.md"), FakeHit("/x/a.md", "anything"))
    either = EvalCase(query="q", expected_source="a.md", expected_text=["savepoint", "nested  transactions"])
    assert is_relevant(either, FakeHit("/x/a.md", "rules for Nested transactions"))
    assert not is_relevant(either, FakeHit("/x/a.md", "rollback"))


# --- dataset loading -----------------------------------------------------------------------------


def test_load_dataset_from_text_and_file(tmp_path: Path) -> None:
    text = (
        '{"query": "how do I vacuum?", "expected_source": "lang_vacuum.html", "id": "vac"}\n'
        "\n# comment lines are skipped\n"
        '{"query": "wal mode", "expected_source": "wal.html", "expected_text": "write-ahead log"}\n'
    )
    cases = load_dataset(text)
    assert [c.id for c in cases] == ["vac", "line 4"]
    assert cases[1].expected_text == "write-ahead log"
    path = tmp_path / "cases.jsonl"
    path.write_text(text, encoding="utf-8")
    assert load_dataset(path) == cases
    assert load_dataset(str(path)) == cases


def test_load_dataset_reports_every_bad_line() -> None:
    text = (
        '{"query": "ok", "expected_source": "a.md"}\n'
        '{"query": "broken", \n'
        '{"expected_source": "a.md"}\n'
        '{"query": "x", "expected_source": "a.md", "expected_souce": "typo"}\n'
        "[1, 2]\n"
        '{"query": "   ", "expected_source": "a.md"}\n'
        '{"query": "dup", "expected_source": "a.md", "id": "line 1"}\n'
        '{"query": "q", "expected_source": "a.md", "expected_text": []}\n'
    )
    with pytest.raises(InvalidInputError) as info:
        load_dataset(text)
    message = str(info.value)
    assert "line 2: not valid JSON" in message
    assert "line 3: field 'query' is required" in message
    assert "line 4: unknown field 'expected_souce'" in message
    assert "line 5: expected a JSON object" in message
    assert "line 6: field 'query': Value error, must not be blank" in message
    assert "line 7: id 'line 1' was already used on line 1" in message
    assert "line 8: field 'expected_text'" in message
    assert "line 1:" not in message


def test_load_dataset_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="no cases"):
        load_dataset("# only a comment\n\n")
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_dataset(tmp_path / "missing.jsonl")


# --- evaluate ------------------------------------------------------------------------------------

CORPUS = {
    "lexical": {
        "wal": [FakeHit("/d/wal.html", "WAL is a write-ahead log"), FakeHit("/d/x.html", "junk")],
        "vacuum": [FakeHit("/d/x.html", "junk")] * 3 + [FakeHit("/d/vacuum.html", "VACUUM rebuilds")],
        "fts": [],
    },
    "hybrid": {
        "wal": [FakeHit("/d/x.html", "junk"), FakeHit("/d/wal.html", "WAL is a write-ahead log")],
        "vacuum": [FakeHit("/d/vacuum.html", "VACUUM rebuilds"), FakeHit("/d/vacuum.html", "VACUUM INTO")],
        "fts": [FakeHit("/d/fts5.html", "full-text")],
    },
}


async def fake_search(query: str, k: int, mode: str) -> list[FakeHit]:
    assert k == 10  # asked deep enough for MRR@10
    return CORPUS[mode][query][:k]


@pytest.mark.anyio
async def test_evaluate_scores_each_mode_and_case() -> None:
    cases = [
        EvalCase(query="wal", expected_source="wal.html", expected_text="write-ahead log", id="wal"),
        EvalCase(query="vacuum", expected_source="vacuum.html", id="vacuum"),
        EvalCase(query="fts", expected_source="fts5.html", id="fts"),
    ]
    report = await evaluate(cases, fake_search, modes=("lexical", "hybrid"), k=3)
    lexical, hybrid = report.mode("lexical"), report.mode("hybrid")

    # lexical: wal at rank 1; vacuum at rank 4 (outside k=3, inside MRR@10); fts nothing
    assert lexical.hit_rate == pytest.approx(1 / 3)
    assert lexical.misses == 2
    assert lexical.mrr == pytest.approx((1 + 1 / 4 + 0) / 3)
    assert lexical.precision == pytest.approx((1 / 3 + 0 + 0) / 3)
    # pooled: vacuum has 2 relevant chunks (seen by hybrid) -> lexical recall 0 there
    assert lexical.recall == pytest.approx((1 + 0 + 0) / 3)

    # hybrid: wal at 2; vacuum at 1 and 2 (both relevant chunks); fts at 1
    assert hybrid.hit_rate == 1.0
    assert hybrid.mrr == pytest.approx((1 / 2 + 1 + 1) / 3)
    assert hybrid.recall == 1.0
    assert hybrid.precision == pytest.approx((1 / 3 + 2 / 3 + 1 / 3) / 3)
    assert hybrid.ndcg == pytest.approx((1 / math.log2(3) + 1 + 1) / 3)

    by_id = {c.id: c for c in report.cases}
    assert by_id["vacuum"].relevant_count == 2
    assert by_id["vacuum"].modes["lexical"].rank == 4
    assert by_id["vacuum"].modes["hybrid"].relevant_ranks == [1, 2]
    assert by_id["fts"].modes["lexical"].rank is None
    assert by_id["wal"].modes["hybrid"].top_sources == ["/d/x.html", "/d/wal.html"]

    table = render_markdown(report)
    assert "| lexical | 0.333 |" in table
    assert "| hybrid | 1.000 |" in table
    assert "| fts | fts | fts5.html | - | 1 |" in table
    assert "| vacuum | vacuum | vacuum.html | 4 | 1 |" in table
    assert "| wal |" not in table.split("Queries without")[1]


@pytest.mark.anyio
async def test_evaluate_stated_relevant_count_overrides_pooling() -> None:
    cases = [EvalCase(query="fts", expected_source="fts5.html", relevant_count=2)]
    report = await evaluate(cases, fake_search, modes=("hybrid",), k=3)
    assert report.mode("hybrid").recall == pytest.approx(1 / 2)
    assert report.mode("hybrid").ndcg == pytest.approx(1 / (1 + 1 / math.log2(3)))


@pytest.mark.anyio
async def test_evaluate_rejects_bad_arguments() -> None:
    case = [EvalCase(query="wal", expected_source="wal.html")]
    with pytest.raises(InvalidInputError, match="k must be between 1 and 100"):
        await evaluate(case, fake_search, k=0)
    with pytest.raises(InvalidInputError, match="no search modes"):
        await evaluate(case, fake_search, modes=())
    with pytest.raises(InvalidInputError, match="repeat"):
        await evaluate(case, fake_search, modes=("hybrid", "hybrid"))
    with pytest.raises(InvalidInputError, match="at least one query"):
        await evaluate([], fake_search)


# --- the benchmark's question set ------------------------------------------------------------------

BENCH_QUESTIONS = Path(__file__).resolve().parents[2] / "bench" / "data" / "sqlite_questions.jsonl"
SQLITE_DOCS = Path("/usr/share/doc/sqlite3")


def test_benchmark_questions_load() -> None:
    cases = load_dataset(BENCH_QUESTIONS)
    assert len(cases) >= 60
    assert all(c.expected_spans for c in cases)  # every question names its answering passage


@pytest.mark.skipif(not (SQLITE_DOCS / "wal.html").is_file(), reason="needs the Debian package sqlite3-doc")
def test_benchmark_passages_survive_parsing() -> None:
    """Each expected passage occurs in the text the server indexes for its page (guards parser changes)."""
    import re

    from mcp_suite.servers.retrieval.readers import parse_file

    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", text).strip().casefold()

    pages: dict[str, str] = {}
    missing = []
    for case in load_dataset(BENCH_QUESTIONS):
        if case.expected_source not in pages:
            pages[case.expected_source] = norm(parse_file(SQLITE_DOCS / case.expected_source).text)
        missing += [(case.id, s) for s in case.expected_spans if norm(s) not in pages[case.expected_source]]
    assert missing == []
