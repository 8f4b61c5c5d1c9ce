"""The memory server's data shapes: what tools accept and what they return.

Field names follow the reference server (``entityType``, ``relationType``, ``entityName`` …) so a
system prompt or client written for ``@modelcontextprotocol/server-memory`` works unchanged.
Input types carry the bounds from :mod:`mcp_suite.servers.memory.limits` (validated once, at the edge);
output types are plain so stored data always serialises.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mcp_suite.servers.memory import limits


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


# C0 and C1 control characters (tab, newline and all). SQLite's C API and many clients end a string at
# NUL, so "Canary-2\x00-other" would silently address "Canary-2": refused, never truncated.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _plain_name(value: str) -> str:
    _not_blank(value)
    bad = _CONTROL.search(value)
    if bad:
        raise ValueError(
            f"must not contain control characters (found U+{ord(bad.group()):04X} at position {bad.start()}); "
            "names and types are single-line text"
        )
    return value


def _no_nul(value: str) -> str:
    # Observations may span lines, but NUL truncates text in SQLite's C API and in many clients.
    if "\x00" in value:
        raise ValueError(f"must not contain the NUL character (U+0000, at position {value.index(chr(0))})")
    return _not_blank(value)


EntityName = Annotated[
    str,
    Field(min_length=1, max_length=limits.MAX_NAME_CHARS, description="The name of the entity"),
    AfterValidator(_plain_name),
]
TypeName = Annotated[str, Field(min_length=1, max_length=limits.MAX_TYPE_CHARS), AfterValidator(_plain_name)]
ObservationText = Annotated[
    str,
    Field(min_length=1, max_length=limits.MAX_OBSERVATION_CHARS, description="One atomic fact"),
    AfterValidator(_no_nul),
]


TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Stored timestamps (SQLite ``strftime('%Y-%m-%dT%H:%M:%fZ')``, milliseconds); they compare as text."""


def stamp(moment: datetime) -> str:
    """``moment`` in the stored timestamp format (UTC, milliseconds)."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)[:-4] + "Z"


def _as_of(value: str) -> str:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or time; use e.g. 2025-03-01 or 2025-03-01T09:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a bare date or time is read as UTC
    if moment > datetime.now(UTC):
        raise ValueError(f"{value!r} is in the future; as_of asks what held at a past moment (omit it for now)")
    return stamp(moment)


AsOf = Annotated[
    str,
    Field(
        max_length=64,
        description="Read the memory as it was at this moment (ISO 8601, e.g. 2025-03-01 or "
        "2025-03-01T09:30:00Z; UTC if no zone). Omit for the current facts.",
    ),
    AfterValidator(_as_of),
]

SearchMode = Literal["hybrid", "lexical", "semantic"]


def _from_field(description: str | None = None) -> Any:
    # "from" on the wire, `from_` in Python. Not `alias=`: type checkers would then demand
    # `from=` in constructor calls, which is not valid Python.
    return Field(validation_alias=AliasChoices("from", "from_"), serialization_alias="from", description=description)


class _Wire(BaseModel):
    # `from` is a Python keyword: the field is `from_` in code and "from" on the wire. Unknown keys are
    # ignored, as the reference server (zod) does, so clients that send extras keep working.
    model_config = ConfigDict(populate_by_name=True)


# ---- inputs -------------------------------------------------------------------------------------


class NewEntity(_Wire):
    name: EntityName
    entityType: Annotated[TypeName, Field(description="The type of the entity, e.g. person, organization, event")]
    observations: list[ObservationText] = Field(
        default_factory=list,
        max_length=limits.MAX_CONTENTS_PER_ITEM,
        description="An array of observation contents associated with the entity",
    )


class RelationRef(_Wire):
    from_: EntityName = _from_field("The name of the entity where the relation starts")
    to: EntityName = Field(description="The name of the entity where the relation ends")
    relationType: Annotated[TypeName, Field(description="The type of the relation, in active voice (works_at)")]


class ObservationAddition(_Wire):
    entityName: Annotated[EntityName, Field(description="The name of the entity to add the observations to")]
    contents: list[ObservationText] = Field(
        max_length=limits.MAX_CONTENTS_PER_ITEM, description="An array of observation contents to add"
    )


class ObservationDeletion(_Wire):
    entityName: Annotated[EntityName, Field(description="The name of the entity containing the observations")]
    observations: list[ObservationText] = Field(
        max_length=limits.MAX_CONTENTS_PER_ITEM, description="An array of observations to delete"
    )


class Supersession(_Wire):
    entityName: Annotated[EntityName, Field(description="The entity the fact belongs to")]
    observation: Annotated[ObservationText, Field(description="The current observation that no longer holds")]
    replacement: ObservationText | None = Field(
        default=None, description="The observation that holds instead (omit if nothing replaces it)"
    )


# ---- outputs ------------------------------------------------------------------------------------


class _ToolResult(_Wire):
    """A tool's result type. Its JSON schema (the tool's ``outputSchema``) is self-contained, with no
    ``$ref``: clients validate every result against it, and resolving a ``$ref`` per list item made
    that validation cost more than the whole call (20 ms for 50 entities in the Python SDK)."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        own = handler.resolve_ref_schema(schema)

        def inline(node: Any) -> Any:
            if isinstance(node, dict):
                if set(node) == {"$ref"}:
                    return inline(copy.deepcopy(handler.resolve_ref_schema(node)))
                return {key: inline(value) for key, value in node.items()}
            if isinstance(node, list):
                return [inline(value) for value in node]
            return node

        inlined = inline(own)
        own.clear()
        own.update(inlined)
        return schema


