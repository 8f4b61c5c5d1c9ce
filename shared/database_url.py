"""The one setting that picks a storage engine: ``--database-url``, parsed into a typed value.

Unset means today's SQLite file in the data folder. ``sqlite:///PATH`` names a SQLite file (SQLAlchemy's
convention: three slashes then a relative path, four for an absolute one). ``postgresql://…`` (or
``postgres://…``) is handed to the PostgreSQL driver as it is, so every libpq form works, including
``?host=/socket/dir``. This module imports no driver: settings load fast and without the postgres extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from mcp_suite.shared.errors import InvalidInputError

Engine = Literal["sqlite", "postgresql"]
EXAMPLES = "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


@dataclass(frozen=True)
class SqliteUrl:
    path: Path
    engine: Engine = "sqlite"

    def redacted(self) -> str:
        return f"sqlite:///{self.path}"


@dataclass(frozen=True)
class PostgresUrl:
    conninfo: str  # may hold a password: show redacted() in logs and messages
    engine: Engine = "postgresql"

    def redacted(self) -> str:
        parts = urlsplit(self.conninfo)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
        # libpq also takes the password as a query parameter (?password=…).
        query = "&".join(
            "password=***" if pair.partition("=")[0].lower() == "password" else pair
            for pair in parts.query.split("&")
            if pair
        )
        # Built by hand: urlunsplit drops the '//' of an empty host (postgresql:///db?host=/socket).
        return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")

    def __repr__(self) -> str:
        return f"PostgresUrl({self.redacted()!r})"


DatabaseUrl = SqliteUrl | PostgresUrl


def parse_database_url(raw: str, *, base: Path | None = None) -> DatabaseUrl:
    """Parse ``raw``; a relative SQLite path is taken relative to ``base`` (the current folder if None).

    Error messages never repeat ``raw``: it may hold a password.
    """
    text = raw.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise InvalidInputError(f"the database URL has no scheme; use {EXAMPLES}")
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise InvalidInputError(
                f"SQLite URL '{text}' names no file; write sqlite:///relative.db or sqlite:////abs.db"
            )
        path = Path(rest[1:]).expanduser()
        if not path.is_absolute() and str(path) != ":memory:":
            path = (base or Path.cwd()) / path
        return SqliteUrl(path)
    if scheme in ("postgresql", "postgres"):
        if not rest:
            raise InvalidInputError(f"the PostgreSQL URL names no server; use {EXAMPLES}")
        return PostgresUrl("postgresql://" + rest)
    raise InvalidInputError(f"unsupported database URL scheme '{scheme}'; use {EXAMPLES}")
