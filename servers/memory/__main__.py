"""``python -m mcp_suite.servers.memory …`` is the ``mcp-suite-memory`` command."""

from mcp_suite.servers.memory.cli import main

if __name__ == "__main__":
    main()
