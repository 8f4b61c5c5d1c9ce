"""Fixtures every test package shares.

``database_url`` is the engine switch: a test that takes it runs once on SQLite and once on PostgreSQL
(the session's private server, see :mod:`tests.postgres_support`), and opens storage from the URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.postgres_support import PostgresServer

TEST_DATABASE_ENV = "MCP_SUITE_TEST_DATABASE_URL"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session, started on first use and stopped at the end."""
    if find_spec("psycopg") is None:
        pytest.skip("the postgres extra is not installed (pip install -e '.[dev]')")
    if not os.environ.get(TEST_DATABASE_ENV) and find_spec("pgserver") is None:
        pytest.skip(f"pgserver is not installed (pip install -e '.[dev]') and {TEST_DATABASE_ENV} is not set")
    from tests.postgres_support import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database (vector extension enabled) for one test."""
    with postgres.database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on both engines: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
