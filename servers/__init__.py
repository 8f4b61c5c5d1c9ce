"""The MCP servers of mcp-suite, one package each; their shared core is the ``shared`` package."""
