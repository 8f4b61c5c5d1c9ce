"""Fixtures of the memory tests."""

from pathlib import Path

import pytest

from mcp_suite.servers.memory.settings import MemorySettings


@pytest.fixture
def settings(data_dir: Path) -> MemorySettings:
    return MemorySettings(data_dir=data_dir)
