"""Golden cases: every assertion kind, the runner, and the OpenAI-compatible client against a mock peer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from mcp_suite.servers.prompts.golden import (
    CompletionError,
    Graders,
    chat_completions_url,
    evaluate_assertions,
    openai_complete,
    run_golden,
)
from mcp_suite.servers.prompts.spec import Assertion, ExecutionSettings, PromptMessage, load_library, load_prompt_file

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prompts"
ASSERTION = TypeAdapter(Assertion)


def check(output: str, **assertion: Any) -> tuple[bool, str]:
    [result] = evaluate_assertions(output, [ASSERTION.validate_python(assertion)])
    assert result.kind == assertion["kind"]
    return result.passed, result.message


# ── assertions ────────────────────────────────────────────────────────────────────────────────


def test_equals() -> None:
    assert check("  42\n", kind="equals", value="42")[0]
    assert check("Yes", kind="equals", value="yes", ignore_case=True)[0]
    ok, message = check("Yes", kind="equals", value="yes")
    assert not ok and message == "expected 'yes', got 'Yes'"


def test_contains_and_not_contains() -> None:
    assert check("order 12345 shipped", kind="contains", value="12345")[0]
    assert not check("order 12345 shipped", kind="contains", value="SHIPPED")[0]
    assert check("order 12345 shipped", kind="contains", value="SHIPPED", ignore_case=True)[0]
    assert check("all good", kind="not_contains", value="error")[0]
    ok, message = check("an error occurred", kind="not_contains", value="error")
    assert not ok and message == "output contains 'error'"


def test_regex() -> None:
    assert check("fix(parser): reject port 65536", kind="regex", pattern=r"^fix\(\w+\): ")[0]
    assert not check("Fixed the parser", kind="regex", pattern=r"^fix")[0]
    assert check("Fixed the parser", kind="regex", pattern=r"^fix", ignore_case=True)[0]
    assert check("intro\n- item", kind="regex", pattern=r"^- ", multiline=True)[0]
    assert not check("intro\n- item", kind="regex", pattern=r"^- ")[0]


def test_valid_json_tolerates_one_code_fence() -> None:
    assert check('{"a": 1}', kind="valid_json")[0]
    assert check('```json\n{"a": 1}\n```', kind="valid_json")[0]
    assert check("\n```\n[1, 2]\n```\n", kind="valid_json")[0]
    ok, message = check('Sure! Here it is: {"a": 1}', kind="valid_json")
    assert not ok and message.startswith("output is not JSON (Expecting value at line 1)")


def test_json_schema() -> None:
    schema = {
        "type": "object",
        "required": ["ticketId", "issueSummary"],
        "properties": {"ticketId": {"type": "string"}, "issueSummary": {"type": "string", "maxLength": 10}},
    }
    assert check('{"ticketId": "7", "issueSummary": "late"}', kind="json_schema", schema=schema)[0]
    ok, message = check('{"ticketId": 7, "issueSummary": "far too long a summary"}', kind="json_schema", schema=schema)
    assert not ok
    assert message.startswith("output does not match the schema: ")
    assert "issueSummary: 'far too long a summary' is too long" in message
    assert "ticketId: 7 is not of type 'string'" in message
    ok, message = check("not json", kind="json_schema", schema=schema)
    assert not ok and message.startswith("output is not JSON")


def test_max_length() -> None:
    assert check("  12345  ", kind="max_length", value=5)[0]
    ok, message = check("123456", kind="max_length", value=5)
    assert not ok and message == "output is 6 chars (limit 5)"
    assert check("one two three", kind="max_length", value=3, unit="words")[0]
    assert not check("one two three four", kind="max_length", value=3, unit="words")[0]


def test_every_assertion_is_evaluated() -> None:
    assertions = [ASSERTION.validate_python(a) for a in ({"contains": "x"}, {"max_length": 1}, {"contains": "y"})]
    results = evaluate_assertions("xy", assertions)
    assert [r.passed for r in results] == [True, False, True]


def test_bad_json_schema_is_rejected_when_the_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nversion: 1\ntemplate: hi\ntests:\n  - name: t\n    assertions:\n"
        "      - json_schema: {type: nonsense}\n",
        encoding="utf-8",
    )
    from mcp_suite.servers.prompts.spec import PromptFileError

    with pytest.raises(PromptFileError, match=r"s.yaml:7: .*not a valid JSON Schema"):
        load_prompt_file(path)


# ── the runner ────────────────────────────────────────────────────────────────────────────────


@pytest.mark.anyio
async def test_render_only_run_checks_every_case_renders(tmp_path: Path) -> None:
    library = load_library(EXAMPLES)
    report = await run_golden(library.prompts)
    # Every example case asserts something on an output: rendering them checks none of that.
    assert report.mode == "render-only" and not report.passed and report.failed == 0
    assert report.cases and all(c.status == "not run" for c in report.cases)
    assert report.counts["not run"] == len(report.cases) and report.counts["passed"] == 0
    seed = next(v for v in report.versions if (v.name, v.version) == ("SummarizeSupportTicket", "1"))
    assert seed.cases == 0 and seed.ok

    (tmp_path / "p.yaml").write_text(
        "name: p\nversion: 1\ninput_variables: [a]\ntemplate: '{{ a }}'\n"
        "tests:\n  - name: fine\n    inputs: {a: x}\n  - name: forgot_input\n"
        "  - name: asserts\n    inputs: {a: x}\n    assertions: [{contains: x}]\n",
        encoding="utf-8",
    )
    report = await run_golden(load_library(tmp_path).prompts)
    assert not report.passed and report.failed == 1
    assert [(c.case, c.status) for c in report.cases] == [
        ("fine", "rendered"),
        ("forgot_input", "error"),
        ("asserts", "not run"),
    ]
    assert "needs variable 'a'" in (report.cases[1].error or "")
    [version] = report.versions
    assert (version.cases, version.passed, version.failed, version.not_run) == (3, 1, 1, 1)
    assert report.counts == {"passed": 0, "failed": 0, "error": 1, "rendered": 1, "not run": 1}


def two_versions(tmp_path: Path) -> list[Any]:
    for version, model in (("1", "old-model"), ("2", "new-model")):
        (tmp_path / f"v{version}.yaml").write_text(
            f"""\
