"""Validation problems as a person (or a model) reads them: one line per problem, no pydantic dump.

``1 validation error for create_entitiesArguments … For further information visit https://errors.pydantic.dev``
becomes ``entities: expected a list of entities, got a string``. Tool errors (:mod:`mcp_suite.shared.server`)
and CLI errors (settings, ``--config`` YAML, ``--filter`` JSON) use the same lines, so a problem reads the
same wherever it is reported. Nothing here imports ``mcp``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError

# pydantic's error types, grouped by what a reader needs to hear.
_EXPECTED = {
    "string_type": "a string",
    "string_unicode": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dataclass_type": "an object",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "path_type": "a path",
    "url_type": "a URL",
    "url_parsing": "a URL",
    "none_required": "null",
}


def kind_of(value: Any) -> str:
    """How a JSON-ish value is named in a message: ``a string``, ``a number``, ``a list`` …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}" if abs(value) < 1e15 else "a number far too large"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def location(loc: Sequence[Any]) -> str:
    """``("entities", 0, "name")`` → ``entities[0].name``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def describe_error(err: Any) -> str:
    """One pydantic error dict (from ``ValidationError.errors()``) as ``where: what is wrong``."""
    kind = str(err.get("type", ""))
    loc = tuple(err.get("loc", ()))
    ctx = err.get("ctx") or {}
    given = err.get("input")
    where = location(loc)
    message = str(err.get("msg", "invalid value"))
    if kind == "missing" or kind == "missing_argument":
        what = "is required but missing"
    elif kind in ("extra_forbidden", "unexpected_keyword_argument"):
        what = "is not a known field; remove it or check its spelling"
    elif kind == "json_invalid":
        what = f"is not valid JSON ({ctx.get('error', message)})"
    elif kind == "list_type" and loc and isinstance(loc[-1], str):
        what = f"expected a list of {loc[-1]}, got {kind_of(given)}"
    elif kind in _EXPECTED:
        what = f"expected {_EXPECTED[kind]}, got {kind_of(given)}"
    elif kind == "string_too_short":
        n = ctx.get("min_length")
        what = f"must be at least {n} character{'s' if n != 1 else ''} long"
    elif kind == "string_too_long":
        got = f" (got {len(given)})" if isinstance(given, str) else ""
        what = f"must be at most {ctx.get('max_length')} characters long{got}"
    elif kind == "too_short":
        what = f"must have at least {ctx.get('min_length')} items"
    elif kind == "too_long":
        count = len(given) if isinstance(given, list | tuple | dict) else ctx.get("actual_length")
        what = f"must have at most {ctx.get('max_length')} items (got {count})"
    elif kind == "greater_than_equal":
        what = f"must be at least {ctx.get('ge')} (got {given!r})"
    elif kind == "greater_than":
        what = f"must be greater than {ctx.get('gt')} (got {given!r})"
    elif kind == "less_than_equal":
        what = f"must be at most {ctx.get('le')} (got {_short(given)})"
    elif kind == "less_than":
        what = f"must be less than {ctx.get('lt')} (got {_short(given)})"
    elif kind == "string_pattern_mismatch":
        what = f"does not match the required pattern {ctx.get('pattern')}"
    elif kind in ("literal_error", "enum"):
        what = f"must be {ctx.get('expected', message.removeprefix('Input should be '))} (got {_short(given)})"
    elif kind in ("value_error", "assertion_error"):
        what = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        what = message.replace("Input should be", "should be")
    return f"{where}: {what}" if where else what


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_lines(exc: ValidationError, *, skip: Iterable[str] = ()) -> list[str]:
    """One line per problem of ``exc``, without repeats, in pydantic's order; ``skip`` drops location parts
    that mean nothing to a reader (union tags such as ``function-after[...]``)."""
    hidden = set(skip)
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(p for p in err.get("loc", ()) if p not in hidden and not _is_internal(p))
        line = describe_error({**err, "loc": loc})
        if line not in lines:
            lines.append(line)
    return lines


def _is_internal(part: Any) -> bool:
    # pydantic names union members and validators in locations: `function-after[_check(), str]`, `list[...]`.
    return isinstance(part, str) and ("[" in part and part.endswith("]"))


def format_validation_error(exc: ValidationError, *, skip: Iterable[str] = ()) -> str:
    """The problems of ``exc`` as text: one line, or one line per problem after a count."""
    lines = validation_lines(exc, skip=skip)
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} problems:\n" + "\n".join(f"- {line}" for line in lines)


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'transport'?)`` when ``word`` is close to one of ``known``, else ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


__all__ = [
    "describe_error",
    "did_you_mean",
    "format_validation_error",
    "kind_of",
    "location",
    "validation_lines",
]
