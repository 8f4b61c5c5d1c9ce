"""Fixtures for the retrieval tests: a copy of the fixture documents as an allowed root, and settings.

``settings`` runs each test that takes it on both engines: the default SQLite file in the data folder,
and a fresh PostgreSQL database (``database_url``, see tests/conftest.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from mcp_suite.servers.retrieval.settings import RetrievalSettings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the fixture documents (tests modify, touch and delete files in it)."""
    root = tmp_path / "kb"
    shutil.copytree(FIXTURES, root)
    return root.resolve()


@pytest.fixture
def engine_url(database_url: str) -> SecretStr | None:
    """None on SQLite (today's default file in the data folder), the PostgreSQL URL otherwise."""
    return None if database_url.startswith("sqlite") else SecretStr(database_url)


@pytest.fixture
def settings(corpus: Path, data_dir: Path, engine_url: SecretStr | None) -> RetrievalSettings:
    # The fixture files are a few hundred tokens each: at the default budget the chunker packs each
    # into one or two chunks (small sections join their neighbours). A small budget keeps their
    # sections apart, so citations, neighbours and feedback have several chunks per file to work on.
    return RetrievalSettings(
        data_dir=data_dir, roots=[corpus], embedder="wordllama", chunk_tokens=120, database_url=engine_url
    )
