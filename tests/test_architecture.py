"""The layering the style guide asks for, checked on the source: server.py is the only MCP surface
of a server, domain modules never import ``mcp``, and SQL stays out of server.py."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVERS = sorted(p for p in (ROOT / "servers").iterdir() if (p / "server.py").exists())
# Modules allowed to talk MCP: each server's surface, its CLI glue, and the shared protocol edge.
MCP_ALLOWED = {"server.py", "cli.py"}
# Protocol-edge modules split out of a server.py that grew too long (issue 7): still MCP surface, not domain.
SERVER_MCP_ALLOWED = {
    "prompts": {"broadcast.py", "sampling.py", "resources.py", "tools.py"},
    "memory": {"resources.py", "tools.py"},
}
SHARED_MCP_ALLOWED = {"server.py", "transports.py", "cli.py"}
SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b", re.I)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_server_has_its_surface() -> None:
    assert {p.name for p in SERVERS} >= {"memory", "retrieval", "prompts"}


@pytest.mark.parametrize("server", SERVERS, ids=lambda p: p.name)
def test_domain_modules_do_not_import_mcp(server: Path) -> None:
    allowed = MCP_ALLOWED | SERVER_MCP_ALLOWED.get(server.name, set())
    offenders = [p.name for p in server.glob("*.py") if p.name not in allowed and "mcp" in _imports(p)]
    assert offenders == [], f"domain modules of {server.name} import mcp: {offenders}"


@pytest.mark.parametrize("server", SERVERS, ids=lambda p: p.name)
def test_no_sql_in_server_surface(server: Path) -> None:
    source = (server / "server.py").read_text(encoding="utf-8")
    assert not SQL.search(source), f"{server.name}/server.py contains SQL; move it to a storage module"


def test_shared_core_keeps_mcp_at_its_edge() -> None:
    offenders = [
        p.name for p in (ROOT / "shared").glob("*.py") if p.name not in SHARED_MCP_ALLOWED and "mcp" in _imports(p)
    ]
    assert offenders == []


SOURCES = sorted((ROOT / "shared").rglob("*.py")) + sorted((ROOT / "servers").rglob("*.py"))


def _absolute_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_code_imports_only_the_package_name() -> None:
    """`shared` and `servers` are folders, not import names: the wheel only has `mcp_suite`."""
    bare = re.compile(r"^(shared|servers)(\.|$)")
    offenders = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in [*SOURCES, *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "bench").rglob("*.py"))]
        for name in _absolute_imports(p)
        if bare.match(name)
    }
    assert offenders == set()


def test_package_links_point_at_the_source_folders() -> None:
    for name in ("shared", "servers"):
        link = ROOT / "mcp_suite" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve()


def test_wheel_has_one_top_level_package(tmp_path: Path) -> None:
    import zipfile

    from hatchling.builders.wheel import WheelBuilder

    wheel = next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"])))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"mcp_suite"}
    assert "mcp_suite/shared/db.py" in names and "mcp_suite/servers/memory/server.py" in names


def test_shared_core_knows_no_server() -> None:
    """Servers plug into shared/ (ServerSpec, console sections); shared/ never imports a server."""
    offenders = {
        f"{p.relative_to(ROOT)}: {name}"
        for p in sorted((ROOT / "shared").rglob("*.py"))
        for name in _absolute_imports(p)
        if name.startswith("mcp_suite.servers")
    }
    assert offenders == set()
