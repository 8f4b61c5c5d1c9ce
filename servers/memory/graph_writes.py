"""Writes of the graph store: creating entities, relations and observations, the reference's delete
tools, and importing a whole graph (``memory import`` and the drop-in ``MEMORY_FILE_PATH`` start).

Each public method is one transaction; checks that can fail run before the first write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_suite.servers.memory.graph_core import Changes, GraphCore, check_size, quoted
from mcp_suite.servers.memory.models import (
    AddedObservations,
    Entity,
    ImportReport,
    NewEntity,
    ObservationAddition,
    ObservationDeletion,
    Relation,
    RelationRef,
)
from mcp_suite.servers.memory.storage.base import fetch_one
from mcp_suite.shared.errors import NotFoundError

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn


class GraphWrites(GraphCore):
    """Creating, adding, deleting and importing (see the module docstring)."""

    async def create_entities(self, entities: Sequence[NewEntity]) -> list[Entity]:
        """Create the entities whose names are new; return them as stored (duplicates removed)."""
        check_size(t for e in entities for t in (e.name, e.entityType, *e.observations))
        return await self._run_change(lambda conn, changes: self._create_entities(conn, entities, changes))

    async def create_relations(self, relations: Sequence[RelationRef]) -> list[Relation]:
        """Create the relations not stored yet; every endpoint must exist or nothing is created."""
        check_size(t for r in relations for t in (r.from_, r.to, r.relationType))
        return await self._run_change(lambda conn, _: self._create_relations(conn, relations))

    async def add_observations(self, additions: Sequence[ObservationAddition]) -> list[AddedObservations]:
        """Add new facts to existing entities (or their aliases); one result per request item, listing what was new."""
        check_size(t for a in additions for t in a.contents)

        async def change(conn: Conn, changes: Changes) -> list[AddedObservations]:
            ids = await self._ids(conn, [a.entityName for a in additions], aliases=True)
            missing = [n for n in dict.fromkeys(a.entityName for a in additions) if n not in ids]
            if missing:
                raise NotFoundError(_missing_for_observations(missing))
            return await self._add_observations(conn, ids, additions, changes)

        return await self._run_change(change)

    async def delete_entities(self, names: Sequence[str]) -> int:
        """Delete entities with their observations and every relation that touches them."""

        async def change(conn: Conn, changes: Changes) -> int:
            async with conn.execute(
                f"DELETE FROM entities WHERE namespace = ? AND name IN {self.texts_in} RETURNING id",
                (self.namespace, json.dumps(list(names))),
            ) as cur:
                ids = [row[0] for row in await cur.fetchall()]
            await self._unindex(conn, ids)
            changes.removed_entities = ids
            return len(ids)

        return await self._run_change(change)

    async def delete_observations(self, deletions: Sequence[ObservationDeletion]) -> int:
        """Remove the named facts; unknown entities and facts are skipped, as in the reference."""

        async def change(conn: Conn, _: Changes) -> int:
            ids = await self._ids(conn, [d.entityName for d in deletions])
            removed = 0
            touched: list[int] = []
            for deletion in deletions:
                entity_id = ids.get(deletion.entityName)
                if entity_id is None:
                    continue
                # Current facts only: what was superseded stays in the entity's history.
                cur = await conn.execute(
                    f"DELETE FROM observations WHERE entity_id = ? AND valid_to IS NULL AND content IN {self.texts_in}",
                    (entity_id, json.dumps(deletion.observations)),
                )
                if cur.rowcount > 0:
                    removed += cur.rowcount
                    touched.append(entity_id)
            await self._touch(conn, touched)
            await self._reindex(conn, touched)
            return removed

        return await self._run_change(change)

    async def delete_relations(self, relations: Sequence[RelationRef]) -> int:
        """Remove exactly the given relations; absent ones are skipped."""

        async def change(conn: Conn, _: Changes) -> int:
            ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)])
            removed = 0
            for r in relations:
                if r.from_ in ids and r.to in ids:
                    cur = await conn.execute(
                        "DELETE FROM relations WHERE from_id = ? AND to_id = ? AND relation_type = ? "
                        "AND valid_to IS NULL",
                        (ids[r.from_], ids[r.to], r.relationType),
                    )
                    removed += max(cur.rowcount, 0)
            return removed

        return await self._run_change(change)

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
        return await self._run_change(
            lambda conn, changes: self._import(conn, changes, entities, relations, relation_lines, create_missing)
        )

    async def _import(
        self,
        conn: Conn,
        changes: Changes,
        entities: Sequence[NewEntity],
        relations: Sequence[RelationRef],
        relation_lines: Sequence[int] | None,
        create_missing: bool,
    ) -> ImportReport:
        created = await self._create_entities(conn, entities, changes)
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
        added = await self._add_observations(conn, ids, list(merged.values()), changes)

        endpoints = list(dict.fromkeys(n for r in relations for n in (r.from_, r.to)))
        known = await self._ids(conn, endpoints)
        missing = [n for n in endpoints if n not in known]
        stubs = 0
        if missing and not create_missing:
            raise NotFoundError(_missing_for_import(missing, relations, relation_lines))
        if missing:
            placeholders = [NewEntity(name=n, entityType="unknown") for n in missing]
            stubs = len(await self._create_entities(conn, placeholders, changes))
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

    async def needs_import(self) -> bool:
        """Whether a drop-in import could happen: the namespace is empty and was never imported into."""
        async with self.db.snapshot() as conn:
            key = f"dropin-import:{self.namespace}"
            if await fetch_one(conn, "SELECT 1 FROM memory_meta WHERE key = ?", (key,)) is not None:
                return False
            return not await self._scalar(conn, "SELECT count(*) FROM entities WHERE namespace = ?")

    async def import_once(
        self, entities: Sequence[NewEntity], relations: Sequence[RelationRef], source: str
    ) -> ImportReport | str:
        """Import a reference file into this namespace if it is empty and nothing was imported into it
        before (the drop-in start from ``MEMORY_FILE_PATH``); otherwise return why not. One
        transaction, recorded with the import: processes starting at once import the file once."""
        key = f"dropin-import:{self.namespace}"

        async def change(conn: Conn, changes: Changes) -> ImportReport | str:
            done = await fetch_one(conn, "SELECT value FROM memory_meta WHERE key = ?", (key,))
            if done is not None:
                return f"already imported ({done[0]})"
            if await self._scalar(conn, "SELECT count(*) FROM entities WHERE namespace = ?"):
                return "the namespace already holds entities (use `mcp-suite memory import` to merge the file)"
            report = await self._import(conn, changes, entities, relations, None, True)
            await conn.execute(
                f"INSERT INTO memory_meta (key, value) VALUES (?, {self.sql.now} || ' from ' || ?)", (key, source)
            )
            return report

        return await self._run_change(change)

    async def _create_entities(self, conn: Conn, entities: Sequence[NewEntity], changes: Changes) -> list[Entity]:
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
            changes.entities.append((ids[e.name], e.name, e.entityType))
        await self._insert_observations(conn, facts, changes)
        await self._reindex(conn, [ids[e.name] for e in new])
        return created

    async def _create_relations(self, conn: Conn, relations: Sequence[RelationRef]) -> list[Relation]:
        ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)], aliases=True)
        missing = [n for n in dict.fromkeys(n for r in relations for n in (r.from_, r.to)) if n not in ids]
        if missing:
            raise NotFoundError(
                f"Cannot create relations: no entity named {quoted(missing)}. Create the missing entities "
                "with create_entities first, then call create_relations again. No relations were created."
            )
        wanted: dict[tuple[int, int, str], RelationRef] = {}
        for r in relations:
            wanted.setdefault((ids[r.from_], ids[r.to], r.relationType), r)
        async with conn.execute(
            self.sql.current_relations,
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
        self,
        conn: Conn,
        ids: dict[str, int],
        additions: Sequence[ObservationAddition],
        changes: Changes,
    ) -> list[AddedObservations]:
        results: list[AddedObservations] = []
        touched: dict[int, None] = {}
        for addition in additions:
            entity_id = ids[addition.entityName]
            contents = list(dict.fromkeys(addition.contents))
            inserted = await self._insert_observations(conn, [(entity_id, c) for c in contents], changes)
            new = {c for _, _, c in inserted}
            if new:
                touched[entity_id] = None
            results.append(
                AddedObservations(entityName=addition.entityName, addedObservations=[c for c in contents if c in new])
            )
        await self._touch(conn, list(touched))
        await self._reindex(conn, list(touched))
        return results


def _missing_for_observations(missing: Sequence[str]) -> str:
    if len(missing) == 1:
        subject = f"Entity with name {missing[0]} not found"
    else:
        subject = f"Entities not found: {quoted(missing)}"
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
            where.append(f"{at}: {r.from_} -{r.relationType}-> {r.to} (missing {quoted(names)})")
    shown = "\n  ".join(where[:20]) + (f"\n  … and {len(where) - 20} more" if len(where) > 20 else "")
    return (
        f"relations name {len(absent)} entities that exist neither in the file nor in the store:\n  {shown}\n"
        "Add those entities to the file, or pass --create-missing to create them with type 'unknown'. "
        "Nothing was imported."
    )
