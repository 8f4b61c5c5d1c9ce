"""Sticky, deterministic traffic splits."""

from collections import Counter

import pytest

from mcp_suite.servers.prompts.rollout import BUCKETS, bucket, choose, validate_splits
from mcp_suite.shared.errors import InvalidInputError


def test_bucket_is_deterministic_and_in_range() -> None:
    slots = [bucket("Greet", "production", f"user-{i}") for i in range(2000)]
    assert slots == [bucket("Greet", "production", f"user-{i}") for i in range(2000)]
    assert all(0 <= s < BUCKETS for s in slots)
    assert len(set(slots)) > 1500  # spread, not clumped


def test_bucket_depends_on_prompt_and_label() -> None:
    same = sum(bucket("A", "production", f"u{i}") == bucket("B", "production", f"u{i}") for i in range(500))
    assert same < 10
    same = sum(bucket("A", "production", f"u{i}") == bucket("A", "staging", f"u{i}") for i in range(500))
    assert same < 10


def test_proportions_follow_the_weights() -> None:
    splits = validate_splits({"1": 90, "2": 10})
    counts = Counter(choose(splits, bucket("Greet", "production", f"subject-{i}")) for i in range(20_000))
    assert counts["2"] / 20_000 == pytest.approx(0.10, abs=0.01)
    assert counts["1"] + counts["2"] == 20_000


def test_sticky_when_the_share_grows() -> None:
    """Growing v2 from 10 % to 50 % keeps every subject that already had v2 on v2."""
    small, large = validate_splits({"1": 90, "2": 10}), validate_splits({"1": 50, "2": 50})
    subjects = [f"s{i}" for i in range(5000)]
    before = {s for s in subjects if choose(small, bucket("P", "production", s)) == "2"}
    after = {s for s in subjects if choose(large, bucket("P", "production", s)) == "2"}
    assert before and before <= after


def test_split_order_does_not_matter() -> None:
    assert validate_splits({"2": 10, "1": 90}) == validate_splits({"1": 90, "2": 10})
    assert list(validate_splits({"10": 50, "2": 50})) == ["2", "10"]


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ({}, "at least one version"),
        ({"1": 90, "2": 5}, "add up to 100, got 95"),
        ({"1": 0, "2": 100}, "percentage"),
        ({"1": 150}, "percentage"),
        ({"1": 50, "3": 50}, "version '3' is not published"),
    ],
)
def test_invalid_splits(splits: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        validate_splits(splits, {"1", "2"})


def test_choose_covers_the_top_edge() -> None:
    splits = validate_splits({"1": 33.33, "2": 33.33, "3": 33.34})
    assert choose(splits, BUCKETS - 1) == "3"
    assert choose(splits, 0) == "1"
