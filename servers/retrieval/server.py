"""MCP surface of the retrieval server (placeholder)."""

from servers.retrieval.settings import RetrievalSettings
from shared.server import SuiteServer


def build_server(settings: RetrievalSettings) -> SuiteServer:
    return SuiteServer("mcp-suite-retrieval")