name: Classify
version: {version}
input_variables: [text]
execution_settings: {{model: {model}, temperature: 0, max_tokens: 5, seed: 7}}
messages:
  - role: system
    content: Answer spam or ham.
  - role: user
    content: "{{{{ text | fence }}}}"
tests:
  - name: spam
    inputs: {{text: "WIN A FREE CRUISE"}}
    assertions: [{{equals: spam, ignore_case: true}}]
  - name: ham
    inputs: {{text: "Lunch at noon?"}}
    assertions: [{{equals: ham}}, {{max_length: 3}}]
""",
            encoding="utf-8",
        )
    return load_library(tmp_path).prompts


class Peer:
    """An OpenAI-compatible endpoint: the old model calls everything spam, the new one reads the text."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        text = body["messages"][-1]["content"]
        answer = "Spam" if body["model"] == "old-model" or "CRUISE" in text else "ham"
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": answer}}]})


@pytest.mark.anyio
async def test_run_against_an_openai_compatible_peer_compares_versions(tmp_path: Path) -> None:
    peer = Peer()
    async with httpx.AsyncClient(transport=httpx.MockTransport(peer)) as client:
        complete = openai_complete("http://llm.test/v1", api_key="sk-test", client=client)
        report = await run_golden(two_versions(tmp_path), complete)

    assert report.mode == "model" and not report.passed
    assert [(c.version, c.case, c.status) for c in report.cases] == [
        ("1", "spam", "passed"),
        ("1", "ham", "failed"),
        ("2", "spam", "passed"),
        ("2", "ham", "passed"),
    ]
    failed = report.cases[1]
    assert failed.output == "Spam"
    assert [(a.kind, a.passed) for a in failed.assertions] == [("equals", False), ("max_length", False)]
    assert [(v.version, v.passed, v.failed) for v in report.versions] == [("1", 1, 1), ("2", 2, 0)]

    # What went over the wire: the URL, the key, the prompt's settings (extras included), the fenced input.
    request = peer.requests[0]
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    bodies = [json.loads(r.content) for r in peer.requests]
    first = next(b for b in bodies if b["model"] == "old-model" and "CRUISE" in b["messages"][1]["content"])
    assert first["temperature"] == 0 and first["max_tokens"] == 5 and first["seed"] == 7
    assert first["messages"][0] == {"role": "system", "content": "Answer spam or ham."}
    assert first["messages"][1]["content"].startswith('<untrusted-input name="input" id="')


@pytest.mark.anyio
async def test_model_override(tmp_path: Path) -> None:
    peer = Peer()
    async with httpx.AsyncClient(transport=httpx.MockTransport(peer)) as client:
        complete = openai_complete("http://localhost:11434", model="new-model", client=client)
        report = await run_golden(two_versions(tmp_path), complete)
    assert report.passed
    assert {json.loads(r.content)["model"] for r in peer.requests} == {"new-model"}
    assert "authorization" not in peer.requests[0].headers
    assert peer.requests[0].url.path == "/v1/chat/completions"


