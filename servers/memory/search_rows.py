"""The rows a ``search_nodes`` or ``open_nodes`` result is built from, read in one statement.

Some entities (a search's hits, the opened names) need their entity rows, their observations (for the
result and for a search's per-hit matches) and every relation touching them. Read one query at a time
that is three or four round trips (on PostgreSQL each also pays for planning); one ``UNION ALL`` of the
reads, tagged by kind, is one. The SQL is what both engines share; the id-set test comes from the
engine's dialect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcp_suite.servers.memory.graph_core import EntityRow, existed_at, valid_at
from mcp_suite.servers.memory.models import Entity, Relation

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn

_ENTITY, _OBSERVATION, _RELATION = 0, 1, 2


@dataclass(frozen=True)
class Fact:
    id: int
    entity_id: int
    content: str


@dataclass(frozen=True)
class Link:
    from_id: int
    to_id: int
    from_name: str
    to_name: str
    relation_type: str


@dataclass
class SearchRows:
    """What holds (now, or at ``as_of``) for some entity ids."""

    entities: list[EntityRow] = field(default_factory=list)
    """The ids' entities that exist in the namespace, in the order the ids were given."""
    facts: list[Fact] = field(default_factory=list)
    """Their observations, oldest first."""
    links: list[Link] = field(default_factory=list)
    """Relations touching any of them, oldest first."""

    def graph_entities(self) -> list[Entity]:
        """The entities with their observations, as the reference's graph lists them."""
        facts: dict[int, list[str]] = {row.id: [] for row in self.entities}
        for fact in self.facts:
            facts[fact.entity_id].append(fact.content)
        return [Entity(name=r.name, entityType=r.entity_type, observations=facts[r.id]) for r in self.entities]

    def graph_relations(self) -> list[Relation]:
        return [Relation(from_=r.from_name, to=r.to_name, relationType=r.relation_type) for r in self.links]


def _statement(one_of_ints: str, as_of: str | None) -> str:
    """The one query: ids, [as_of], namespace; ids, [as_of]; ids, [as_of]; ids, [as_of]."""
    existed, _ = existed_at("e", as_of)
    facts, _ = valid_at("o", as_of)
    links, _ = valid_at("r", as_of)
    relation = (
        f"SELECT {_RELATION}, r.id, r.from_id, r.to_id, f.name, t.name, r.relation_type FROM relations r "
        "JOIN entities f ON f.id = r.from_id JOIN entities t ON t.id = r.to_id "
    )
    # Relations from a hit, then to one (a relation between two hits comes twice; read_search_rows keeps
    # one): two index lookups, where `from_id IN … OR to_id IN …` makes PostgreSQL scan the table.
    return (
        f"SELECT {_ENTITY}, e.id, e.id, e.id, e.name, e.entity_type, '' FROM entities e "
        f"WHERE e.id {one_of_ints} AND {existed} AND e.namespace = ? "
        "UNION ALL "
        f"SELECT {_OBSERVATION}, o.id, o.entity_id, o.entity_id, o.content, '', '' FROM observations o "
        f"WHERE o.entity_id {one_of_ints} AND {facts} "
        f"UNION ALL {relation} WHERE r.from_id {one_of_ints} AND {links} "
        f"UNION ALL {relation} WHERE r.to_id {one_of_ints} AND {links} "
        "ORDER BY 1, 2"
    )


async def read_search_rows(
    conn: Conn, one_of_ints: str, namespace: str, ids: Sequence[int], as_of: str | None = None
) -> SearchRows:
    """Entities, observations and relations of ``ids`` in one round trip (see the module docstring)."""
    if not ids:
        return SearchRows()
    _, existed = existed_at("e", as_of)
    _, valid = valid_at("o", as_of)
    payload = json.dumps(list(ids))
    params = (payload, *existed, namespace, payload, *valid, payload, *valid, payload, *valid)
    found: dict[int, EntityRow] = {}
    facts: list[Fact] = []
    links: dict[int, Link] = {}
    rows = await conn.execute_fetchall(_statement(one_of_ints, as_of), params)
    for kind, row_id, first, second, text, other, relation_type in rows:
        if kind == _ENTITY:
            found[row_id] = EntityRow(row_id, text, other)
        elif kind == _OBSERVATION:
            facts.append(Fact(row_id, first, text))
        else:
            links[row_id] = Link(first, second, text, other, relation_type)
    # Ids that exist elsewhere (deleted meanwhile, another namespace, created after as_of) bring nothing.
    return SearchRows(
        entities=[found[i] for i in dict.fromkeys(ids) if i in found],
        facts=[f for f in facts if f.entity_id in found],
        links=[link for link in links.values() if link.from_id in found or link.to_id in found],
    )
