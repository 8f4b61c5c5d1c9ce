"""The quality benchmark's fixed rules on small fixture documents: questions from structure, headings
removed from the indexed copy, answers recorded, relevance judged by source and text overlap."""

from __future__ import annotations

from pathlib import Path

from bench.baseline import WINDOW, rrf, windows
from bench.corpora import conversations, docs, notes
from bench.corpora.common import Judge, Question, heading_question, read_questions, shingles, write_questions
from bench.quality_bench import first_rank, has_duplicate, metrics, sign_test

LOREM = (
    "The archive keeps every package signed by the release team, and mirrors copy it twice a day. "
    "Clients verify the signature before they trust any index file they download from a mirror. "
)


def _md(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    (src / "a.md").write_text(
        "# Guide\n\nIntro.\n\n## Signing the archive\n\n" + LOREM * 3 + "\n## Examples\n\n" + LOREM * 3
        + "\n## Tiny\n\nToo short.\n",
        encoding="utf-8",
    )  # fmt: skip
    (src / "b.md").write_text("# Other\n\n## Examples\n\n" + "Other words entirely. " * 20 + "\n", encoding="utf-8")
    return src


def test_markdown_heading_becomes_question_and_leaves_the_indexed_copy(tmp_path: Path) -> None:
    out = tmp_path / "out"
    questions = docs.prepare_nodejs(_md(tmp_path), out, cap=50)

    asked = {q.query: q for q in questions}
    assert "How do I go about signing the archive?" in asked
    q = asked["How do I go about signing the archive?"]
    assert q.source == "a.md" and q.rule == "heading"
    assert q.answer.startswith("The archive keeps every package signed")
    # "Examples" occurs in two documents, "Tiny" has too little body, "Guide"/"Other" have too little too.
    assert not any("examples" in text.casefold() or "tiny" in text.casefold() for text in asked)
    indexed = (out / "a.md").read_text(encoding="utf-8")
    assert "Signing the archive" not in indexed
    assert "## Examples" in indexed  # headings that make no question stay as shipped
    original = (tmp_path / "src" / "a.md").read_text(encoding="utf-8")
    assert indexed.count("\n") == original.count("\n")  # line numbers hold
    assert LOREM.strip() in indexed


def test_rst_and_asciidoc_titles_are_removed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    body = LOREM * 3
    (src / "ch-x.rst.txt").write_text(
        f"Chapter\n=======\n\nShort.\n\n.. _s1:\n\nThe package name\n----------------\n\n{body}\n", encoding="utf-8"
    )
    questions = docs.prepare_policy(src, tmp_path / "out", cap=10)
    assert [q.source for q in questions] == ["ch-x.rst"]
    assert "the package name" in questions[0].query
    indexed = (tmp_path / "out" / "ch-x.rst").read_text(encoding="utf-8")
    assert "The package name" not in indexed and "----------------" not in indexed
    assert body.strip() in indexed


def test_html_heading_title_and_links_are_removed(tmp_path: Path) -> None:
    src = tmp_path / "html"
    src.mkdir()
    page = (
        "<html><head><title>9.7. Pattern Matching</title></head><body>"
        '<div class="toc"><a href="#m">9.7. Pattern Matching</a></div>'
        f'<h2 class="title">9.7. Pattern Matching</h2><p>{LOREM * 2}</p>'
        f"<h3>Note</h3><p>{LOREM}</p></body></html>"
    )
    (src / "matching.html").write_text(page, encoding="utf-8")
    (src / "index.html").write_text(
        f'<html><body><a href="matching.html">Pattern Matching</a><h3>Note</h3><p>{LOREM}</p></body></html>',
        encoding="utf-8",
    )
    questions = docs.prepare_postgres(src, tmp_path / "out", cap=10)
    assert len(questions) == 1  # "Note" occurs twice
    q = questions[0]
    assert "pattern matching" in q.query and q.source == "matching.html"
    assert q.answer.startswith("The archive keeps")  # the TOC is not body text
    for name in ("matching.html", "index.html"):
        assert "Pattern Matching" not in (tmp_path / "out" / name).read_text(encoding="utf-8")


def test_git_name_line_question(tmp_path: Path) -> None:
    src = tmp_path / "git"
    src.mkdir()
    text = (
        "git-frob(1)\n===========\n\nNAME\n----\ngit-frob - Rewrite the frobnication table\n\n"
        f"SYNOPSIS\n--------\n'git frob' [-q]\n\nDESCRIPTION\n-----------\n{LOREM * 3}\n\n"
        "OPTIONS\n-------\n-q::\n\tQuiet.\n"
    )
    (src / "git-frob.txt").write_text(text, encoding="utf-8")
    (src / "cmds-main.txt").write_text("linkgit:git-frob[1]::\n\tRewrite the frobnication table.\n", encoding="utf-8")
    questions = docs.prepare_git(src, tmp_path / "out", cap=10)
    names = [q for q in questions if q.rule == "name-line"]
    assert [q.query for q in names] == ["Which command do I use to rewrite the frobnication table?"]
    assert names[0].answer.startswith("The archive keeps")
    indexed = (tmp_path / "out" / "git-frob.txt").read_text(encoding="utf-8")
    assert "frobnication" not in indexed and "\ngit-frob\n" in indexed
    assert not (tmp_path / "out" / "cmds-main.txt").exists()  # generated lists repeat every NAME line


def test_heading_question_templates() -> None:
    import random

    rng = random.Random(0)
    assert heading_question("`fs.readFile(path[, options], callback)`", rng) == "What does fs.readFile() do?"
    assert heading_question("Class: `FileHandle`", rng) == "What is the FileHandle class for?"
    assert heading_question("How to rotate keys", rng) == "How do I rotate keys?"
    assert heading_question("9.7.1. ", rng) is None
    assert heading_question("I", rng) is None  # a letter of a back-of-book index
    assert "data types" in (heading_question("Chapter 8. Data Types", rng) or "")
    assert "Functions" not in (heading_question("F.35.2. Functions and Operators", rng) or "F")
    assert docs.name_question("Creates a tag") == "Which command do I use to create a tag?"
    assert docs.name_question("Applies a patch.") == "Which command do I use to apply a patch?"
    assert docs.name_question("A simple server for Git") == "Which command is a simple server for Git?"


def test_relevance_by_source_and_overlap() -> None:
    answer = LOREM * 3
    judge = Judge(Question(id="x", query="q", source="dir/a.md", answer=answer))
    chunk = "Some lead-in text. " + LOREM[:120]  # overlaps part of the answer
    assert judge.relevant("/cache/docs/dir/a.md", chunk)
    assert not judge.relevant("/cache/docs/dir/b.md", chunk)  # right text, wrong document
    assert not judge.relevant("/cache/docs/xdir/a.md", chunk)
    assert not judge.relevant("/cache/docs/dir/a.md", "Nothing in common with the answer here at all.")
    short = Judge(Question(id="z", query="q", source="r.md", answer="Recommended by Isla Murray"))
    assert short.relevant("/v/r.md", "# Piranesi\n\n- Started in May\n- Recommended by Isla Murray\n")
    assert not short.relevant("/v/r.md", "- Recommended by Isla Brandt")
    snippet = Judge(Question(id="y", query="q", source="wal.html", snippets=["readers do not block writers"]))
    assert snippet.relevant("/usr/share/doc/sqlite3/wal.html", "In WAL mode Readers do not  block writers.")


def test_conversations_are_reproducible_and_paraphrased(tmp_path: Path) -> None:
    a = conversations.generate(tmp_path / "a", cap=40, threads=3, sessions=2, exchanges=10)
    b = conversations.generate(tmp_path / "b", cap=40, threads=3, sessions=2, exchanges=10)
    assert a == b and 0 < len(a) <= 40
    for name in ("thread-01.md", "thread-02.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    corpus = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "a").iterdir()}
    for q in a:
        assert q.answer in corpus[q.source]
        assert sum(text.count(q.answer) for text in corpus.values()) == 1  # stated once
        if q.rule != "fact:budget":  # a budget's subject is itself a phrase ("the wedding present for Ivo")
            assert not shingles(q.query, 4) & shingles(q.answer, 4)  # no 4-word run copied from the fact


def test_questions_round_trip(tmp_path: Path) -> None:
    qs = [Question(id="1", query="q?", source="a.md", answer="ans", snippets=["s"], rule="heading")]
    write_questions(tmp_path / "q.jsonl", qs)
    assert read_questions(tmp_path / "q.jsonl") == qs


def test_baseline_windows_and_scoring() -> None:
    paras = [("word " * 50).strip() for _ in range(12)] + ["x" * 3000]
    cut = windows("\n\n".join(paras))
    assert all(len(w) <= WINDOW for w in cut)
    assert "".join(w.replace("\n\n", " ") for w in cut).replace(" ", "") == "".join(paras).replace(" ", "")
    assert rrf([[1, 2, 3], [3, 1]]) == [1, 3, 2]
    assert sign_test([1] * 9 + [None], [None] * 9 + [1]) == {"wins": 9, "losses": 1, "p": 0.0215}
    assert metrics([1, None, 2, 11]) == {
        "recall@5": 0.5,
        "recall@10": 0.5,
        "mrr@10": 0.375,
        "ndcg@10": 0.4077324383928644,
    }
    assert has_duplicate([(("a",), "Same  text"), (("b",), "same text")])
    assert not has_duplicate([(("a",), "one"), (("a",), "two")])
    judge = Judge(Question(id="x", query="q", source="a.md", snippets=["the answer"]))
    assert first_rank(judge, [(("/d/b.md",), "the answer"), (("/d/c.md", "/d/a.md"), "The  answer.")]) == 2


def test_notes_vault_is_reproducible_and_each_fact_written_once_in_its_note(tmp_path: Path) -> None:
    a = notes.generate(tmp_path / "a", cap=500)
    assert a == notes.generate(tmp_path / "b", cap=500) and len(a) > 100
    texts = {str(p.relative_to(tmp_path / "a")): p.read_text(encoding="utf-8") for p in (tmp_path / "a").rglob("*.md")}
    assert texts == {str(p.relative_to(tmp_path / "b")): p.read_text() for p in (tmp_path / "b").rglob("*.md")}
    for q in a:
        # The same bullet may sit in several notes ("Bake 45 min at 180 °C"): the note is what answers.
        assert texts[q.source].count(f"- {q.answer}\n") == 1
