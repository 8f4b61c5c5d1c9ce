"""The prompts server of mcp-suite."""
