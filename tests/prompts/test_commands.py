"""``mcp-suite prompts check`` / ``test``: argument parsing, output and exit codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mcp_suite.servers.prompts.commands import CHECK_COMMAND, TEST_COMMAND
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.shared.cli import ServerSpec, run
from tests.support import script

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"
# The commands mounted the way the prompts CLI mounts them, so argv parsing and settings are the real ones.
SPEC = ServerSpec(
    name="prompts",
    summary="test",
    settings=PromptsSettings,
    build=lambda settings: None,  # type: ignore[arg-type, return-value]
    commands={"check": CHECK_COMMAND, "test": TEST_COMMAND},
)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = run(SPEC, list(argv), "mcp-suite prompts")
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def broken_library(tmp_path: Path) -> Path:
    tmp_path.mkdir()
    (tmp_path / "ok.yaml").write_text(
        "name: ok\nversion: 1\ninput_variables: [a]\ntemplate: '{{ a }}'\n", encoding="utf-8"
    )
    (tmp_path / "bad.yaml").write_text("name: bad\nversion: 1\ntemplate: '{{ b }}'\n", encoding="utf-8")
    return tmp_path


# ── check ─────────────────────────────────────────────────────────────────────────────────────


def test_check_passes_on_the_examples(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out = cli(capsys, "check", str(EXAMPLES), "--data-dir", str(data_dir))
    assert code == 0, out
    assert "PROMPT" in out and "~TOKENS" in out and "SummarizeSupportTicket" in out
    assert out.rstrip().splitlines()[-1].startswith("ok: ")


def test_check_fails_with_file_line_messages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    library = broken_library(tmp_path / "lib")
    code, out = cli(capsys, "check", str(library), "--data-dir", str(data_dir))
    assert code == 1
    assert f"{library / 'bad.yaml'}:3: error: template uses variable 'b' but input_variables does not declare it" in out
    assert "FAILED: 2 prompt version(s) in 2 file(s); 1 error(s), 0 warning(s)" in out


def test_check_uses_the_library_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv("MCP_SUITE_PROMPTS_LIBRARY", str(EXAMPLES))
    code, out = cli(capsys, "check", "--data-dir", str(data_dir))
    assert code == 0 and "CodeReview" in out


def test_check_without_a_folder_explains_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.delenv("MCP_SUITE_PROMPTS_LIBRARY", raising=False)
    code, out = cli(capsys, "check", "--data-dir", str(data_dir))
    assert code == 1 and "name the prompt library folder" in out
    code, out = cli(capsys, "check", str(tmp_path / "missing"), "--data-dir", str(data_dir))
    assert code == 1 and "does not exist" in out


# ── test ──────────────────────────────────────────────────────────────────────────────────────


def test_render_only_run(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out = cli(capsys, "test", str(EXAMPLES), "--data-dir", str(data_dir))
    assert code == 0, out
    # Without a model nothing that asserts on an output is called passed: it was not run.
    assert "NOT RUN SummarizeSupportTicket:2  summary_has_two_keys" in out
    assert "PASS " not in out and "OK " not in out
    assert "render-only (no --base-url); 0 passed, 0 failed, 13 not run" in out
    assert "13 case(s) were not run: their assertions need a model (--base-url)" in out
    # The injection-probe golden case renders, and the warning is shown rather than hidden.
    assert "looks like a prompt-injection attempt" in out


def test_render_only_counts_each_status_and_require_model_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    library = classify_library(tmp_path / "lib")
    code, out = cli(capsys, "test", str(library), "--data-dir", str(data_dir))
    assert code == 0, out  # nothing failed; what was not checked is said, not counted as passed
    assert "NOT RUN Classify:1  spam" in out and "OK      Other:1  t" in out
    assert "ok: 3 golden case(s) render-only (no --base-url); 0 passed, 0 failed, 1 rendered, 2 not run" in out
    # The run's counts per version are stored in the registry, where the console shows them.
    with sqlite3.connect(data_dir / "prompts.db") as conn:
        rows = conn.execute("SELECT name, version, mode, rendered, not_run FROM golden_runs ORDER BY name").fetchall()
    assert rows == [("Classify", "1", "render-only", 0, 2), ("Other", "1", "render-only", 1, 0)]
    code, out = cli(capsys, "test", str(library), "--require-model", "--data-dir", str(data_dir))
    assert code == 1 and "--require-model is set but no model was given: pass --base-url" in out


def test_render_only_run_fails_on_a_broken_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    (tmp_path / "broken.yaml").write_text("name: [\n", encoding="utf-8")
    code, out = cli(capsys, "test", str(tmp_path), "--data-dir", str(data_dir))
    assert code == 1 and "ERROR " in out and "invalid YAML" in out


@pytest.fixture
def model_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real local OpenAI-compatible endpoint that answers 'ham' unless the prompt mentions a cruise."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            answer = "spam" if "CRUISE" in body["messages"][-1]["content"] else "ham"
            if body["messages"][0]["content"].startswith("You grade"):  # a rubric judge: the answer must say spam
                good = "<answer>\nspam" in body["messages"][1]["content"]
                answer = json.dumps({"pass": good, "reason": "it says spam" if good else "it does not say spam"})
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def classify_library(folder: Path) -> Path:
    folder.mkdir()
    (folder / "classify.yaml").write_text(
        """\
