"""The knowledge graph in SQLite: every read and write the memory server performs.

One :class:`GraphStore` serves one namespace of one database file. Each public method is one
logical change or one consistent read: writes run inside ``Database.transaction()`` (``BEGIN
IMMEDIATE``, so writers in other processes queue rather than interleave), reads inside
``Database.snapshot()``. Checks that can fail (missing entities, oversized calls) run before the
first write, and any exception rolls the whole call back, so a rejected call leaves the
database as it was.

Semantics follow ``@modelcontextprotocol/server-memory``: existing names, facts and relations are
skipped, deleting an entity deletes its observations and relations, deleting something absent is
not an error. Stricter than the reference: observations and relations can only attach to
entities that exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mcp_suite.servers.memory import limits, search
from mcp_suite.servers.memory.models import (
    AddedObservations,
    Entity,
    EntityDetail,
    GraphSummary,
    ImportReport,
    KnowledgeGraph,
    LinkedRelation,
    NeighbourEntity,
    Neighbourhood,
    NewEntity,
    ObservationAddition,
    ObservationDeletion,
    PageInfo,
    RecentEntity,
    Relation,
    RelationRef,
    StoredObservation,
    TypeCount,
)
from mcp_suite.servers.memory.schema import NOW
from mcp_suite.shared.db import Connection, Database
from mcp_suite.shared.errors import InvalidInputError, NotFoundError

_FTS_TABLES = ("entity_fts", "entity_trigram")
_IN_IDS = "(SELECT value FROM json_each(?))"
RANK_CAP = 2_000
"""Search matches beyond this many are not all BM25-ranked (see ``GraphStore._collect``)."""


def _quoted(names: Iterable[str], most: int = 20) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _check_size(texts: Iterable[str]) -> None:
    total = sum(len(t) for t in texts)
    if total > limits.MAX_CALL_CHARS:
        raise InvalidInputError(
            f"this call carries {total:,} characters of text; the limit is {limits.MAX_CALL_CHARS:,}. "
            "Split it into several smaller calls. Nothing was stored."
        )


def _entity_chars(entity: Entity) -> int:
    # Rough size of the entity in the JSON a client receives, for read_graph's page budget.
    return 60 + len(entity.name) + len(entity.entityType) + sum(len(o) + 8 for o in entity.observations)


@dataclass(frozen=True)
class _Row:
    id: int
    name: str
    entity_type: str


class GraphStore:
    """The knowledge graph of one namespace in one database."""

    def __init__(self, db: Database, namespace: str) -> None:
        self.db = db
        self.namespace = namespace

    # ---- writes ---------------------------------------------------------------------------------

    async def create_entities(self, entities: Sequence[NewEntity]) -> list[Entity]:
        """Create the entities whose names are new; return them as stored (duplicates removed)."""
        _check_size(t for e in entities for t in (e.name, e.entityType, *e.observations))
        async with self.db.transaction() as conn:
            return await self._create_entities(conn, entities)

    async def create_relations(self, relations: Sequence[RelationRef]) -> list[Relation]:
        """Create the relations not stored yet; every endpoint must exist or nothing is created."""
        _check_size(t for r in relations for t in (r.from_, r.to, r.relationType))
        async with self.db.transaction() as conn:
            return await self._create_relations(conn, relations)

    async def add_observations(self, additions: Sequence[ObservationAddition]) -> list[AddedObservations]:
        """Add new facts to existing entities; one result per request item, listing what was new."""
        _check_size(t for a in additions for t in a.contents)
        async with self.db.transaction() as conn:
            ids = await self._ids(conn, [a.entityName for a in additions])
            missing = [n for n in dict.fromkeys(a.entityName for a in additions) if n not in ids]
            if missing:
                raise NotFoundError(_missing_for_observations(missing))
            return await self._add_observations(conn, ids, additions)

    async def delete_entities(self, names: Sequence[str]) -> int:
        """Delete entities with their observations and every relation that touches them."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"DELETE FROM entities WHERE namespace = ? AND name IN {_IN_IDS} RETURNING id",
                (self.namespace, json.dumps(list(names))),
            ) as cur:
                ids = [row[0] for row in await cur.fetchall()]
            await self._unindex(conn, ids)
            return len(ids)

    async def delete_observations(self, deletions: Sequence[ObservationDeletion]) -> int:
        """Remove the named facts; unknown entities and facts are skipped, as in the reference."""
        async with self.db.transaction() as conn:
            ids = await self._ids(conn, [d.entityName for d in deletions])
            removed = 0
            touched: list[int] = []
            for deletion in deletions:
                entity_id = ids.get(deletion.entityName)
                if entity_id is None:
                    continue
                cur = await conn.execute(
                    f"DELETE FROM observations WHERE entity_id = ? AND content IN {_IN_IDS}",
                    (entity_id, json.dumps(deletion.observations)),
                )
                if cur.rowcount > 0:
                    removed += cur.rowcount
                    touched.append(entity_id)
            await self._touch(conn, touched)
            await self._reindex(conn, touched)
            return removed

    async def delete_relations(self, relations: Sequence[RelationRef]) -> int:
        """Remove exactly the given relations; absent ones are skipped."""
        async with self.db.transaction() as conn:
            ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)])
            removed = 0
            for r in relations:
                if r.from_ in ids and r.to in ids:
                    cur = await conn.execute(
                        "DELETE FROM relations WHERE from_id = ? AND to_id = ? AND relation_type = ?",
                        (ids[r.from_], ids[r.to], r.relationType),
                    )
                    removed += max(cur.rowcount, 0)
            return removed

    async def import_graph(
        self,
        entities: Sequence[NewEntity],
        relations: Sequence[RelationRef],
        relation_lines: Sequence[int] | None = None,
        create_missing: bool = False,
    ) -> ImportReport:
        """Merge a whole graph in one transaction: new entities are created, new facts added to
        existing ones, new relations created. Relations to entities that exist neither in the
        store nor in the import are refused (with their line numbers) unless ``create_missing``
        creates placeholder entities of type ``unknown`` for them."""
        async with self.db.transaction() as conn:
            created = await self._create_entities(conn, entities)
            created_names = {e.name for e in created}
            # A created entity already holds the facts of its first record; later records of the
            # same name, and records of entities that already existed, are merged in.
            merged: dict[str, ObservationAddition] = {}
            seen: set[str] = set()
            for e in entities:
                first = e.name not in seen
                seen.add(e.name)
                if first and e.name in created_names:
                    continue
                if e.observations:
                    prior = merged.get(e.name)
                    contents = (prior.contents if prior else []) + e.observations
                    merged[e.name] = ObservationAddition(entityName=e.name, contents=contents)
            ids = await self._ids(conn, list(merged))
            added = await self._add_observations(conn, ids, list(merged.values()))

            endpoints = list(dict.fromkeys(n for r in relations for n in (r.from_, r.to)))
            known = await self._ids(conn, endpoints)
            missing = [n for n in endpoints if n not in known]
            stubs = 0
            if missing and not create_missing:
                raise NotFoundError(_missing_for_import(missing, relations, relation_lines))
            if missing:
                placeholders = [NewEntity(name=n, entityType="unknown") for n in missing]
                stubs = len(await self._create_entities(conn, placeholders))
            made = await self._create_relations(conn, relations)

        total_obs = sum(len(e.observations) for e in entities)
        obs_added = sum(len(e.observations) for e in created) + sum(len(a.addedObservations) for a in added)
        return ImportReport(
            entitiesCreated=len(created),
            observationsAdded=obs_added,
            relationsCreated=len(made),
            entitiesCreatedForRelations=stubs,
            duplicatesSkipped=(len(entities) - len(created)) + (total_obs - obs_added) + (len(relations) - len(made)),
        )

    # ---- reads ----------------------------------------------------------------------------------

    async def read_graph(
        self,
        limit: int = limits.DEFAULT_READ_LIMIT,
        offset: int = 0,
        budget_chars: int = limits.READ_BUDGET_CHARS,
    ) -> KnowledgeGraph:
        """One page of the graph in creation order: up to ``limit`` entities (fewer if they would
        exceed ``budget_chars``) and the relations that start at them. Paging details are only
        attached when the graph did not fit, so a small graph reads exactly like the reference."""
        async with self.db.snapshot() as conn:
            total_entities = await self._scalar(conn, "SELECT count(*) FROM entities WHERE namespace = ?")
            total_relations = await self._scalar(conn, "SELECT count(*) FROM relations WHERE namespace = ?")
            async with conn.execute(
                "SELECT id, name, entity_type FROM entities WHERE namespace = ? ORDER BY id LIMIT ? OFFSET ?",
                (self.namespace, limit, offset),
            ) as cur:
                rows = [_Row(*r) for r in await cur.fetchall()]
            entities = await self._entities(conn, rows)
            kept: list[Entity] = []
            used = 0
            for entity in entities:
                used += _entity_chars(entity)
                if kept and used > budget_chars:
                    break
                kept.append(entity)
            kept_ids = [r.id for r in rows[: len(kept)]]
            relations = await self._relations(conn, "r.from_id IN " + _IN_IDS, (json.dumps(kept_ids),))

        graph = KnowledgeGraph(entities=kept, relations=relations)
        returned_until = offset + len(kept)
        truncated = returned_until < total_entities
        if truncated or offset > 0:
            graph.page = PageInfo(
                totalEntities=total_entities,
                totalRelations=total_relations,
                offset=offset,
                returnedEntities=len(kept),
                truncated=truncated,
                nextOffset=returned_until if truncated else None,
                hint=(
                    f"Showing entities {offset + 1}-{returned_until} of {total_entities} (with the relations that "
                    f"start at them). Call read_graph with offset={returned_until} for the next page, or use "
                    "search_nodes / open_nodes to fetch just what you need."
                    if truncated
                    else f"This is the last page ({total_entities} entities in total)."
                ),
            )
        return graph

    async def open_nodes(self, names: Sequence[str]) -> KnowledgeGraph:
        """The named entities that exist (unknown names are skipped) and every relation touching them."""
        async with self.db.snapshot() as conn:
            async with conn.execute(
                # Sorted here, not in SQL: ORDER BY id would tempt the planner off the name index.
                f"SELECT id, name, entity_type FROM entities WHERE namespace = ? AND name IN {_IN_IDS}",
                (self.namespace, json.dumps(list(names))),
            ) as cur:
                rows = sorted((_Row(*r) for r in await cur.fetchall()), key=lambda r: r.id)
            return await self._subgraph(conn, rows)

    async def search(self, query: str, limit: int = limits.DEFAULT_SEARCH_LIMIT) -> KnowledgeGraph:
        """Entities matching ``query`` best first, with every relation touching them.

        Ranked in three tiers: entities containing every word (or word prefix), BM25-ranked with
        names weighing most; then entities containing the query as a case-insensitive substring of
        their name, type or an observation (the reference server's rule, so nothing it would find
        is missed); then, for several words, entities containing any of them.
        """
        want = limit + 1  # one extra tells us whether more exist
        found: dict[int, None] = {}
        async with self.db.snapshot() as conn:
            fts = search.all_words(query)
            if fts:
                await self._collect(conn, "entity_fts", fts, want, found)
            if len(found) < want:
                phrase = search.substring(query)
                if phrase:
                    # Substring hits are not ranked: BM25 over trigrams says little about relevance.
                    await self._collect(conn, "entity_trigram", phrase, want, found, ranked=False)
                else:
                    await self._collect_short(conn, query, want, found)
            if len(found) < want:
                loose = search.any_word(query)
                if loose:
                    await self._collect(conn, "entity_fts", loose, want, found)
            ids = list(found)[:limit]
            rows = await self._rows_by_id(conn, ids)
            graph = await self._subgraph(conn, rows)
        if len(found) > limit:
            graph.hint = (
                f"More entities match than the {limit} shown (best matches first). Pass a larger limit "
                f"(up to {limits.MAX_SEARCH_LIMIT}) or a more specific query."
            )
        return graph

    async def neighbourhood(
        self, name: str, depth: int = 1, limit: int = limits.DEFAULT_NEIGHBOURHOOD_LIMIT
    ) -> Neighbourhood:
        """The entity ``name`` and everything within ``depth`` hops along relations in either
        direction, nearest first, at most ``limit`` entities, with the relations among them."""
        async with self.db.snapshot() as conn:
            ids = await self._ids(conn, [name])
            if name not in ids:
                raise NotFoundError(
                    f"Entity with name {name!r} not found. Use search_nodes to find the exact name, "
                    "or create_entities to add it."
                )
            distance: dict[int, int] = {ids[name]: 0}
            frontier = [ids[name]]
            truncated = False
            for hop in range(1, depth + 1):
                if not frontier or truncated:
                    break
                payload = json.dumps(frontier)
                async with conn.execute(
                    f"SELECT from_id, to_id FROM relations WHERE from_id IN {_IN_IDS} OR to_id IN {_IN_IDS} "
                    "ORDER BY id",
                    (payload, payload),
                ) as cur:
                    pairs = await cur.fetchall()
                frontier = []
                for pair in pairs:
                    for other in pair:
                        if other in distance:
                            continue
                        if len(distance) >= limit:
                            truncated = True
                            break
                        distance[other] = hop
                        frontier.append(other)
            rows = await self._rows_by_id(conn, list(distance))
            entities = await self._entities(conn, rows)
            payload = json.dumps(list(distance))
            relations = await self._relations(
                conn, f"r.from_id IN {_IN_IDS} AND r.to_id IN {_IN_IDS}", (payload, payload)
            )
        by_name = {r.name: distance[r.id] for r in rows}
        return Neighbourhood(
            center=name,
            depth=depth,
            entities=[NeighbourEntity(**e.model_dump(), distance=by_name[e.name]) for e in entities],
            relations=relations,
            truncated=truncated,
        )

    async def summary(self) -> GraphSummary:
        """Counts, the commonest types and the most recently changed entities."""
        ns = (self.namespace,)
        async with self.db.snapshot() as conn:
            entities = await self._scalar(conn, "SELECT count(*) FROM entities WHERE namespace = ?")
            relations = await self._scalar(conn, "SELECT count(*) FROM relations WHERE namespace = ?")
            observations = await self._scalar(
                conn,
                "SELECT count(*) FROM observations o JOIN entities e ON e.id = o.entity_id WHERE e.namespace = ?",
            )
            async with conn.execute(
                "SELECT entity_type, count(*) AS n FROM entities WHERE namespace = ? "
                "GROUP BY entity_type ORDER BY n DESC, entity_type LIMIT 20",
                ns,
            ) as cur:
                entity_types = [TypeCount(type=t, count=n) for t, n in await cur.fetchall()]
            async with conn.execute(
                "SELECT relation_type, count(*) AS n FROM relations WHERE namespace = ? "
                "GROUP BY relation_type ORDER BY n DESC, relation_type LIMIT 20",
                ns,
            ) as cur:
                relation_types = [TypeCount(type=t, count=n) for t, n in await cur.fetchall()]
            async with conn.execute(
                "SELECT name, entity_type, updated_at FROM entities WHERE namespace = ? "
                "ORDER BY updated_at DESC, id DESC LIMIT ?",
                (self.namespace, limits.RECENT_ENTITIES),
            ) as cur:
                recent = [RecentEntity(name=n, entityType=t, updatedAt=u) for n, t, u in await cur.fetchall()]
        return GraphSummary(
            namespace=self.namespace,
            entities=entities,
            relations=relations,
            observations=observations,
            entityTypes=entity_types,
            relationTypes=relation_types,
            recentlyUpdated=recent,
        )

    async def entity_detail(self, name: str) -> EntityDetail:
        """One entity with timestamps, its observations and its relations in both directions."""
        async with self.db.snapshot() as conn:
            async with conn.execute(
                "SELECT id, entity_type, created_at, updated_at FROM entities WHERE namespace = ? AND name = ?",
                (self.namespace, name),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                raise NotFoundError(f"Entity with name {name!r} not found. Use search_nodes to find the exact name.")
            entity_id, entity_type, created_at, updated_at = row
            async with conn.execute(
                "SELECT content, created_at FROM observations WHERE entity_id = ? ORDER BY id", (entity_id,)
            ) as cur:
                observations = [StoredObservation(content=c, createdAt=t) for c, t in await cur.fetchall()]
            links: dict[str, list[LinkedRelation]] = {"from_id": [], "to_id": []}
            for column, found in links.items():
                async with conn.execute(
                    "SELECT f.name, t.name, r.relation_type, r.created_at FROM relations r "
                    "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id "
                    f"WHERE r.{column} = ? ORDER BY r.id",
                    (entity_id,),
                ) as cur:
                    found.extend(
                        LinkedRelation(from_=f, to=t, relationType=k, createdAt=c)
                        for f, t, k, c in await cur.fetchall()
                    )
        return EntityDetail(
            name=name,
            entityType=entity_type,
            createdAt=created_at,
            updatedAt=updated_at,
            observations=observations,
            outgoing=links["from_id"],
            incoming=links["to_id"],
        )

    async def export(self) -> KnowledgeGraph:
        """The whole namespace, unpaged, in creation order (for ``memory export``)."""
        async with self.db.snapshot() as conn:
            async with conn.execute(
                "SELECT id, name, entity_type FROM entities WHERE namespace = ? ORDER BY id", (self.namespace,)
            ) as cur:
                rows = [_Row(*r) for r in await cur.fetchall()]
            entities = await self._entities(conn, rows, by_namespace=True)
            relations = await self._relations(conn, "r.namespace = ?", (self.namespace,))
        return KnowledgeGraph(entities=entities, relations=relations)

    async def namespaces(self) -> list[str]:
        """Every namespace of the database that holds at least one entity (a namespace is not stored apart)."""
        async with self.db.snapshot() as conn, conn.execute("SELECT DISTINCT namespace FROM entities") as cur:
            return sorted(str(row[0]) for row in await cur.fetchall())

    # ---- internals ------------------------------------------------------------------------------

    async def _scalar(self, conn: Connection, sql: str) -> int:
        async with conn.execute(sql, (self.namespace,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _ids(self, conn: Connection, names: Iterable[str]) -> dict[str, int]:
        unique = list(dict.fromkeys(names))
        if not unique:
            return {}
        async with conn.execute(
            f"SELECT name, id FROM entities WHERE namespace = ? AND name IN {_IN_IDS}",
            (self.namespace, json.dumps(unique)),
        ) as cur:
            return {name: entity_id for name, entity_id in await cur.fetchall()}

    async def _rows_by_id(self, conn: Connection, ids: Sequence[int]) -> list[_Row]:
        """Entity rows in the order of ``ids``."""
        if not ids:
            return []
        async with conn.execute(
            f"SELECT id, name, entity_type FROM entities WHERE id IN {_IN_IDS}", (json.dumps(list(ids)),)
        ) as cur:
            found = {r[0]: _Row(*r) for r in await cur.fetchall()}
        return [found[i] for i in ids if i in found]

    async def _entities(self, conn: Connection, rows: Sequence[_Row], by_namespace: bool = False) -> list[Entity]:
        if not rows:
            return []
        facts: dict[int, list[str]] = {r.id: [] for r in rows}
        if by_namespace:  # a whole-namespace read: one join instead of a huge id list
            sql = (
                "SELECT o.entity_id, o.content FROM observations o JOIN entities e ON e.id = o.entity_id "
                "WHERE e.namespace = ? ORDER BY o.id"
            )
            params: tuple[str, ...] = (self.namespace,)
        else:
            sql = f"SELECT entity_id, content FROM observations WHERE entity_id IN {_IN_IDS} ORDER BY id"
            params = (json.dumps(list(facts)),)
        async with conn.execute(sql, params) as cur:
            async for entity_id, content in cur:
                facts[entity_id].append(content)
        return [Entity(name=r.name, entityType=r.entity_type, observations=facts[r.id]) for r in rows]

    async def _relations(self, conn: Connection, where: str, params: tuple[object, ...]) -> list[Relation]:
        async with conn.execute(
            "SELECT f.name, t.name, r.relation_type FROM relations r "
            "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id "
            f"WHERE {where} ORDER BY r.id",
            params,
        ) as cur:
            return [Relation(from_=f, to=t, relationType=k) for f, t, k in await cur.fetchall()]

    async def _subgraph(self, conn: Connection, rows: Sequence[_Row]) -> KnowledgeGraph:
        entities = await self._entities(conn, rows)
        payload = json.dumps([r.id for r in rows])
        relations = await self._relations(conn, f"r.from_id IN {_IN_IDS} OR r.to_id IN {_IN_IDS}", (payload, payload))
        return KnowledgeGraph(entities=entities, relations=relations)

    async def _collect(
        self, conn: Connection, table: str, match: str, want: int, found: dict[int, None], ranked: bool = True
    ) -> None:
        """Add up to ``want`` entities matching ``match`` to ``found``, best first.

        BM25 costs about a microsecond per match, so a query matching most of a large graph
        ("person") is ranked only where it counts: name matches are ranked first, the remainder
        follows newest first. Queries with up to ``RANK_CAP`` matches are ranked in full.
        """
        if not ranked:
            await self._take(conn, table, match, want, found, order="rowid DESC")
            return
        if await self._count(conn, table, match) <= RANK_CAP:
            await self._take(conn, table, match, want, found, order="rank")
            return
        in_names = f"{{name}} : ({match})"
        ranked_names = await self._count(conn, table, in_names) <= RANK_CAP
        await self._take(conn, table, in_names, want, found, order="rank" if ranked_names else "rowid DESC")
        if len(found) < want:
            await self._take(conn, table, match, want, found, order="rowid DESC")

    async def _count(self, conn: Connection, table: str, match: str) -> int:
        # Across namespaces: only an estimate of the ranking work, which is what matters here.
        async with conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (match,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _take(
        self, conn: Connection, table: str, match: str, want: int, found: dict[int, None], order: str
    ) -> None:
        async with conn.execute(
            f"SELECT e.id FROM {table} JOIN entities e ON e.id = {table}.rowid "
            f"WHERE {table} MATCH ? AND e.namespace = ? ORDER BY {table}.{order} LIMIT ?",
            (match, self.namespace, want + len(found)),
        ) as cur:
            async for (entity_id,) in cur:
                found.setdefault(entity_id, None)
                if len(found) >= want:
                    break

    async def _collect_short(self, conn: Connection, query: str, want: int, found: dict[int, None]) -> None:
        # Too short for the trigram index: scan, as the reference does for every query.
        needle = query.lower()
        async with conn.execute(
            # `+e.namespace`: walking entities in id order lets LIMIT stop the scan early; the planner
            # would otherwise pick a namespace index and sort every row of the namespace first.
            "SELECT e.id FROM entities e WHERE +e.namespace = ? AND (instr(lower(e.name), ?) OR "
            "instr(lower(e.entity_type), ?) OR EXISTS (SELECT 1 FROM observations o "
            "WHERE o.entity_id = e.id AND instr(lower(o.content), ?))) ORDER BY e.id LIMIT ?",
            (self.namespace, needle, needle, needle, want + len(found)),
        ) as cur:
            async for (entity_id,) in cur:
                found.setdefault(entity_id, None)
                if len(found) >= want:
                    break

    async def _create_entities(self, conn: Connection, entities: Sequence[NewEntity]) -> list[Entity]:
        first: dict[str, NewEntity] = {}
        for entity in entities:
            first.setdefault(entity.name, entity)
        existing = await self._ids(conn, first)
        new = [e for name, e in first.items() if name not in existing]
        if not new:
            return []
        await conn.executemany(
            "INSERT INTO entities (namespace, name, entity_type) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(self.namespace, e.name, e.entityType) for e in new],
        )
        ids = await self._ids(conn, (e.name for e in new))
        created: list[Entity] = []
        facts: list[tuple[int, str]] = []
        for e in new:
            observations = list(dict.fromkeys(e.observations))
            facts.extend((ids[e.name], o) for o in observations)
            created.append(Entity(name=e.name, entityType=e.entityType, observations=observations))
        await conn.executemany(
            "INSERT INTO observations (entity_id, content) VALUES (?, ?) ON CONFLICT DO NOTHING", facts
        )
        await self._reindex(conn, [ids[e.name] for e in new])
        return created

    async def _create_relations(self, conn: Connection, relations: Sequence[RelationRef]) -> list[Relation]:
        ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)])
        missing = [n for n in dict.fromkeys(n for r in relations for n in (r.from_, r.to)) if n not in ids]
        if missing:
            raise NotFoundError(
                f"Cannot create relations: no entity named {_quoted(missing)}. Create the missing entities "
                "with create_entities first, then call create_relations again. No relations were created."
            )
        wanted: dict[tuple[int, int, str], RelationRef] = {}
        for r in relations:
            wanted.setdefault((ids[r.from_], ids[r.to], r.relationType), r)
        async with conn.execute(
            "SELECT r.from_id, r.to_id, r.relation_type FROM json_each(?) j JOIN relations r "
            "ON r.from_id = json_extract(j.value, '$[0]') AND r.to_id = json_extract(j.value, '$[1]') "
            "AND r.relation_type = json_extract(j.value, '$[2]')",
            (json.dumps(list(wanted)),),
        ) as cur:
            existing = {(f, t, k) for f, t, k in await cur.fetchall()}
        new = [(key, r) for key, r in wanted.items() if key not in existing]
        await conn.executemany(
            "INSERT INTO relations (namespace, from_id, to_id, relation_type) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(self.namespace, *key) for key, _ in new],
        )
        return [Relation(from_=r.from_, to=r.to, relationType=r.relationType) for _, r in new]

    async def _add_observations(
        self, conn: Connection, ids: dict[str, int], additions: Sequence[ObservationAddition]
    ) -> list[AddedObservations]:
        results: list[AddedObservations] = []
        touched: dict[int, None] = {}
        for addition in additions:
            entity_id = ids[addition.entityName]
            contents = list(dict.fromkeys(addition.contents))
            async with conn.execute(
                f"SELECT content FROM observations WHERE entity_id = ? AND content IN {_IN_IDS}",
                (entity_id, json.dumps(contents)),
            ) as cur:
                known = {row[0] for row in await cur.fetchall()}
            new = [c for c in contents if c not in known]
            if new:
                await conn.executemany(
                    "INSERT INTO observations (entity_id, content) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(entity_id, c) for c in new],
                )
                touched[entity_id] = None
            results.append(AddedObservations(entityName=addition.entityName, addedObservations=new))
        await self._touch(conn, list(touched))
        await self._reindex(conn, list(touched))
        return results

    async def _touch(self, conn: Connection, ids: Sequence[int]) -> None:
        if ids:
            await conn.execute(f"UPDATE entities SET updated_at = {NOW} WHERE id IN {_IN_IDS}", (json.dumps(ids),))

    async def _unindex(self, conn: Connection, ids: Sequence[int]) -> None:
        # Row by row: FTS5 answers `rowid = ?` from its index but scans for `rowid IN (...)`.
        for table in _FTS_TABLES:
            await conn.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(i,) for i in ids])

    async def _reindex(self, conn: Connection, ids: Sequence[int]) -> None:
        """Rewrite the search documents of ``ids`` from their current name, type and observations."""
        if not ids:
            return
        await self._unindex(conn, ids)
        for table in _FTS_TABLES:
            await conn.execute(
                f"INSERT INTO {table} (rowid, name, entity_type, observations) "
                "SELECT e.id, e.name, e.entity_type, coalesce((SELECT group_concat(content, char(10)) FROM "
                "(SELECT content FROM observations WHERE entity_id = e.id ORDER BY id)), '') "
                f"FROM entities e WHERE e.id IN {_IN_IDS}",
                (json.dumps(list(ids)),),
            )


def _missing_for_observations(missing: Sequence[str]) -> str:
    if len(missing) == 1:
        subject = f"Entity with name {missing[0]} not found"
    else:
        subject = f"Entities not found: {_quoted(missing)}"
    return (
        f"{subject}. Create it with create_entities first (or check the exact name with search_nodes), "
        "then call add_observations again. No observations were added."
    )


def _missing_for_import(missing: Sequence[str], relations: Sequence[RelationRef], lines: Sequence[int] | None) -> str:
    absent = set(missing)
    where: list[str] = []
    for i, r in enumerate(relations):
        names = [n for n in (r.from_, r.to) if n in absent]
        if names:
            at = f"line {lines[i]}" if lines is not None else f"relation {i + 1}"
            where.append(f"{at}: {r.from_} -{r.relationType}-> {r.to} (missing {_quoted(names)})")
    shown = "\n  ".join(where[:20]) + (f"\n  … and {len(where) - 20} more" if len(where) > 20 else "")
    return (
        f"relations name {len(absent)} entities that exist neither in the file nor in the store:\n  {shown}\n"
        "Add those entities to the file, or pass --create-missing to create them with type 'unknown'. "
        "Nothing was imported."
    )
