"""One HTTP layer (style guide 13): only ``shared/http.py`` builds clients or sleeps between attempts, so
every outbound call gets the pooled client and the one retry policy; checked on the source (``ast``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTTP_LAYER = ROOT / "shared" / "http.py"
# Other HTTP libraries would bypass the pool and the policy.
FORBIDDEN_MODULES = {"requests", "urllib3", "aiohttp", "urllib.request", "http.client"}


def _sources() -> list[Path]:
    return sorted(p for folder in ("shared", "servers") for p in (ROOT / folder).rglob("*.py") if p != HTTP_LAYER)


def _called(node: ast.Call) -> str:
    func = node.func
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def test_clients_are_built_only_by_the_http_layer() -> None:
    offenders = []
    for path in _sources():
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _called(node) in {"httpx.AsyncClient", "httpx.Client"}:
                offenders.append(f"{where}:{node.lineno} calls {_called(node)}")
            elif isinstance(node, ast.ImportFrom) and node.module == "httpx":
                offenders += [f"{where}:{node.lineno} imports httpx.{a.name}" for a in node.names if "Client" in a.name]
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offenders += [f"{where}:{node.lineno} imports {name}" for name in names if name in FORBIDDEN_MODULES]
    assert offenders == [], "build clients with mcp_suite.shared.http (new_client, open_client, HttpPool)"


def test_the_layer_exists_where_the_guard_looks() -> None:
    assert HTTP_LAYER.is_file() and "AsyncRetrying" in HTTP_LAYER.read_text()
