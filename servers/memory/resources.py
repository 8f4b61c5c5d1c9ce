"""The memory server's resources (graph summary, duplicates, the knowledge graph, one entity) and its
prompt, registered on its :class:`~mcp_suite.shared.server.SuiteServer`. Part of the MCP surface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resources.templates import ResourceSecurity
from pydantic import Field

from mcp_suite.servers.memory.graph import GraphStore
from mcp_suite.servers.memory.instructions import memory_prompt
from mcp_suite.servers.memory.tools import GraphOf, json_text
from mcp_suite.shared.server import SuiteServer


def register_resources(server: SuiteServer, graph_of: GraphOf, live_graph: Callable[[], GraphStore]) -> None:
    """The resources; static ones get no Context from the SDK, so they read ``live_graph()`` instead."""

    @server.resource(
        "memory://graph",
        name="graph-summary",
        title="Knowledge graph summary",
        description="Counts, the commonest entity and relation types, and the most recently updated entities",
        mime_type="application/json",
    )
    async def graph_summary() -> str:
        return json_text((await live_graph().summary()).model_dump(mode="json", by_alias=True))

    @server.resource(
        "memory://duplicates",
        name="duplicates",
        title="Likely duplicate entities",
        description="Groups of entities whose names suggest they are the same thing (as find_duplicates returns)",
        mime_type="application/json",
    )
    async def duplicates() -> str:
        return json_text((await live_graph().find_duplicates()).model_dump(mode="json", by_alias=True))

    @server.resource(
        "memory://knowledge-graph",
        name="knowledge-graph",
        title="Knowledge Graph",
        description="The knowledge graph as read_graph returns it (the first page of a large graph)",
        mime_type="application/json",
    )
    async def knowledge_graph() -> str:
        graph = await live_graph().read_graph()
        return json_text(graph.model_dump(mode="json", by_alias=True, exclude_none=True))

    @server.resource(
        "memory://entities/{name}",
        name="entity",
        title="Entity",
        description="One entity with its current observations and relations in both directions, timestamps, "
        "aliases, and its history (superseded facts with when they held, ended relations)",
        mime_type="application/json",
        # Entity names are free text, not paths: `..` or a leading `/` are legitimate in them.
        security=ResourceSecurity(exempt_params={"name"}),
    )
    async def entity(name: str, ctx: Context) -> str:
        detail = await graph_of(ctx).entity_detail(name)
        return json_text(detail.model_dump(mode="json", by_alias=True))


def register_prompt(server: SuiteServer) -> None:
    """The reference's recommended instructions, as a prompt."""

    @server.prompt(
        title="Memory instructions",
        description="Recommended system-prompt instructions for using this memory (adapted from the reference server)",
    )
    def memory_instructions(
        user: Annotated[str, Field(description="Who the assistant talks to, as named in the memory")] = "default_user",
    ) -> str:
        return memory_prompt(user)
