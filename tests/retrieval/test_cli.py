"""The retrieval server as users run it: the terminal CLI (ingest with a progress bar on stderr,
search, eval, sources, watch mode) and the stdio server a host like Claude Desktop launches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.settings import RetrievalSettings
from tests.support import script, stdio_server

pytestmark = pytest.mark.slow


def cli(*args: str, data_dir: Path, embedder: str = "none", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    argv = [script("mcp-suite"), "retrieval", *args, "--data-dir", str(data_dir), "--embedder", embedder]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def test_cli_ingest_shows_progress_then_search_and_eval(corpus: Path, data_dir: Path) -> None:
    # A small chunk budget keeps the tiny fixture files' sections in chunks of their own (see conftest).
    done = cli(
        "ingest", str(corpus), "--tag", "docs", "--meta", "team=core", "--chunk-tokens", "120",
        data_dir=data_dir, embedder="wordllama",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "7 added, 0 updated, 0 unchanged" in done.stdout
    progress = [line for line in done.stderr.splitlines() if line.startswith("progress:")]
    assert progress[-1].startswith("progress: [100%] 7/7"), done.stderr
    assert len(progress) >= 3

    found = cli(
        "search",
        "which TCP port does the daemon listen on",
        "--json",
        "-k",
        "2",
        data_dir=data_dir,
        embedder="wordllama",
    )
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert Path(hits[0]["source"]).name == "getting-started.md" and "Linux" in hits[0]["heading_path"]

    filtered = cli(
        "search", "quillstream", "--mode", "lexical", "--filter", '{"doc_types": ["rst"]}', data_dir=data_dir
    )
    assert filtered.returncode == 0 and "encryption.rst" in filtered.stdout and "faq.txt" not in filtered.stdout
    bad = cli("search", "x", "--filter", '{"colour": "red"}', data_dir=data_dir)
    assert bad.returncode == 1 and "colour" in bad.stderr

    dataset = corpus / "eval.jsonl"
    dataset.write_text(json.dumps({"query": "default port of the daemon", "expected_source": "getting-started.md"}))
    # The index was built by wordllama; lexical-only commands work with any configured embedder.
    scored = cli("eval", str(dataset), "--modes", "lexical", data_dir=data_dir)
    assert scored.returncode == 0, scored.stderr
    assert "| lexical | 1.000 |" in scored.stdout and "recall@5" in scored.stdout

    listed = cli("sources", data_dir=data_dir)
    assert listed.returncode == 0 and listed.stdout.count("\n") == 7
    removed = cli("delete", str(corpus / "faq.txt"), data_dir=data_dir)
    assert removed.returncode == 0 and "deleted 1 source(s)" in removed.stdout
    stats = json.loads(cli("stats", data_dir=data_dir).stdout)
    assert stats["documents"] == 6 and stats["tags"] == {"docs": 6}


def test_cli_errors_are_reported_not_raised(corpus: Path, data_dir: Path) -> None:
    missing = cli("ingest", str(corpus / "nope"), data_dir=data_dir)
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr
    empty = cli("search", "   ", data_dir=data_dir)
    assert empty.returncode == 1 and "query is empty" in empty.stderr
    bad_file = cli("eval", str(corpus / "nope.jsonl"), data_dir=data_dir)
    assert bad_file.returncode == 1 and "does not exist" in bad_file.stderr
    helped = subprocess.run([script("mcp-suite-retrieval"), "--help"], capture_output=True, text=True, check=True)
    for word in ("ingest", "search", "eval", "--root", "--embedder", "MCP_SUITE_RETRIEVAL_ROOTS"):
        assert word in helped.stdout


def test_cli_watch_keeps_a_folder_in_sync(corpus: Path, data_dir: Path) -> None:
    argv = [
        script("mcp-suite"),
        "retrieval",
        "ingest",
        str(corpus),
        "--watch",
        "--interval",
        "0.2",
        "--data-dir",
        str(data_dir),
        "--embedder",
        "none",
    ]
    log = data_dir / "watch.log"
    with log.open("w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while "watching" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            (corpus / "new-note.md").write_text("# Fresh\n\nThe watcher picked this up.\n")
            (corpus / "faq.txt").unlink()
            while not ("added" in log.read_text() and "removed" in log.read_text()):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    text = log.read_text()
    assert f"added {corpus / 'new-note.md'}" in text and f"removed {corpus / 'faq.txt'}" in text


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MCP_SUITE_RETRIEVAL_ROOTS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    monkeypatch.setenv("MCP_SUITE_RETRIEVAL_EMBEDDER", "none")
    monkeypatch.setenv("MCP_SUITE_RETRIEVAL_SEMANTIC_WEIGHT", "2.5")
    loaded = RetrievalSettings.load({"data_dir": tmp_path})
    assert isinstance(loaded, RetrievalSettings)
    assert loaded.roots == [tmp_path / "a", tmp_path / "b"]
    assert loaded.embedder == "none" and loaded.semantic_weight == 2.5


def test_server_module_starts_without_heavy_imports() -> None:
    code = (
        "import sys; from mcp_suite.servers.retrieval.server import build_server; "
        "from mcp_suite.servers.retrieval.settings import RetrievalSettings; build_server(RetrievalSettings()); "
        "print(sorted(m for m in ('numpy', 'wordllama', 'tokenizers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_stdio_server_ingests_and_searches(corpus: Path, data_dir: Path) -> None:
    params = stdio_server(
        "mcp-suite-retrieval", "--root", str(corpus), "--data-dir", str(data_dir), "--chunk-tokens", "120"
    )
    async with Client(params) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"ingest", "search", "get_chunk", "evaluate"} <= tools
        report = await client.call_tool("ingest", {"paths": [str(corpus)]})
        assert not report.is_error and report.structured_content is not None
        assert report.structured_content["added"] == 7
        outside = await client.call_tool("ingest", {"paths": [str(corpus.parent)]})
        assert outside.is_error and "outside the allowed roots" in outside.content[0].text  # type: ignore[union-attr]
        result = await client.call_tool("search", {"query": "how often are encryption keys rotated", "k": 3})
        assert result.structured_content is not None
        hit = result.structured_content["hits"][0]
        assert Path(hit["source"]).name == "encryption.rst" and "Key rotation" in hit["citation"]


@pytest.mark.anyio
async def test_stdio_server_ingests_a_large_folder_in_worker_processes(tmp_path: Path, data_dir: Path) -> None:
    """Past 2 MB a folder is chunked in spawned worker processes; they share the server's stdout, the MCP
    channel in stdio mode, and must leave it alone."""
    folder = tmp_path / "wiki"
    folder.mkdir()
    paragraph = "The {topic} service keeps its settings in {topic}.toml and restarts within {n} seconds. " * 6
    for i in range(40):
        sections = [f"## Part {j}\n\n" + paragraph.format(topic=f"svc{i}", n=j) for j in range(120)]
        (folder / f"svc{i:02d}.md").write_text(f"# Service {i}\n\n" + "\n\n".join(sections), encoding="utf-8")
    assert sum(p.stat().st_size for p in folder.iterdir()) > 2 * 1024 * 1024
    params = stdio_server(
        "mcp-suite-retrieval", "--root", str(folder), "--data-dir", str(data_dir), "--ingest-workers", "1"
    )
    async with Client(params) as client:
        report = await client.call_tool("ingest", {"paths": [str(folder)]})
        assert not report.is_error and report.structured_content is not None, report.content
        assert (report.structured_content["added"], report.structured_content["errors"]) == (40, 0)
        result = await client.call_tool("search", {"query": "where does svc17 keep its settings", "k": 3})
        assert result.structured_content is not None
        assert Path(result.structured_content["hits"][0]["source"]).name == "svc17.md"
