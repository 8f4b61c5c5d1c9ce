"""MCP surface of the memory server: tools, resources and a prompt over :mod:`mcp_suite.servers.memory.graph`.

This module builds the server and its lifespan (the database, the graph, background embedding, the
drop-in import); the tools live in :mod:`mcp_suite.servers.memory.tools`, the resources and the prompt
in :mod:`mcp_suite.servers.memory.resources`.

The nine tools of ``@modelcontextprotocol/server-memory`` keep their names, input fields and
result shapes, including the text content the reference sends (so a model that reads only text
sees the same thing), with typed ``outputSchema``s from :mod:`mcp_suite.servers.memory.models`. Everything
else (paging, ranked and meaning-based search, ``as_of`` reads, superseding facts, merging, namespaces,
the neighbourhood tool) is additive: new optional arguments, new tools, and new result fields that
reference clients ignore.
"""

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import Context

from mcp_suite import __version__
from mcp_suite.servers.memory import jsonl
from mcp_suite.servers.memory.graph import GraphStore
from mcp_suite.servers.memory.instructions import SERVER_INSTRUCTIONS
from mcp_suite.servers.memory.recall import Recall
from mcp_suite.servers.memory.resources import register_prompt, register_resources
from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.memory.storage import open_storage
from mcp_suite.servers.memory.tools import register_tools
from mcp_suite.shared.embeddings import make_embedder
from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.http import HttpPool
from mcp_suite.shared.server import SuiteServer

log = logging.getLogger(__name__)

REFERENCE_FILE_VARIABLE = "MEMORY_FILE_PATH"
"""The reference server's setting: where its memory.jsonl lives."""


@dataclass
class MemoryState:
    """What the lifespan opens: the graph of this instance's namespace."""

    graph: GraphStore


async def import_reference_file(graph: GraphStore, variable: str = REFERENCE_FILE_VARIABLE) -> None:
    """The drop-in start: a host configured for the reference passes its memory file in
    ``MEMORY_FILE_PATH``; import it once, into an empty namespace, and say what happened on stderr."""
    raw = os.environ.get(variable)
    if not raw:
        return
    path = Path(raw).expanduser()
    if not path.is_file():
        log.warning("%s=%s: no such file; starting without importing it", variable, raw)
        return
    if not await graph.needs_import():
        log.info("%s=%s: not imported (namespace %r already has data or was imported)", variable, raw, graph.namespace)
        return
    try:
        parsed = jsonl.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, SuiteError) as exc:
        log.error("%s=%s could not be imported: %s; starting with the memory as it is", variable, raw, exc)
        return
    outcome = await graph.import_once(parsed.entities, parsed.relations, str(path.resolve()))
    if isinstance(outcome, str):
        log.info("%s=%s not imported: %s", variable, raw, outcome)
    else:
        log.info(
            "imported %s (from %s) into namespace %r: %d entities, %d observations, %d relations, "
            "%d placeholder entities for relations to unknown names, %d duplicates skipped; "
            "it will not be imported again",
            path,
            variable,
            graph.namespace,
            outcome.entitiesCreated,
            outcome.observationsAdded,
            outcome.relationsCreated,
            outcome.entitiesCreatedForRelations,
            outcome.duplicatesSkipped,
        )


WRITE_TOOLS = (
    "create_entities",
    "create_relations",
    "add_observations",
    "delete_entities",
    "delete_observations",
    "delete_relations",
    "supersede_observations",
    "end_relations",
    "merge_entities",
)


def _changed_resources(arguments: dict[str, Any]) -> list[str]:
    """The resources a successful write changed: the graph views, and every entity the call names."""
    if arguments.get("dry_run"):
        return []
    names: list[str] = []
    for item in [*arguments.get("entities", []), *arguments.get("observations", [])]:
        names.append(str(item.get("name") or item.get("entityName") or ""))
    for item in [*arguments.get("relations", []), *arguments.get("deletions", []), *arguments.get("supersessions", [])]:
        names += [str(item.get("from", "")), str(item.get("to", "")), str(item.get("entityName", ""))]
    names += [str(name) for name in [*arguments.get("entityNames", []), *arguments.get("names", [])]]
    names.append(str(arguments.get("into") or ""))
    unique = [name for name in dict.fromkeys(names) if name]
    entities = [f"memory://entities/{quote(name, safe='')}" for name in unique]
    # An entity's URI may also be subscribed to unescaped ("memory://entities/Ada Lovelace").
    entities += [f"memory://entities/{name}" for name in unique if quote(name, safe="") != name]
    return ["memory://graph", "memory://knowledge-graph", *entities]


def _replica_changed(server: SuiteServer) -> list[str]:
    """What a write through another replica may have changed: the graph views and every entity subscribed here."""
    subscribed = server.resource_updates.subscribed() if server.resource_updates is not None else []
    return [
        "memory://graph",
        "memory://knowledge-graph",
        *(u for u in subscribed if u.startswith("memory://entities/")),
    ]


def build_server(settings: MemorySettings) -> SuiteServer:
    # Semantic search is one matrix-vector product per query: bandwidth-bound, so BLAS threads only
    # contend (measured 6x slower with them on a busy 2-core machine). Read when numpy is first
    # imported, which in this server happens lazily, after this line.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # Static resources get no Context from the SDK, so the lifespan also leaves its state here.
    live: dict[str, MemoryState] = {}

    async def relay(heard: AsyncIterator[str]) -> None:
        # Another replica changed this namespace's graph: its subscribers here hear of it as of a local write.
        async for namespace in heard:
            if namespace in (settings.namespace, "*"):
                await server.resources_updated(_replica_changed(server))

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[MemoryState]:
        api_key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
        http = HttpPool()  # one pooled client, built only for an HTTP embedder; closed with the lifespan
        # Builds the provider only; the model loads on the first write or search, never here.
        embedder = make_embedder(
            settings.embedder,
            model=settings.embedding_model,
            base_url=settings.embedding_url,
            api_key=api_key,
            client=http.client if settings.embedder == "openai" else None,
            cache_dir=settings.data_dir / "cache",
        )
        db = await open_storage(settings.database)
        try:
            recall = Recall(db, settings.namespace, embedder)
            state = MemoryState(graph=GraphStore(db, settings.namespace, recall))
            await import_reference_file(state.graph)
            live["state"] = state
            async with db.listen() as heard, anyio.create_task_group() as tasks:
                tasks.start_soon(recall.run)
                tasks.start_soon(db.maintain)
                if heard is not None:
                    tasks.start_soon(relay, heard)
                try:
                    yield state
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            live.pop("state", None)
            await http.aclose()
            await db.close()

    server = SuiteServer(
        "mcp-suite-memory",
        title="Memory (knowledge graph)",
        instructions=SERVER_INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        resource_updates=True,
    )
    server.updates_resources(WRITE_TOOLS, _changed_resources)

    def graph_of(ctx: Context) -> GraphStore:
        return cast(MemoryState, ctx.request_context.lifespan_context).graph

    def live_graph() -> GraphStore:
        return live["state"].graph

    register_tools(server, graph_of)
    register_resources(server, graph_of, live_graph)
    register_prompt(server)
    return server
