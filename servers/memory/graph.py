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

Facts over time: observations and relations carry a validity interval (``valid_from`` …
``valid_to``, open while the fact holds). Reads return what holds now, or what held ``as_of`` a
past moment; ``supersede`` and ``end_relations`` close an interval instead of deleting. The
reference's delete tools still delete. Entities merged into another leave their names behind as
aliases, which reads (and writes that add to an entity) resolve.

Semantic recall is delegated to :class:`~mcp_suite.servers.memory.recall.Recall`, which is told
about every committed write and embeds it in the background.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcp_suite.servers.memory import limits, search
from mcp_suite.servers.memory.duplicates import likely_duplicates
from mcp_suite.servers.memory.models import (
    AddedObservations,
    Duplicates,
    EndedRelations,
    Entity,
    EntityDetail,
    EntityMatch,
    GraphSummary,
    ImportReport,
    KnowledgeGraph,
    LinkedRelation,
    MergePlan,
    NeighbourEntity,
    Neighbourhood,
    NewEntity,
    ObservationAddition,
    ObservationDeletion,
    ObservationMatch,
    PageInfo,
    RecentEntity,
    Relation,
    RelationRef,
    SearchMode,
    StoredObservation,
    SupersededFact,
    Supersession,
    TypeCount,
)
from mcp_suite.servers.memory.recall import Recall
from mcp_suite.servers.memory.schema import NOW
from mcp_suite.servers.memory.semantic import FLOOR, LexicalHit, SemanticHit, fuse
from mcp_suite.shared.db import Connection, Database
from mcp_suite.shared.embeddings import EmbeddingError
from mcp_suite.shared.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import numpy as np

_FTS_TABLES = ("entity_fts", "entity_trigram")
_IN_IDS = "(SELECT value FROM json_each(?))"
RANK_CAP = 2_000
"""Search matches beyond this many are not all BM25-ranked (see ``GraphStore._collect``)."""
FUSION_POOL = 50
"""Candidates each leg of a hybrid search contributes before fusion."""
SEMANTIC_ROWS = 200
"""Entities the semantic leg proposes before they are checked against the store."""
MATCHES_SHOWN = 3
"""Matching observations listed per search hit."""


def _valid(alias: str, as_of: str | None) -> tuple[str, tuple[str, ...]]:
    """SQL condition (and its parameters) for "row ``alias`` held at ``as_of``" (now when None)."""
    if as_of is None:
        return f"{alias}.valid_to IS NULL", ()
    return f"{alias}.valid_from <= ? AND ({alias}.valid_to IS NULL OR {alias}.valid_to > ?)", (as_of, as_of)


def _existed(alias: str, as_of: str | None) -> tuple[str, tuple[str, ...]]:
    """SQL condition for "entity ``alias`` existed at ``as_of``" (always true for now)."""
    if as_of is None:
        return "1", ()
    return f"{alias}.created_at <= ?", (as_of,)


class _DryRun(Exception):
    def __init__(self, plan: MergePlan) -> None:
        self.plan = plan


