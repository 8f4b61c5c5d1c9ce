"""The built wheel, installed into a fresh virtualenv, runs: every console script, ``python -m``, and the
console's templates (package data) reach the installed package.

The fresh venv gets the wheel without dependencies; the dependencies come from this environment's
site-packages through a ``.pth`` line (a plain path: this environment's editable install of
mcp_suite is not activated by it), so the test needs no network and takes seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from mcp_suite import __version__
from tests.support import free_port, http_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel; returns its bin/ folder."""
    from hatchling.builders.wheel import WheelBuilder

    tmp = tmp_path_factory.mktemp("install")
    wheel = Path(next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp / "dist"), versions=["standard"]))))
    names = zipfile.ZipFile(wheel).namelist()
    for data in (
        "mcp_suite/shared/console/templates/base.html",
        "mcp_suite/shared/console/templates/style.css",
        "mcp_suite/servers/memory/console_templates/memory_index.html",
        "mcp_suite/servers/retrieval/console_templates/retrieval_index.html",
        "mcp_suite/servers/prompts/console_templates/prompts_prompt.html",
        "mcp_suite/__main__.py",
    ):
        assert data in names, f"{data} is missing from the wheel"

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "_deps_from_test_env.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    return venv / "bin"


def run(bin_dir: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd outside the checkout: `python -m` puts it first on sys.path.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False)


def test_the_installed_package_is_the_wheel(installed: Path, tmp_path: Path) -> None:
    found = run(installed, str(installed / "python"), "-c", "import mcp_suite; print(mcp_suite.__file__)", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(installed.parent), found.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_console_script_runs(installed: Path, tmp_path: Path, name: str) -> None:
    version = run(installed, str(installed / name), "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"mcp-suite {__version__}"
    helped = run(installed, str(installed / name), "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "usage:" in helped.stdout + helped.stderr


@pytest.mark.parametrize(
    "module", ["mcp_suite", "mcp_suite.servers.memory", "mcp_suite.servers.retrieval", "mcp_suite.servers.prompts"]
)
def test_python_dash_m(installed: Path, tmp_path: Path, module: str) -> None:
    done = run(installed, str(installed / "python"), "-m", module, "--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"mcp-suite {__version__}"


def test_installed_serve_finds_its_console_templates(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    argv = [str(installed / "mcp-suite"), "serve", "memory", "--port", str(port), "--data-dir", str(tmp_path)]
    with http_server(argv, port, path=""):
        page = httpx.get(f"http://127.0.0.1:{port}/console/memory/")
        assert page.status_code == 200 and "namespace default" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/console/style.css").status_code == 200
