"""A private PostgreSQL (with pgvector) for the test session, and a fresh database per test.

The server comes from the ``pgserver`` wheel (PostgreSQL 16 + pgvector, started in a temp folder, reached over
a Unix socket) unless ``MCP_SUITE_TEST_DATABASE_URL`` names a server to use instead (its role must be allowed
to create databases and the vector extension). Each test gets its own database, cloned from a template that
already has the vector extension, and dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ENV = "MCP_SUITE_TEST_DATABASE_URL"
TEMPLATE = "mcp_suite_test_template"
# A role that must log in with a password, so a wrong one can be refused (the pgserver cluster trusts the rest).
PASSWORD_ROLE = ("mcp_suite_pw", "right-password")


def with_database(url: str, database: str, user: str | None = None, password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if user is not None:
        netloc = f"{user}:{password or ''}@{netloc}"
    elif "@" in parts.netloc:
        netloc = parts.netloc
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


@dataclass
class PostgresServer:
    """Where the test server is, and how to make databases on it."""

    admin_url: str
    pgdata: Path | None = None  # set when this session started the server itself
    _names: Iterator[int] = field(default_factory=itertools.count)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def setup(self) -> None:
        with self.admin() as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
            user, password = PASSWORD_ROLE
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,)).fetchone():
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password))
                )
        with psycopg.connect(with_database(self.admin_url, TEMPLATE), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        if self.pgdata is not None:
            # pgserver's cluster trusts every local login; make the password role prove itself.
            hba = self.pgdata / "pg_hba.conf"
            hba.write_text(f"local all {PASSWORD_ROLE[0]} scram-sha-256\n" + hba.read_text())
            with self.admin() as conn:
                # A throwaway cluster: durability costs time and buys nothing.
                for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                    conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
                conn.execute("SELECT pg_reload_conf()")

    @contextmanager
    def database(self, template: str = TEMPLATE, owner: str | None = None) -> Iterator[str]:
        """A new empty database (with the vector extension unless ``template`` says otherwise); dropped after."""
        name = f"mcp_suite_test_{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY WAL_LOG{}").format(
                    sql.Identifier(name),
                    sql.Identifier(template),
                    sql.SQL(" OWNER {}").format(sql.Identifier(owner)) if owner else sql.SQL(""),
                )
            )
        try:
            yield with_database(self.admin_url, name)
        finally:
            with self.admin() as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """The session's server: the one ``MCP_SUITE_TEST_DATABASE_URL`` names, else a private pgserver."""
    if os.environ.get(ENV):
        server = PostgresServer(os.environ[ENV])
        server.setup()
        yield server
        return
    # Not under pytest's tmp_path: the server runs as another user (pgserver's, when we are root), and any
    # pytest starting on this machine resets /tmp/pytest-of-<user> to 0700 and prunes old runs there.
    folder = Path(tempfile.mkdtemp(prefix="mcp-suite-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR while pgserver imports
            import pgserver

            handle = pgserver.get_server(folder / "pgdata", cleanup_mode="stop")
        try:
            server = PostgresServer(handle.get_uri(), pgdata=folder / "pgdata")
            server.setup()
            yield server
        finally:
            handle.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
