"""The reference server's file format, for ``memory import`` and ``memory export``.

``@modelcontextprotocol/server-memory`` keeps its graph in ``memory.jsonl``: one JSON object per
line, ``{"type": "entity", "name", "entityType", "observations"}`` or ``{"type": "relation",
"from", "to", "relationType"}``. Import also accepts a single ``{"entities": [...],
"relations": [...]}`` document. Parsing is all-or-nothing: every bad line is reported with its
number and nothing is returned, so the caller never imports half a file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mcp_suite.servers.memory.models import KnowledgeGraph, NewEntity, RelationRef
from mcp_suite.shared.errors import InvalidInputError

MAX_REPORTED_ERRORS = 20


@dataclass
class ParsedGraph:
    entities: list[NewEntity] = field(default_factory=list)
    relations: list[RelationRef] = field(default_factory=list)
    relation_lines: list[int] = field(default_factory=list)
    """The line (1-based) each relation came from, for error messages."""


def _problem(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "; ".join(parts)


def _record(item: Any, graph: ParsedGraph, line: int, kind: str | None = None) -> str | None:
    """Add one record to ``graph``; return what is wrong with it instead, if anything."""
    if not isinstance(item, dict):
        return "expected a JSON object"
    kind = kind or item.get("type")
    fields = {k: v for k, v in item.items() if k != "type"}
    try:
        if kind == "entity":
            graph.entities.append(NewEntity.model_validate(fields))
        elif kind == "relation":
            graph.relations.append(RelationRef.model_validate(fields))
            graph.relation_lines.append(line)
        else:
            return f'"type" must be "entity" or "relation", not {json.dumps(kind)}'
    except ValidationError as exc:
        return f"{kind}: {_problem(exc)}"
    return None


def _fail(source: str, errors: list[str]) -> InvalidInputError:
    shown = "\n  ".join(errors[:MAX_REPORTED_ERRORS])
    more = f"\n  … and {len(errors) - MAX_REPORTED_ERRORS} more" if len(errors) > MAX_REPORTED_ERRORS else ""
    return InvalidInputError(f"{source}: {len(errors)} bad record(s), nothing imported:\n  {shown}{more}")


def parse(text: str, source: str = "input") -> ParsedGraph:
    """Read a reference ``memory.jsonl`` (or one ``{entities, relations}`` JSON document)."""
    graph = ParsedGraph()
    errors: list[str] = []
    document = _whole_document(text)
    if document is not None:
        for kind, key in (("entity", "entities"), ("relation", "relations")):
            items = document.get(key) or []
            if not isinstance(items, list):
                errors.append(f'"{key}" must be a list')
                continue
            for i, item in enumerate(items):
                problem = _record(item, graph, i + 1, kind)
                if problem:
                    errors.append(f"{key}[{i}]: {problem}")
    else:
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
            except json.JSONDecodeError as exc:
                errors.append(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            problem = _record(item, graph, number)
            if problem:
                errors.append(f"line {number}: {problem}")
    if errors:
        raise _fail(source, errors)
    return graph


def _whole_document(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return None  # several lines of JSON objects: the JSONL format
    if isinstance(data, dict) and "type" not in data and ("entities" in data or "relations" in data):
        return data
    return None


def dump(graph: KnowledgeGraph) -> Iterator[str]:
    """The graph as reference JSONL lines (without newlines), entities first, in creation order."""
    for entity in graph.entities:
        record = {"type": "entity", **entity.model_dump(by_alias=True)}
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    for relation in graph.relations:
        record = {"type": "relation", **relation.model_dump(by_alias=True)}
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))
