"""MCP surface of the memory server (placeholder until the graph lands)."""

from servers.memory.settings import MemorySettings
from shared.server import SuiteServer


def build_server(settings: MemorySettings) -> SuiteServer:
    server = SuiteServer("mcp-suite-memory")

    @server.tool()
    def ping() -> str:
        return "pong"

    return server
