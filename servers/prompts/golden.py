"""Golden cases: evaluating assertions, running a library's cases against a model, and an OpenAI-compatible client.

A *completion function* — ``async (messages, execution_settings) -> str`` — is how a model is
plugged in: :func:`openai_complete` builds one for any ``/v1/chat/completions`` endpoint (OpenAI,
Ollama, vLLM, llama.cpp, LM Studio …); the server plugs in MCP sampling the same way. A completion
function reports a failed call by raising :class:`mcp_suite.shared.errors.SuiteError` (e.g.
:class:`CompletionError`); that fails the one case and the run goes on.

Without a completion function :func:`run_golden` is a render-only check: every case must render
with its inputs (the offline CI gate). Nothing is claimed about what was not checked: a case with
assertions (or a prompt with an ``output_schema``) is reported ``not run``, a case without them
``rendered``.

Model-graded assertions: ``rubric`` asks a *judge* (a completion function, by default the one that
produced the output) for a JSON verdict ``{"pass": …, "reason": …}`` and reports the reason;
``similar`` embeds the output and the reference answer (the suite's offline ``wordllama`` embedder
unless another is given) and compares their cosine similarity with the threshold. A prompt's
``output_schema`` is checked on every output as one more assertion.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import anyio

from mcp_suite.servers.prompts.rendering import render_prompt
from mcp_suite.servers.prompts.spec import (
    Assertion,
    ContainsAssertion,
    EqualsAssertion,
    ExecutionSettings,
    JsonSchemaAssertion,
    LoadedPrompt,
    MaxLengthAssertion,
    NotContainsAssertion,
    PromptMessage,
    PromptSpec,
    RegexAssertion,
    RubricAssertion,
    SimilarAssertion,
    ValidJsonAssertion,
)
from mcp_suite.shared.embeddings import Embedder, EmbeddingError, WordLlamaEmbedder
from mcp_suite.shared.errors import InvalidInputError, SuiteError
from mcp_suite.shared.http import RetryPolicy, borrowed, request

if TYPE_CHECKING:
    import httpx

Complete = Callable[[list[PromptMessage], ExecutionSettings], Awaitable[str]]
CaseStatus = Literal["passed", "failed", "error", "rendered", "not run"]
STATUSES: tuple[CaseStatus, ...] = ("passed", "failed", "error", "rendered", "not run")
_EXCERPT = 160


class CompletionError(SuiteError):
    """A model endpoint call failed (unreachable, timed out, refused, or answered with something unusable)."""


# ── assertions ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class AssertionResult:
    kind: str
    passed: bool
    message: str


def _excerpt(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…")


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


_CODE_FENCE = re.compile(r"^```[\w+-]*[ \t]*\n(.*)\n[ \t]*```$", re.DOTALL)


def parse_json_output(output: str) -> Any:
    """Parse a model's JSON answer; one surrounding Markdown code fence (```json … ```) is tolerated."""
    text = output.strip()
    fenced = _CODE_FENCE.match(text)
    return json.loads(fenced.group(1) if fenced else text)


def _evaluate(output: str, assertion: Assertion) -> AssertionResult:
    kind = assertion.kind
    if isinstance(assertion, EqualsAssertion):
        ok = _fold(output.strip(), assertion.ignore_case) == _fold(assertion.value.strip(), assertion.ignore_case)
        return AssertionResult(kind, ok, f"expected {_excerpt(assertion.value)}, got {_excerpt(output)}")
    if isinstance(assertion, ContainsAssertion | NotContainsAssertion):
        found = _fold(assertion.value, assertion.ignore_case) in _fold(output, assertion.ignore_case)
        wanted = isinstance(assertion, ContainsAssertion)
        verb = "contains" if found else "does not contain"
        return AssertionResult(kind, found == wanted, f"output {verb} {assertion.value!r}")
    if isinstance(assertion, RegexAssertion):
        flags = (re.IGNORECASE if assertion.ignore_case else 0) | (re.MULTILINE if assertion.multiline else 0)
        match = re.search(assertion.pattern, output, flags)
        verb = "matches" if match else "does not match"
        return AssertionResult(kind, match is not None, f"output {verb} /{assertion.pattern}/")
    if isinstance(assertion, ValidJsonAssertion | JsonSchemaAssertion):
        try:
            value = parse_json_output(output)
        except json.JSONDecodeError as exc:
            return AssertionResult(
                kind, False, f"output is not JSON ({exc.msg} at line {exc.lineno}): {_excerpt(output)}"
            )
        if isinstance(assertion, ValidJsonAssertion):
            return AssertionResult(kind, True, "output is valid JSON")
        return _schema_result(value, assertion.schema_)
    if isinstance(assertion, MaxLengthAssertion):
        text = output.strip()
        size = len(text.split()) if assertion.unit == "words" else len(text)
        ok = size <= assertion.value
        return AssertionResult(kind, ok, f"output is {size} {assertion.unit} (limit {assertion.value})")
    if isinstance(assertion, RubricAssertion | SimilarAssertion):
        return AssertionResult(kind, False, f"{kind} needs a judge model or an embedder: run it with run_golden")
    raise AssertionError(f"unhandled assertion kind {kind}")  # the discriminated union makes this unreachable