name: Classify
version: 1
input_variables: [text]
template: "spam or ham? {{ text | fence }}"
tests:
  - name: spam
    inputs: {text: WIN A CRUISE}
    assertions: [{equals: spam}]
  - name: ham
    inputs: {text: lunch?}
    assertions: [{equals: spam}]
""",
        encoding="utf-8",
    )
    (folder / "other.yaml").write_text("name: Other\nversion: 1\ntemplate: hi\ntests: [{name: t}]\n", encoding="utf-8")
    return folder


def test_run_against_a_model(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    data_dir: Path,
    model_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = model_server
    monkeypatch.setenv("TEST_LLM_KEY", "sk-local")
    library = classify_library(tmp_path / "lib")
    argv = ["test", str(library), "--base-url", url, "--model", "tiny", "--api-key-env", "TEST_LLM_KEY"]
    code, out = cli(capsys, *argv, "--name", "Classify", "--data-dir", str(data_dir))
    assert code == 1
    assert "PASS    Classify:1  spam" in out
    assert "FAIL    Classify:1  ham" in out
    assert "- equals: expected 'spam', got 'ham'" in out
    assert "Other" not in out  # --name filters
    assert "FAILED: 2 golden case(s) against" in out and "1 passed, 1 failed" in out
    assert {r["path"] for r in seen} == {"/v1/chat/completions"}
    assert {r["auth"] for r in seen} == {"Bearer sk-local"}
    assert {r["body"]["model"] for r in seen} == {"tiny"}


def test_bad_test_arguments(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path
) -> None:
    library = classify_library(tmp_path / "lib")
    code, out = cli(capsys, "test", str(library), "--name", "Nope", "--data-dir", str(data_dir))
    assert code == 1 and "no prompt named Nope in the library; known: Classify, Other" in out
    monkeypatch.delenv("UNSET_KEY_VAR", raising=False)
    argv = ["test", str(library), "--base-url", "http://127.0.0.1:9", "--api-key-env", "UNSET_KEY_VAR"]
    code, out = cli(capsys, *argv, "--data-dir", str(data_dir))
    assert code == 1 and "UNSET_KEY_VAR (from --api-key-env) is not set" in out


def test_unreachable_model_fails_each_case_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    library = classify_library(tmp_path / "lib")
    argv = [
        "test",
        str(library),
        "--base-url",
        "http://127.0.0.1:9",
        "--model",
        "m",
        "--name",
        "Classify",
        "--retries",
        "0",
    ]
    code, out = cli(capsys, *argv, "--data-dir", str(data_dir))
    assert code == 1
    assert out.count("cannot reach http://127.0.0.1:9/v1/chat/completions") == 2


# ── the installed console script ──────────────────────────────────────────────────────────────


def _wired() -> bool:
    from mcp_suite.servers.prompts.cli import SPEC as PROMPTS

    return {"check", "test"} <= set(PROMPTS.commands)


@pytest.mark.slow
@pytest.mark.skipif(not _wired(), reason="prompts cli.py does not register check/test yet")
def test_console_script_exit_codes(tmp_path: Path, data_dir: Path) -> None:
    ok = subprocess.run(
        [script("mcp-suite"), "prompts", "check", str(EXAMPLES), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    library = broken_library(tmp_path / "lib")
    bad = subprocess.run(
        [script("mcp-suite-prompts"), "check", str(library), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert f"{library / 'bad.yaml'}:3: error: " in bad.stdout
    test = subprocess.run(
        [script("mcp-suite"), "prompts", "test", str(EXAMPLES), "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert test.returncode == 0, test.stdout + test.stderr


def test_rubric_verdicts_are_reported_with_the_judges_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, model_server: tuple[str, list[dict[str, Any]]]
) -> None:
    url, seen = model_server
    library = tmp_path / "lib"
    library.mkdir()
    (library / "judged.yaml").write_text(
        """\
