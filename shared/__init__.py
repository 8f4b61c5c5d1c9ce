"""The common core of mcp-suite: CLI and transports, settings, SQLite access, logging and errors.

Nothing here knows about a particular server; each server under ``servers/`` plugs in through a
:class:`mcp_suite.shared.cli.ServerSpec`.
"""
