"""The memory server's tools, registered on its :class:`~mcp_suite.shared.server.SuiteServer`.

Part of the MCP surface: the nine tools of ``@modelcontextprotocol/server-memory`` (same names, input
fields, result shapes and text content) and the tools beyond it. Each validates its arguments (typed
parameters), asks the :class:`~mcp_suite.servers.memory.graph.GraphStore` of the request's lifespan,
and replies with a typed model from :mod:`mcp_suite.servers.memory.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from pydantic_core import to_json

from mcp_suite.servers.memory import limits
from mcp_suite.servers.memory.graph import GraphStore
from mcp_suite.servers.memory.models import (
    AsOf,
    CreatedEntities,
    CreatedRelations,
    Duplicates,
    EndedRelations,
    EntityName,
    KnowledgeGraph,
    MergePlan,
    Neighbourhood,
    NewEntity,
    ObservationAddition,
    ObservationDeletion,
    ObservationResults,
    Outcome,
    RelationRef,
    SearchMode,
    SupersedeResults,
    Supersession,
)
from mcp_suite.shared.server import SuiteServer

GraphOf = Callable[[Context], GraphStore]
"""How a tool finds the graph of its request (the lifespan's state)."""

WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)
READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

Batch = Field(min_length=0, max_length=limits.MAX_ITEMS_PER_CALL)


def json_text(data: Any) -> str:
    # Same layout as the reference's JSON.stringify(value, null, 2), and as json.dumps(indent=2,
    # ensure_ascii=False) for every value we send (scores are rounded, so no float prints with an
    # exponent); pydantic-core's encoder, because json.dumps with an indent falls back to pure Python
    # (a 20-hit search result: 0.24 ms against 0.03 ms).
    return to_json(data, indent=2).decode()


def _reply(model: BaseModel, text: str | None = None, key: str | None = None) -> CallToolResult:
    """Structured content from ``model``; text content as the reference sends it (``key`` picks the
    part the reference prints, e.g. only the list of created entities)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    if text is None:
        text = json_text(data[key] if key else data)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def _done(message: str) -> CallToolResult:
    return _reply(Outcome(success=True, message=message), text=message)


def register_tools(server: SuiteServer, graph_of: GraphOf) -> None:
    """Every tool of the memory server, the reference's nine first."""
    _register_creation_tools(server, graph_of)
    _register_deletion_tools(server, graph_of)
    _register_lookup_tools(server, graph_of)
    _register_neighbourhood_tool(server, graph_of)
    _register_time_tools(server, graph_of)
    _register_merge_tools(server, graph_of)


def _register_creation_tools(server: SuiteServer, graph_of: GraphOf) -> None:
    """The reference's create_entities, create_relations and add_observations."""

    @server.tool(title="Create Entities", annotations=WRITE)
    async def create_entities(
        entities: Annotated[list[NewEntity], Batch], ctx: Context
    ) -> Annotated[CallToolResult, CreatedEntities]:
        """Create multiple new entities in the knowledge graph.

        Each entity has a unique name, an entityType (person, organization, event …) and
        observations (atomic facts). Entities whose name already exists are skipped, not
        changed: add facts to them with add_observations. Returns the entities that were created.
        """
        created = await graph_of(ctx).create_entities(entities)
        return _reply(CreatedEntities(entities=created), key="entities")

    @server.tool(title="Create Relations", annotations=WRITE)
    async def create_relations(
        relations: Annotated[list[RelationRef], Batch], ctx: Context
    ) -> Annotated[CallToolResult, CreatedRelations]:
        """Create multiple new relations between entities in the knowledge graph. Relations should be in active voice.

        Both entities of every relation must already exist (create them with create_entities
        first); if any is missing the whole call is rejected and nothing is created. Relations
        that already exist are skipped. Returns the relations that were created.
        """
        created = await graph_of(ctx).create_relations(relations)
        return _reply(CreatedRelations(relations=created), key="relations")

    @server.tool(title="Add Observations", annotations=WRITE)
    async def add_observations(
        observations: Annotated[list[ObservationAddition], Batch], ctx: Context
    ) -> Annotated[CallToolResult, ObservationResults]:
        """Add new observations to existing entities in the knowledge graph.

        Fails (adding nothing) if an entity does not exist: create it with create_entities
        first. Observations the entity already has are skipped; the result lists, per entity,
        the observations that were actually added.
        """
        results = await graph_of(ctx).add_observations(observations)
        return _reply(ObservationResults(results=results), key="results")


