"""PostgreSQL for the retrieval benchmarks: a fresh database per run on a given server, or a private server.

``--set database_url=postgresql://…`` names a server (its role may create databases and the vector extension);
each corpus or scale gets a database of its own there, dropped afterwards, so runs never see each other's rows.
Without a URL, :func:`private_server` starts a ``pgserver`` (PostgreSQL 16 + pgvector) in a temp folder.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextmanager
def scratch_database(server_url: str, label: str) -> Iterator[str]:
    """A new database named after ``label`` on the server of ``server_url``, with pgvector; dropped after."""
    name = "mcp_suite_bench_" + re.sub(r"[^a-z0-9_]", "_", label.lower())[:40]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_database(server_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def private_server() -> Iterator[str]:
    """A throwaway pgserver (PostgreSQL 16 + pgvector over a Unix socket); its URL."""
    import pgserver

    with tempfile.TemporaryDirectory(prefix="mcp-suite-bench-pg-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


def indexed_chunks(url: str) -> dict[str, list[str]]:
    """Every chunk the retrieval index at ``url`` holds, by source."""
    out: dict[str, list[str]] = {}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT d.source, c.text FROM mcp_suite_retrieval.chunks c "
            "JOIN mcp_suite_retrieval.documents d ON d.id = c.document_id"
        )
        for source, text in rows:
            out.setdefault(source, []).append(text)
    return out