name: Judged
version: 1
input_variables: [text]
template: "spam or ham? {{ text }}"
tests:
  - name: cruise
    inputs: {text: WIN A CRUISE}
    assertions: [{rubric: "the answer classifies the message as spam"}]
  - name: lunch
    inputs: {text: lunch?}
    assertions: [{rubric: "the answer classifies the message as spam"}]
""",
        encoding="utf-8",
    )
    argv = ["test", str(library), "--base-url", url, "--model", "tiny", "--judge-model", "judge"]
    code, out = cli(capsys, *argv, "--data-dir", str(data_dir))
    assert code == 1
    assert "PASS    Judged:1  cruise" in out and "- rubric: judge: pass — it says spam" in out
    assert "FAIL    Judged:1  lunch" in out and "- rubric: judge: fail — it does not say spam" in out
    assert "1 passed, 1 failed" in out
    assert sorted(r["body"]["model"] for r in seen) == ["judge", "judge", "tiny", "tiny"]


def test_check_with_a_registry_catches_content_changed_under_a_published_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    from mcp_suite.servers.prompts.cli import SPEC as PROMPTS

    library = tmp_path / "lib"
    library.mkdir()
    greet = library / "greet.yaml"
    greet.write_text("name: Greet\nversion: 1\ninput_variables: [who]\ntemplate: 'Hi {{ who }}'\n", encoding="utf-8")
    draft = library / "draft.yaml"
    draft.write_text("name: Greet\nversion: 2\ndraft: true\ninput_variables: [who]\ntemplate: 'Yo {{ who }}'\n")
    assert run(PROMPTS, ["publish", str(library), "--data-dir", str(data_dir)], "mcp-suite prompts") == 0
    registry = data_dir / "prompts.db"
    capsys.readouterr()

    code, out = cli(capsys, "check", str(library), "--registry", str(registry), "--data-dir", str(data_dir))
    assert code == 0, out

    # Re-indenting or re-commenting is not a change; editing the template is.
    greet.write_text("# hello\nname: Greet\nversion: 1\ninput_variables: [who]\ntemplate: 'Hi {{ who }}'\n")
    assert cli(capsys, "check", str(library), "--registry", str(registry), "--data-dir", str(data_dir))[0] == 0
    greet.write_text("name: Greet\nversion: 1\ninput_variables: [who]\ntemplate: 'Hello {{ who }}'\n")
    code, out = cli(capsys, "check", str(library), "--registry", str(registry), "--data-dir", str(data_dir))
    assert code == 1
    assert f"{greet}:2: error: Greet version 1 is already published with different content" in out
    assert "bump `version:`" in out
    # Without the registry the same library passes: the change is only visible against what was published.
    assert cli(capsys, "check", str(library), "--data-dir", str(data_dir))[0] == 0
    # Version 2 was published too (publish freezes drafts): changing it now is caught as well.
    draft.write_text("name: Greet\nversion: 2\ndraft: true\ninput_variables: [who]\ntemplate: 'Hey {{ who }}'\n")
    code, out = cli(capsys, "check", str(library), "--registry", str(registry), "--data-dir", str(data_dir))
    assert f"{draft}:2: error: Greet version 2 is already published" in out

    code, out = cli(capsys, "check", str(library), "--registry", str(tmp_path / "nope.db"), "--data-dir", str(data_dir))
    assert code == 1 and "no prompt registry at" in out


def test_check_compares_with_a_registry_given_as_a_database_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, database_url: str
) -> None:
    """A team's CI checks its library against the registry it serves from, on either engine."""
    from mcp_suite.servers.prompts.cli import SPEC as PROMPTS

    library = tmp_path / "lib"
    library.mkdir()
    greet = library / "greet.yaml"
    greet.write_text("name: Greet\nversion: 1\ninput_variables: [who]\ntemplate: 'Hi {{ who }}'\n", encoding="utf-8")
    publish = ["publish", str(library), "--data-dir", str(data_dir), "--database-url", database_url]
    assert run(PROMPTS, publish, "mcp-suite prompts") == 0
    capsys.readouterr()

    assert cli(capsys, "check", str(library), "--registry", database_url, "--data-dir", str(data_dir))[0] == 0
    greet.write_text("name: Greet\nversion: 1\ninput_variables: [who]\ntemplate: 'Hello {{ who }}'\n")
    code, out = cli(capsys, "check", str(library), "--registry", database_url, "--data-dir", str(data_dir))
    assert code == 1
    assert f"{greet}:2: error: Greet version 1 is already published with different content" in out


