"""Folder-ingest hygiene: default excludes (web assets, lock files, build and dependency folders, other
renderings of a page, aggregate pages), their overrides, regular files only, and the report that says
what was left out and why."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_suite.servers.retrieval.folders import FolderRules, read_regular_file, walk_folder
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.errors import InvalidInputError
from tests.support import script

PAGE = "# {title}\n\nThe {title} module reads and writes {what}.\n"


def make_docs(root: Path) -> Path:
    """A folder shaped like /usr/share/doc/nodejs: each page as .md.gz, .html and .json.gz, plus all.html,
    assets, a lock file, VCS and build folders, an image and a FIFO."""
    api = root / "api"
    (api / "assets").mkdir(parents=True)
    for stem, what in (("fs", "files"), ("net", "sockets"), ("zlib", "compressed streams")):
        (api / f"{stem}.md.gz").write_bytes(gzip.compress(PAGE.format(title=stem, what=what).encode()))
        (api / f"{stem}.html").write_text(
            f"<html><body><h1>{stem}</h1><p>The {stem} module ({what}).</p></body></html>"
        )
        (api / f"{stem}.json.gz").write_bytes(gzip.compress(b'{"source": "doc/api/x.md"}'))
    (api / "all.html").write_text("<html><body><h1>fs</h1><p>everything again</p></body></html>")
    (api / "all.json.gz").write_bytes(gzip.compress(b"{}"))
    (api / "assets" / "style.css").write_text("body { color: red }")
    (api / "assets" / "api.js").write_text("console.log('x')")
    (api / "assets" / "hljs.min.js").write_text("var a=1")
    (api / "assets" / "api.js.map").write_text("{}")
    (api / "assets" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "package-lock.json").write_text("{}")
    (root / "notes.md").write_text("# Notes\n\nPersonal notes about the docs.\n")
    for folder in (".git", "node_modules/left-pad", "build", "dist", "__pycache__"):
        (root / folder).mkdir(parents=True)
        (root / folder / "README.md").write_text("# Noise\n\nnot wanted\n")
    os.mkfifo(root / "pipe.md")
    return root


def rel(files: list[Path], root: Path) -> set[str]:
    return {f.relative_to(root).as_posix() for f in files}


def test_default_excludes_keep_one_rendering_per_page(tmp_path: Path) -> None:
    root = make_docs(tmp_path / "doc")
    files, skipped = walk_folder(root, FolderRules())
    assert rel(files, root) == {"api/fs.md.gz", "api/net.md.gz", "api/zlib.md.gz", "notes.md"}
    assert skipped.counts == {
        "other rendering": 6,  # three .html, three .json.gz
        "aggregate page": 2,  # all.html, all.json.gz
        "stylesheet": 1,
        "script": 1,
        "minified": 1,
        "source map": 1,
        "unsupported format": 1,
        "lock file": 1,
        "hidden": 1,
        "dependency folder": 1,
        "build output": 3,
        "not a regular file": 1,
    }
    assert "api/fs.html (fs.md.gz is read)" in skipped.examples["other rendering"]
    assert skipped.examples["not a regular file"] == ["pipe.md"]
    assert skipped.examples["hidden"] == [".git/"]
    assert all(len(examples) <= 3 for examples in skipped.examples.values())


def test_excludes_are_overridable(tmp_path: Path) -> None:
    root = make_docs(tmp_path / "doc")
    # An include glob brings back what it names, even inside a default-excluded folder.
    files, _ = walk_folder(root, FolderRules(include=["*.css", "*.html", "build/*.md"]))
    assert rel(files, root) == {
        "api/assets/style.css",
        "api/fs.html",
        "api/net.html",
        "api/zlib.html",
        "api/all.html",
        "build/README.md",
    }
    # Without the defaults every supported file is read, except hidden folders and non-regular files.
    files, skipped = walk_folder(root, FolderRules(default_excludes=False))
    names = rel(files, root)
    assert {"api/fs.html", "api/all.html", "api/fs.json.gz", "api/assets/api.js", "build/README.md"} <= names
    assert not any(name.startswith(".git") for name in names) and "pipe.md" not in names
    assert skipped.counts == {"hidden": 1, "not a regular file": 1, "unsupported format": 2}  # logo.png, api.js.map
    # Exclude globs always apply.
    files, skipped = walk_folder(root, FolderRules(exclude=["api/"]))
    assert rel(files, root) == {"notes.md"} and skipped.counts["excluded by pattern"] == 1


def test_a_fifo_swapped_in_after_the_walk_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "late.md"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="a FIFO, not a regular file"):
        read_regular_file(fifo, 1024)
    grown = tmp_path / "big.md"
    grown.write_bytes(b"x" * 2048)
    with pytest.raises(InvalidInputError, match="file limit"):
        read_regular_file(grown, 1024)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is not None
    return result.structured_content


@pytest.mark.anyio
async def test_ingest_report_says_what_was_left_out(tmp_path: Path, data_dir: Path) -> None:
    root = make_docs(tmp_path / "doc").resolve()
    settings = RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none")
    async with Client(build_server(settings)) as client:
        with anyio.fail_after(20):  # a FIFO in the root must not hang the ingest
            report = await call(client, "ingest", paths=[str(root)])
            fifo = await call(client, "ingest", paths=[str(root / "pipe.md")])
        assert report["added"] == 4 and report["errors"] == 0
        excluded = {e["reason"]: e for e in report["excluded"]}
        assert excluded["other rendering"]["count"] == 6 and len(excluded["other rendering"]["examples"]) == 3
        assert excluded["not a regular file"]["examples"] == ["pipe.md"]
        assert fifo["errors"] == 1 and "a FIFO, not a regular file" in fifo["items"][0]["message"]

        sources = await call(client, "list_sources")
        stored = {Path(s["source"]).name for s in sources["sources"]}
        assert stored == {"fs.md.gz", "net.md.gz", "zlib.md.gz", "notes.md"}

        # Turning the defaults off for one call reads the other renderings too.
        everything = await call(client, "ingest", paths=[str(root / "api")], default_excludes=False)
        assert everything["added"] == 11  # 3 .html, 3 .json.gz, all.html, all.json.gz, api.js, hljs.min.js, style.css
        hits = (await call(client, "search", query="sockets", k=5, mode="lexical"))["hits"]
        assert {Path(h["source"]).name for h in hits} >= {"net.md.gz"}


@pytest.mark.slow
def test_cli_ingest_prints_what_it_left_out(tmp_path: Path, data_dir: Path) -> None:
    root = make_docs(tmp_path / "doc")
    argv = [script("mcp-suite"), "retrieval", "ingest", str(root), "--data-dir", str(data_dir), "--embedder", "none"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "4 added" in done.stdout and "not read: 6 other rendering" in done.stdout
    assert "not read: 1 not a regular file (pipe.md)" in done.stderr
    assert (
        "not read: 6 other rendering (api/fs.html (fs.md.gz is read), api/fs.json.gz (fs.md.gz is read), "
        in done.stderr
    )
