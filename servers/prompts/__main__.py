"""``python -m mcp_suite.servers.prompts …`` is the ``mcp-suite-prompts`` command."""

from mcp_suite.servers.prompts.cli import main

if __name__ == "__main__":
    main()
