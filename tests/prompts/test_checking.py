"""The check gate: each problem kind at the right file and line, and the per-prompt summary."""

from __future__ import annotations

from pathlib import Path

from mcp_suite.servers.prompts.checking import check_library, estimate_tokens, prompt_token_estimate
from mcp_suite.servers.prompts.spec import PromptSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(folder: Path) -> list[str]:
    return [str(p) for p in check_library(folder).problems]


def test_shipped_examples_pass() -> None:
    report = check_library(EXAMPLES)
    assert report.ok, [str(p) for p in report.problems]
    assert report.problems == []
    assert len(report.prompts) >= 7
    seed = next(p for p in report.prompts if p.name == "SummarizeSupportTicket" and p.version == "1")
    assert seed.variables == 2 and seed.messages == 1 and seed.max_tokens == 512
    assert 60 < seed.token_estimate < 200


def test_clean_library_has_no_problems(tmp_path: Path) -> None:
    write(tmp_path, "ok.yaml", "name: ok\nversion: 1\ninput_variables: [a]\ntemplate: 'Say {{ a }}'\n")
    report = check_library(tmp_path)
    assert report.problems == [] and report.ok
    assert [(p.name, p.version) for p in report.prompts] == [("ok", "1")]


def test_schema_error_has_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "name: x\nversion: 1\ntemplate: hi\nexecution_settings:\n  temperature: 9\n")
    [problem] = check_library(tmp_path).problems
    assert (problem.file, problem.line, problem.severity) == (str(path), 5, "error")
    assert str(problem).startswith(f"{path}:5: error: execution_settings.temperature")


def test_broken_yaml_is_an_error_and_other_files_are_still_checked(tmp_path: Path) -> None:
    broken = write(tmp_path, "a_broken.yaml", "name: x\nversion: [1\ntemplate: hi\n")
    write(tmp_path, "b_ok.yaml", "name: ok\nversion: 1\ntemplate: hi\n")
    report = check_library(tmp_path)
    [problem] = report.problems
    assert problem.file == str(broken) and problem.severity == "error" and "invalid YAML" in problem.message
    assert [p.name for p in report.prompts] == ["ok"]


def test_template_that_does_not_compile(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        "name: t\nversion: 1\ninput_variables: [a]\ntemplate: |\n  line one {{ a }}\n  line two {{ a + }}\n",
    )
    [problem] = check_library(tmp_path).problems
    assert (problem.file, problem.line, problem.severity) == (str(path), 6, "error")
    assert "template does not compile" in problem.message


def test_undeclared_is_an_error_at_first_use_and_unused_a_warning_at_the_declaration(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "v.yaml",
        """\
name: v
version: 1
input_variables:
  - used
  - idle
messages:
  - role: system
    content: "Plain system text."
  - role: user
    content: |
      {{ used }}
      {% set local = 2 %}{{ local }}
      {{ ghost }}
""",
    )
    assert problems(tmp_path) == [
        f"{path}:5: warning: variable 'idle' is declared but no template uses it",
        f"{path}:13: error: template uses variable 'ghost' but input_variables does not declare it",
    ]
    assert not check_library(tmp_path).ok


def test_warnings_alone_do_not_fail(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", "name: w\nversion: 1\ninput_variables: [a, b]\ntemplate: '{{ a }}'\n")
    report = check_library(tmp_path)
    assert [p.severity for p in report.problems] == ["warning"] and report.ok


def test_duplicate_name_and_version_names_both_files(tmp_path: Path) -> None:
    first = write(tmp_path, "a/one.yaml", "name: dup\nversion: 3\ntemplate: a\n")
    second = write(tmp_path, "b/two.yaml", "# copy\nname: dup\nversion: 3\ntemplate: b\n")
    write(tmp_path, "c/three.yaml", "name: dup\nversion: 4\ntemplate: c\n")  # another version is fine
    [problem] = check_library(tmp_path).problems
    assert (problem.file, problem.line, problem.severity) == (str(second), 3, "error")
    assert str(first) in problem.message and "dup version 3" in problem.message


def test_golden_case_that_does_not_render(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "g.yaml",
        """\
name: g
version: 1
input_variables:
  - name: fmt
    enum: [a, b]
template: "{{ fmt }}"
tests:
  - name: good
    inputs: {fmt: a}
  - name: bad_enum
    inputs: {fmt: c}
  - name: missing_input
    inputs: {}
""",
    )
    assert problems(tmp_path) == [
        f"{path}:10: error: golden case 'bad_enum' does not render: variable 'fmt' of prompt g:1 must be one of a, b;"
        " got 'c'",
        f"{path}:12: error: golden case 'missing_input' does not render: prompt g:1 needs variable 'fmt';"
        " it is required",
    ]


def test_golden_case_hitting_a_runtime_template_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "r.yaml",
        "name: r\nversion: 1\ninput_variables: [n]\ntemplate: '{{ n.upper() * 10000000 }}'\n"
        "tests:\n  - name: boom\n    inputs: {n: abc}\n",
    )
    [problem] = check_library(tmp_path).problems
    assert (problem.file, problem.line) == (str(path), 6)
    assert "golden case 'boom' does not render" in problem.message and "SecurityError" in problem.message


def test_token_estimator() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("Hello, world!") == 4  # Hello , world !
    assert estimate_tokens("internationalization") == 3  # 1 + 19 // 8
    # 15 words and a full stop: about what a BPE tokenizer gives (16 for GPT-4's cl100k).
    prose = "The quick brown fox jumps over the lazy dog and keeps running into the forest. " * 10
    assert estimate_tokens(prose) == 160
    spec = PromptSpec(name="e", version="1", template="Summarise {{ document | fence }} {% if x %}now{% endif %}")
    # Jinja2 expressions and tags are not counted: "Summarise" (2) + "now" (1) + 4 framing tokens.
    assert prompt_token_estimate(spec) == 2 + 1 + 4
