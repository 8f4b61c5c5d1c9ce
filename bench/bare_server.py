"""A bare SDK ``MCPServer`` with one tool, served over stdio: the cold-start baseline.

The memory server's start-up target is relative to this (the SDK's own import dominates), so it
does nothing beyond what every MCP server must do: import the SDK, declare one tool, serve.
"""

from mcp.server import MCPServer

server = MCPServer("bare")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    server.run()
