"""The PostgreSQL search index of the graph: one ``tsvector`` document per entity (GIN-indexed) and its
lower-cased text, in ``entity_search``.

The word tiers use the ``simple`` configuration (lower-cased words, no stemming, as SQLite's unicode61
tokenizer) with prefix terms, ranked by ``ts_rank`` with weights name 1.0 > type 0.4 > observation 0.1
(SQLite: BM25 10 : 4 : 1). The substring tier is ``strpos`` over the lower-cased text, narrowed first
by a GIN index over each document's trigrams (an array column: pgserver and several managed servers
lack ``pg_trgm``); a query shorter than a trigram scans, oldest first, as on SQLite.

Round trips: a word tier is one statement (a capped count of the matches and, when few enough to rank, the
best of the namespace with their names, see :func:`_ranked`); the every-word tier carries the substring
tier in the same statement, run only when it leaves room (:func:`_first_tiers`: a name query is one trip,
not two, which counts most against a server across a network). A search's other reads are in
:mod:`mcp_suite.servers.memory.search_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_suite.servers.memory import search
from mcp_suite.servers.memory.storage.base import WordHit

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Row
    from mcp_suite.servers.memory.storage.pg_conn import PgConn

# A JSON list of integers is an array literal once its brackets become braces; as an array (not a set
# returned by a JSON function) the planner knows its size and walks the indexes for a few ids.
IN_IDS = "(SELECT unnest(translate(?, '[]', '{}')::bigint[]))"
DOCUMENT_CHARS = 200_000
"""Observation text indexed for word search per entity: a tsvector may not exceed 1 MB (substring search
still sees everything)."""
REINDEX_BATCH = 1_000
"""Entities indexed per statement pair (a copy of a whole memory reindexes every entity)."""
RANK_CAP = 2_000
"""Matches beyond this many are not all ranked: name matches first, then the rest newest first."""
_RANK = "ts_rank('{0.1, 0.2, 0.4, 1.0}', s.document, q.query, 1)"
_NAMES = (
    "e.name || coalesce(chr(10) || (SELECT string_agg(alias, chr(10)) FROM aliases a WHERE a.entity_id = e.id), '')"
)
_TRIGRAMS = (
    "(SELECT coalesce(array_agg(DISTINCT substr({0}, i, 3)), '{{}}') FROM generate_series(1, length({0}) - 2) i)"
)
_RANKED_TIER = (
    "SELECT c.n, t.entity_id, t.r, " + _NAMES + " AS names FROM (SELECT count(*) AS n FROM (SELECT 1 FROM "
    "entity_search WHERE document @@ to_tsquery('simple', ?) LIMIT ?) m) c LEFT JOIN LATERAL ("
    f"SELECT s.entity_id, {_RANK} AS r FROM entity_search s, to_tsquery('simple', ?) q(query) "
    "WHERE c.n <= ? AND s.namespace = ? AND s.document @@ q.query ORDER BY r DESC, s.entity_id LIMIT ?"
    ") t ON true LEFT JOIN entities e ON e.id = t.entity_id"
)
"""One row per ranked hit (``n, entity_id, r, names``; a row of nulls after ``n`` when none): the count of
matches (capped) and, if at most ``RANK_CAP``, the best ``limit`` of the namespace. Params: match, cap + 1,
match, cap, namespace, limit."""
_FACTS = (
    "coalesce((SELECT string_agg(content, chr(10) ORDER BY id) FROM observations o "
    "WHERE o.entity_id = e.id AND o.valid_to IS NULL), '')"
)
_HAYSTACK = f"lower({_NAMES} || chr(10) || e.entity_type || chr(10) || {_FACTS})"
"""An entity's text as the substring tier searches it (the same expression as ``haystack`` in :func:`_reindex`)."""


async def unindex(conn: PgConn, ids: Sequence[int]) -> None:
    if ids:
        await conn.execute(f"DELETE FROM entity_search WHERE entity_id IN {IN_IDS}", (json.dumps(list(ids)),))


async def reindex(conn: PgConn, ids: Sequence[int]) -> None:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), REINDEX_BATCH):
        await _reindex(conn, ordered[start : start + REINDEX_BATCH])


