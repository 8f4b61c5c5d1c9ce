"""The retrieval server of mcp-suite."""
