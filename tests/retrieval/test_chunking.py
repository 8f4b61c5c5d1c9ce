"""Chunker invariants: exact spans, budget, never mid-sentence, overlap, tiny-fragment merging, determinism."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest

from mcp_suite.servers.retrieval.chunking import chunk_document, count_tokens, sentence_boundaries
from mcp_suite.servers.retrieval.documents import Block, Chunk, ParsedDocument
from mcp_suite.servers.retrieval.readers import parse_file, parse_text
from mcp_suite.shared.errors import InvalidInputError

FIXTURES = Path(__file__).parent / "fixtures"
WORDS = ("sync", "note", "server", "device", "token", "policy", "window", "conflict", "copy", "engine", "index",
         "query", "vector", "budget", "heading", "paragraph", "offline", "network", "archive", "release", "version",
         "backup", "restore", "journal", "cluster", "replica")  # fmt: skip
ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’)\]]*$")


def sentence(rng: random.Random, words: int | None = None) -> str:
    n = words or rng.randint(5, 25)
    body = " ".join(rng.choice(WORDS) for _ in range(n))
    tail = rng.choice([".", ".", ".", "?", "!", " (e.g. v2.5 at https://x.example/a.b)."])
    return body[0].upper() + body[1:] + tail


def prose(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def long_markdown(seed: int = 7) -> str:
    rng = random.Random(seed)
    parts = ["# Handbook", "", prose(rng, 3), ""]
    for section in range(6):
        parts += [f"## Section {section}", ""]
        for _ in range(rng.randint(1, 4)):
            parts += [prose(rng, rng.randint(1, 30)), ""]
        if section % 2:
            parts += [
                "```python",
                *(f"value_{i} = compute({i})  # step {i}" for i in range(rng.randint(3, 120))),
                "```",
                "",
            ]
        parts += ["- " + sentence(rng) for _ in range(rng.randint(1, 12))] + [""]
        parts += [f"### Detail {section}", "", prose(rng, rng.randint(2, 12)), ""]
    return "\n".join(parts)


def check_invariants(doc: ParsedDocument, chunks: list[Chunk], max_tokens: int, overlap: int = 0) -> None:
    text = doc.text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == text[chunk.start_char : chunk.end_char]
        assert chunk.text == chunk.text.strip()
        assert chunk.start_line == text.count("\n", 0, chunk.start_char) + 1
        assert chunk.end_line == text.count("\n", 0, chunk.end_char) + 1
        assert chunk.token_count == count_tokens(chunk.text)
        assert chunk.token_count <= max_tokens
    # Every block character is covered, in order.
    covered = [False] * len(text)
    for chunk in chunks:
        for i in range(chunk.start_char, chunk.end_char):
            covered[i] = True
    for block in doc.blocks:
        assert all(covered[i] for i in range(block.start_char, block.end_char) if not text[i].isspace())
    starts = [c.start_char for c in chunks]
    assert starts == sorted(starts)
    if not overlap:
        for a, b in itertools.pairwise(chunks):
            assert a.end_char <= b.start_char


def ends_cleanly(doc: ParsedDocument, chunk: Chunk, max_tokens: int) -> bool:
    """A chunk ends at a block end, a line end in code/lists/tables, the end of a sentence, or inside a
    single sentence that is itself longer than the budget."""
    block = next(b for b in doc.blocks if b.start_char < chunk.end_char <= b.end_char)
    if chunk.end_char == block.end_char:
        return True
    if block.kind in ("code", "table", "list") and doc.text[chunk.end_char] == "\n":
        return True
    if ENDS_SENTENCE.search(chunk.text):
        return True
    cuts = [block.start_char, *sentence_boundaries(doc.text, block.start_char, block.end_char), block.end_char]
    a, b = next((a, b) for a, b in itertools.pairwise(cuts) if a < chunk.end_char < b)
    return count_tokens(doc.text[a:b]) > max_tokens


# --------------------------------------------------------------------------------------------------


def blocks_inside(doc: ParsedDocument, chunk: Chunk) -> list[Block]:
    return [b for b in doc.blocks if chunk.start_char <= b.start_char < chunk.end_char and b.kind != "heading"]


@pytest.mark.parametrize("max_tokens", [40, 120, 350])
def test_invariants_on_long_markdown(max_tokens: int) -> None:
    doc = parse_text(long_markdown(), name="handbook.md")
    chunks = chunk_document(doc, max_tokens=max_tokens, merge_below=0)
    check_invariants(doc, chunks, max_tokens)
    for chunk in chunks:
        assert ends_cleanly(doc, chunk, max_tokens), chunk.text[-80:]
    # Without merging, chunks never mix sections: all blocks inside a chunk share its heading path
    # (headings carried forward from an empty parent section are the only exception).
    for chunk in chunks:
        assert all(b.heading_path == chunk.heading_path for b in blocks_inside(doc, chunk))


@pytest.mark.parametrize("max_tokens", [40, 120, 350])
def test_small_sections_join_neighbours_in_long_markdown(max_tokens: int) -> None:
    doc = parse_text(long_markdown(), name="handbook.md")
    separate = chunk_document(doc, max_tokens=max_tokens, merge_below=0)
    chunks = chunk_document(doc, max_tokens=max_tokens)
    check_invariants(doc, chunks, max_tokens)
    for chunk in chunks:
        assert ends_cleanly(doc, chunk, max_tokens), chunk.text[-80:]
        # A chunk spanning sections is cited by the path they share.
        assert all(b.heading_path[: len(chunk.heading_path)] == chunk.heading_path for b in blocks_inside(doc, chunk))
    # Merging only ever joins whole neighbouring pieces: every chunk boundary is one of the unmerged ones.
    assert {c.start_char for c in chunks} <= {c.start_char for c in separate}
    assert {c.end_char for c in chunks} <= {c.end_char for c in separate}
    assert len(chunks) <= len(separate)
    if max_tokens == 350:  # the handbook's sections are small next to this budget
        assert len(chunks) < len(separate)
    # And it goes as far as the rule allows: no two neighbours left that one more join would take.
    small = max_tokens // 4
    for a, b in itertools.pairwise(chunks):
        fits = count_tokens(doc.text[a.start_char : b.end_char]) <= max_tokens
        if fits and (a.token_count < small or b.token_count < small) and a.page == b.page:
            assert count_tokens(doc.text[a.end_char : b.start_char]) > 8 or a.heading_path == b.heading_path


def test_fixture_chunks_keep_sections() -> None:
    doc = parse_file(FIXTURES / "getting-started.md")
    chunks = chunk_document(doc, merge_below=0)
    check_invariants(doc, chunks, 350)
    paths = [c.heading_path for c in chunks]
    assert paths == [
        ("Installing Quillstream",),
        ("Installing Quillstream", "Requirements"),
        ("Installing Quillstream", "Installation", "Linux"),
        ("Installing Quillstream", "Installation", "macOS"),
        ("Installing Quillstream", "First login"),
        ("Installing Quillstream", "Setext sections work too"),
    ]
    linux = chunks[2]
    # The empty "## Installation" section is carried into its first subsection, code block kept whole.
    assert linux.text.startswith("## Installation\n\n### Linux")
    assert "```bash\npip install quillstream\nquillstream serve --port 7419\n```" in linux.text
    assert (linux.start_line, linux.end_line) == (17, 29)
    assert not any(c.text.startswith("---") for c in chunks)  # front matter is not indexed


def test_small_fixture_sections_join_into_cited_chunks() -> None:
    doc = parse_file(FIXTURES / "getting-started.md")
    # Every section is under a quarter of the default budget: the whole guide is one chunk, cited by
    # the heading all its sections share, from its first heading to its last line.
    (whole,) = chunk_document(doc)
    check_invariants(doc, [whole], 350)
    assert whole.heading_path == ("Installing Quillstream",)
    assert whole.text.startswith("# Installing Quillstream") and whole.text.endswith("rotates it daily.")
    assert "### Linux" in whole.text and "## First login" in whole.text
    # With a smaller budget only the sections under a quarter of it join their neighbours.
    pricing = parse_file(FIXTURES / "pricing.html")
    alone = chunk_document(pricing, max_tokens=120, merge_below=0)
    joined = chunk_document(pricing, max_tokens=120)
    check_invariants(pricing, joined, 120)
    assert [c.token_count for c in alone] == [16, 14, 40, 29]
    assert [(c.start_char, c.end_char) for c in joined] == [
        (alone[0].start_char, alone[1].end_char),
        (alone[2].start_char, alone[3].end_char),
    ]
    assert [c.heading_path for c in joined] == [
        _common_path(alone[0].heading_path, alone[1].heading_path),
        _common_path(alone[2].heading_path, alone[3].heading_path),
    ]


def _common_path(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(x for x, _ in itertools.takewhile(lambda pair: pair[0] == pair[1], zip(a, b, strict=False)))


def test_pages_and_skipped_text_keep_small_sections_apart() -> None:
    pdf = parse_file(FIXTURES / "release-notes.pdf")
    assert [c.page for c in chunk_document(pdf)] == [1, 2]  # small, but on different pages
    rng = random.Random(11)
    # An image directive the rST reader drops (more than 8 tokens of skipped text) separates sections.
    image = ".. image:: diagrams/architecture-overview-with-all-the-services.png\n   :alt: overview"
    text = f"Alpha\n=====\n\n{prose(rng, 1)}\n\n{image}\n\nBravo\n=====\n\n{prose(rng, 1)}\n"
    doc = parse_text(text, name="s.rst", doc_type="rst")
    kept = [b for b in doc.blocks if b.kind != "heading"]
    assert len(kept) == 2 and count_tokens(doc.text[kept[0].end_char : kept[1].start_char]) > 8
    assert len(chunk_document(doc)) == 2
    without = parse_text(text.replace(image, ""), name="s.rst", doc_type="rst")
    assert len(chunk_document(without)) == 1


def test_all_fixtures_chunk_cleanly() -> None:
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix != ".bin":
            doc = parse_file(path)
            chunks = chunk_document(doc, max_tokens=60, overlap_tokens=10)
            check_invariants(doc, chunks, 60, overlap=10)
            assert chunks, path


def test_pdf_chunks_carry_pages() -> None:
    doc = parse_file(FIXTURES / "release-notes.pdf")
    chunks = chunk_document(doc)
    assert [c.page for c in chunks] == [1, 2]


def test_oversized_paragraph_splits_at_sentences_without_tiny_tail() -> None:
    rng = random.Random(3)
    paragraph = " ".join(sentence(rng, 9) for _ in range(41))  # ~10 tokens per sentence
    doc = parse_text(f"# Notes\n\n{paragraph}\n", name="n.md")
    chunks = chunk_document(doc, max_tokens=100)
    check_invariants(doc, chunks, 100)
    assert len(chunks) >= 4
    assert all(ENDS_SENTENCE.search(c.text) for c in chunks)
    # The last piece borrowed sentences instead of being a one-sentence fragment.
    assert chunks[-1].token_count >= 25


def test_paragraph_boundaries_preferred_inside_a_block() -> None:
    # A plain-text block with two paragraphs separated by a whitespace-only line stays one block in
    # some readers; the chunker still cuts at the paragraph break first.
    first = "Alpha one is here. " * 8
    second = "Beta two is there. " * 8
    doc = parse_text(f"{first.strip()}\n \n{second.strip()}\n", name="x.txt")
    chunks = chunk_document(doc, max_tokens=45)
    assert [c.text.split()[0] for c in chunks] == ["Alpha", "Beta"]


def test_single_long_sentence_splits_at_words() -> None:
    words = [f"word{i}" for i in range(300)]
    doc = parse_text("# Long\n\n" + " ".join(words) + ".\n", name="l.md")
    chunks = chunk_document(doc, max_tokens=50)
    check_invariants(doc, chunks, 50)
    assert len(chunks) >= 6
    for chunk in chunks[:-1]:
        assert doc.text[chunk.end_char].isspace()  # a word boundary, never inside a word
    rejoined = " ".join(" ".join(c.text.split()) for c in chunks)
    assert rejoined == "# Long " + " ".join(words) + "."


def test_giant_word_is_cut_between_tokens() -> None:
    blob = "-".join("x" for _ in range(400))  # one whitespace-free "word" of 799 tokens
    doc = parse_text(blob, name="blob.txt")
    chunks = chunk_document(doc, max_tokens=100)
    check_invariants(doc, chunks, 100)
    assert "".join(c.text for c in chunks) == blob


def test_code_splits_at_line_boundaries() -> None:
    body = "\n".join(f"    total += item_{i} * factor  # accumulate {i}" for i in range(200))
    doc = parse_text(f"def f(items):\n    total = 0\n{body}\n    return total\n", name="f.py")
    chunks = chunk_document(doc, max_tokens=100)
    check_invariants(doc, chunks, 100)
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.end_char == len(doc.text.rstrip("\n")) or doc.text[chunk.end_char] == "\n"
        assert chunk.start_char == 0 or doc.text[chunk.start_char - 1] in " \n"


def test_table_splits_at_rows() -> None:
    rows = "\n".join(f"| key_{i} | value number {i} | note {i} |" for i in range(80))
    doc = parse_text(f"# T\n\n| k | v | n |\n|---|---|---|\n{rows}\n", name="t.md")
    chunks = chunk_document(doc, max_tokens=120)
    check_invariants(doc, chunks, 120)
    assert all(c.text.endswith("|") for c in chunks)


def test_overlap_carries_whole_trailing_sentences() -> None:
    rng = random.Random(11)
    paragraph = " ".join(sentence(rng, 8) for _ in range(60))
    doc = parse_text(f"{paragraph}\n", name="o.txt")
    plain = chunk_document(doc, max_tokens=120)
    chunks = chunk_document(doc, max_tokens=120, overlap_tokens=30)
    check_invariants(doc, chunks, 120, overlap=30)
    assert len(chunks) >= len(plain)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start_char < previous.end_char  # overlaps
        shared = doc.text[chunk.start_char : previous.end_char]
        assert 0 < count_tokens(shared) <= 30
        assert chunk.start_char in sentence_boundaries(doc.text)  # starts at a sentence start
        assert ENDS_SENTENCE.search(shared)


def test_overlap_never_crosses_sections() -> None:
    rng = random.Random(5)
    text = f"# A\n\n{prose(rng, 4)}\n\n# B\n\n{prose(rng, 4)}\n"
    doc = parse_text(text, name="s.md")
    chunks = chunk_document(doc, max_tokens=350, overlap_tokens=50, merge_below=0)
    assert [c.heading_path for c in chunks] == [("A",), ("B",)]
    assert chunks[0].end_char < chunks[1].start_char


def test_deterministic() -> None:
    doc = parse_text(long_markdown(seed=2), name="d.md")
    assert chunk_document(doc, max_tokens=90, overlap_tokens=20) == chunk_document(
        doc, max_tokens=90, overlap_tokens=20
    )


def test_empty_and_heading_only_documents() -> None:
    assert chunk_document(parse_text("", name="e.md")) == []
    chunks = chunk_document(parse_text("# Only\n\n## Headings\n", name="h.md"))
    assert len(chunks) == 1 and chunks[0].text == "# Only\n\n## Headings"


def test_bad_budgets() -> None:
    doc = parse_text("Text.", name="x.txt")
    with pytest.raises(InvalidInputError, match="max_tokens"):
        chunk_document(doc, max_tokens=3)
    with pytest.raises(InvalidInputError, match="overlap_tokens"):
        chunk_document(doc, max_tokens=100, overlap_tokens=80)


# --------------------------------------------------------------------------------------------------
# Sentences and tokens


def split(text: str) -> list[str]:
    cuts = [0, *sentence_boundaries(text), len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(cuts)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One here. Two there! Three? Four.", ["One here.", "Two there!", "Three?", "Four."]),
        ("Ask Dr. Smith, e.g. today. Then go.", ["Ask Dr. Smith, e.g. today.", "Then go."]),
        ("Use i.e. this one. Fine.", ["Use i.e. this one.", "Fine."]),
        ("Pi is 3.14 or so. Version 2.5.1 ships.", ["Pi is 3.14 or so.", "Version 2.5.1 ships."]),
        ("See https://example.com/a.b?c=d. Next.", ["See https://example.com/a.b?c=d.", "Next."]),
        ("Call os.path.join() first. It works.", ["Call os.path.join() first.", "It works."]),
        ("Written by J. R. Tolkien. Good.", ["Written by J. R. Tolkien.", "Good."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
        ("A list, etc. and more.", ["A list, etc. and more."]),
        ("Ends the line.\nlowercase start after newline.", ["Ends the line.", "lowercase start after newline."]),
        ("Wait... What? (Really.) Yes.", ["Wait...", "What?", "(Really.)", "Yes."]),
        ("No terminal punctuation", ["No terminal punctuation"]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert split(text) == expected


def test_count_tokens_estimate() -> None:
    assert count_tokens("") == 0
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("os.path.join(a, b)") == 10
    assert count_tokens("naïve café") == 2


def test_skipped_markup_separates_chunks() -> None:
    # rST image directives are not indexed; a chunk must not silently span (and count) them.
    images = "\n\n".join(
        f".. image:: https://ci.example.com/badge{i}.svg\n   :target: https://ci.example.com" for i in range(6)
    )
    doc = parse_text(f"Tool\n====\n\n{images}\n\nThe tool does things.\n", name="r.rst")
    chunks = chunk_document(doc, max_tokens=200, overlap_tokens=30)
    check_invariants(doc, chunks, 200, overlap=30)
    assert not any("image::" in c.text for c in chunks)
    assert chunks[-1].text == "The tool does things."
