"""The memory server of mcp-suite."""
