"""Shared plumbing of the graph store: SQL fragments for validity, the id and row lookups every read
and write uses, loading entities and relations, and keeping the search index in step with a write.

The graph's SQL is what both engines share; what differs (sets from JSON lists, the clock, the search
index, vectors) comes from the engine's :class:`~mcp_suite.servers.memory.storage.base.Dialect`, and
every write goes through :meth:`GraphCore._run_change` (retried on PostgreSQL conflicts, announced to other
replicas). Nothing here asks which engine runs.

:class:`GraphCore` holds what one namespace's store needs (database, namespace, recall); the
modules ``graph_writes``, ``graph_time``, ``graph_merge``, ``graph_reads`` and ``graph_search``
each add one responsibility on top of it, and :class:`~mcp_suite.servers.memory.graph.GraphStore`
combines them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from mcp_suite.servers.memory import limits
from mcp_suite.servers.memory.models import Entity, KnowledgeGraph, Relation
from mcp_suite.servers.memory.recall import Recall
from mcp_suite.servers.memory.storage.base import MemoryDatabase, scalar
from mcp_suite.shared.errors import InvalidInputError

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn

T = TypeVar("T")


def valid_at(alias: str, as_of: str | None) -> tuple[str, tuple[str, ...]]:
    """SQL condition (and its parameters) for "row ``alias`` held at ``as_of``" (now when None)."""
    if as_of is None:
        return f"{alias}.valid_to IS NULL", ()
    return f"{alias}.valid_from <= ? AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ?)", (as_of, as_of)


def existed_at(alias: str, as_of: str | None) -> tuple[str, tuple[str, ...]]:
    """SQL condition for "entity ``alias`` existed at ``as_of``" (always true for now)."""
    if as_of is None:
        return "TRUE", ()
    return f"{alias}.created_at <= ?", (as_of,)


@dataclass
class Changes:
    """What a transaction wrote, for the semantic index once it has committed."""

    observations: list[tuple[int, int, str]] = field(default_factory=list)
    entities: list[tuple[int, str, str]] = field(default_factory=list)
    removed_entities: list[int] = field(default_factory=list)
    moved: tuple[list[int], int] | None = None  # observation ids now on another entity, and that entity


def quoted(names: Iterable[str], most: int = 20) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def check_size(texts: Iterable[str]) -> None:
    total = sum(len(t) for t in texts)
    if total > limits.MAX_CALL_CHARS:
        raise InvalidInputError(
            f"this call carries {total:,} characters of text; the limit is {limits.MAX_CALL_CHARS:,}. "
            "Split it into several smaller calls. Nothing was stored."
        )


@dataclass(frozen=True)
class EntityRow:
    id: int
    name: str
    entity_type: str


class GraphCore:
    """The state and helpers of one namespace's graph store (see the module docstring)."""

    def __init__(self, db: MemoryDatabase, namespace: str, recall: Recall | None = None) -> None:
        self.db = db
        self.sql = db.dialect
        self.namespace = namespace
        self.recall = recall
        self.ids_in = db.dialect.in_ints  # `x IN {ids_in}` with a JSON list of ints as the parameter
        self.texts_in = db.dialect.in_texts  # … of strings

    async def _run_change(self, body: Callable[[Conn, Changes], Awaitable[T]]) -> T:
        """One logical change: run by ``db.run`` (again, with fresh ``Changes``, after a conflict),
        announced to other replicas on commit, then handed to the semantic index."""

        async def change(conn: Conn) -> tuple[T, Changes]:
            changes = Changes()
            result = await body(conn, changes)
            await self.db.announce(conn, self.namespace)
            return result, changes

        result, changes = await self.db.run(change)
        self._committed(changes)
        return result

    def _committed(self, changes: Changes) -> None:
        if self.recall is not None:
            self.recall.changed()
            if changes.moved is not None:
                self.recall.moved(*changes.moved)
            if changes.removed_entities:
                self.recall.removed(entity_ids=changes.removed_entities)
            self.recall.written(changes.observations, changes.entities)

    async def _scalar(self, conn: Conn, sql: str, params: tuple[object, ...] = ()) -> int:
        return await scalar(conn, sql, (self.namespace, *params), int)

    async def _now(self, conn: Conn) -> str:
        return await scalar(conn, f"SELECT {self.sql.now}", (), str)

    async def _ids(self, conn: Conn, names: Iterable[str], aliases: bool = False) -> dict[str, int]:
        """Entity ids by exact name; with ``aliases``, names of merged entities resolve to their survivor."""
        unique = list(dict.fromkeys(names))
        if not unique:
            return {}
        async with conn.execute(
            f"SELECT name, id FROM entities WHERE namespace = ? AND name IN {self.texts_in}",
            (self.namespace, json.dumps(unique)),
        ) as cur:
            found = {name: entity_id for name, entity_id in await cur.fetchall()}
        rest = [n for n in unique if n not in found]
        if aliases and rest:
            async with conn.execute(
                f"SELECT alias, entity_id FROM aliases WHERE namespace = ? AND alias IN {self.texts_in}",
                (self.namespace, json.dumps(rest)),
            ) as cur:
                found.update({alias: entity_id for alias, entity_id in await cur.fetchall()})
        return found

    async def _rows_by_id(
        self, conn: Conn, ids: Sequence[int], as_of: str | None = None, namespace: bool = False
    ) -> list[EntityRow]:
        """Entity rows in the order of ``ids`` (those that existed at ``as_of``, when given; in this
        namespace, with ``namespace``)."""
        if not ids:
            return []
        existed, existed_params = existed_at("e", as_of)
        ns, ns_params = ("e.namespace = ?", (self.namespace,)) if namespace else ("TRUE", ())
        async with conn.execute(
            f"SELECT id, name, entity_type FROM entities e WHERE id IN {self.ids_in} AND {existed} AND {ns}",
            (json.dumps(list(ids)), *existed_params, *ns_params),
        ) as cur:
            found = {r[0]: EntityRow(*r) for r in await cur.fetchall()}
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def _entities(
        self, conn: Conn, rows: Sequence[EntityRow], by_namespace: bool = False, as_of: str | None = None
    ) -> list[Entity]:
        if not rows:
            return []
        facts: dict[int, list[str]] = {r.id: [] for r in rows}
        valid, valid_params = valid_at("o", as_of)
        if by_namespace:  # a whole-namespace read: one join instead of a huge id list
            sql = (
                "SELECT o.entity_id, o.content FROM observations o JOIN entities e ON e.id = o.entity_id "
                f"WHERE e.namespace = ? AND {valid} ORDER BY o.id"
            )
            params: tuple[str, ...] = (self.namespace, *valid_params)
        else:
            sql = (
                f"SELECT o.entity_id, o.content FROM observations o WHERE o.entity_id IN {self.ids_in} AND {valid} "
                "ORDER BY o.id"
            )
            params = (json.dumps(list(facts)), *valid_params)
        async with conn.execute(sql, params) as cur:
            async for entity_id, content in cur:
                facts[entity_id].append(content)
        return [Entity(name=r.name, entityType=r.entity_type, observations=facts[r.id]) for r in rows]

    async def _relations(
        self, conn: Conn, where: str, params: tuple[object, ...], as_of: str | None = None
    ) -> list[Relation]:
        valid, valid_params = valid_at("r", as_of)
        async with conn.execute(
            "SELECT f.name, t.name, r.relation_type FROM relations r "
            "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id "
            f"WHERE ({where}) AND {valid} ORDER BY r.id",
            (*params, *valid_params),
        ) as cur:
            return [Relation(from_=f, to=t, relationType=k) for f, t, k in await cur.fetchall()]

    async def _subgraph(self, conn: Conn, rows: Sequence[EntityRow], as_of: str | None = None) -> KnowledgeGraph:
        entities = await self._entities(conn, rows, as_of=as_of)
        payload = json.dumps([r.id for r in rows])
        # Two index lookups joined by UNION: `from_id IN … OR to_id IN …` makes PostgreSQL scan relations.
        relations = await self._relations(
            conn,
            f"r.id IN (SELECT id FROM relations WHERE from_id IN {self.ids_in} "
            f"UNION SELECT id FROM relations WHERE to_id IN {self.ids_in})",
            (payload, payload),
            as_of,
        )
        if as_of is not None:
            relations = await self._both_ends_existed(conn, rows, relations, as_of)
        return KnowledgeGraph(entities=entities, relations=relations)

    async def _both_ends_existed(
        self, conn: Conn, rows: Sequence[EntityRow], relations: list[Relation], as_of: str
    ) -> list[Relation]:
        """The relations among ``relations`` (each touching one of ``rows``) whose both ends existed at ``as_of``."""
        names = {r.name for r in rows}
        existing = await self._ids(conn, [n for r in relations for n in (r.from_, r.to) if n not in names])
        alive = {r.id for r in await self._rows_by_id(conn, list(existing.values()), as_of)}
        kept = {n for n, i in existing.items() if i in alive} | names
        return [r for r in relations if r.from_ in kept and r.to in kept]

    async def _insert_observations(
        self, conn: Conn, facts: Sequence[tuple[int, str]], changes: Changes, valid_from: str | None = None
    ) -> list[tuple[int, int, str]]:
        """Insert ``(entity id, content)`` facts that are not current already; return the new rows."""
        if not facts:
            return []
        async with conn.execute(
            self.sql.insert_observations,
            (valid_from, json.dumps(list(facts))),
        ) as cur:
            rows = [(i, e, c) for i, e, c in await cur.fetchall()]
        changes.observations.extend(rows)
        return rows

    async def _touch(self, conn: Conn, ids: Sequence[int]) -> None:
        if ids:
            await conn.execute(
                f"UPDATE entities SET updated_at = {self.sql.now} WHERE id IN {self.ids_in}", (json.dumps(ids),)
            )

    async def _unindex(self, conn: Conn, ids: Sequence[int]) -> None:
        await self.sql.unindex(conn, ids)

    async def _reindex(self, conn: Conn, ids: Sequence[int]) -> None:
        """Rewrite the search documents of ``ids`` from their name (and aliases), type and current observations."""
        await self.sql.reindex(conn, ids)
