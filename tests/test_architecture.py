"""The layering the style guide asks for, checked on the source: server.py is the only MCP surface
of a server, domain modules never import ``mcp``, and SQL stays out of server.py."""

import ast
import functools
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
SHARED_MCP_ALLOWED = {"server.py", "transports.py", "cli.py", "sdk_adapter.py"}
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


# ── public SDK surface only (issue 7) ─────────────────────────────────────────────────────────────

SDK_ADAPTER = ROOT / "shared" / "sdk_adapter.py"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@functools.cache
def _sdk_private_names() -> frozenset[str]:
    """Private attribute and method names the installed SDK defines on its classes and instances."""
    import mcp
    import mcp_types

    names: set[str] = set()
    for package in (mcp, mcp_types):
        for path in Path(package.__file__).parent.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _is_private(item.name):
                            names.add(item.name)
                        targets = item.targets if isinstance(item, ast.Assign) else []
                        targets += [item.target] if isinstance(item, ast.AnnAssign) else []
                        names.update(t.id for t in targets if isinstance(t, ast.Name) and _is_private(t.id))
                elif (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                    and _is_private(node.attr)
                ):
                    names.add(node.attr)
    return frozenset(names)


def _own_names(cls: ast.ClassDef) -> set[str]:
    """Private names a class of ours defines itself (methods, class attributes, ``self._x = …``)."""
    names = {item.name for item in cls.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    for node in ast.walk(cls):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _private_sdk_uses(source: str, where: str, sdk_private: frozenset[str]) -> list[str]:
    """``x._name`` / ``getattr(x, "_name")`` with ``_name`` private in the SDK and not defined by the enclosing
    class of ours, and imports of private SDK modules or names."""
    tree = ast.parse(source)
    found: list[str] = []

    def visit(node: ast.AST, own: set[str]) -> None:
        if isinstance(node, ast.ClassDef):
            own = _own_names(node)
        name: str | None = None
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("mcp", "mcp_types"):
            private = [part for part in node.module.split(".") if _is_private(part)]
            private += [alias.name for alias in node.names if _is_private(alias.name)]
            found.extend(f"{where}:{node.lineno}: imports {p} ({node.module})" for p in private)
        if name is not None and name in sdk_private and name not in own:
            found.append(f"{where}:{getattr(node, 'lineno', 0)}: {name}")
        for child in ast.iter_child_nodes(node):
            visit(child, own)

    visit(tree, set())
    return found


def test_private_sdk_names_only_in_the_adapter() -> None:
    """The SDK's private attributes (``_lowlevel_server``, ``session._connection`` …) are reached in
    ``shared/sdk_adapter.py`` only, where each workaround names the SDK version it was written for."""
    sdk_private = _sdk_private_names()
    assert {"_lowlevel_server", "_connection", "_subscriptions", "_tool_manager"} <= sdk_private
    offenders = [
        use
        for p in SOURCES
        if p != SDK_ADAPTER
        for use in _private_sdk_uses(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)), sdk_private)
    ]
    assert offenders == [], "private SDK names outside shared/sdk_adapter.py:\n" + "\n".join(offenders)


def test_private_sdk_check_catches_what_it_should() -> None:
    """The rule above flags SDK internals reached through any object, but not our own private attributes."""
    source = (
        "from mcp.server._streamable_http_modern import handle_modern_request\n"
        "class Ours:\n"
        "    def __init__(self):\n"
        "        self._sessions = []\n"
        "    def uses(self, server, session):\n"
        "        self._sessions.append(server._lowlevel_server)\n"
        "        return getattr(session, '_connection', None), self._subscriptions\n"
    )
    uses = _private_sdk_uses(source, "sample.py", _sdk_private_names())
    assert [use.split(": ", 1)[1] for use in uses] == [
        "imports _streamable_http_modern (mcp.server._streamable_http_modern)",
        "_lowlevel_server",
        "_connection",
        "_subscriptions",
    ]