def test_chat_completions_url() -> None:
    assert chat_completions_url("http://localhost:11434") == "http://localhost:11434/v1/chat/completions"
    assert chat_completions_url("https://api.openai.com/v1/") == "https://api.openai.com/v1/chat/completions"
    assert chat_completions_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


MESSAGES = [PromptMessage(role="user", content="hi")]
SETTINGS = ExecutionSettings(model="m")


async def call(handler: Any, settings: ExecutionSettings = SETTINGS, **kwargs: Any) -> str:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        complete = openai_complete("http://llm.test", client=client, retry_delay=0, **kwargs)
        return await complete(MESSAGES, settings)


@pytest.mark.anyio
async def test_http_error_carries_the_peer_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})

    with pytest.raises(CompletionError, match=r"answered HTTP 401: Incorrect API key provided"):
        await call(handler)


@pytest.mark.anyio
async def test_overload_is_retried_then_succeeds() -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) < 3:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"choices": [{"message": {"content": "done"}}]})

    assert await call(handler) == "done"
    assert len(attempts) == 3


@pytest.mark.anyio
async def test_overload_gives_up_after_the_retries() -> None:
    attempts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return httpx.Response(429, json={"error": {"message": "Rate limit reached"}})

    with pytest.raises(CompletionError, match="HTTP 429: Rate limit reached"):
        await call(handler, max_retries=1)
    assert len(attempts) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (httpx.ReadTimeout("slow"), "no answer from http://llm.test/v1/chat/completions within 3 s"),
        (httpx.ConnectError("refused"), "cannot reach http://llm.test/v1/chat/completions: refused"),
    ],
)
async def test_transport_failures(exc: Exception, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(CompletionError, match=message):
        await call(handler, timeout=3, max_retries=0)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(200, text="<html>proxy login</html>"), "did not answer like an OpenAI chat completion"),
        (httpx.Response(200, json={"choices": []}), "did not answer like an OpenAI chat completion"),
        (
            httpx.Response(200, json={"choices": [{"message": {"content": None}, "finish_reason": "content_filter"}]}),
            "no text content .finish_reason='content_filter'",
        ),
    ],
)
async def test_unusable_answers(response: httpx.Response, message: str) -> None:
    with pytest.raises(CompletionError, match=message):
        await call(lambda request: response)


@pytest.mark.anyio
async def test_no_model_anywhere() -> None:
    with pytest.raises(CompletionError, match=r"pass --model or set execution_settings\.model"):
        await call(lambda request: httpx.Response(200), settings=ExecutionSettings())