def _register_deletion_tools(server: SuiteServer, graph_of: GraphOf) -> None:
    """The reference's delete_entities, delete_observations and delete_relations."""

    @server.tool(title="Delete Entities", annotations=DELETE)
    async def delete_entities(
        entityNames: Annotated[list[EntityName], Batch, Field(description="An array of entity names to delete")],
        ctx: Context,
    ) -> Annotated[CallToolResult, Outcome]:
        """Delete multiple entities and their associated relations from the knowledge graph.

        The entities' observations and every relation from or to them are deleted too. Names
        that do not exist are ignored.
        """
        await graph_of(ctx).delete_entities(entityNames)
        return _done("Entities deleted successfully")

    @server.tool(title="Delete Observations", annotations=DELETE)
    async def delete_observations(
        deletions: Annotated[list[ObservationDeletion], Batch], ctx: Context
    ) -> Annotated[CallToolResult, Outcome]:
        """Delete specific observations from entities in the knowledge graph.

        Observations are matched exactly; ones that do not exist (or belong to unknown
        entities) are ignored.
        """
        await graph_of(ctx).delete_observations(deletions)
        return _done("Observations deleted successfully")

    @server.tool(title="Delete Relations", annotations=DELETE)
    async def delete_relations(
        relations: Annotated[list[RelationRef], Batch, Field(description="An array of relations to delete")],
        ctx: Context,
    ) -> Annotated[CallToolResult, Outcome]:
        """Delete multiple relations from the knowledge graph.

        Relations are matched exactly on from, to and relationType; ones that do not exist are ignored.
        """
        await graph_of(ctx).delete_relations(relations)
        return _done("Relations deleted successfully")


def _register_lookup_tools(server: SuiteServer, graph_of: GraphOf) -> None:
    """The reference's read_graph, search_nodes and open_nodes (with paging, ranking and as_of)."""

    @server.tool(title="Read Graph", annotations=READ)
    async def read_graph(
        ctx: Context,
        limit: Annotated[
            int,
            Field(ge=1, le=limits.MAX_READ_LIMIT, description="Most entities to return in this page"),
        ] = limits.DEFAULT_READ_LIMIT,
        offset: Annotated[int, Field(ge=0, description="Entities to skip: the nextOffset of the previous page")] = 0,
        as_of: AsOf | None = None,
    ) -> Annotated[CallToolResult, KnowledgeGraph]:
        """Read the entire knowledge graph: entities (in creation order) and the relations between them.

        A large graph is returned one page at a time; then the result has a `page` field with
        the total counts and the `nextOffset` to pass for the next page. For large memories
        prefer search_nodes or open_nodes, which return just what is relevant. With `as_of`, the
        graph as it was then: entities that existed, facts and relations that held at that moment.
        """
        return _reply(await graph_of(ctx).read_graph(limit=limit, offset=offset, as_of=as_of))

    @server.tool(title="Search Nodes", annotations=READ)
    async def search_nodes(
        query: Annotated[
            str,
            Field(
                max_length=limits.MAX_QUERY_CHARS,
                description="The search query to match against entity names, types, and observation content",
            ),
        ],
        ctx: Context,
        limit: Annotated[
            int, Field(ge=1, le=limits.MAX_SEARCH_LIMIT, description="Most entities to return, best matches first")
        ] = limits.DEFAULT_SEARCH_LIMIT,
        mode: Annotated[
            SearchMode,
            Field(
                description="hybrid (default): by words and by meaning, fused; lexical: words only "
                "(exact names, codes); semantic: meaning only (paraphrases, related words)"
            ),
        ] = "hybrid",
        as_of: AsOf | None = None,
    ) -> Annotated[CallToolResult, KnowledgeGraph]:
        """Search for nodes in the knowledge graph based on a query.

        Matches entity names, types and observation content, by words and by meaning: a question
        such as "where does Alice work" finds "Alice is employed by Globex". Best matches first;
        `matches` lists, per entity, its observations that match with a 0-1 score. A query that is
        exactly an entity's name returns that entity and the entities mentioning it, not look-alikes.
        Returns the matching entities and every relation that touches them. With `as_of`, searches
        the facts that held at that moment.
        """
        return _reply(await graph_of(ctx).search(query, limit=limit, mode=mode, as_of=as_of))

    @server.tool(title="Open Nodes", annotations=READ)
    async def open_nodes(
        names: Annotated[list[EntityName], Batch, Field(description="An array of entity names to retrieve")],
        ctx: Context,
        as_of: AsOf | None = None,
    ) -> Annotated[CallToolResult, KnowledgeGraph]:
        """Open specific nodes in the knowledge graph by their names.

        Returns the entities that exist (unknown names are skipped; the old name of a merged entity
        opens the entity it was merged into) and every relation from or to them. With `as_of`, the
        facts and relations that held at that moment.
        """
        return _reply(await graph_of(ctx).open_nodes(names, as_of=as_of))