def _schema_result(value: Any, schema: dict[str, Any]) -> AssertionResult:
    from jsonschema import Draft202012Validator  # only schema assertions need it (a slow import)

    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return AssertionResult("json_schema", True, "output matches the JSON schema")
    described = [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return AssertionResult("json_schema", False, "output does not match the schema: " + "; ".join(described) + more)


def evaluate_assertions(output: str, assertions: Sequence[Assertion]) -> list[AssertionResult]:
    """Check ``output`` against each deterministic assertion; every one is evaluated (no short-circuit)."""
    return [_evaluate(output, assertion) for assertion in assertions]


JUDGE_SYSTEM = (
    "You grade an AI assistant's answer against a rubric. Judge only what the rubric asks. Reply with one JSON "
    'object and nothing else: {"pass": true or false, "reason": "one short sentence"}.'
)
JUDGE_SETTINGS = ExecutionSettings(temperature=0, max_tokens=300)


@dataclass
class Graders:
    """What model-graded assertions need: a judge for ``rubric``, an embedder for ``similar``."""

    judge: Complete | None = None
    judge_model: str | None = None
    """Model the judge is asked for (default: the prompt's own ``execution_settings.model``)."""
    embedder: Embedder | None = None

    def embedding(self) -> Embedder:
        if self.embedder is None:
            self.embedder = _default_embedder()
        return self.embedder


@lru_cache(maxsize=1)
def _default_embedder() -> Embedder:
    """The built-in offline embedder, loaded once per process (its model is 16 MB)."""
    return WordLlamaEmbedder()


async def _judge(output: str, assertion: RubricAssertion, spec: PromptSpec, graders: Graders) -> AssertionResult:
    if graders.judge is None:
        return AssertionResult("rubric", False, "no judge model to grade the rubric")
    messages = [
        PromptMessage(role="system", content=JUDGE_SYSTEM),
        PromptMessage(
            role="user", content=f"Rubric:\n{assertion.rubric}\n\nAnswer to grade:\n<answer>\n{output}\n</answer>"
        ),
    ]
    settings = JUDGE_SETTINGS.model_copy(update={"model": graders.judge_model or spec.execution_settings.model})
    try:
        verdict_text = await graders.judge(messages, settings)
    except SuiteError as exc:
        return AssertionResult("rubric", False, f"the judge could not be asked: {exc}")
    try:
        verdict = parse_json_output(verdict_text)
        passed, reason = verdict["pass"], str(verdict.get("reason") or "no reason given")
        if not isinstance(passed, bool):
            raise TypeError(passed)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return AssertionResult("rubric", False, f"the judge did not answer with a verdict: {_excerpt(verdict_text)}")
    return AssertionResult("rubric", passed, f"judge: {'pass' if passed else 'fail'} — {reason}")


async def _similar(output: str, assertion: SimilarAssertion, graders: Graders) -> AssertionResult:
    try:
        vectors = await graders.embedding().embed([output, assertion.value])
    except EmbeddingError as exc:
        return AssertionResult("similar", False, f"could not embed the output: {exc}")
    score = float(vectors[0] @ vectors[1])
    verb = "at least" if score >= assertion.threshold else "below"
    return AssertionResult(
        "similar",
        score >= assertion.threshold,
        f"similarity to the reference {score:.3f}, {verb} the threshold {assertion.threshold:g}",
    )


async def evaluate_output(
    output: str, assertions: Sequence[Assertion], spec: PromptSpec, graders: Graders
) -> list[AssertionResult]:
    """Every assertion of a case, model-graded ones included, plus the prompt's ``output_schema``."""
    results: list[AssertionResult] = []
    for assertion in assertions:
        if isinstance(assertion, RubricAssertion):
            results.append(await _judge(output, assertion, spec, graders))
        elif isinstance(assertion, SimilarAssertion):
            results.append(await _similar(output, assertion, graders))
        else:
            results.append(_evaluate(output, assertion))
    if spec.output_schema is not None:
        try:
            value = parse_json_output(output)
        except json.JSONDecodeError as exc:
            results.append(AssertionResult("output_schema", False, f"output is not JSON ({exc.msg})"))
        else:
            checked = _schema_result(value, spec.output_schema)
            results.append(AssertionResult("output_schema", checked.passed, checked.message))
    return results


# ── running cases ─────────────────────────────────────────────────────────────────────────────


@dataclass
class CaseResult:
    prompt: str
    version: str
    case: str
    status: CaseStatus
    file: str | None = None
    assertions: list[AssertionResult] = field(default_factory=list)
    output: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    latency_ms: float | None = None

    @property
    def passed(self) -> bool:
        """Checked and fine: its assertions held (or, with nothing to assert, it rendered)."""
        return self.status in ("passed", "rendered")

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "error")


