"""The engine switch for the prompts tests: a module that uses ``database_url`` runs on SQLite and PostgreSQL.

On SQLite the tests keep today's file (``DATA_DIR/prompts.db``), so they can also look at it directly;
on PostgreSQL every server, registry and CLI call of the test is pointed at the test's fresh database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.prompts import serving


@pytest.fixture(autouse=True)
def _prompts_engine(request: pytest.FixtureRequest) -> Iterator[None]:
    url: str | None = None
    if "database_url" in request.fixturenames:
        given: str = request.getfixturevalue("database_url")
        url = given if given.startswith("postgresql") else None
    serving.DATABASE_URL = url
    try:
        yield
    finally:
        serving.DATABASE_URL = None