async def _reindex(conn: PgConn, ids: list[int]) -> None:
    """Two statements: the entities' lower-cased text, whose trigrams Python takes (PostgreSQL's ``substr``
    walks a UTF-8 text from its start, so taking every trigram of an entity in SQL costs O(length²): 0.4 ms
    an entity of three short facts, most of a 500-entity ``create_entities``); then the row of each, the
    trigrams passed as one JSON object."""
    if not ids:
        return
    payload = json.dumps(ids)
    haystacks = await _fetch(conn, f"SELECT e.id, {_HAYSTACK} FROM entities e WHERE e.id IN {IN_IDS}", (payload,))
    pieces = json.dumps({str(entity_id): trigrams(text) for entity_id, text in haystacks})
    await conn.execute(
        "INSERT INTO entity_search (entity_id, namespace, document, haystack, trigrams) "
        "SELECT h.id, h.namespace, h.document, h.haystack, t.trigrams FROM ("
        "SELECT d.id, d.namespace, setweight(to_tsvector('simple', d.names), 'A') || "
        "setweight(to_tsvector('simple', d.entity_type), 'B') || "
        "setweight(to_tsvector('simple', left(d.facts, ?)), 'D') AS document, "
        "lower(d.names || chr(10) || d.entity_type || chr(10) || d.facts) AS haystack "
        f"FROM (SELECT e.id, e.namespace, e.entity_type, {_NAMES} AS names, {_FACTS} AS facts "
        f"FROM entities e WHERE e.id IN {IN_IDS}) d) h JOIN (SELECT key::bigint AS id, "
        "ARRAY(SELECT jsonb_array_elements_text(value)) AS trigrams FROM jsonb_each(?::jsonb)) t ON t.id = h.id "
        "ON CONFLICT (entity_id) DO UPDATE SET namespace = excluded.namespace, document = excluded.document, "
        "haystack = excluded.haystack, trigrams = excluded.trigrams",
        (DOCUMENT_CHARS, payload, pieces),
    )


def trigrams(text: str) -> list[str]:
    """The distinct three-character pieces of ``text``, as the query side takes them in SQL (:data:`_TRIGRAMS`)."""
    return list({text[i : i + 3] for i in range(len(text) - 2)})


def _lexeme(word: str, prefix: bool, weight: str = "") -> str:
    quoted = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if prefix else ":") + weight if prefix or weight else quoted


def tsquery(words: Sequence[str], joiner: str, weight: str = "") -> str:
    """A ``to_tsquery('simple', …)`` text of ``words`` (each quoted: operators in a query are just text)."""
    return f" {joiner} ".join(_lexeme(w, len(w) >= search.PREFIX_MIN_CHARS, weight) for w in words)


async def lexical(conn: PgConn, namespace: str, query: str, want: int) -> dict[int, WordHit]:
    found: dict[int, WordHit] = {}
    words = search.words(query)
    substring_done = False
    if words:
        substring_done = await _first_tiers(conn, namespace, query, words, want, found)
    if len(found) < want and not substring_done:
        sql, params, _ = _substring(namespace, query)
        _add(await _fetch(conn, sql, (*params, want + len(found))), want, found, tier=1)
    if len(found) < want and len(words) > 1:
        await _collect(conn, namespace, words, "|", want, found, tier=2)
    return found


def _substring(namespace: str, query: str) -> tuple[str, tuple[str, ...], bool]:
    """The substring tier (the reference's rule, kept as it is: the whole query as a case-insensitive
    substring): its ``entity_id, ''`` rows with a trailing ``LIMIT ?`` left to the caller, its parameters,
    and whether it takes the newest first (a query shorter than a trigram scans oldest first)."""
    params: tuple[str, ...] = (namespace, query)
    if len(query) < search.TRIGRAM_MIN_CHARS:
        narrow, newest_first = "", False
    else:  # an uncorrelated array: the trigram index can answer it
        pieces = _TRIGRAMS.format("x.n").replace(
            "FROM generate_series", "FROM (SELECT lower(?) AS n) x, generate_series"
        )
        narrow, newest_first, params = f"s.trigrams @> {pieces} AND", True, (namespace, query, query)
    if not newest_first:  # no index narrows it: the primary key, oldest first, until enough match
        return (
            "SELECT s.entity_id, '' FROM entity_search s WHERE s.namespace = ? AND "
            "strpos(s.haystack, lower(?)) > 0 ORDER BY s.entity_id LIMIT ?",
            params,
            newest_first,
        )
    # OFFSET 0 plans the trigram lookup on its own, before the ordering. The statements are prepared after a few
    # runs, and a prepared statement's generic plan (one plan for every query) otherwise walks the primary key
    # newest first, testing each row: 54-79 ms a name query at 20,000 entities, against 1 ms through the index.
    return (
        "SELECT m.entity_id, '' FROM (SELECT s.entity_id FROM entity_search s WHERE s.namespace = ? AND "
        f"{narrow} strpos(s.haystack, lower(?)) > 0 OFFSET 0) m ORDER BY m.entity_id DESC LIMIT ?",
        params,
        newest_first,
    )


