"""The retrieval server driven through a real MCP client in memory: ingest the fixture documents,
then check which file answers which question, incremental re-ingest, confinement, filters, errors,
feedback, progress notifications, resources and the grounded prompt."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_suite.servers.retrieval.library import KnowledgeBase
from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings

pytestmark = pytest.mark.anyio


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is not None
    return result.structured_content


async def error_text(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} should have failed: {result.structured_content}"
    return result.content[0].text  # type: ignore[union-attr]


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {Path(item["source"]).name: item["status"] for item in report["items"]}


# Which fixture answers which question, and where.
QUESTIONS = [
    ("which TCP port does the daemon listen on by default", "getting-started.md", "Linux"),
    ("what happens when two devices edit the same note", "conflicts.md", None),
    ("how much does the team plan cost per user", "pricing.html", None),
    ("how often are encryption keys rotated", "encryption.rst", "Key rotation"),
]


async def test_ingest_folder_then_cited_hybrid_search(settings: RetrievalSettings, corpus: Path) -> None:
    async with Client(build_server(settings)) as client:
        report = await call(client, "ingest", paths=[str(corpus)])
        assert report["added"] == 7 and report["errors"] == 0
        assert report["chunks_written"] == report["chunks_embedded"] > 7
        assert "junk.bin" not in statuses(report)  # not a supported suffix: never read

        for question, expected_file, heading in QUESTIONS:
            for mode in ("hybrid", "lexical", "semantic"):
                result = await call(client, "search", query=question, k=3, mode=mode)
                top = result["hits"][0]
                assert Path(top["source"]).name == expected_file, (mode, question, top["citation"])
            hit = (await call(client, "search", query=question, k=3))["hits"][0]
            assert hit["start_line"] <= hit["end_line"]
            assert hit["citation"].startswith(f"{hit['source']}:{hit['start_line']}")
            if heading:
                assert heading in hit["heading_path"], hit["heading_path"]
                assert heading in hit["citation"]

        # The cited line span is where the answer sits in the file on disk.
        hit = (await call(client, "search", query=QUESTIONS[0][0], k=1))["hits"][0]
        lines = Path(hit["source"]).read_text().splitlines()[hit["start_line"] - 1 : hit["end_line"]]
        assert any("7419" in line for line in lines)


async def test_reingest_rechunks_documents_of_an_older_chunker_version(
    settings: RetrievalSettings, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_suite.servers.retrieval import ingest

    async with Client(build_server(settings)) as client:
        assert (await call(client, "ingest", paths=[str(corpus)]))["added"] == 7
        # An upgrade that changes chunking: a plain ingest of the same folder re-chunks every document,
        # and chunks whose embedded text did not change keep their vectors.
        monkeypatch.setattr(ingest, "CHUNKER_VERSION", ingest.CHUNKER_VERSION + 1)
        upgraded = await call(client, "ingest", paths=[str(corpus)])
        assert (upgraded["updated"], upgraded["unchanged"], upgraded["chunks_embedded"]) == (7, 0, 0)
        again = await call(client, "ingest", paths=[str(corpus)])
        assert (again["updated"], again["unchanged"]) == (0, 7)


async def test_reingest_only_touches_changed_files(settings: RetrievalSettings, corpus: Path) -> None:
    async with Client(build_server(settings)) as client:
        first = await call(client, "ingest", paths=[str(corpus)])
        assert first["added"] == 7

        again = await call(client, "ingest", paths=[str(corpus)])
        assert (again["added"], again["updated"], again["unchanged"], again["chunks_embedded"]) == (0, 0, 7, 0)

        # Touch without change: still unchanged, nothing embedded.
        faq = corpus / "faq.txt"
        os.utime(faq, (time.time() + 10, time.time() + 10))
        touched = await call(client, "ingest", paths=[str(corpus)])
        assert (touched["updated"], touched["unchanged"], touched["chunks_embedded"]) == (0, 7, 0)

        # Modify one file (append a section), delete another.
        guide = corpus / "getting-started.md"
        # (long enough to stay a chunk of its own: a tiny section would join its neighbour's chunk)
        backups = (
            "\n## Backups\n\nRun `quillstream backup --to /srv/backups` nightly. Keep seven daily copies and"
            " one weekly copy on another disk, and test a restore once a month.\n"
        )
        guide.write_text(guide.read_text() + backups)
        (corpus / "pricing.html").unlink()
        changed = await call(client, "ingest", paths=[str(corpus)])
        assert (changed["added"], changed["updated"], changed["removed"], changed["unchanged"]) == (0, 1, 1, 5)
        assert statuses(changed) == {"getting-started.md": "updated", "pricing.html": "removed"}
        # Only the new chunk text needed a vector; the unchanged chunks reused theirs.
        assert 1 <= changed["chunks_embedded"] < changed["chunks_written"]

        hit = (await call(client, "search", query="nightly backups", k=1))["hits"][0]
        assert hit["source"] == str(guide) and "Backups" in hit["heading_path"]
        cost = await call(client, "search", query="how much does the team plan cost", k=5)
        assert all(Path(h["source"]).name != "pricing.html" for h in cost["hits"])

        sources = await call(client, "list_sources")
        assert sources["total"] == 6


async def test_paths_are_confined_to_roots(settings: RetrievalSettings, corpus: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwords.md").write_text("# Secrets\n\nThe root password is hunter2.\n")
    (corpus / "sneaky").symlink_to(outside, target_is_directory=True)
    (corpus / "link.md").symlink_to(outside / "passwords.md")

    async with Client(build_server(settings)) as client:
        for path in ("../secret", str(corpus / ".." / "secret"), str(outside / "passwords.md"), "/etc/passwd"):
            message = await error_text(client, "ingest", paths=[path])
            assert "outside the allowed roots" in message
        message = await error_text(client, "ingest", paths=[str(corpus / "sneaky" / "passwords.md")])
        assert "outside the allowed roots" in message

        # A folder walk does not follow a symlink out of the root either.
        report = await call(client, "ingest", paths=[str(corpus)])
        assert report["added"] == 7
        assert statuses(report).get("link.md") == "skipped"
        found = await call(client, "search", query="root password hunter2", k=5, mode="lexical")
        assert found["hits"] == []

        # Relative paths are taken inside the first root.
        relative = await call(client, "ingest", paths=["sync/conflicts.md"])
        assert relative["unchanged"] == 1


async def test_no_roots_means_no_file_access(data_dir: Path, corpus: Path) -> None:
    settings = RetrievalSettings(data_dir=data_dir, embedder="none")
    async with Client(build_server(settings)) as client:
        message = await error_text(client, "ingest", paths=[str(corpus)])
        assert "--root" in message
        # Text ingest needs no file access.
        report = await call(client, "ingest_text", text="The launch code is 0000.", source="notes/launch.txt")
        assert report["added"] == 1


async def test_client_roots_are_used_when_no_root_is_configured(data_dir: Path, corpus: Path) -> None:
    from mcp.types import ListRootsResult, Root

    async def list_roots(context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=corpus.joinpath("sync").as_uri(), name="sync")])

    settings = RetrievalSettings(data_dir=data_dir, embedder="none")
    async with Client(build_server(settings), list_roots_callback=list_roots, mode="legacy") as client:
        report = await call(client, "ingest", paths=[str(corpus / "sync")])
        assert report["added"] == 2
        message = await error_text(client, "ingest", paths=[str(corpus / "faq.txt")])
        assert "outside the allowed roots" in message


async def test_filters_narrow_before_ranking(settings: RetrievalSettings, corpus: Path) -> None:
    async with Client(build_server(settings)) as client:
        await call(client, "ingest", paths=[str(corpus / "sync")], tags=["sync"], metadata={"team": "core"})
        await call(client, "ingest", paths=[str(corpus / "getting-started.md"), str(corpus / "faq.txt")])
        query = "quillstream"
        for mode in ("hybrid", "lexical", "semantic"):
            by_tag = await call(client, "search", query=query, k=10, mode=mode, filters={"tags": ["sync"]})
            assert by_tag["hits"] and {Path(h["source"]).parent.name for h in by_tag["hits"]} == {"sync"}
            by_type = await call(client, "search", query=query, k=10, mode=mode, filters={"doc_types": ["rst"]})
            assert {h["doc_type"] for h in by_type["hits"]} == {"rst"}
            by_meta = await call(client, "search", query=query, k=10, mode=mode, filters={"metadata": {"team": "core"}})
            assert {Path(h["source"]).name for h in by_meta["hits"]} <= {"conflicts.md", "encryption.rst"}
            by_glob = await call(client, "search", query=query, k=10, mode=mode, filters={"source_glob": "*.txt"})
            assert {Path(h["source"]).name for h in by_glob["hits"]} == {"faq.txt"}
            by_prefix = await call(
                client, "search", query=query, k=10, mode=mode, filters={"source_prefix": str(corpus / "sync")}
            )
            assert by_prefix["hits"] and all(h["source"].startswith(str(corpus / "sync")) for h in by_prefix["hits"])
        future = await call(client, "search", query=query, filters={"modified_after": "2999-01-01"})
        assert future["hits"] == []
        past = await call(client, "search", query=query, filters={"modified_before": "2999-01-01"})
        assert past["hits"]
        # Front matter becomes metadata that can be filtered on.
        audience = await call(client, "search", query=query, filters={"metadata": {"audience": "administrators"}})
        assert {Path(h["source"]).name for h in audience["hits"]} == {"getting-started.md"}


async def test_bad_input_gets_clear_errors_and_server_keeps_serving(settings: RetrievalSettings, corpus: Path) -> None:
    (corpus / "huge.md").write_bytes(b"# Big\n\n" + b"word " * 300_000)
    (corpus / "fake.md").write_bytes(bytes(range(256)) * 20)
    (corpus / "unreadable.md").write_text("# Hidden\n\nsecret")
    (corpus / "unreadable.md").chmod(0)
    small = settings.model_copy(update={"max_file_mb": 1.0})
    async with Client(build_server(small)) as client:
        assert "empty" in await error_text(client, "search", query="   ")
        assert "k: must be at most 50 (got 500)" in await error_text(client, "search", query="x", k=500)
        assert "k: must be at least 1 (got 0)" in await error_text(client, "search", query="x", k=0)
        message = await error_text(client, "search", query="x", filters={"folder": "docs"})
        assert "filters.folder: is not a known field" in message
        assert "mode" in await error_text(client, "search", query="x", mode="fuzzy")

        report = await call(client, "ingest", paths=[str(corpus)])
        items = {Path(i["source"]).name: i for i in report["items"]}
        assert items["huge.md"]["status"] == "error" and "MB file limit" in items["huge.md"]["message"]
        assert items["fake.md"]["status"] == "error" and "binary" in items["fake.md"]["message"]
        if os.geteuid() != 0:  # root reads anything
            assert items["unreadable.md"]["status"] == "error"
        assert report["added"] >= 7

        assert "no such file" in (await call(client, "ingest", paths=[str(corpus / "nope.md")]))["items"][0]["message"]
        assert "does not exist" in await error_text(client, "get_chunk", chunk_id=999_999)
        assert "no indexed source" in await error_text(client, "delete_source", source="/nowhere.md")
        assert "not an http" in await error_text(client, "ingest_url", url="file:///etc/passwd")
        message = await error_text(client, "ingest_url", url="http://127.0.0.1:9/unreachable")
        assert "127.0.0.1" in message

        # Still serving, index intact.
        hit = (await call(client, "search", query="default TCP port", k=1))["hits"][0]
        assert Path(hit["source"]).name == "getting-started.md"


async def test_feedback_nudges_ranking(settings: RetrievalSettings, corpus: Path) -> None:
    async with Client(build_server(settings)) as client:
        await call(client, "ingest", paths=[str(corpus)])
        query = "encryption"
        before = (await call(client, "search", query=query, k=5))["hits"]
        assert len(before) >= 3
        target = before[2]["chunk_id"]
        for _ in range(3):
            await call(client, "feedback", chunk_id=target, query=query, useful=True)
        await call(client, "feedback", chunk_id=before[0]["chunk_id"], query=query, useful=False)
        after = (await call(client, "search", query=query, k=5))["hits"]
        ranks = [h["chunk_id"] for h in after]
        assert ranks.index(target) < 2
        assert ranks[0] != before[0]["chunk_id"]
        stats = await call(client, "stats")
        assert stats["feedback"] == 4
        assert "does not exist" in await error_text(client, "feedback", chunk_id=10**9, query=query, useful=True)


async def test_progress_notifications_reach_the_client(settings: RetrievalSettings, corpus: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(build_server(settings)) as client:
        result = await client.call_tool("ingest", {"paths": [str(corpus)]}, progress_callback=on_progress)
        assert not result.is_error
    assert seen[0][:2] == (0, 7)
    assert seen[-1][:2] == (7, 7)
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)
    assert any(m and "getting-started.md" in m for _, _, m in seen)


async def test_get_chunk_text_ingest_delete_stats_resources_prompt(settings: RetrievalSettings, corpus: Path) -> None:
    async with Client(build_server(settings)) as client:
        await call(client, "ingest", paths=[str(corpus / "sync")])
        text = "# Office\n\n## Parking\n\nVisitors park on level -2; the code for the gate is 4711.\n"
        report = await call(
            client, "ingest_text", text=text, source="notes/office.md", doc_type="markdown", tags=["ops"]
        )
        assert report["added"] == 1
        same = await call(client, "ingest_text", text=text, source="notes/office.md", doc_type="markdown")
        assert same["unchanged"] == 1

        hit = (await call(client, "search", query="gate code for visitors", k=1))["hits"][0]
        assert hit["source"] == "notes/office.md" and hit["heading_path"] == ["Office", "Parking"]

        conflict = (await call(client, "search", query="conflict copies", k=1))["hits"][0]
        widened = await call(client, "get_chunk", chunk_id=conflict["chunk_id"], neighbors=1)
        ids = [c["chunk_id"] for c in widened["context"]]
        assert conflict["chunk_id"] in ids and 2 <= len(ids) <= 3
        assert all(Path(c["source"]).name == "conflicts.md" for c in widened["context"])
        lines = [c["start_line"] for c in widened["context"]]
        assert lines == sorted(lines)

        stats = await call(client, "stats")
        assert stats["documents"] == 3 and stats["index_embedder"].startswith("wordllama/l2_supercat")
        assert stats["tags"] == {"ops": 1}

        resources = await client.list_resources()
        assert "retrieval://sources" in {str(r.uri) for r in resources.resources}
        listing = await client.read_resource("retrieval://sources")
        assert "notes/office.md" in listing.contents[0].text  # type: ignore[union-attr]
        doc_id = next(
            s["document_id"]
            for s in (await call(client, "list_sources"))["sources"]
            if s["source"] == "notes/office.md"
        )
        document = await client.read_resource(f"retrieval://documents/{doc_id}")
        assert "gate is 4711" in document.contents[0].text  # type: ignore[union-attr]

        prompt = await client.get_prompt("answer_with_context", {"question": "What is the gate code?"})
        body = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "ONLY the numbered context" in body and "[1] notes/office.md:" in body
        assert "do not contain the answer" in body and "What is the gate code?" in body

        deleted = await call(client, "delete_source", source=str(corpus / "sync"), prefix=True)
        assert len(deleted["deleted_sources"]) == 2 and deleted["chunks_removed"] > 0
        left = await call(client, "search", query="conflict copies", k=5)
        assert all(h["source"] == "notes/office.md" for h in left["hits"])


async def test_tools_carry_honest_annotations(settings: RetrievalSettings) -> None:
    async with Client(build_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {
        "ingest",
        "ingest_url",
        "ingest_text",
        "search",
        "get_chunk",
        "list_sources",
        "delete_source",
        "stats",
        "feedback",
        "evaluate",
        "reindex",
    } <= set(tools)
    for name in ("search", "get_chunk", "list_sources", "stats"):
        assert tools[name].annotations.read_only_hint is True  # type: ignore[union-attr]
    # evaluate stores each run's scores
    assert tools["evaluate"].annotations.read_only_hint is False  # type: ignore[union-attr]
    assert tools["evaluate"].annotations.destructive_hint is False  # type: ignore[union-attr]
    assert tools["delete_source"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert tools["search"].output_schema is not None


async def test_evaluate_stores_each_run_per_mode(settings: RetrievalSettings, corpus: Path) -> None:
    dataset = "\n".join(json.dumps({"query": q, "expected_source": source}) for q, source, _ in QUESTIONS)
    async with Client(build_server(settings)) as client:
        await call(client, "ingest", paths=[str(corpus)])
        report = await call(client, "evaluate", dataset=dataset, k=3, modes=["lexical", "hybrid"])
    kb = await KnowledgeBase.open(settings.database)  # read back from storage, as another process would
    try:
        stored = await kb.evaluation_runs()
    finally:
        await kb.close()
    rows = [(r.mode, r.k, r.case_count, r.recall, r.mrr, r.ndcg, r.run, r.dataset_hash) for r in stored]
    assert [r[:3] for r in rows] == [("lexical", 3, 4), ("hybrid", 3, 4)]
    by_mode = {m["mode"]: m for m in report["modes"]}
    for mode, _, _, recall, mrr, ndcg, _, _ in rows:
        assert (recall, mrr, ndcg) == (by_mode[mode]["recall"], by_mode[mode]["mrr"], by_mode[mode]["ndcg"])
    assert rows[0][6] == rows[1][6] and len(rows[0][7]) == 12  # one run, one question set


async def test_last_ingest_error_per_source_is_kept_until_a_success(data_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    root = (tmp_path / "notes").resolve()
    root.mkdir()
    big = root / "big.md"
    big.write_text("# Big\n\n" + "otters swim. " * 200, encoding="utf-8")  # about 2.6 kB
    (root / "small.md").write_text("# Small\n\nbeavers build.\n", encoding="utf-8")
    settings = RetrievalSettings(data_dir=data_dir, roots=[root], embedder="none", max_file_mb=0.002)

    def errors() -> list[tuple[str, str, str]]:
        with sqlite3.connect(settings.database_path) as conn:
            return conn.execute("SELECT source, kind, message FROM ingest_errors").fetchall()

    async with Client(build_server(settings)) as client:
        report = await call(client, "ingest", paths=[str(root)])
        assert statuses(report) == {"big.md": "error", "small.md": "added"}
        ((source, kind, message),) = errors()
        assert (source, kind) == (str(big), "file") and "exceeds" in message
        big.write_text("# Big\n\notters swim.\n", encoding="utf-8")  # now small enough
        report = await call(client, "ingest", paths=[str(root)])
        assert statuses(report)["big.md"] == "added"
        assert errors() == []
