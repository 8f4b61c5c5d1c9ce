"""MCP surface of the prompts server (placeholder)."""

from servers.prompts.settings import PromptsSettings
from shared.server import SuiteServer


def build_server(settings: PromptsSettings) -> SuiteServer:
    return SuiteServer("mcp-suite-prompts")