def test_check_against_a_database_without_a_registry_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, postgres_url: str
) -> None:
    library = broken_library(tmp_path / "lib")
    code, out = cli(capsys, "check", str(library), "--registry", postgres_url, "--data-dir", str(data_dir))
    assert code == 1
    assert "no prompt registry at postgresql://" in out and "Traceback" not in out
    # Nothing was created there: a check never migrates the database it reads.
    code, out = cli(capsys, "check", str(library), "--registry", postgres_url, "--data-dir", str(data_dir))
    assert "no prompt registry at" in out

    unreachable = "postgresql://nobody:secret@127.0.0.1:1/none"
    code, out = cli(capsys, "check", str(library), "--registry", unreachable, "--data-dir", str(data_dir))
    assert code == 1 and "cannot reach PostgreSQL" in out and "secret" not in out


def test_check_reports_a_broken_price_table(capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    (library / "ok.yaml").write_text("name: ok\nversion: 1\ntemplate: hi\n", encoding="utf-8")
    (library / "prices.yaml").write_text("models:\n  m: {input: 1}\n", encoding="utf-8")
    code, out = cli(capsys, "check", str(library), "--data-dir", str(data_dir))
    assert code == 1 and "prices.yaml:1: error: price table: models.m.output: Field required" in out


def test_label_command_refuses_a_breaking_move_unless_forced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    from mcp_suite.servers.prompts.cli import SPEC as PROMPTS

    def prompts(*argv: str) -> tuple[int, str]:
        code = run(PROMPTS, [*argv, "--data-dir", str(data_dir)], "mcp-suite prompts")
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    assert prompts("publish", str(EXAMPLES))[0] == 0
    assert prompts("label", "SummarizeSupportTicket", "production", "2")[0] == 0
    code, out = prompts("label", "SummarizeSupportTicket", "production", "1")
    assert code == 1 and "version 1 of SummarizeSupportTicket requires variable 'output_format'" in out
    code, out = prompts("label", "SummarizeSupportTicket", "production", "1", "--force")
    assert code == 0 and "label production -> 1 (was 2)" in out
