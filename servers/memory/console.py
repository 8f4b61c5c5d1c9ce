"""The memory server's pages in the web console: counts, recent changes, search, one entity with its
relations both ways, and a clickable picture of its neighbourhood.

Reads go through :class:`~mcp_suite.servers.memory.graph.GraphStore` on a connection of its own
(SQLite WAL or a PostgreSQL pool: the MCP endpoints keep writing meanwhile). The graph is laid out here, in rings by
distance from the centre, and drawn as inline SVG whose nodes link to their own pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_suite.servers.memory import limits
from mcp_suite.servers.memory.graph import GraphStore
from mcp_suite.servers.memory.models import Neighbourhood
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.memory.storage import MemoryDatabase, open_storage
from mcp_suite.shared.console.web import Section, error_page, render
from mcp_suite.shared.errors import InvalidInputError, SuiteError

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
GRAPH_LIMIT = 40  # more nodes than this make an unreadable picture; the lists below it show the rest
RING = 120  # pixels between rings


@dataclass(frozen=True)
class Node:
    name: str
    type: str
    distance: int
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str


def layout(hood: Neighbourhood) -> tuple[list[Node], list[Edge], int]:
    """Rings by distance around the centre; returns nodes, edges and the picture's size."""
    rings: dict[int, list[tuple[str, str]]] = {}
    for entity in hood.entities:
        rings.setdefault(entity.distance, []).append((entity.name, entity.entityType))
    depth = max(rings) if rings else 0
    size = 2 * (RING * depth + 70)
    middle = size / 2
    nodes: dict[str, Node] = {}
    for distance, members in sorted(rings.items()):
        turn = 0.5 * distance  # stagger the rings so labels on neighbouring rings do not line up
        for index, (name, kind) in enumerate(members):
            angle = 2 * math.pi * index / len(members) + turn
            radius = RING * distance
            x = round(middle + radius * math.cos(angle), 1)
            y = round(middle + radius * math.sin(angle), 1)
            nodes[name] = Node(name, kind, distance, x, y)
    edges = [
        Edge(nodes[r.from_].x, nodes[r.from_].y, nodes[r.to].x, nodes[r.to].y, r.relationType)
        for r in hood.relations
        if r.from_ in nodes and r.to in nodes
    ]
    return list(nodes.values()), edges, size


@dataclass
class _Memory:
    settings: MemorySettings
    db: MemoryDatabase | None = None

    def graph(self, request: Request) -> GraphStore:
        namespace = request.query_params.get("ns") or self.settings.namespace
        if not _NAMESPACE.match(namespace):
            raise InvalidInputError(f"{namespace!r} is not a namespace name: use 1-64 letters, digits, '_', '.' or '-'")
        assert self.db is not None
        return GraphStore(self.db, namespace)

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        self.db = await open_storage(self.settings.database)
        try:
            yield
        finally:
            await self.db.close()
            self.db = None

    async def index(self, request: Request) -> Response:
        try:
            graph = self.graph(request)
        except InvalidInputError as exc:
            return error_page(request, str(exc))
        query = request.query_params.get("q", "").strip()[: limits.MAX_QUERY_CHARS]
        found = await graph.search(query, limit=50) if query else None
        return render(
            request,
            "memory_index.html",
            {
                "ns": graph.namespace,
                "namespaces": await graph.namespaces(),
                "summary": await graph.summary(),
                "query": query,
                "found": found,
            },
        )

    async def entity(self, request: Request) -> Response:
        try:
            graph = self.graph(request)
        except InvalidInputError as exc:
            return error_page(request, str(exc))
        name = request.query_params.get("name", "")
        try:
            depth = min(max(int(request.query_params.get("depth", "1")), 1), limits.MAX_DEPTH)
        except ValueError:
            depth = 1
        try:
            detail = await graph.entity_detail(name)
            hood = await graph.neighbourhood(name, depth=depth, limit=GRAPH_LIMIT)
        except SuiteError as exc:
            return error_page(request, str(exc), status=404)
        nodes, edges, size = layout(hood)
        return render(
            request,
            "memory_entity.html",
            {
                "ns": graph.namespace,
                "entity": detail,
                "depth": depth,
                "max_depth": limits.MAX_DEPTH,
                "nodes": nodes,
                "edges": edges,
                "size": size,
                "truncated": hood.truncated,
                "graph_limit": GRAPH_LIMIT,
            },
        )


def section(settings: MemorySettings) -> Section:
    memory = _Memory(settings)
    return Section(
        name="memory",
        title="Memory",
        summary="Search the knowledge graph, open entities with their observations and relations, walk the graph.",
        routes=[Route("/", memory.index), Route("/entity", memory.entity)],
        templates=Path(__file__).with_name("console_templates"),
        lifespan=memory.lifespan,
    )