@dataclass
class _Changes:
    """What a transaction wrote, for the semantic index once it has committed."""

    observations: list[tuple[int, int, str]] = field(default_factory=list)
    entities: list[tuple[int, str, str]] = field(default_factory=list)
    removed_entities: list[int] = field(default_factory=list)
    moved: tuple[list[int], int] | None = None  # observation ids now on another entity, and that entity


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

    def __init__(self, db: Database, namespace: str, recall: Recall | None = None) -> None:
        self.db = db
        self.namespace = namespace
        self.recall = recall

    def _committed(self, changes: _Changes) -> None:
        if self.recall is not None:
            self.recall.changed()
            if changes.moved is not None:
                self.recall.moved(*changes.moved)
            if changes.removed_entities:
                self.recall.removed(entity_ids=changes.removed_entities)
            self.recall.written(changes.observations, changes.entities)

    # ---- writes ---------------------------------------------------------------------------------

    async def create_entities(self, entities: Sequence[NewEntity]) -> list[Entity]:
        """Create the entities whose names are new; return them as stored (duplicates removed)."""
        _check_size(t for e in entities for t in (e.name, e.entityType, *e.observations))
        changes = _Changes()
        async with self.db.transaction() as conn:
            created = await self._create_entities(conn, entities, changes)
        self._committed(changes)
        return created

    async def create_relations(self, relations: Sequence[RelationRef]) -> list[Relation]:
        """Create the relations not stored yet; every endpoint must exist or nothing is created."""
        _check_size(t for r in relations for t in (r.from_, r.to, r.relationType))
        async with self.db.transaction() as conn:
            return await self._create_relations(conn, relations)

    async def add_observations(self, additions: Sequence[ObservationAddition]) -> list[AddedObservations]:
        """Add new facts to existing entities (or their aliases); one result per request item, listing what was new."""
        _check_size(t for a in additions for t in a.contents)
        changes = _Changes()
        async with self.db.transaction() as conn:
            ids = await self._ids(conn, [a.entityName for a in additions], aliases=True)
            missing = [n for n in dict.fromkeys(a.entityName for a in additions) if n not in ids]
            if missing:
                raise NotFoundError(_missing_for_observations(missing))
            results = await self._add_observations(conn, ids, additions, changes)
        self._committed(changes)
        return results

    async def delete_entities(self, names: Sequence[str]) -> int:
        """Delete entities with their observations and every relation that touches them."""
        changes = _Changes()
        async with self.db.transaction() as conn:
            async with conn.execute(
                f"DELETE FROM entities WHERE namespace = ? AND name IN {_IN_IDS} RETURNING id",
                (self.namespace, json.dumps(list(names))),
            ) as cur:
                ids = [row[0] for row in await cur.fetchall()]
            await self._unindex(conn, ids)
            changes.removed_entities = ids
        self._committed(changes)
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
                # Current facts only: what was superseded stays in the entity's history.
                cur = await conn.execute(
                    f"DELETE FROM observations WHERE entity_id = ? AND valid_to IS NULL AND content IN {_IN_IDS}",
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
                        "DELETE FROM relations WHERE from_id = ? AND to_id = ? AND relation_type = ? "
                        "AND valid_to IS NULL",
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
        changes = _Changes()
        async with self.db.transaction() as conn:
            report = await self._import(conn, changes, entities, relations, relation_lines, create_missing)
        self._committed(changes)
        return report

    async def _import(
        self,
        conn: Connection,
        changes: _Changes,
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
            async with conn.execute(
                "SELECT 1 FROM memory_meta WHERE key = ?", (f"dropin-import:{self.namespace}",)
            ) as cur:
                if await cur.fetchone():
                    return False
            return not await self._scalar(conn, "SELECT count(*) FROM entities WHERE namespace = ?")

    async def import_once(
        self, entities: Sequence[NewEntity], relations: Sequence[RelationRef], source: str
    ) -> ImportReport | str:
        """Import a reference file into this namespace if it is empty and nothing was imported into it
        before (the drop-in start from ``MEMORY_FILE_PATH``); otherwise return why not. One
        transaction, recorded with the import: processes starting at once import the file once."""
        key = f"dropin-import:{self.namespace}"
        changes = _Changes()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT value FROM memory_meta WHERE key = ?", (key,)) as cur:
                done = await cur.fetchone()
            if done is not None:
                return f"already imported ({done[0]})"
            if await self._scalar(conn, "SELECT count(*) FROM entities WHERE namespace = ?"):
                return "the namespace already holds entities (use `mcp-suite memory import` to merge the file)"
            report = await self._import(conn, changes, entities, relations, None, True)
            await conn.execute(
                f"INSERT INTO memory_meta (key, value) VALUES (?, {NOW} || ' from ' || ?)", (key, source)
            )
        self._committed(changes)
        return report

    async def supersede(self, items: Sequence[Supersession]) -> list[SupersededFact]:
        """End current observations and record what replaced them; all of them or none."""
        _check_size(t for i in items for t in (i.observation, i.replacement or ""))
        seen: set[tuple[str, str]] = set()
        for item in items:
            if item.replacement == item.observation:
                raise InvalidInputError(
                    f"the replacement for {item.observation!r} on {item.entityName!r} is the same text; "
                    "pass a different replacement, or omit it to end the fact. Nothing was changed."
                )
            if (item.entityName, item.observation) in seen:
                raise InvalidInputError(
                    f"{item.observation!r} of {item.entityName!r} is superseded twice in one call; "
                    "list it once. Nothing was changed."
                )
            seen.add((item.entityName, item.observation))
        changes = _Changes()
        async with self.db.transaction() as conn:
            at = await self._now(conn)
            ids = await self._ids(conn, [i.entityName for i in items], aliases=True)
            missing = [n for n in dict.fromkeys(i.entityName for i in items) if n not in ids]
            if missing:
                raise NotFoundError(
                    f"no entity named {_quoted(missing)}; check the name with search_nodes. Nothing was changed."
                )
            old_ids: list[int] = []
            absent: list[str] = []
            for item in items:
                async with conn.execute(
                    "SELECT id FROM observations WHERE entity_id = ? AND content = ? AND valid_to IS NULL",
                    (ids[item.entityName], item.observation),
                ) as cur:
                    row = await cur.fetchone()
                if row is None:
                    absent.append(f"{item.observation!r} of {item.entityName!r}")
                else:
                    old_ids.append(row[0])
            if absent:
                raise NotFoundError(
                    f"not a current observation: {', '.join(absent[:10])}. Superseding needs the exact text of a "
                    "fact that holds now (see open_nodes); add new facts with add_observations. Nothing was changed."
                )
            await conn.execute(f"UPDATE observations SET valid_to = ? WHERE id IN {_IN_IDS}", (at, json.dumps(old_ids)))
            results: list[SupersededFact] = []
            for item, old_id in zip(items, old_ids, strict=True):
                entity_id = ids[item.entityName]
                if item.replacement is not None:
                    inserted = await self._insert_observations(conn, [(entity_id, item.replacement)], changes, at)
                    if inserted:
                        new_id = inserted[0][0]
                    else:  # already a current fact of the entity: link to it
                        async with conn.execute(
                            "SELECT id FROM observations WHERE entity_id = ? AND content = ? AND valid_to IS NULL",
                            (entity_id, item.replacement),
                        ) as cur:
                            linked = await cur.fetchone()
                        assert linked is not None  # the insert was skipped because this row exists
                        new_id = linked[0]
                    await conn.execute("UPDATE observations SET superseded_by = ? WHERE id = ?", (new_id, old_id))
                results.append(
                    SupersededFact(
                        entityName=item.entityName, superseded=item.observation, replacement=item.replacement, at=at
                    )
                )
            touched = list(dict.fromkeys(ids[i.entityName] for i in items))
            await self._touch(conn, touched)
            await self._reindex(conn, touched)
        self._committed(changes)
        return results

    async def end_relations(self, relations: Sequence[RelationRef]) -> EndedRelations:
        """Mark current relations as no longer holding (kept for ``as_of`` reads); all of them or none."""
        async with self.db.transaction() as conn:
            at = await self._now(conn)
            ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)], aliases=True)
            missing = [n for n in dict.fromkeys(n for r in relations for n in (r.from_, r.to)) if n not in ids]
            if missing:
                raise NotFoundError(
                    f"no entity named {_quoted(missing)}; check the names with search_nodes. Nothing was changed."
                )
            ended: list[Relation] = []
            absent: list[str] = []
            for r in relations:
                cur = await conn.execute(
                    "UPDATE relations SET valid_to = ? WHERE from_id = ? AND to_id = ? AND relation_type = ? "
                    "AND valid_to IS NULL",
                    (at, ids[r.from_], ids[r.to], r.relationType),
                )
                if cur.rowcount > 0:
                    ended.append(Relation(from_=r.from_, to=r.to, relationType=r.relationType))
                else:
                    absent.append(f"{r.from_} -{r.relationType}-> {r.to}")
            if absent:
                raise NotFoundError(
                    f"no current relation {', '.join(absent[:10])}; see open_nodes for the relations that hold. "
                    "Nothing was changed."
                )
        return EndedRelations(relations=ended, at=at)

    async def merge(self, names: Sequence[str], into: str, dry_run: bool = False) -> MergePlan:
        """Move the observations and relations of ``names`` onto ``into``, drop what becomes a duplicate,
        delete the merged entities and keep their names as aliases of ``into``. One transaction;
        ``dry_run`` reports the same numbers and rolls everything back."""
        sources_named = list(dict.fromkeys(names))
        if into in sources_named:
            raise InvalidInputError(
                f"cannot merge {into!r} into itself; list only the other entities in names. Nothing was changed."
            )
        changes = _Changes()
        try:
            async with self.db.transaction() as conn:
                ids = await self._ids(conn, [*sources_named, into])
                missing = [n for n in [*sources_named, into] if n not in ids]
                if missing:
                    raise NotFoundError(
                        f"no entity named {_quoted(missing)} (merging needs exact entity names; see search_nodes "
                        "or find_duplicates). Nothing was changed."
                    )
                plan = await self._merge(conn, [ids[n] for n in sources_named], ids[into], sources_named, into, changes)
                plan.dryRun = dry_run
                if dry_run:
                    raise _DryRun(plan)
                changes.removed_entities = [ids[n] for n in sources_named]
        except _DryRun as preview:
            return preview.plan
        self._committed(changes)
        return plan

    async def _merge(
        self,
        conn: Connection,
        sources: list[int],
        target: int,
        source_names: list[str],
        into: str,
        changes: _Changes,
    ) -> MergePlan:
        src = json.dumps(sources)
        async with conn.execute(
            "SELECT content FROM observations WHERE entity_id = ? AND valid_to IS NULL", (target,)
        ) as cur:
            current = {row[0] for row in await cur.fetchall()}
        async with conn.execute(
            f"SELECT id, content, valid_to FROM observations WHERE entity_id IN {_IN_IDS} ORDER BY id", (src,)
        ) as cur:
            facts = [(i, c, v) for i, c, v in await cur.fetchall()]
        drop: list[int] = []
        for obs_id, content, valid_to in facts:
            if valid_to is None:
                if content in current:
                    drop.append(obs_id)
                current.add(content)
        await conn.execute(f"DELETE FROM observations WHERE id IN {_IN_IDS}", (json.dumps(drop),))
        await conn.execute(f"UPDATE observations SET entity_id = ? WHERE entity_id IN {_IN_IDS}", (target, src))
        changes.moved = ([i for i, _, _ in facts if i not in set(drop)], target)

        touching = [*sources, target]
        async with conn.execute(
            f"SELECT id, from_id, to_id, relation_type, valid_to FROM relations "
            f"WHERE from_id IN {_IN_IDS} OR to_id IN {_IN_IDS} ORDER BY id",
            (json.dumps(touching), json.dumps(touching)),
        ) as cur:
            links = await cur.fetchall()
        taken = {(f, t, k) for _, f, t, k, v in links if v is None and f not in sources and t not in sources}
        gone = set(sources)
        dropped_rel: list[int] = []
        moved: list[tuple[int, int, int]] = []
        for rel_id, f, t, k, valid_to in links:
            if f not in gone and t not in gone:
                continue
            nf, nt = (target if f in gone else f), (target if t in gone else t)
            if nf == nt or (valid_to is None and (nf, nt, k) in taken):
                dropped_rel.append(rel_id)
                continue
            if valid_to is None:
                taken.add((nf, nt, k))
            moved.append((nf, nt, rel_id))
        await conn.execute(f"DELETE FROM relations WHERE id IN {_IN_IDS}", (json.dumps(dropped_rel),))
        await conn.executemany("UPDATE relations SET from_id = ?, to_id = ? WHERE id = ?", moved)

        await conn.execute(f"UPDATE aliases SET entity_id = ? WHERE entity_id IN {_IN_IDS}", (target, src))
        await conn.executemany(
            "INSERT INTO aliases (namespace, alias, entity_id) VALUES (?, ?, ?) "
            "ON CONFLICT (namespace, alias) DO UPDATE SET entity_id = excluded.entity_id",
            [(self.namespace, name, target) for name in source_names],
        )
        await conn.execute(f"DELETE FROM entities WHERE id IN {_IN_IDS}", (src,))
        await self._unindex(conn, sources)
        await self._touch(conn, [target])
        await self._reindex(conn, [target])
        async with conn.execute(
            "SELECT alias FROM aliases WHERE entity_id = ? ORDER BY created_at, alias", (target,)
        ) as cur:
            aliases = [row[0] for row in await cur.fetchall()]
        return MergePlan(
            into=into,
            merged=source_names,
            observationsMoved=len(facts) - len(drop),
            duplicateObservationsDropped=len(drop),
            relationsMoved=len(moved),
            relationsDropped=len(dropped_rel),
            aliases=aliases,
            dryRun=False,
        )

    # ---- reads ----------------------------------------------------------------------------------

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
        existed, existed_params = _existed("e", as_of)
        valid, valid_params = _valid("r", as_of)
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
                rows = [_Row(*r) for r in await cur.fetchall()]
            entities = await self._entities(conn, rows, as_of=as_of)
            kept: list[Entity] = []
            used = 0
            for entity in entities:
                used += _entity_chars(entity)
                if kept and used > budget_chars:
                    break
                kept.append(entity)
            kept_ids = [r.id for r in rows[: len(kept)]]
            relations = await self._relations(conn, "r.from_id IN " + _IN_IDS, (json.dumps(kept_ids),), as_of)

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
        existed, existed_params = _existed("e", as_of)
        async with self.db.snapshot() as conn:
            ids = await self._ids(conn, names, aliases=True)
            async with conn.execute(
                f"SELECT id, name, entity_type FROM entities e WHERE id IN {_IN_IDS} AND {existed}",
                (json.dumps(list(set(ids.values()))), *existed_params),
            ) as cur:
                rows = sorted((_Row(*r) for r in await cur.fetchall()), key=lambda r: r.id)
            graph = await self._subgraph(conn, rows, as_of)
        graph.asOf = as_of
        return graph

    async def search(
        self,
        query: str,
        limit: int = limits.DEFAULT_SEARCH_LIMIT,
        mode: SearchMode = "hybrid",
        as_of: str | None = None,
    ) -> KnowledgeGraph:
        """Entities matching ``query`` best first, with every relation touching them, and for each
        hit its matching observations with a score.

        ``lexical``: three tiers: entities containing every word (or word prefix), BM25-ranked with
        names weighing most; then entities containing the query as a case-insensitive substring of
        their name, type or an observation (the reference server's rule, so nothing it would find
        is missed); then, for several words, entities containing any of them. ``semantic``: by
        meaning (nearest observation or entity-line vectors). ``hybrid`` fuses both (see
        :func:`~mcp_suite.servers.memory.semantic.fuse`).
        """
        notes: list[str] = []
        semantic_on = self.recall is not None and self.recall.enabled
        if mode == "semantic" and not semantic_on:
            raise InvalidInputError(
                "semantic search is off on this server (--embedder none); use mode='lexical' or 'hybrid'"
            )
        if mode == "hybrid" and not semantic_on:
            mode = "lexical"
        want = limit + 1  # one extra tells us whether more exist
        lexical: list[LexicalHit] = []
        if mode != "semantic":
            lexical = await self._lexical(query, max(want, FUSION_POOL) if mode == "hybrid" else want, as_of)
        semantic: list[SemanticHit] = []
        obs_scores: dict[int, float] = {}
        query_vector: np.ndarray | None = None
        if mode != "lexical" and query.strip():
            try:
                semantic, obs_scores, query_vector = await self._semantic(query, as_of)
            except EmbeddingError as exc:
                if mode == "semantic":
                    raise
                notes.append(f"Meaning-based matching is unavailable ({exc}); these are word matches only.")
        if mode == "lexical":
            ranked = [(hit.entity_id, 1.0) for hit in lexical]
        elif mode == "semantic":
            ranked = [(hit.entity_id, round(hit.score, 4)) for hit in semantic]
        else:
            ranked = fuse(lexical, semantic)
        found = ranked[:want]
        ids = [entity_id for entity_id, _ in found[:limit]]
        async with self.db.snapshot() as conn:
            rows = await self._rows_by_id(conn, ids, as_of, namespace=True)
            graph = await self._subgraph(conn, rows, as_of)
            matches = await self._matches(conn, rows, dict(found), query, obs_scores, query_vector, as_of)
        graph.matches = matches
        graph.asOf = as_of
        if len(found) > limit:
            notes.append(
                f"More entities match than the {limit} shown (best matches first). Pass a larger limit "
                f"(up to {limits.MAX_SEARCH_LIMIT}) or a more specific query."
            )
        if notes:
            graph.hint = " ".join(notes)
        return graph

    async def _lexical(self, query: str, want: int, as_of: str | None) -> list[LexicalHit]:
        if as_of is not None:
            return await self._lexical_as_of(query, want, as_of)
        found: dict[int, int] = {}
        async with self.db.snapshot() as conn:
            fts = search.all_words(query)
            if fts:
                await self._collect(conn, "entity_fts", fts, want, found, tier=0)
            if len(found) < want:
                phrase = search.substring(query)
                if phrase:
                    # Substring hits are not ranked: BM25 over trigrams says little about relevance.
                    await self._collect(conn, "entity_trigram", phrase, want, found, tier=1, ranked=False)
                else:
                    await self._collect_short(conn, query, want, found)
            if len(found) < want:
                loose = search.any_word(query)
                if loose:
                    await self._collect(conn, "entity_fts", loose, want, found, tier=2)
            names = await self._names(conn, [i for i, tier in found.items() if tier == 0])
        words = [w.casefold() for w in search.words(query)]
        return [
            LexicalHit(entity_id, tier, in_name=tier == 0 and _all_in(words, names.get(entity_id, "")))
            for entity_id, tier in found.items()
        ]

    async def _names(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        """Each entity's name and aliases as one text, for ``ids``."""
        if not ids:
            return {}
        async with conn.execute(
            "SELECT e.id, e.name || coalesce(' ' || (SELECT group_concat(alias, ' ') FROM aliases a "
            f"WHERE a.entity_id = e.id), '') FROM entities e WHERE e.id IN {_IN_IDS}",
            (json.dumps(list(ids)),),
        ) as cur:
            return {entity_id: text for entity_id, text in await cur.fetchall()}

    async def _lexical_as_of(self, query: str, want: int, as_of: str) -> list[LexicalHit]:
        """Word and substring matching over what held at ``as_of`` (the search index holds only the
        present, so the past is scanned: slower, and only asked for when looking back)."""
        valid, valid_params = _valid("o", as_of)
        words = [w.casefold() for w in search.words(query)]
        needle = query.casefold()
        hits: list[tuple[int, int, int]] = []  # (tier, -words matched, id)
        async with (
            self.db.snapshot() as conn,
            conn.execute(
                "SELECT e.id, e.name, e.entity_type, coalesce((SELECT group_concat(o.content, char(10)) "
                f"FROM observations o WHERE o.entity_id = e.id AND {valid}), '') FROM entities e "
                "WHERE e.namespace = ? AND e.created_at <= ? ORDER BY e.id",
                (*valid_params, self.namespace, as_of),
            ) as cur,
        ):
            async for entity_id, name, entity_type, facts in cur:
                text = f"{name}\n{entity_type}\n{facts}".casefold()
                matched = _matched(words, text)
                if words and matched == len(words):
                    hits.append((-1 if _all_in(words, name) else 0, -matched, entity_id))
                elif needle in text:
                    hits.append((1, -matched, entity_id))
                elif matched:
                    hits.append((2, -matched, entity_id))
        hits.sort()
        return [LexicalHit(entity_id, max(tier, 0), in_name=tier < 0) for tier, _, entity_id in hits[:want]]

    async def _semantic(self, query: str, as_of: str | None) -> tuple[list[SemanticHit], dict[int, float], np.ndarray]:
        """Entities nearest in meaning, best first, and the query vector. (Entities deleted meanwhile by
        another process, or created after ``as_of``, are dropped when the results are read.)"""
        assert self.recall is not None
        found, query_vector = await self.recall.search(query, SEMANTIC_ROWS, past=as_of is not None)
        return [SemanticHit(entity_id, score) for entity_id, score in found[:FUSION_POOL]], {}, query_vector

    async def _matches(
        self,
        conn: Connection,
        rows: Sequence[_Row],
        scores: dict[int, float],
        query: str,
        obs_scores: dict[int, float],
        query_vector: np.ndarray | None,
        as_of: str | None,
    ) -> list[EntityMatch]:
        """Per hit, the observations that match: by meaning (cosine) and/or by words (share of the query's
        words they contain), whichever is higher, best first."""
        if not rows:
            return []
        valid, valid_params = _valid("o", as_of)
        async with conn.execute(
            f"SELECT o.id, o.entity_id, o.content FROM observations o WHERE o.entity_id IN {_IN_IDS} AND {valid} "
            "ORDER BY o.id",
            (json.dumps([r.id for r in rows]), *valid_params),
        ) as cur:
            facts = await cur.fetchall()
        words = [w.casefold() for w in search.words(query)]
        cosines: dict[int, float] = dict(obs_scores)
        if query_vector is not None and self.recall is not None:
            cosines |= self.recall.cosines(query_vector, [obs_id for obs_id, _, _ in facts if obs_id not in cosines])
        per_entity: dict[int, list[ObservationMatch]] = {r.id: [] for r in rows}
        for obs_id, entity_id, content in facts:
            lexical = 0.0
            if words:
                lexical = _matched(words, content) / len(words)
            cosine = cosines.get(obs_id, 0.0)
            score = max(lexical, cosine if cosine >= FLOOR else 0.0)
            if score > 0:
                per_entity[entity_id].append(ObservationMatch(content=content, score=round(score, 4)))
        matches: list[EntityMatch] = []
        for row in rows:
            found = sorted(per_entity[row.id], key=lambda m: -m.score)
            top = found[0].score if found else 0.0
            shown = [m for m in found if m.score >= 0.5 * top][:MATCHES_SHOWN]
            matches.append(EntityMatch(name=row.name, score=scores.get(row.id, 0.0), observations=shown))
        return matches

    async def neighbourhood(
        self, name: str, depth: int = 1, limit: int = limits.DEFAULT_NEIGHBOURHOOD_LIMIT, as_of: str | None = None
    ) -> Neighbourhood:
        """The entity ``name`` and everything within ``depth`` hops along relations in either
        direction, nearest first, at most ``limit`` entities, with the relations among them."""
        valid, valid_params = _valid("r", as_of)
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
                    f"SELECT from_id, to_id FROM relations r WHERE (from_id IN {_IN_IDS} OR to_id IN {_IN_IDS}) "
                    f"AND {valid} ORDER BY id",
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
                conn, f"r.from_id IN {_IN_IDS} AND r.to_id IN {_IN_IDS}", (payload, payload), as_of
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
            async with conn.execute(
                "SELECT name, entity_type, created_at, updated_at FROM entities WHERE id = ?", (entity_id,)
            ) as cur:
                real_name, entity_type, created_at, updated_at = await cur.fetchone()  # type: ignore[misc]
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
                rows = [_Row(*r) for r in await cur.fetchall()]
            entities = await self._entities(conn, rows, by_namespace=True)
            relations = await self._relations(conn, "r.namespace = ?", (self.namespace,))
        return KnowledgeGraph(entities=entities, relations=relations)

    async def namespaces(self) -> list[str]:
        """Every namespace of the database that holds at least one entity (a namespace is not stored apart)."""
        async with self.db.snapshot() as conn, conn.execute("SELECT DISTINCT namespace FROM entities") as cur:
            return sorted(str(row[0]) for row in await cur.fetchall())

    # ---- internals ------------------------------------------------------------------------------

    async def _scalar(self, conn: Connection, sql: str, params: tuple[object, ...] = ()) -> int:
        async with conn.execute(sql, (self.namespace, *params)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _now(self, conn: Connection) -> str:
        async with conn.execute(f"SELECT {NOW}") as cur:
            row = await cur.fetchone()
        return str(row[0]) if row else ""

    async def _ids(self, conn: Connection, names: Iterable[str], aliases: bool = False) -> dict[str, int]:
        """Entity ids by exact name; with ``aliases``, names of merged entities resolve to their survivor."""
        unique = list(dict.fromkeys(names))
        if not unique:
            return {}
        async with conn.execute(
            f"SELECT name, id FROM entities WHERE namespace = ? AND name IN {_IN_IDS}",
            (self.namespace, json.dumps(unique)),
        ) as cur:
            found = {name: entity_id for name, entity_id in await cur.fetchall()}
        rest = [n for n in unique if n not in found]
        if aliases and rest:
            async with conn.execute(
                f"SELECT alias, entity_id FROM aliases WHERE namespace = ? AND alias IN {_IN_IDS}",
                (self.namespace, json.dumps(rest)),
            ) as cur:
                found.update({alias: entity_id for alias, entity_id in await cur.fetchall()})
        return found

    async def _rows_by_id(
        self, conn: Connection, ids: Sequence[int], as_of: str | None = None, namespace: bool = False
    ) -> list[_Row]:
        """Entity rows in the order of ``ids`` (those that existed at ``as_of``, when given; in this
        namespace, with ``namespace``)."""
        if not ids:
            return []
        existed, existed_params = _existed("e", as_of)
        ns, ns_params = ("e.namespace = ?", (self.namespace,)) if namespace else ("1", ())
        async with conn.execute(
            f"SELECT id, name, entity_type FROM entities e WHERE id IN {_IN_IDS} AND {existed} AND {ns}",
            (json.dumps(list(ids)), *existed_params, *ns_params),
        ) as cur:
            found = {r[0]: _Row(*r) for r in await cur.fetchall()}
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def _entities(
        self, conn: Connection, rows: Sequence[_Row], by_namespace: bool = False, as_of: str | None = None
    ) -> list[Entity]:
        if not rows:
            return []
        facts: dict[int, list[str]] = {r.id: [] for r in rows}
        valid, valid_params = _valid("o", as_of)
        if by_namespace:  # a whole-namespace read: one join instead of a huge id list
            sql = (
                "SELECT o.entity_id, o.content FROM observations o JOIN entities e ON e.id = o.entity_id "
                f"WHERE e.namespace = ? AND {valid} ORDER BY o.id"
            )
            params: tuple[str, ...] = (self.namespace, *valid_params)
        else:
            sql = (
                f"SELECT o.entity_id, o.content FROM observations o WHERE o.entity_id IN {_IN_IDS} AND {valid} "
                "ORDER BY o.id"
            )
            params = (json.dumps(list(facts)), *valid_params)
        async with conn.execute(sql, params) as cur:
            async for entity_id, content in cur:
                facts[entity_id].append(content)
        return [Entity(name=r.name, entityType=r.entity_type, observations=facts[r.id]) for r in rows]

    async def _relations(
        self, conn: Connection, where: str, params: tuple[object, ...], as_of: str | None = None
    ) -> list[Relation]:
        valid, valid_params = _valid("r", as_of)
        async with conn.execute(
            "SELECT f.name, t.name, r.relation_type FROM relations r "
            "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id "
            f"WHERE ({where}) AND {valid} ORDER BY r.id",
            (*params, *valid_params),
        ) as cur:
            return [Relation(from_=f, to=t, relationType=k) for f, t, k in await cur.fetchall()]

    async def _subgraph(self, conn: Connection, rows: Sequence[_Row], as_of: str | None = None) -> KnowledgeGraph:
        entities = await self._entities(conn, rows, as_of=as_of)
        payload = json.dumps([r.id for r in rows])
        relations = await self._relations(
            conn, f"r.from_id IN {_IN_IDS} OR r.to_id IN {_IN_IDS}", (payload, payload), as_of
        )
        if as_of is not None:  # both ends must have existed then
            names = {n for (n,) in [(r.name,) for r in rows]}
            existing = await self._ids(conn, [n for r in relations for n in (r.from_, r.to) if n not in names])
            alive = {r.id for r in await self._rows_by_id(conn, list(existing.values()), as_of)}
            kept = {n for n, i in existing.items() if i in alive} | names
            relations = [r for r in relations if r.from_ in kept and r.to in kept]
        return KnowledgeGraph(entities=entities, relations=relations)

    async def _collect(
        self,
        conn: Connection,
        table: str,
        match: str,
        want: int,
        found: dict[int, int],
        tier: int,
        ranked: bool = True,
    ) -> None:
        """Add up to ``want`` entities matching ``match`` to ``found`` (with their ``tier``), best first.

        BM25 costs about a microsecond per match, so a query matching most of a large graph
        ("person") is ranked only where it counts: name matches are ranked first, the remainder
        follows newest first. Queries with up to ``RANK_CAP`` matches are ranked in full.
        """
        if not ranked:
            await self._take(conn, table, match, want, found, tier, order="rowid DESC")
            return
        if await self._count(conn, table, match) <= RANK_CAP:
            await self._take(conn, table, match, want, found, tier, order="rank")
            return
        in_names = f"{{name}} : ({match})"
        ranked_names = await self._count(conn, table, in_names) <= RANK_CAP
        await self._take(conn, table, in_names, want, found, tier, order="rank" if ranked_names else "rowid DESC")
        if len(found) < want:
            await self._take(conn, table, match, want, found, tier, order="rowid DESC")

    async def _count(self, conn: Connection, table: str, match: str) -> int:
        # Across namespaces: only an estimate of the ranking work, which is what matters here.
        async with conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?", (match,)) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _take(
        self, conn: Connection, table: str, match: str, want: int, found: dict[int, int], tier: int, order: str
    ) -> None:
        async with conn.execute(
            f"SELECT e.id FROM {table} JOIN entities e ON e.id = {table}.rowid "
            f"WHERE {table} MATCH ? AND e.namespace = ? ORDER BY {table}.{order} LIMIT ?",
            (match, self.namespace, want + len(found)),
        ) as cur:
            async for (entity_id,) in cur:
                found.setdefault(entity_id, tier)
                if len(found) >= want:
                    break

    async def _collect_short(self, conn: Connection, query: str, want: int, found: dict[int, int]) -> None:
        # Too short for the trigram index: scan, as the reference does for every query.
        needle = query.lower()
        async with conn.execute(
            # `+e.namespace`: walking entities in id order lets LIMIT stop the scan early; the planner
            # would otherwise pick a namespace index and sort every row of the namespace first.
            "SELECT e.id FROM entities e WHERE +e.namespace = ? AND (instr(lower(e.name), ?) OR "
            "instr(lower(e.entity_type), ?) OR EXISTS (SELECT 1 FROM observations o "
            "WHERE o.entity_id = e.id AND o.valid_to IS NULL AND instr(lower(o.content), ?))) ORDER BY e.id LIMIT ?",
            (self.namespace, needle, needle, needle, want + len(found)),
        ) as cur:
            async for (entity_id,) in cur:
                found.setdefault(entity_id, 1)
                if len(found) >= want:
                    break

    async def _create_entities(
        self, conn: Connection, entities: Sequence[NewEntity], changes: _Changes
    ) -> list[Entity]:
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

    async def _insert_observations(
        self, conn: Connection, facts: Sequence[tuple[int, str]], changes: _Changes, valid_from: str | None = None
    ) -> list[tuple[int, int, str]]:
        """Insert ``(entity id, content)`` facts that are not current already; return the new rows."""
        if not facts:
            return []
        async with conn.execute(
            "INSERT INTO observations (entity_id, content, valid_from) "
            f"SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), coalesce(?, {NOW}) "
            "FROM json_each(?) WHERE true ON CONFLICT DO NOTHING RETURNING id, entity_id, content",
            (valid_from, json.dumps(list(facts))),
        ) as cur:
            rows = [(i, e, c) for i, e, c in await cur.fetchall()]
        changes.observations.extend(rows)
        return rows

    async def _create_relations(self, conn: Connection, relations: Sequence[RelationRef]) -> list[Relation]:
        ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)], aliases=True)
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
            "AND r.relation_type = json_extract(j.value, '$[2]') WHERE r.valid_to IS NULL",
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
        conn: Connection,
        ids: dict[str, int],
        additions: Sequence[ObservationAddition],
        changes: _Changes,
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

    async def _touch(self, conn: Connection, ids: Sequence[int]) -> None:
        if ids:
            await conn.execute(f"UPDATE entities SET updated_at = {NOW} WHERE id IN {_IN_IDS}", (json.dumps(ids),))

    async def _unindex(self, conn: Connection, ids: Sequence[int]) -> None:
        # Row by row: FTS5 answers `rowid = ?` from its index but scans for `rowid IN (...)`.
        for table in _FTS_TABLES:
            await conn.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(i,) for i in ids])

    async def _reindex(self, conn: Connection, ids: Sequence[int]) -> None:
        """Rewrite the search documents of ``ids`` from their name (and aliases), type and current observations."""
        if not ids:
            return
        await self._unindex(conn, ids)
        for table in _FTS_TABLES:
            await conn.execute(
                f"INSERT INTO {table} (rowid, name, entity_type, observations) "
                "SELECT e.id, e.name || coalesce(char(10) || (SELECT group_concat(alias, char(10)) FROM aliases a "
                "WHERE a.entity_id = e.id), ''), e.entity_type, coalesce((SELECT group_concat(content, char(10)) "
                "FROM (SELECT content FROM observations WHERE entity_id = e.id AND valid_to IS NULL ORDER BY id)), '') "
                f"FROM entities e WHERE e.id IN {_IN_IDS}",
                (json.dumps(list(ids)),),
            )


def _matched(words: Sequence[str], text: str) -> int:
    """How many of the (casefolded) query ``words`` occur in ``text`` as a word or a word prefix."""
    tokens = {t.casefold() for t in search.words(text)}
    return sum(1 for w in words if w in tokens or any(t.startswith(w) for t in tokens))


def _all_in(words: Sequence[str], text: str) -> bool:
    return bool(words) and _matched(words, text) == len(words)


def _check_name(name: str) -> None:
    bad = re.search(r"[\x00-\x1f\x7f-\x9f]", name)
    if bad:
        raise InvalidInputError(
            f"entity names never contain control characters (found U+{ord(bad.group()):04X} at position "
            f"{bad.start()}); check the name"
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
