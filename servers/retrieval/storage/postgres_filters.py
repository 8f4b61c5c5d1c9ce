"""Search filters compiled to PostgreSQL: a :class:`~.base.DocumentFilter` as a WHERE clause over ``documents d``."""

from __future__ import annotations

import json
import re
from typing import Any

from mcp_suite.servers.retrieval.storage.base import DocumentFilter


def glob_regex(glob: str) -> str:
    """SQLite's GLOB (``*``, ``?``, ``[...]``, ``[^...]``; case-sensitive, whole string) as a POSIX regex."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and (end := glob.find("]", i + 2)) != -1:
            body = glob[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "^" + "".join(out) + "$"


def filter_clause(where: DocumentFilter) -> tuple[str, list[Any]]:
    """A WHERE clause over ``documents d`` for ``where`` (``"true"`` when it holds no condition)."""
    parts: list[str] = []
    params: list[Any] = []
    if where.source_prefix:
        parts.append("left(d.source, %s) = %s")  # not LIKE: paths may contain % and _
        params += [len(where.source_prefix), where.source_prefix]
    if where.source_glob:
        parts.append("d.source ~ %s")
        params.append(glob_regex(where.source_glob))
    for tag in where.tags:
        parts.append("EXISTS (SELECT 1 FROM doc_tags t WHERE t.document_id = d.id AND t.tag = %s)")
        params.append(tag)
    if where.doc_types:
        parts.append("d.doc_type = ANY(%s)")
        params.append(list(where.doc_types))
    if where.kinds:
        parts.append("d.kind = ANY(%s)")
        params.append(list(where.kinds))
    if where.modified_after is not None:
        parts.append("d.mtime >= %s")
        params.append(where.modified_after)
    if where.modified_before is not None:
        parts.append("d.mtime < %s")
        params.append(where.modified_before)
    for key, value in where.metadata:
        parts.append("(d.meta::jsonb -> %s) = %s::jsonb")
        params += [key, json.dumps(value)]
    return (" AND ".join(parts) or "true"), params
