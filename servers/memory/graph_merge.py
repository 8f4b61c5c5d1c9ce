"""Merging duplicate entities: observations and relations move onto the survivor, what becomes a
duplicate is dropped, and the merged names stay behind as aliases that reads resolve.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_suite.servers.memory.graph_core import Changes, GraphCore, quoted
from mcp_suite.servers.memory.models import MergePlan
from mcp_suite.shared.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn


class _DryRun(Exception):
    def __init__(self, plan: MergePlan) -> None:
        self.plan = plan


class GraphMerge(GraphCore):
    """Merging entities into one (see the module docstring)."""

    async def merge(self, names: Sequence[str], into: str, dry_run: bool = False) -> MergePlan:
        """Move the observations and relations of ``names`` onto ``into``, drop what becomes a duplicate,
        delete the merged entities and keep their names as aliases of ``into``. One transaction;
        ``dry_run`` reports the same numbers and rolls everything back."""
        sources_named = list(dict.fromkeys(names))
        if into in sources_named:
            raise InvalidInputError(
                f"cannot merge {into!r} into itself; list only the other entities in names. Nothing was changed."
            )

        async def change(conn: Conn, changes: Changes) -> MergePlan:
            ids = await self._ids(conn, [*sources_named, into])
            missing = [n for n in [*sources_named, into] if n not in ids]
            if missing:
                raise NotFoundError(
                    f"no entity named {quoted(missing)} (merging needs exact entity names; see search_nodes "
                    "or find_duplicates). Nothing was changed."
                )
            plan = await self._merge(conn, [ids[n] for n in sources_named], ids[into], sources_named, into, changes)
            plan.dryRun = dry_run
            if dry_run:
                raise _DryRun(plan)  # rolls the transaction back
            changes.removed_entities = [ids[n] for n in sources_named]
            return plan

        try:
            return await self._run_change(change)
        except _DryRun as preview:
            return preview.plan

    async def _merge(
        self,
        conn: Conn,
        sources: list[int],
        target: int,
        source_names: list[str],
        into: str,
        changes: Changes,
    ) -> MergePlan:
        src = json.dumps(sources)
        async with conn.execute(
            "SELECT content FROM observations WHERE entity_id = ? AND valid_to IS NULL", (target,)
        ) as cur:
            current = {row[0] for row in await cur.fetchall()}
        async with conn.execute(
            f"SELECT id, content, valid_to FROM observations WHERE entity_id IN {self.ids_in} ORDER BY id", (src,)
        ) as cur:
            facts = [(i, c, v) for i, c, v in await cur.fetchall()]
        drop: list[int] = []
        for obs_id, content, valid_to in facts:
            if valid_to is None:
                if content in current:
                    drop.append(obs_id)
                current.add(content)
        await conn.execute(f"DELETE FROM observations WHERE id IN {self.ids_in}", (json.dumps(drop),))
        await conn.execute(f"UPDATE observations SET entity_id = ? WHERE entity_id IN {self.ids_in}", (target, src))
        changes.moved = ([i for i, _, _ in facts if i not in set(drop)], target)

        touching = [*sources, target]
        async with conn.execute(
            f"SELECT id, from_id, to_id, relation_type, valid_to FROM relations "
            f"WHERE from_id IN {self.ids_in} OR to_id IN {self.ids_in} ORDER BY id",
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
        await conn.execute(f"DELETE FROM relations WHERE id IN {self.ids_in}", (json.dumps(dropped_rel),))
        await conn.executemany("UPDATE relations SET from_id = ?, to_id = ? WHERE id = ?", moved)

        await conn.execute(f"UPDATE aliases SET entity_id = ? WHERE entity_id IN {self.ids_in}", (target, src))
        at = await self._now(conn)  # one stamp for the whole merge, so alias order never depends on the clock
        await conn.executemany(
            "INSERT INTO aliases (namespace, alias, entity_id, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, alias) DO UPDATE SET entity_id = excluded.entity_id",
            [(self.namespace, name, target, at) for name in source_names],
        )
        await conn.execute(f"DELETE FROM entities WHERE id IN {self.ids_in}", (src,))
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
