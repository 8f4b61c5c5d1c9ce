"""The memory server's data shapes: what tools accept and what they return.

Field names follow the reference server (``entityType``, ``relationType``, ``entityName`` …) so a
system prompt or client written for ``@modelcontextprotocol/server-memory`` works unchanged.
Input types carry the bounds from :mod:`mcp_suite.servers.memory.limits` (validated once, at the edge);
output types are plain so stored data always serialises.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from mcp_suite.servers.memory import limits


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


EntityName = Annotated[
    str,
    Field(min_length=1, max_length=limits.MAX_NAME_CHARS, description="The name of the entity"),
    AfterValidator(_not_blank),
]
TypeName = Annotated[str, Field(min_length=1, max_length=limits.MAX_TYPE_CHARS), AfterValidator(_not_blank)]
ObservationText = Annotated[
    str,
    Field(min_length=1, max_length=limits.MAX_OBSERVATION_CHARS, description="One atomic fact"),
    AfterValidator(_not_blank),
]


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


class KnowledgeGraph(_ToolResult):
    entities: list[Entity]
    relations: list[Relation]
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


class LinkedRelation(_Wire):
    from_: str = _from_field()
    to: str
    relationType: str
    createdAt: str


class EntityDetail(_Wire):
    name: str
    entityType: str
    createdAt: str
    updatedAt: str
    observations: list[StoredObservation]
    outgoing: list[LinkedRelation]
    incoming: list[LinkedRelation]


class ImportReport(_Wire):
    entitiesCreated: int
    observationsAdded: int
    relationsCreated: int
    entitiesCreatedForRelations: int = 0
    duplicatesSkipped: int
