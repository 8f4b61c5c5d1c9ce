"""``python -m mcp_suite …`` is the ``mcp-suite`` command."""

from mcp_suite.shared.cli import main

if __name__ == "__main__":
    main()