def _register_neighbourhood_tool(server: SuiteServer, graph_of: GraphOf) -> None:
    """get_neighbourhood: what is connected to an entity."""

    @server.tool(title="Get Neighbourhood", annotations=READ)
    async def get_neighbourhood(
        name: EntityName,
        ctx: Context,
        depth: Annotated[
            int, Field(ge=1, le=limits.MAX_DEPTH, description="How many relation hops to follow (1 to 3)")
        ] = 1,
        limit: Annotated[
            int, Field(ge=1, le=limits.MAX_NEIGHBOURHOOD_LIMIT, description="Most entities to return")
        ] = limits.DEFAULT_NEIGHBOURHOOD_LIMIT,
        as_of: AsOf | None = None,
    ) -> Annotated[CallToolResult, Neighbourhood]:
        """Explore what is connected to an entity: it and every entity within `depth` relation hops
        (following relations in both directions), nearest first, with the relations among them.

        Each entity carries its `distance` in hops. Fails if the entity does not exist. With
        `as_of`, follows the relations that held at that moment.
        """
        return _reply(await graph_of(ctx).neighbourhood(name, depth=depth, limit=limit, as_of=as_of))


def _register_time_tools(server: SuiteServer, graph_of: GraphOf) -> None:
    """Facts over time: supersede_observations and end_relations."""

    @server.tool(
        title="Supersede Observations",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def supersede_observations(
        supersessions: Annotated[list[Supersession], Batch, Field(min_length=1)], ctx: Context
    ) -> Annotated[CallToolResult, SupersedeResults]:
        """Record that facts changed: each `observation` (the exact text of a current fact) stops
        holding now, and its `replacement`, if given, holds from now on.

        Use this instead of add_observations when a new fact contradicts an old one ("works at
        Globex" replacing "works at Acme"), so reads show only what holds now while the old fact
        stays in the entity's history (memory://entities/{name}) and in `as_of` reads. Use
        delete_observations only for facts that were never true. All or nothing: an unknown entity
        or a fact that is not current rejects the whole call.
        """
        results = await graph_of(ctx).supersede(supersessions)
        return _reply(SupersedeResults(results=results))

    @server.tool(
        title="End Relations",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def end_relations(
        relations: Annotated[list[RelationRef], Batch, Field(min_length=1)], ctx: Context
    ) -> Annotated[CallToolResult, EndedRelations]:
        """Record that relations stopped holding (Alice no longer works_at Acme) without deleting them:
        reads leave them out, `as_of` reads of earlier moments still show them. All or nothing: each
        relation must currently exist.
        """
        return _reply(await graph_of(ctx).end_relations(relations))


def _register_merge_tools(server: SuiteServer, graph_of: GraphOf) -> None:
    """Duplicates: merge_entities and find_duplicates."""

    @server.tool(
        title="Merge Entities",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def merge_entities(
        names: Annotated[
            list[EntityName], Batch, Field(min_length=1, description="Entities to merge away (exact names)")
        ],
        into: Annotated[EntityName, Field(description="The entity to keep")],
        ctx: Context,
        dry_run: Annotated[bool, Field(description="Only report what would change")] = False,
    ) -> Annotated[CallToolResult, MergePlan]:
        """Merge duplicate entities (e.g. "alice" and "Alice Smith" into "Alice"): their observations and
        relations move onto `into`, exact duplicates are dropped, and their names become aliases of
        `into` that open_nodes and search_nodes still resolve. One transaction. Try `dry_run` first;
        find candidates with find_duplicates.
        """
        return _reply(await graph_of(ctx).merge(names, into, dry_run=dry_run))

    @server.tool(title="Find Duplicates", annotations=READ)
    async def find_duplicates(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=500, description="Most groups to return, likeliest first")] = 50,
    ) -> Annotated[CallToolResult, Duplicates]:
        """List entities that are probably the same thing: names equal apart from case, spacing or
        punctuation, one name extending another ("Alice" / "Alice Smith"), or near-identical
        spelling. Check them with open_nodes, then merge with merge_entities.
        """
        return _reply(await graph_of(ctx).find_duplicates(limit=limit))
