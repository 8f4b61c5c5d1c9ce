"""The in-memory vector scan behind search by meaning, and the word rule of the per-hit matches.

A large matrix is searched in two stages (a short prefix copy of the vectors shortlists entities, their rows
are then scored in full): pinned here against the exact one-stage scan on real wordllama vectors.
"""

import random

import pytest

from mcp_suite.servers.memory import search, semantic
from mcp_suite.servers.memory.semantic import ENTITY, OBSERVATION, VectorMatrix, entity_text
from mcp_suite.shared.embeddings import WordLlamaEmbedder

JOBS = ["doctor", "lawyer", "teacher", "chef", "pilot", "nurse", "plumber", "painter", "farmer", "banker"]
HOBBIES = ["plays the violin", "runs marathons", "grows tomatoes", "collects stamps", "climbs mountains"]
PETS = ["has a dog", "has a cat", "keeps bees", "has a parrot", "rides a horse"]
FOODS = ["loves sushi", "eats noodle soup", "bakes bread", "drinks green tea", "likes spicy curry"]
QUESTIONS = [
    "physician",
    "attorney who plays the fiddle",
    "cook with a puppy",
    "aviator who likes ramen",
    "beekeeper",
    "someone who hikes peaks",
    "gardener growing vegetables",
    "who drinks tea",
    "artist with a kitten",
    "equestrian farmer",
]


@pytest.fixture(scope="module")
def matrix() -> VectorMatrix:
    """2,000 people with three facts each and their entity lines: 8,000 rows of real vectors."""
    rng = random.Random(3)
    embedder = WordLlamaEmbedder()
    facts = [
        (person, f"works as a {rng.choice(JOBS)}", rng.choice(HOBBIES), rng.choice([*PETS, *FOODS]))
        for person in range(1, 2_001)
    ]
    texts = [text for _, *three in facts for text in three]
    found = VectorMatrix(embedder.info.dimension or 256)
    found.add(
        OBSERVATION,
        list(range(1, len(texts) + 1)),
        embedder.embed_sync(texts),
        [p for p, *_ in facts for _ in range(3)],
    )
    names = [entity_text(f"Person {p}", "person") for p, *_ in facts]
    found.add(ENTITY, [p for p, *_ in facts], embedder.embed_sync(names), [p for p, *_ in facts])
    return found


def _search(matrix: VectorMatrix, embedder: WordLlamaEmbedder, question: str) -> list[tuple[int, float]]:
    return matrix.search_entities(embedder.embed_sync([question])[0], 10)


def test_the_shortlist_finds_what_the_exact_scan_finds(matrix: VectorMatrix, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = WordLlamaEmbedder()
    monkeypatch.setattr(semantic, "COARSE_FROM", 10**9)
    exact = {q: _search(matrix, embedder, q) for q in QUESTIONS}
    # 8,000 rows in two stages, keeping a tenth of the entities (many people here share a fact, so their
    # scores tie: a tenth holds every tie of the top; 20,000 real entities keep 800).
    monkeypatch.setattr(semantic, "COARSE_FROM", 1_000)
    monkeypatch.setattr(semantic, "SHORTLIST", 200)
    confident = 0
    for question, expected in exact.items():
        found = _search(matrix, embedder, question)
        # Every entity the two stages return is scored exactly (its rows in full)…
        exact_scores = dict(matrix_scores(matrix, embedder, question))
        for entity_id, score in found:
            assert score == pytest.approx(exact_scores[entity_id], rel=1e-4), question
        # …and where the question matches something for real, the best five are as good as the exact
        # scan's (the same scores; which of several tied entities comes first may differ).
        if expected[0][1] >= semantic.CONFIDENT:
            confident += 1
            assert [s for _, s in found[:5]] == pytest.approx([s for _, s in expected[:5]], rel=1e-4), question
    assert confident >= 7


def matrix_scores(matrix: VectorMatrix, embedder: WordLlamaEmbedder, question: str) -> list[tuple[int, float]]:
    """Every entity's exact score for ``question`` (one stage over all rows)."""
    before = semantic.COARSE_FROM
    semantic.COARSE_FROM = 10**9
    try:
        return matrix.search_entities(embedder.embed_sync([question])[0], 10_000)
    finally:
        semantic.COARSE_FROM = before


def test_two_stages_return_scores_in_order(matrix: VectorMatrix, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "COARSE_FROM", 1_000)
    found = _search(matrix, WordLlamaEmbedder(), "physician who keeps bees")
    scores = [score for _, score in found]
    assert len(found) == 10 and scores == sorted(scores, reverse=True) and scores[-1] > 0
    assert len({entity_id for entity_id, _ in found}) == 10


def _matched_by_tokens(words: list[str], text: str) -> int:
    """The rule spelt out: a query word matches when some word of the text (casefolded) starts with it."""
    tokens = {t.casefold() for t in search.words(text)}
    return sum(1 for w in words if any(t.startswith(w) for t in tokens))


def test_words_match_as_words_or_word_prefixes() -> None:
    assert search.matched(["lang", "py"], "Python is a language") == 2
    assert search.matched(["guage"], "language") == 0  # inside a word is not a word match
    assert search.matched(["strasse"], "Hauptstraße") == 0 and search.matched(["strasse"], "Straße 5") == 1
    rng = random.Random(5)
    alphabet = "abcßİXü_1 -.,"
    for _ in range(3_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        words = [w.casefold() for w in search.words("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))))]
        assert search.matched(words, text) == _matched_by_tokens(words, text), (words, text)
