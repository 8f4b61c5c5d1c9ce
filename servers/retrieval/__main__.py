"""``python -m mcp_suite.servers.retrieval …`` is the ``mcp-suite-retrieval`` command."""

from mcp_suite.servers.retrieval.cli import main

if __name__ == "__main__":
    main()
