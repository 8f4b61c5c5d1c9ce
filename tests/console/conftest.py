"""Fixture data and a running ``mcp-suite serve`` for the console tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import free_port, http_server, script

ROOT = Path(__file__).resolve().parents[2]


def _entity(name: str, kind: str, *facts: str) -> dict[str, object]:
    return {"type": "entity", "name": name, "entityType": kind, "observations": list(facts)}


def _relation(source: str, target: str, kind: str) -> dict[str, object]:
    return {"type": "relation", "from": source, "to": target, "relationType": kind}


MEMORY = [
    _entity("Ada Lovelace", "person", "wrote the first published program", "corresponded with Babbage"),
    _entity("Charles Babbage", "person", "designed the Analytical Engine"),
    _entity("Analytical Engine", "machine", "a mechanical general-purpose computer"),
    _entity("Luigi Menabrea", "person", "wrote the paper Ada translated"),
    _entity("<script>document.title='owned'</script>", "probe", "markup in stored text stays text"),
    _relation("Ada Lovelace", "Charles Babbage", "worked with"),
    _relation("Charles Babbage", "Analytical Engine", "designed"),
    _relation("Luigi Menabrea", "Analytical Engine", "described"),
]

NOTES = """\
# Runbook

## Rotating the API key

Open the vault, create a fresh key named `billing-api`, deploy it with `make rotate`, then revoke the
old key after one hour. The zebra-crossing dashboard shows whether traffic moved to the new key.

## Restoring a backup

Backups live in the cold bucket; restore them with `make restore DATE=…`.
"""


def seed(data_dir: Path, tmp: Path) -> None:
    """Memory entities, published prompts (two versions of one) and one ingested document."""
    (tmp / "memory.jsonl").write_text("".join(json.dumps(line) + "\n" for line in MEMORY), encoding="utf-8")
    (tmp / "docs").mkdir()
    (tmp / "docs" / "runbook.md").write_text(NOTES, encoding="utf-8")
    # Version 1 of the ticket prompt is published and labelled production before version 2 arrives, as in
    # a real promotion: the console's label test then moves production forward to 2.
    (tmp / "v1").mkdir()
    shutil.copy(ROOT / "examples" / "prompts" / "summarize_ticket.v1.yaml", tmp / "v1")
    prompts = script("mcp-suite-prompts")
    for argv in (
        [script("mcp-suite-memory"), "import", str(tmp / "memory.jsonl")],
        [prompts, "publish", str(tmp / "v1")],
        [prompts, "label", "SummarizeSupportTicket", "production", "1"],
        [prompts, "publish", str(ROOT / "examples" / "prompts")],
        [script("mcp-suite-retrieval"), "ingest", str(tmp / "docs")],
    ):
        subprocess.run([*argv, "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=120)


@contextmanager
def serve(data_dir: Path, *flags: str) -> Iterator[str]:
    """``mcp-suite serve`` on a free port; yields its base URL."""
    port = free_port()
    argv = [script("mcp-suite"), "serve", "--port", str(port), "--data-dir", str(data_dir), *flags]
    # The prompts endpoints notice label moves made through the console within a fifth of a second.
    with http_server(argv, port, path="", timeout=60, env={"MCP_SUITE_PROMPTS_WATCH_INTERVAL": "0.2"}):
        yield f"http://127.0.0.1:{port}"
