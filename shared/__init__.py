"""The common core of mcp-suite: CLI and transports, settings, SQLite access, logging and errors.

Nothing here knows about a particular server; each server under ``servers/`` plugs in through a
:class:`shared.cli.ServerSpec`.
"""

__version__ = "0.1.0"