@pytest.mark.anyio
async def test_a_failing_call_fails_its_case_and_the_run_goes_on(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "CRUISE" in request.content.decode():
            return httpx.Response(500, json={"error": "model crashed"})
        return httpx.Response(200, json={"choices": [{"message": {"content": "ham"}}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        complete = openai_complete("http://llm.test", client=client, max_retries=0)
        report = await run_golden(two_versions(tmp_path), complete)
    statuses = [(c.version, c.case, c.status) for c in report.cases]
    assert statuses == [("1", "spam", "error"), ("1", "ham", "passed"), ("2", "spam", "error"), ("2", "ham", "passed")]
    assert report.cases[0].error == "http://llm.test/v1/chat/completions answered HTTP 500: model crashed"


# ── model-graded assertions and the output contract ──────────────────────────────────────────


def graded_prompt(tmp_path: Path) -> Any:
    (tmp_path / "g.yaml").write_text(
        """\
name: Support
version: 1
input_variables: [ticket]
execution_settings: {model: answer-model}
output_schema: {type: object, required: [summary]}
template: "Summarise: {{ ticket }}"
tests:
  - name: export
    inputs: {ticket: export broken}
    assertions:
      - rubric: mentions the export
      - similar: {value: "Since today the CSV export fails with an internal server error.", threshold: 0.5}
""",
        encoding="utf-8",
    )
    return load_library(tmp_path).prompts


@pytest.mark.anyio
async def test_rubric_similar_and_output_schema_on_a_good_answer(tmp_path: Path) -> None:
    asked: list[tuple[list[PromptMessage], ExecutionSettings]] = []
    answer = '{"summary": "The export button returns a 500 error since this morning."}'

    async def model(messages: list[PromptMessage], settings: ExecutionSettings) -> str:
        asked.append((messages, settings))
        if messages[0].content.startswith("You grade"):
            graded = "export" in messages[1].content
            return json.dumps({"pass": graded, "reason": "it names the export" if graded else "no export"})
        return answer

    report = await run_golden(graded_prompt(tmp_path), model)
    [case] = report.cases
    assert case.status == "passed", case.assertions
    rubric, similar, schema = case.assertions
    assert (rubric.kind, rubric.passed, rubric.message) == ("rubric", True, "judge: pass — it names the export")
    assert similar.kind == "similar" and similar.passed and "at least the threshold 0.5" in similar.message
    assert (schema.kind, schema.passed) == ("output_schema", True)
    judge_messages, judge_settings = asked[1]
    assert "Rubric:\nmentions the export" in judge_messages[1].content and answer in judge_messages[1].content
    assert judge_settings.model == "answer-model" and judge_settings.temperature == 0


@pytest.mark.anyio
async def test_rubric_similar_and_output_schema_on_a_bad_answer(tmp_path: Path) -> None:
    async def model(messages: list[PromptMessage], settings: ExecutionSettings) -> str:
        if messages[0].content.startswith("You grade"):
            return "I think it is fine"  # not the verdict asked for
        return "Quarterly revenue grew 12 percent."

    async def judge(messages: list[PromptMessage], settings: ExecutionSettings) -> str:
        assert settings.model == "judge-model"
        return '```json\n{"pass": false, "reason": "says nothing about the export"}\n```'

    report = await run_golden(graded_prompt(tmp_path), model)
    rubric, similar, schema = report.cases[0].assertions
    assert report.cases[0].status == "failed"
    assert not rubric.passed and "did not answer with a verdict" in rubric.message
    assert not similar.passed and "below the threshold 0.5" in similar.message
    assert not schema.passed and "output is not JSON" in schema.message

    report = await run_golden(graded_prompt(tmp_path), model, graders=Graders(judge=judge, judge_model="judge-model"))
    rubric = report.cases[0].assertions[0]
    assert (rubric.passed, rubric.message) == (False, "judge: fail — says nothing about the export")


@pytest.mark.anyio
async def test_model_graded_assertions_are_not_run_without_a_model(tmp_path: Path) -> None:
    report = await run_golden(graded_prompt(tmp_path))
    assert [c.status for c in report.cases] == ["not run"] and not report.cases[0].assertions


def test_assertion_shorthands_and_bad_values(tmp_path: Path) -> None:
    assert ASSERTION.validate_python({"rubric": "is polite"}).kind == "rubric"
    similar = ASSERTION.validate_python({"similar": {"value": "x", "threshold": 0.9}})
    assert similar.kind == "similar" and similar.threshold == 0.9  # type: ignore[union-attr]
    assert ASSERTION.validate_python({"similar": "x"}).threshold == 0.8  # type: ignore[union-attr]
    path = tmp_path / "bad.yaml"
    path.write_text("name: s\nversion: 1\ntemplate: hi\noutput_schema: {type: nonsense}\n", encoding="utf-8")
    from mcp_suite.servers.prompts.spec import PromptFileError

    with pytest.raises(PromptFileError, match=r"bad.yaml:4: output_schema: not a valid JSON Schema"):
        load_prompt_file(path)
    path.write_text(
        "name: s\nversion: 1\ntemplate: hi\ntests: [{name: t, assertions: [{similar: {value: x, threshold: 2}}]}]\n"
    )
    with pytest.raises(PromptFileError, match=r"threshold"):
        load_prompt_file(path)


@pytest.mark.anyio
async def test_the_examples_similarity_threshold_separates_a_good_answer_from_an_unrelated_one() -> None:
    [explain] = [p for p in load_library(EXAMPLES).prompts if p.spec.name == "ExplainError"]
    good = (
        "**What it means**: Python raised KeyError because config has no database_url entry. **Likely causes**: "
        'config.json lacks the key. **How to fix**: add database_url to config.json or use config.get("database_url").'
    )
    unrelated = "**What it means**: port 3000 is already used by another process. Stop it or pick another port."
    [similar] = [a for a in explain.spec.tests[0].assertions if a.kind == "similar"]
    graders = Graders()
    from mcp_suite.servers.prompts.golden import evaluate_output

    assert (await evaluate_output(good, [similar], explain.spec, graders))[0].passed
    assert not (await evaluate_output(unrelated, [similar], explain.spec, graders))[0].passed