@dataclass
class VersionResult:
    """The A/B readout for one ``name``:``version``: its golden cases by status."""

    name: str
    version: str
    cases: int
    passed: int
    """Cases checked and fine (``passed``, or ``rendered`` when they assert nothing)."""
    failed: int
    """Cases ``failed`` or in ``error``."""
    not_run: int = 0
    """Cases whose assertions were not checked (no model)."""

    @property
    def ok(self) -> bool:
        return self.failed == 0


@dataclass
class GoldenReport:
    mode: Literal["model", "render-only"]
    cases: list[CaseResult] = field(default_factory=list)
    versions: list[VersionResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Every case was checked and is fine (a case not run is not a pass)."""
        return all(case.passed for case in self.cases)

    @property
    def failed(self) -> int:
        return sum(case.failed for case in self.cases)

    @property
    def counts(self) -> dict[CaseStatus, int]:
        """Cases per status, every status listed."""
        return {status: sum(c.status == status for c in self.cases) for status in STATUSES}


async def _run_case(
    spec: PromptSpec, file: str | None, index: int, complete: Complete | None, limiter: Any, graders: Graders
) -> CaseResult:
    case = spec.tests[index]
    result = CaseResult(prompt=spec.name, version=spec.version, case=case.name, status="error", file=file)
    try:
        rendered = render_prompt(spec, case.inputs)
    except InvalidInputError as exc:
        result.error = f"does not render: {exc}"
        return result
    result.warnings = rendered.warnings
    if complete is None:
        result.status = "not run" if case.assertions or spec.output_schema is not None else "rendered"
        return result
    started = time.perf_counter()
    try:
        async with limiter:
            output = await complete(rendered.messages, spec.execution_settings)
    except SuiteError as exc:
        result.error = str(exc)
        return result
    finally:
        result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    result.output = output
    result.assertions = await evaluate_output(output, case.assertions, spec, graders)
    result.status = "passed" if all(a.passed for a in result.assertions) else "failed"
    return result


async def run_golden(
    prompts: Sequence[LoadedPrompt | PromptSpec],
    complete: Complete | None = None,
    *,
    concurrency: int = 4,
    graders: Graders | None = None,
) -> GoldenReport:
    """Run every golden case of ``prompts``; with ``complete=None`` only check that each case renders.

    ``graders`` serve ``rubric`` and ``similar`` assertions (default: ``complete`` judges, the built-in
    embedder embeds). Results come back in input order (prompt, then case), whatever order the model
    answered in.
    """
    graders = graders or Graders()
    if graders.judge is None:
        graders.judge = complete
    limiter = anyio.CapacityLimiter(max(1, concurrency))
    jobs: list[tuple[PromptSpec, str | None, int]] = []
    for item in prompts:
        spec, file = (item.spec, str(item.path)) if isinstance(item, LoadedPrompt) else (item, None)
        jobs += [(spec, file, i) for i in range(len(spec.tests))]
    results: list[CaseResult | None] = [None] * len(jobs)

    async def run(slot: int) -> None:
        spec, file, index = jobs[slot]
        results[slot] = await _run_case(spec, file, index, complete, limiter, graders)

    async with anyio.create_task_group() as group:
        for slot in range(len(jobs)):
            group.start_soon(run, slot)

    report = GoldenReport(mode="render-only" if complete is None else "model")
    report.cases = [r for r in results if r is not None]
    for item in prompts:
        spec = item.spec if isinstance(item, LoadedPrompt) else item
        mine = [c for c in report.cases if c.prompt == spec.name and c.version == spec.version]
        report.versions.append(
            VersionResult(
                spec.name,
                spec.version,
                len(mine),
                passed=sum(c.passed for c in mine),
                failed=sum(c.failed for c in mine),
                not_run=sum(c.status == "not run" for c in mine),
            )
        )
    return report


# ── an OpenAI-compatible model endpoint ───────────────────────────────────────────────────────


def chat_completions_url(base_url: str) -> str:
    """``http://host:11434`` and ``http://host:11434/v1`` both mean ``…/v1/chat/completions``."""
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return f"{base}/chat/completions" if re.search(r"/v\d+$", base) else f"{base}/v1/chat/completions"


def openai_complete(
    base_url: str,
    api_key: str | None = None,
    model: str | None = None,
    client: httpx.AsyncClient | None = None,
    *,
    timeout: float = 120.0,
    max_retries: int = 2,
    retry_delay: float = 0.5,
) -> Complete:
    """A completion function for an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    ``model`` overrides each prompt's ``execution_settings.model`` (useful when a prompt names a
    hosted model but the run targets a local one). Temperature, max_tokens and any extra settings
    (``top_p``, ``stop``, ``response_format`` …) are sent as they are. Rate limits, overloaded gateways,
    connect errors and timeouts are retried ``max_retries`` times by the suite's policy
    (:mod:`mcp_suite.shared.http`: backoff from ``retry_delay`` with jitter, ``Retry-After`` honoured); every
    failure becomes a :class:`CompletionError` saying what happened. Pass the command's ``client`` so every
    call shares one connection pool.
    """
    import httpx  # only direct model calls (the CLI's --model) need it, not sampling through the host

    url = chat_completions_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    policy = RetryPolicy(attempts=max_retries + 1, backoff=retry_delay)

    async def post(http: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
        # The golden case is judged on one answer; asking again for it is safe (nothing is stored upstream).
        try:
            return await request(
                http, "POST", url, json=body, headers=headers, timeout=timeout, retry_safe=True, policy=policy
            )
        except httpx.TimeoutException:
            raise CompletionError(f"no answer from {url} within {timeout:g} s") from None
        except httpx.TransportError as exc:
            raise CompletionError(f"cannot reach {url}: {exc or type(exc).__name__}; is the server running?") from None

    async def complete(messages: list[PromptMessage], settings: ExecutionSettings) -> str:
        chosen = model or settings.model
        if not chosen:
            raise CompletionError("no model to call: pass --model or set execution_settings.model in the prompt")
        body: dict[str, Any] = {
            **settings.extras,
            "model": chosen,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if settings.temperature is not None:
            body["temperature"] = settings.temperature
        if settings.max_tokens is not None:
            body["max_tokens"] = settings.max_tokens
        async with borrowed(client, timeout=timeout) as http:
            response = await post(http, body)
        return _content(url, response)

    return complete


def _content(url: str, response: httpx.Response) -> str:
    if response.status_code >= 400:
        raise CompletionError(f"{url} answered HTTP {response.status_code}: {_error_text(response)}")
    try:
        payload = response.json()
        content = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise CompletionError(f"{url} did not answer like an OpenAI chat completion: {response.text[:200]!r}") from None
    if not isinstance(content, str):
        # A refusal or tool call has no text content; the golden case cannot be judged on it.
        raise CompletionError(f"{url} returned no text content (finish_reason={_finish_reason(payload)!r})")
    return content


def _finish_reason(payload: Any) -> Any:
    try:
        return payload["choices"][0].get("finish_reason")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if message:
            return str(message)[:300]
    except (ValueError, AttributeError):
        pass
    return response.text[:300] or response.reason_phrase
