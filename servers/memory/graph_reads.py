"""Reads of the graph store other than search: paged ``read_graph``, ``open_nodes``, the
neighbourhood, the summary and entity-detail resources, duplicate candidates and the export.

Each public method reads inside one ``Database.snapshot()``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from mcp_suite.servers.memory import limits
from mcp_suite.servers.memory.duplicates import likely_duplicates
from mcp_suite.servers.memory.graph_core import EntityRow, GraphCore, existed_at, valid_at
from mcp_suite.servers.memory.models import (
    Duplicates,
    Entity,
    EntityDetail,
    GraphSummary,
    KnowledgeGraph,
    LinkedRelation,
    NeighbourEntity,
    Neighbourhood,
    PageInfo,
    RecentEntity,
    StoredObservation,
    TypeCount,
)
from mcp_suite.servers.memory.search_rows import read_search_rows
from mcp_suite.servers.memory.storage.base import fetch_row
from mcp_suite.shared.errors import InvalidInputError, NotFoundError


def _entity_chars(entity: Entity) -> int:
    # Rough size of the entity in the JSON a client receives, for read_graph's page budget.
    return 60 + len(entity.name) + len(entity.entityType) + sum(len(o) + 8 for o in entity.observations)


def _check_name(name: str) -> None:
    bad = re.search(r"[\x00-\x1f\x7f-\x9f]", name)
    if bad:
        raise InvalidInputError(
            f"entity names never contain control characters (found U+{ord(bad.group()):04X} at position "
            f"{bad.start()}); check the name"
        )


class GraphReads(GraphCore):
    """Reading pages, nodes, neighbourhoods and summaries (see the module docstring)."""

    async def read_graph(
        self,
        limit: int = limits.DEFAULT_READ_LIMIT,
        offset: int = 0,
        budget_chars: int = limits.READ_BUDGET_CHARS,
        as_of: str | None = None,
    ) -> KnowledgeGraph:
        """One page of the graph in creation order: up to ``limit`` entities (fewer if they would
        exceed ``budget_chars``) and the relations that start at them. Paging details are only
        attached when the graph did not fit, so a small graph reads exactly like the reference."""
        existed, existed_params = existed_at("e", as_of)
        valid, valid_params = valid_at("r", as_of)
        async with self.db.snapshot() as conn:
            total_entities = await self._scalar(
                conn, f"SELECT count(*) FROM entities e WHERE e.namespace = ? AND {existed}", existed_params
            )
            total_relations = await self._scalar(
                conn,
                "SELECT count(*) FROM relations r JOIN entities f ON f.id = r.from_id "
                "JOIN entities t ON t.id = r.to_id WHERE r.namespace = ? "
                f"AND {valid} AND {existed.replace('e.', 'f.')} AND {existed.replace('e.', 't.')}",
                (*valid_params, *existed_params, *existed_params),
            )
            async with conn.execute(
                f"SELECT id, name, entity_type FROM entities e WHERE e.namespace = ? AND {existed} "
                "ORDER BY id LIMIT ? OFFSET ?",
                (self.namespace, *existed_params, limit, offset),
            ) as cur:
                rows = [EntityRow(*r) for r in await cur.fetchall()]
            entities = await self._entities(conn, rows, as_of=as_of)
            kept: list[Entity] = []
            used = 0
            for entity in entities:
                used += _entity_chars(entity)
                if kept and used > budget_chars:
                    break
                kept.append(entity)
            kept_ids = [r.id for r in rows[: len(kept)]]
            relations = await self._relations(conn, "r.from_id IN " + self.ids_in, (json.dumps(kept_ids),), as_of)

        graph = KnowledgeGraph(entities=kept, relations=relations, asOf=as_of)
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

    async def open_nodes(self, names: Sequence[str], as_of: str | None = None) -> KnowledgeGraph:
        """The named entities that exist (unknown names are skipped; aliases of merged entities resolve
        to the entity they were merged into) and every relation touching them."""
        # Two statements (names to ids, then every row of those ids: see search_rows) and no snapshot, as a
        # search reads: an entity deleted in between drops out, one changed shows its newer facts.
        async with self.db.reads() as conn:
            ids = await self._ids(conn, names, aliases=True)
            rows = await read_search_rows(conn, self.sql.one_of_ints, self.namespace, sorted(set(ids.values())), as_of)
            relations = rows.graph_relations()
            if as_of is not None:
                relations = await self._both_ends_existed(conn, rows.entities, relations, as_of)
        return KnowledgeGraph(entities=rows.graph_entities(), relations=relations, asOf=as_of)

    async def neighbourhood(
        self, name: str, depth: int = 1, limit: int = limits.DEFAULT_NEIGHBOURHOOD_LIMIT, as_of: str | None = None
    ) -> Neighbourhood:
        """The entity ``name`` and everything within ``depth`` hops along relations in either
        direction, nearest first, at most ``limit`` entities, with the relations among them."""
        valid, valid_params = valid_at("r", as_of)
        async with self.db.snapshot() as conn:
            ids = await self._ids(conn, [name], aliases=True)
            rows = await self._rows_by_id(conn, list(ids.values()), as_of)
            if not rows:
                raise NotFoundError(
                    f"Entity with name {name!r} not found"
                    + (f" as of {as_of}" if as_of else "")
                    + ". Use search_nodes to find the exact name, or create_entities to add it."
                )
            centre = rows[0]
            distance: dict[int, int] = {centre.id: 0}
            frontier = [centre.id]
            truncated = False
            for hop in range(1, depth + 1):
                if not frontier or truncated:
                    break
                payload = json.dumps(frontier)
                async with conn.execute(
                    f"SELECT from_id, to_id FROM relations r WHERE (from_id IN {self.ids_in} "
                    f"OR to_id IN {self.ids_in}) AND {valid} ORDER BY id",
                    (payload, payload, *valid_params),
                ) as cur:
                    pairs = await cur.fetchall()
                existing = {r.id for r in await self._rows_by_id(conn, [o for p in pairs for o in p], as_of)}
                frontier = []
                for pair in pairs:
                    for other in pair:
                        if other in distance or other not in existing:
                            continue
                        if len(distance) >= limit:
                            truncated = True
                            break
                        distance[other] = hop
                        frontier.append(other)
            rows = await self._rows_by_id(conn, list(distance))
            entities = await self._entities(conn, rows, as_of=as_of)
            payload = json.dumps(list(distance))
            relations = await self._relations(
                conn, f"r.from_id IN {self.ids_in} AND r.to_id IN {self.ids_in}", (payload, payload), as_of
            )
        by_name = {r.name: distance[r.id] for r in rows}
        return Neighbourhood(
            center=centre.name,
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
            relations = await self._scalar(
                conn, "SELECT count(*) FROM relations WHERE namespace = ? AND valid_to IS NULL"
            )
            observations = await self._scalar(
                conn,
                "SELECT count(*) FROM observations o JOIN entities e ON e.id = o.entity_id "
                "WHERE e.namespace = ? AND o.valid_to IS NULL",
            )
            async with conn.execute(
                "SELECT entity_type, count(*) AS n FROM entities WHERE namespace = ? "
                "GROUP BY entity_type ORDER BY n DESC, entity_type LIMIT 20",
                ns,
            ) as cur:
                entity_types = [TypeCount(type=t, count=n) for t, n in await cur.fetchall()]
            async with conn.execute(
                "SELECT relation_type, count(*) AS n FROM relations WHERE namespace = ? AND valid_to IS NULL "
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
        """One entity with timestamps, its current observations and relations in both directions, its
        aliases, and its history: facts that were superseded and relations that ended."""
        _check_name(name)
        async with self.db.snapshot() as conn:
            ids = await self._ids(conn, [name], aliases=True)
            if name not in ids:
                raise NotFoundError(f"Entity with name {name!r} not found. Use search_nodes to find the exact name.")
            entity_id = ids[name]
            real_name, entity_type, created_at, updated_at = await fetch_row(
                conn, "SELECT name, entity_type, created_at, updated_at FROM entities WHERE id = ?", (entity_id,)
            )
            async with conn.execute(
                "SELECT o.content, o.created_at, o.valid_from, o.valid_to, n.content FROM observations o "
                "LEFT JOIN observations n ON n.id = o.superseded_by WHERE o.entity_id = ? ORDER BY o.id",
                (entity_id,),
            ) as cur:
                facts = [
                    StoredObservation(content=c, createdAt=t, validFrom=f, validTo=v, supersededBy=n)
                    for c, t, f, v, n in await cur.fetchall()
                ]
            links: dict[str, list[LinkedRelation]] = {"from_id": [], "to_id": []}
            for column, found in links.items():
                async with conn.execute(
                    "SELECT f.name, t.name, r.relation_type, r.created_at, r.valid_from, r.valid_to FROM relations r "
                    "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id "
                    f"WHERE r.{column} = ? ORDER BY r.id",
                    (entity_id,),
                ) as cur:
                    found.extend(
                        LinkedRelation(from_=f, to=t, relationType=k, createdAt=c, validFrom=vf, validTo=vt)
                        for f, t, k, c, vf, vt in await cur.fetchall()
                    )
            async with conn.execute(
                "SELECT alias FROM aliases WHERE entity_id = ? ORDER BY created_at, alias", (entity_id,)
            ) as cur:
                aliases = [row[0] for row in await cur.fetchall()]
        return EntityDetail(
            name=real_name,
            entityType=entity_type,
            createdAt=created_at,
            updatedAt=updated_at,
            aliases=aliases,
            observations=[f for f in facts if f.validTo is None],
            outgoing=[r for r in links["from_id"] if r.validTo is None],
            incoming=[r for r in links["to_id"] if r.validTo is None],
            history=sorted((f for f in facts if f.validTo is not None), key=lambda f: f.validFrom),
            endedRelations=[r for r in links["from_id"] + links["to_id"] if r.validTo is not None],
        )

    async def find_duplicates(self, limit: int = 50) -> Duplicates:
        """Groups of entities whose names look like the same thing (see :mod:`.duplicates`)."""
        async with (
            self.db.snapshot() as conn,
            conn.execute("SELECT name FROM entities WHERE namespace = ? ORDER BY id", (self.namespace,)) as cur,
        ):
            names = [name for (name,) in await cur.fetchall()]
        groups = likely_duplicates(names)
        return Duplicates(
            groups=groups[:limit],
            hint=(
                "Check each group with open_nodes; if they are the same thing, call merge_entities with the "
                "other names and `into` the one to keep (try dry_run first)."
                if groups
                else "No likely duplicates found."
            ),
        )

    async def export(self) -> KnowledgeGraph:
        """The whole namespace (current facts), unpaged, in creation order (for ``memory export``)."""
        async with self.db.snapshot() as conn:
            async with conn.execute(
                "SELECT id, name, entity_type FROM entities WHERE namespace = ? ORDER BY id", (self.namespace,)
            ) as cur:
                rows = [EntityRow(*r) for r in await cur.fetchall()]
            entities = await self._entities(conn, rows, by_namespace=True)
            relations = await self._relations(conn, "r.namespace = ?", (self.namespace,))
        return KnowledgeGraph(entities=entities, relations=relations)

    async def namespaces(self) -> list[str]:
        """Every namespace of the database that holds at least one entity (a namespace is not stored apart)."""
        async with self.db.snapshot() as conn, conn.execute("SELECT DISTINCT namespace FROM entities") as cur:
            return sorted(str(row[0]) for row in await cur.fetchall())
