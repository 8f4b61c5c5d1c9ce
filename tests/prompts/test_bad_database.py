"""A prompts server pointed at a database it cannot use stops before serving: one line, exit 1, no traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from mcp_suite.servers.prompts.registry import Registry
from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.errors import DatabaseConfigError
from tests.postgres_support import PASSWORD_ROLE, PostgresServer, with_database
from tests.support import free_port, script

pytestmark = pytest.mark.slow


def serve(url: str, tmp_path: Path) -> str:
    """Start the server over HTTP against ``url``; it must exit 1 with one line on stderr, which is returned."""
    argv = [script("mcp-suite-prompts"), "--transport", "streamable-http", "--port", str(free_port())]
    argv += ["--database-url", url, "--data-dir", str(tmp_path / "data")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("mcp-suite-prompts: ")
    return lines[0]


def test_unreachable_database(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: refused
        port = sock.getsockname()[1]
        line = serve(f"postgresql://someone:secret@127.0.0.1:{port}/db", tmp_path)
    assert "cannot reach PostgreSQL" in line and "secret" not in line


def test_wrong_password(tmp_path: Path, postgres: PostgresServer, postgres_url: str) -> None:
    user, _ = PASSWORD_ROLE
    try:
        with psycopg.connect(with_database(postgres_url, "postgres", user, "wrong")):
            pytest.skip("this server trusts the login without a password")
    except psycopg.OperationalError:
        pass
    line = serve(with_database(postgres_url, "postgres", user, "wrong"), tmp_path)
    assert "refused the login (wrong user or password)" in line


@pytest.mark.anyio
async def test_registry_of_a_newer_release(tmp_path: Path, postgres_url: str) -> None:
    registry = await Registry.open(parse_database_url(postgres_url))
    await registry.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO mcp_suite_prompts._migrations (name) VALUES ('prompts/9999_from_the_future')")
    line = serve(postgres_url, tmp_path)
    assert "newer mcp-suite" in line and "prompts/9999_from_the_future" in line


@pytest.mark.anyio
async def test_sqlite_registry_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    registry = await Registry.open(tmp_path / "prompts.db")
    await registry.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "prompts.db") as conn:
        conn.execute("INSERT INTO _migrations (name) VALUES ('prompts/9999_from_the_future')")
    with pytest.raises(DatabaseConfigError, match=r"newer mcp-suite.*prompts/9999_from_the_future"):
        await Registry.open(tmp_path / "prompts.db")