async def _first_tiers(
    conn: PgConn, namespace: str, query: str, words: Sequence[str], want: int, found: dict[int, WordHit]
) -> bool:
    """Tier 0 (every word) and, when it leaves room, tier 1 (the substring) in one statement: the substring
    branch runs only if the ranked tier found fewer than ``want`` (a condition PostgreSQL checks once, before
    scanning), so a name query pays one round trip, not two. Returns whether the substring tier was read.

    The same rows as the two statements one after the other: tier 0 ranked as :func:`_ranked` does, then up
    to ``2 * want`` substring matches in the same order (the tier-0 hits among them are skipped by
    :func:`_add`, and at most ``want - 1`` of them exist when the branch runs)."""
    match = tsquery(words, "&")
    substring, params, newest_first = _substring(namespace, query)
    sql = (
        f"WITH ranked AS ({_RANKED_TIER}) "
        "SELECT 0, n, entity_id, names, -r, entity_id FROM ranked UNION ALL "
        f"SELECT 1, NULL, h.entity_id, '', 0, {'-' if newest_first else ''}h.entity_id FROM ("
        f"{substring}) h WHERE (SELECT count(entity_id) FROM ranked) < ? AND (SELECT max(n) FROM ranked) <= ? "
        "ORDER BY 1, 5, 6"
    )
    rows = await _fetch(
        conn, sql, (match, RANK_CAP + 1, match, RANK_CAP, namespace, want, *params, 2 * want, want, RANK_CAP)
    )
    count = int(rows[0][1]) if rows else 0
    if count > RANK_CAP:
        await _collect_many(conn, namespace, words, "&", want, found, tier=0)
        return False
    _add([(row[2], row[3]) for row in rows if row[0] == 0 and row[2] is not None], want, found, tier=0)
    if len(found) < want:
        _add([(row[2], row[3]) for row in rows if row[0] == 1], want, found, tier=1)
        return True
    return False


async def _collect(
    conn: PgConn, namespace: str, words: Sequence[str], joiner: str, want: int, found: dict[int, WordHit], tier: int
) -> None:
    """Add up to ``want`` entities matching ``words`` to ``found``, best first: all ranked when they are few,
    else name matches first (ranked if those are few), then the rest newest first."""
    match = tsquery(words, joiner)
    count, rows = await _ranked(conn, namespace, match, want + len(found))
    if count <= RANK_CAP:
        _add(rows, want, found, tier)
        return
    await _collect_many(conn, namespace, words, joiner, want, found, tier)


async def _collect_many(
    conn: PgConn, namespace: str, words: Sequence[str], joiner: str, want: int, found: dict[int, WordHit], tier: int
) -> None:
    """:func:`_collect` when more than ``RANK_CAP`` entities match: name matches first, then the rest newest first."""
    match = tsquery(words, joiner)
    in_names = tsquery(words, joiner, weight="A")
    count, rows = await _ranked(conn, namespace, in_names, want + len(found))
    if count > RANK_CAP:
        rows = await _unranked(conn, namespace, in_names, want + len(found))
    _add(rows, want, found, tier)
    if len(found) < want:
        _add(await _unranked(conn, namespace, match, want + len(found)), want, found, tier)


async def _ranked(conn: PgConn, namespace: str, match: str, limit: int) -> tuple[int, list[Row]]:
    """How many entities match (counted across namespaces, up to ``RANK_CAP + 1``: only an estimate of the
    ranking work, which is what matters here) and, if at most ``RANK_CAP``, the best ``limit`` of the
    namespace with their names: one statement, where counting first and then ranking would be two."""
    rows = await _fetch(
        conn,
        f"SELECT n, entity_id, names FROM ({_RANKED_TIER}) t ORDER BY r DESC, entity_id",
        (match, RANK_CAP + 1, match, RANK_CAP, namespace, limit),
    )
    count = int(rows[0][0]) if rows else 0
    return count, [(entity_id, names) for _, entity_id, names in rows if entity_id is not None]


async def _unranked(conn: PgConn, namespace: str, match: str, limit: int) -> list[Row]:
    return await _fetch(
        conn,
        f"SELECT t.entity_id, {_NAMES} FROM (SELECT s.entity_id FROM entity_search s "
        "WHERE s.namespace = ? AND s.document @@ to_tsquery('simple', ?) ORDER BY s.entity_id DESC LIMIT ?) t "
        "JOIN entities e ON e.id = t.entity_id ORDER BY t.entity_id DESC",
        (namespace, match, limit),
    )


async def _fetch(conn: PgConn, sql: str, params: tuple[object, ...]) -> list[Row]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


def _add(rows: list[Row], want: int, found: dict[int, WordHit], tier: int) -> None:
    """Add the (entity id, names) ``rows`` to ``found`` (first tier wins) until it holds ``want``."""
    for entity_id, names in rows:
        found.setdefault(entity_id, WordHit(tier, names))
        if len(found) >= want:
            break
