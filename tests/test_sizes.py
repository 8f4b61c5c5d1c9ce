"""Small modules and short functions (issue 7), checked on every module of ``shared/`` and ``servers/``.

"About 600 lines" per module and "about 80" per function: a module or function over the limit needs
an entry below with the reason, and an entry that no longer applies fails too (so the list only shrinks).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = [ROOT / "shared", ROOT / "servers"]
MODULE_LINES = 650
FUNCTION_LINES = 80
LONG_MODULES_ALLOWED = {
    # The YAML loader is being reworked on the `hardening` branch; split once that has landed.
    "servers/prompts/spec.py",
}
LONG_FUNCTIONS_ALLOWED = {
    # Every tool is a closure over the server's state; to be registered from small functions as the
    # memory and prompts servers are (issue 7, item 3).
    "servers/retrieval/server.py": {"build_server"},
    # One pass over a search's stages (filters, legs, fusion, rerank, dedup, citations) kept in order on
    # purpose; each stage is its own function already.
    "servers/retrieval/search.py": {"search"},
    # Block readers: one loop of a line-by-line state machine each; splitting it scatters the state.
    "servers/retrieval/readers/markdown.py": {"parse_markdown"},
    "servers/retrieval/readers/rst.py": {"parse_rst"},
    "servers/retrieval/evaluation.py": {"evaluate"},
}


def _sources() -> list[Path]:
    return sorted(p for folder in CHECKED for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


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
    allowed = LONG_FUNCTIONS_ALLOWED.get(name, set())
    assert [f for f in long if f.split(" ")[0] not in allowed] == [], (
        f"{name}: functions over {FUNCTION_LINES} lines: {long}"
    )
    stale = allowed - {f.split(" ")[0] for f in long}
    assert not stale, f"{name}: {sorted(stale)} are short now; drop them from LONG_FUNCTIONS_ALLOWED"