class Entity(_Wire):
    name: str
    entityType: str
    observations: list[str]


class Relation(_Wire):
    from_: str = _from_field()
    to: str
    relationType: str


class CreatedEntities(_ToolResult):
    entities: list[Entity] = Field(description="The entities that were created (existing names are skipped)")


class CreatedRelations(_ToolResult):
    relations: list[Relation] = Field(description="The relations that were created (duplicates are skipped)")


class AddedObservations(_Wire):
    entityName: str
    addedObservations: list[str] = Field(description="Observations that were new; already known ones are skipped")


class ObservationResults(_ToolResult):
    results: list[AddedObservations]


class Outcome(_ToolResult):
    success: bool
    message: str


class PageInfo(_Wire):
    """Present on ``read_graph`` only when the graph did not fit in one page."""

    totalEntities: int
    totalRelations: int
    offset: int
    returnedEntities: int
    truncated: bool
    nextOffset: int | None = None
    hint: str


class ObservationMatch(_Wire):
    content: str
    score: float = Field(description="How well this observation matches the query, 0 to 1")


class EntityMatch(_Wire):
    name: str
    score: float = Field(description="The entity's fused relevance, 0 to 1 (best first)")
    observations: list[ObservationMatch] = Field(description="Its observations that match the query, best first")


class KnowledgeGraph(_ToolResult):
    entities: list[Entity]
    relations: list[Relation]
    matches: list[EntityMatch] | None = Field(
        default=None, description="search_nodes only: why each entity matched (same order as entities)"
    )
    asOf: str | None = Field(default=None, description="Present when the graph was read as of a past moment")
    page: PageInfo | None = Field(default=None, description="Paging details; only present when the graph was cut short")
    hint: str | None = Field(default=None, description="Only present when more matches exist than were returned")


class NeighbourEntity(Entity):
    distance: int = Field(description="Hops from the centre entity (0 is the centre itself)")


class Neighbourhood(_ToolResult):
    center: str
    depth: int
    entities: list[NeighbourEntity] = Field(
        description="The centre and the entities within `depth` hops, nearest first"
    )
    relations: list[Relation] = Field(description="Relations among the returned entities")
    truncated: bool = Field(description="True when more entities were in reach than `limit` allowed")


class TypeCount(_Wire):
    type: str
    count: int


class RecentEntity(_Wire):
    name: str
    entityType: str
    updatedAt: str


class GraphSummary(_Wire):
    namespace: str
    entities: int
    relations: int
    observations: int
    entityTypes: list[TypeCount]
    relationTypes: list[TypeCount]
    recentlyUpdated: list[RecentEntity]


class StoredObservation(_Wire):
    content: str
    createdAt: str
    validFrom: str
    validTo: str | None = Field(default=None, description="When it stopped holding (absent while it holds)")
    supersededBy: str | None = Field(default=None, description="The observation that replaced it")


class LinkedRelation(_Wire):
    from_: str = _from_field()
    to: str
    relationType: str
    createdAt: str
    validFrom: str
    validTo: str | None = None


class EntityDetail(_Wire):
    name: str
    entityType: str
    createdAt: str
    updatedAt: str
    aliases: list[str] = Field(default_factory=list, description="Names of entities merged into this one")
    observations: list[StoredObservation] = Field(description="The facts that hold now")
    outgoing: list[LinkedRelation]
    incoming: list[LinkedRelation]
    history: list[StoredObservation] = Field(
        default_factory=list, description="Facts that held once and were superseded, oldest first"
    )
    endedRelations: list[LinkedRelation] = Field(default_factory=list, description="Relations that ended")


class SupersededFact(_Wire):
    entityName: str
    superseded: str
    replacement: str | None = None
    at: str = Field(description="When the old observation stopped holding and the replacement started")


class SupersedeResults(_ToolResult):
    results: list[SupersededFact]


class EndedRelations(_ToolResult):
    relations: list[Relation] = Field(description="The relations that were current and are now ended")
    at: str


class MergePlan(_ToolResult):
    into: str
    merged: list[str] = Field(description="Entities merged (now aliases of `into`)")
    observationsMoved: int
    duplicateObservationsDropped: int
    relationsMoved: int
    relationsDropped: int = Field(description="Relations that became duplicates or self-loops and were dropped")
    aliases: list[str] = Field(description="Every alias of `into` after the merge")
    dryRun: bool = Field(description="True when nothing was changed (a preview)")


class DuplicateGroup(_Wire):
    names: list[str]
    reason: str
    score: float = Field(description="Name similarity, 0 to 1")


class Duplicates(_ToolResult):
    groups: list[DuplicateGroup]
    hint: str


class ImportReport(_Wire):
    entitiesCreated: int
    observationsAdded: int
    relationsCreated: int
    entitiesCreatedForRelations: int = 0
    duplicatesSkipped: int
