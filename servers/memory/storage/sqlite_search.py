"""The SQLite search index of the graph: two FTS5 tables with one document per entity.

``entity_fts`` (unicode61 words, BM25 with names weighing most, prefix queries) answers the word tiers;
``entity_trigram`` answers "the query is a substring" (the reference server's rule). Queries shorter
than a trigram scan the entities instead.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import aiosqlite

from mcp_suite.servers.memory import search
from mcp_suite.servers.memory.storage.base import WordHit
from mcp_suite.shared.db import in_thread

_FTS_TABLES = ("entity_fts", "entity_trigram")
_IN_IDS = "(SELECT value FROM json_each(?))"

RANK_CAP = 2_000
"""Search matches beyond this many are not all BM25-ranked (see :func:`_collect`)."""


async def unindex(conn: aiosqlite.Connection, ids: Sequence[int]) -> None:
    # Row by row: FTS5 answers `rowid = ?` from its index but scans for `rowid IN (...)`.
    for table in _FTS_TABLES:
        await conn.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(i,) for i in ids])


async def reindex(conn: aiosqlite.Connection, ids: Sequence[int]) -> None:
    if not ids:
        return
    await unindex(conn, ids)
    for table in _FTS_TABLES:
        await conn.execute(
            f"INSERT INTO {table} (rowid, name, entity_type, observations) "
            "SELECT e.id, e.name || coalesce(char(10) || (SELECT group_concat(alias, char(10)) FROM aliases a "
            "WHERE a.entity_id = e.id), ''), e.entity_type, coalesce((SELECT group_concat(content, char(10)) "
            "FROM (SELECT content FROM observations WHERE entity_id = e.id AND valid_to IS NULL ORDER BY id)), '') "
            f"FROM entities e WHERE e.id IN {_IN_IDS}",
            (json.dumps(list(ids)),),
        )


async def lexical(conn: aiosqlite.Connection, namespace: str, query: str, want: int) -> dict[int, WordHit]:
    """The word tiers (see ``GraphSearch.search``), every statement of them in one call to the connection's
    thread: the leg then runs to its end while the event loop scans the vectors (see ``in_thread``)."""
    return await in_thread(conn, partial(_lexical, namespace=namespace, query=query, want=want))


def _lexical(conn: sqlite3.Connection, namespace: str, query: str, want: int) -> dict[int, WordHit]:
    found: dict[int, WordHit] = {}
    fts = search.all_words(query)
    if fts:
        _collect(conn, namespace, "entity_fts", fts, want, found, tier=0)
    if len(found) < want:
        phrase = search.substring(query)
        if phrase:
            # Substring hits are not ranked: BM25 over trigrams says little about relevance.
            _collect(conn, namespace, "entity_trigram", phrase, want, found, tier=1, ranked=False)
        else:
            _collect_short(conn, namespace, query, want, found)
    if len(found) < want:
        loose = search.any_word(query)
        if loose:
            _collect(conn, namespace, "entity_fts", loose, want, found, tier=2)
    return found


def _collect(
    conn: sqlite3.Connection,
    namespace: str,
    table: str,
    match: str,
    want: int,
    found: dict[int, WordHit],
    tier: int,
    ranked: bool = True,
) -> None:
    """Add up to ``want`` entities matching ``match`` to ``found`` (with their ``tier``), best first.

    BM25 costs about a microsecond per match, so a query matching most of a large graph
    ("person") is ranked only where it counts: name matches are ranked first, the remainder
    follows newest first. Queries with up to ``RANK_CAP`` matches are ranked in full.
    """
    if not ranked:
        _take(conn, namespace, table, match, want, found, tier, order="rowid DESC")
        return
    if _count(conn, table, match) <= RANK_CAP:
        _take(conn, namespace, table, match, want, found, tier, order="rank")
        return
    in_names = f"{{name}} : ({match})"
    ranked_names = _count(conn, table, in_names) <= RANK_CAP
    _take(conn, namespace, table, in_names, want, found, tier, order="rank" if ranked_names else "rowid DESC")
    if len(found) < want:
        _take(conn, namespace, table, match, want, found, tier, order="rowid DESC")


def _count(conn: sqlite3.Connection, table: str, match: str) -> int:
    # Across namespaces: only an estimate of the ranking work, which is what matters here.
    row = conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (match,)).fetchone()
    return int(row[0]) if row else 0


def _take(
    conn: sqlite3.Connection,
    namespace: str,
    table: str,
    match: str,
    want: int,
    found: dict[int, WordHit],
    tier: int,
    order: str,
) -> None:
    rows = conn.execute(
        f"SELECT e.id, {table}.name FROM {table} JOIN entities e ON e.id = {table}.rowid "
        f"WHERE {table} MATCH ? AND e.namespace = ? ORDER BY {table}.{order} LIMIT ?",
        (match, namespace, want + len(found)),
    ).fetchall()
    _add(rows, want, found, tier)


def _collect_short(conn: sqlite3.Connection, namespace: str, query: str, want: int, found: dict[int, WordHit]) -> None:
    # Too short for the trigram index: scan, as the reference does for every query.
    needle = query.lower()
    cursor = conn.execute(
        # `+e.namespace`: walking entities in id order lets LIMIT stop the scan early; the planner
        # would otherwise pick a namespace index and sort every row of the namespace first.
        "SELECT e.id FROM entities e WHERE +e.namespace = ? AND (instr(lower(e.name), ?) OR "
        "instr(lower(e.entity_type), ?) OR EXISTS (SELECT 1 FROM observations o "
        "WHERE o.entity_id = e.id AND o.valid_to IS NULL AND instr(lower(o.content), ?))) ORDER BY e.id LIMIT ?",
        (namespace, needle, needle, needle, want + len(found)),
    )
    try:
        for (entity_id,) in cursor:
            found.setdefault(entity_id, WordHit(1))
            if len(found) >= want:
                break
    finally:
        cursor.close()


def _add(rows: Iterable[Sequence[Any]], want: int, found: dict[int, WordHit], tier: int) -> None:
    """Add the (entity id, names) ``rows`` to ``found`` (first tier wins) until it holds ``want``."""
    for entity_id, names in rows:
        found.setdefault(entity_id, WordHit(tier, names))
        if len(found) >= want:
            break
