"""Domain errors shared by every server.

Domain modules raise these with a message that tells the caller what to do next; only the
protocol edge (:mod:`mcp_suite.shared.server`) turns them into MCP tool errors, so domain code never
imports ``mcp``.
"""


class SuiteError(Exception):
    """Base class for every error a client should see verbatim."""


class InvalidInputError(SuiteError, ValueError):
    """The request is malformed or out of bounds; nothing was changed."""


class NotFoundError(SuiteError, LookupError):
    """A named thing (entity, document, prompt, label …) does not exist."""


class ConflictError(SuiteError):
    """The request contradicts stored state (e.g. a different embedding model built the index)."""


class DatabaseConfigError(SuiteError):
    """The configured database cannot be used as it is (unreachable, refused login, missing extension, newer schema)."""


class AccessDeniedError(SuiteError, PermissionError):
    """A path or URL lies outside what this server is allowed to touch."""


class StorageError(SuiteError):
    """The database file or its disk failed (full, read-only, locked, damaged); the message says what to fix."""
