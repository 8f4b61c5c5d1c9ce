"""Small modules and short functions (issue 7), checked on the source of the servers restructured so far.

"About 600 lines" per module and "about 80" per function: a module or function over the limit needs
an entry below with the reason. shared/ and the retrieval server join as they are restructured.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Retrieval's storage package is checked; the rest of retrieval joins once ingest._store and
# evaluation.evaluate (just over 80 lines) are split.
CHECKED = [ROOT / "servers" / "memory", ROOT / "servers" / "prompts", ROOT / "servers" / "retrieval" / "storage"]
MODULE_LINES = 650
FUNCTION_LINES = 80
LONG_MODULES_ALLOWED = {
    # The YAML loader is being reworked on the `hardening` branch; split once that has landed.
    "servers/prompts/spec.py",
}


def _sources() -> list[Path]:
    return sorted(p for folder in CHECKED for p in folder.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    name = str(path.relative_to(ROOT))
    lines = len(source.splitlines())
    if name not in LONG_MODULES_ALLOWED:
        assert lines <= MODULE_LINES, f"{name} has {lines} lines; split it by responsibility"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > FUNCTION_LINES
    ]
    assert long == [], f"{name}: functions over {FUNCTION_LINES} lines: {long}"
