"""mcp-suite: MCP servers for memory, retrieval and prompts under one import name.

The code lives in the repository's top-level ``shared/`` (the common core) and ``servers/`` (one
package per server); ``mcp_suite/shared`` and ``mcp_suite/servers`` are symlinks to them, so a
checkout, an editable install and the wheel all import the same ``mcp_suite.*`` names and nothing
else lands at the top level of site-packages.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcp-suite")
except PackageNotFoundError:  # a bare checkout on sys.path, not installed
    __version__ = "0+unknown"
