"""One formatter for validation problems: one line per problem, the location first, no pydantic dump."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mcp_suite.shared.messages import did_you_mean, format_validation_error, validation_lines


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=5)]
    count: Annotated[int, Field(ge=1, le=10)] = 1
    mode: Literal["a", "b"] = "a"


class Batch(BaseModel):
    items: list[Item]
    tags: Annotated[list[str], Field(max_length=2)] = []


def _lines(data: object) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Batch.model_validate(data)
    return validation_lines(caught.value)


def test_one_line_per_problem() -> None:
    assert _lines({"items": "x"}) == ["items: expected a list of items, got a string"]
    assert _lines({}) == ["items: is required but missing"]
    assert _lines({"items": [{"name": ""}]}) == ["items[0].name: must be at least 1 character long"]
    assert _lines({"items": [{"name": "toolong"}]}) == ["items[0].name: must be at most 5 characters long (got 7)"]
    assert _lines({"items": [{"name": "a", "count": 0}]}) == ["items[0].count: must be at least 1 (got 0)"]
    assert _lines({"items": [{"name": "a", "count": 11}]}) == ["items[0].count: must be at most 10 (got 11)"]
    assert _lines({"items": [{"name": "a", "count": 1.5}]}) == [
        "items[0].count: expected a whole number, got the number 1.5"
    ]
    assert _lines({"items": [{"name": "a", "mode": "c"}]}) == ["items[0].mode: must be 'a' or 'b' (got 'c')"]
    assert _lines({"items": [{"name": "a", "colour": 1}]}) == [
        "items[0].colour: is not a known field; remove it or check its spelling"
    ]
    assert _lines({"items": [], "tags": ["a", "b", "c"]}) == ["tags: must have at most 2 items (got 3)"]


def test_several_problems_are_counted_and_listed() -> None:
    with pytest.raises(ValidationError) as caught:
        Batch.model_validate({"items": [{"name": 3, "count": "x"}]})
    text = format_validation_error(caught.value)
    assert text == (
        "2 problems:\n"
        "- items[0].name: expected a string, got the number 3\n"
        "- items[0].count: expected a whole number, got a string"
    )
    assert "pydantic.dev" not in text


def test_did_you_mean() -> None:
    assert did_you_mean("trasnport", ["transport", "host"]) == " (did you mean 'transport'?)"
    assert did_you_mean("zzz", ["transport"]) == ""
