"""Facts over time: closing the validity interval of observations (``supersede``) and relations
(``end_relations``) instead of deleting them, so ``as_of`` reads still see what held then.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_suite.servers.memory.graph_core import Changes, GraphCore, check_size, quoted
from mcp_suite.servers.memory.models import EndedRelations, Relation, RelationRef, SupersededFact, Supersession
from mcp_suite.servers.memory.storage.base import scalar, scalar_or_none
from mcp_suite.shared.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn

_CURRENT_FACT = "SELECT id FROM observations WHERE entity_id = ? AND content = ? AND valid_to IS NULL"


class GraphTime(GraphCore):
    """Superseding facts and ending relations (see the module docstring)."""

    async def supersede(self, items: Sequence[Supersession]) -> list[SupersededFact]:
        """End current observations and record what replaced them; all of them or none."""
        check_size(t for i in items for t in (i.observation, i.replacement or ""))
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

        async def change(conn: Conn, changes: Changes) -> list[SupersededFact]:
            at = await self._now(conn)
            ids = await self._ids(conn, [i.entityName for i in items], aliases=True)
            missing = [n for n in dict.fromkeys(i.entityName for i in items) if n not in ids]
            if missing:
                raise NotFoundError(
                    f"no entity named {quoted(missing)}; check the name with search_nodes. Nothing was changed."
                )
            old_ids: list[int] = []
            absent: list[str] = []
            for item in items:
                old_id = await scalar_or_none(conn, _CURRENT_FACT, (ids[item.entityName], item.observation), int)
                if old_id is None:
                    absent.append(f"{item.observation!r} of {item.entityName!r}")
                else:
                    old_ids.append(old_id)
            if absent:
                raise NotFoundError(
                    f"not a current observation: {', '.join(absent[:10])}. Superseding needs the exact text of a "
                    "fact that holds now (see open_nodes); add new facts with add_observations. Nothing was changed."
                )
            await conn.execute(
                f"UPDATE observations SET valid_to = ? WHERE id IN {self.ids_in}", (at, json.dumps(old_ids))
            )
            results: list[SupersededFact] = []
            for item, old_id in zip(items, old_ids, strict=True):
                entity_id = ids[item.entityName]
                if item.replacement is not None:
                    inserted = await self._insert_observations(conn, [(entity_id, item.replacement)], changes, at)
                    if inserted:
                        new_id = inserted[0][0]
                    else:  # already a current fact of the entity (why the insert was skipped): link to it
                        new_id = await scalar(conn, _CURRENT_FACT, (entity_id, item.replacement), int)
                    await conn.execute("UPDATE observations SET superseded_by = ? WHERE id = ?", (new_id, old_id))
                results.append(
                    SupersededFact(
                        entityName=item.entityName, superseded=item.observation, replacement=item.replacement, at=at
                    )
                )
            touched = list(dict.fromkeys(ids[i.entityName] for i in items))
            await self._touch(conn, touched)
            await self._reindex(conn, touched)
            return results

        return await self._run_change(change)

    async def end_relations(self, relations: Sequence[RelationRef]) -> EndedRelations:
        """Mark current relations as no longer holding (kept for ``as_of`` reads); all of them or none."""

        async def change(conn: Conn, _: Changes) -> EndedRelations:
            at = await self._now(conn)
            ids = await self._ids(conn, [n for r in relations for n in (r.from_, r.to)], aliases=True)
            missing = [n for n in dict.fromkeys(n for r in relations for n in (r.from_, r.to)) if n not in ids]
            if missing:
                raise NotFoundError(
                    f"no entity named {quoted(missing)}; check the names with search_nodes. Nothing was changed."
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

        return await self._run_change(change)
