"""The Node tools the integration tests drive (installed by ``.ci/run`` into ``.ci/node``).

``MCP_SUITE_NODE_BIN`` names their ``node_modules/.bin`` folder; without it the folder ``.ci/run``
fills is used when present. Missing tools fail the tests under CI (a CI run that silently skipped
the conformance suite would prove nothing) and skip them locally with the command that fixes it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / ".ci" / "node" / "node_modules" / ".bin"
MIN_NODE_MAJOR = 22


@dataclass(frozen=True)
class NodeTools:
    bin: Path

    def tool(self, name: str) -> str:
        return str(self.bin / name)

    def env(self, tmp: Path) -> dict[str, str]:
        """Environment for a tool: our Node 22 first on PATH (the tools start with `env node`), no user state."""
        return {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "MCP_CATALOG_PATH": str(tmp / "inspector-catalog.json"),
            "MCP_CLIENT_CONFIG_PATH": str(tmp / "inspector-client.json"),
            "NO_COLOR": "1",
        }


def _unavailable(reason: str) -> None:
    hint = "run `bash .ci/run` once (it installs them into .ci/node), or set MCP_SUITE_NODE_BIN"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the Node-based tests: {hint}", pytrace=False)
    pytest.skip(f"{reason}: {hint}")


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    configured = os.environ.get("MCP_SUITE_NODE_BIN")
    bin_dir = Path(configured) if configured else DEFAULT_BIN
    missing = [name for name in ("node", "conformance", "inspector") if not (bin_dir / name).exists()]
    if missing:
        _unavailable(f"Node tools {', '.join(missing)} not found in {bin_dir}")
    version = subprocess.run(
        [str(bin_dir / "node"), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    major = int(version.lstrip("v").split(".")[0] or 0) if version.startswith("v") else 0
    if major < MIN_NODE_MAJOR:
        _unavailable(f"Node in {bin_dir} is {version or 'unusable'}; the conformance suite needs >= {MIN_NODE_MAJOR}")
    return NodeTools(bin_dir)
