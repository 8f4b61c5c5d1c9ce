"""Command line of the memory server: serve (default), import, export."""

from typing import Any

from servers.memory.settings import MemorySettings
from shared.cli import ServerSpec, server_main


def _build(settings: MemorySettings) -> Any:
    from servers.memory.server import build_server

    return build_server(settings)


SPEC = ServerSpec(
    name="memory",
    summary="A persistent knowledge graph for MCP hosts, compatible with @modelcontextprotocol/server-memory.",
    settings=MemorySettings,
    build=_build,
)

main = server_main("memory")
