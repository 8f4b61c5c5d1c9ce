"""Fixtures of the memory tests: ``settings`` runs each test on SQLite and on PostgreSQL.

A test that is about the SQLite file itself (pragmas, its schema, blobs written by hand) is marked
``@pytest.mark.sqlite_only`` with its reason, and skipped on PostgreSQL.
"""

from pathlib import Path

import pytest

from mcp_suite.servers.memory.settings import MemorySettings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about the SQLite file itself")


@pytest.fixture
def settings(request: pytest.FixtureRequest, data_dir: Path, database_url: str) -> MemorySettings:
    if database_url.startswith("postgresql") and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("about the SQLite file itself")
    return MemorySettings(data_dir=data_dir, database_url=database_url)
