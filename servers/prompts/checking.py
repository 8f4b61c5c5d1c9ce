"""The CI gate for a prompt library: every problem with its file and line, and a per-prompt summary.

:func:`check_library` reports

* files that do not load (YAML syntax, schema, duplicate keys) — errors at the offending line;
* templates that do not compile — errors at the template line;
* variables a template reads but the file does not declare — errors at the first use;
* variables declared but never read — warnings at the declaration;
* two files with the same ``name`` + ``version`` — an error naming both files;
* golden cases that do not render with their inputs — errors at the case;
* a ``prices.yaml`` that is not a valid price table — an error;
* with a registry to compare with, content changed under an already-published version — an error
  at its ``version:`` line (drafts of unpublished versions may change freely).

Token estimate: :func:`estimate_tokens` counts one token per word or punctuation mark plus one
more for every further 8 characters of a long word, and :func:`prompt_token_estimate` adds four
tokens of framing per message. That lands near BPE tokenizers (GPT, Claude, Llama: about 1.3
tokens per English word once punctuation is counted) without shipping a tokenizer — a figure for
comparing versions and spotting bloat, not for billing. A prompt's estimate is its fixed text: the
templates with ``{{ … }}``, ``{% … %}`` and ``{# … #}`` removed, i.e. what every call costs before
variables are filled in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mcp_suite.servers.prompts.prices import PRICE_FILE, load_prices
from mcp_suite.servers.prompts.rendering import (
    TemplateRenderError,
    parse_errors,
    render_prompt,
    used_variables,
)
from mcp_suite.servers.prompts.spec import LoadedPrompt, PromptFileError, PromptSpec, load_library
from mcp_suite.shared.errors import InvalidInputError

Severity = Literal["error", "warning"]
_WORD = re.compile(r"\w+|[^\w\s]")
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
MESSAGE_OVERHEAD_TOKENS = 4


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 1}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class PromptSummary:
    name: str
    version: str
    file: str
    variables: int
    messages: int
    golden_cases: int
    token_estimate: int
    max_tokens: int | None


@dataclass
class CheckReport:
    problems: list[Problem] = field(default_factory=list)
    prompts: list[PromptSummary] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


def estimate_tokens(text: str) -> int:
    """A rough BPE token count (see the module docstring); no tokenizer download needed."""
    return sum(1 + (len(piece) - 1) // 8 for piece in _WORD.findall(text))


def prompt_token_estimate(spec: PromptSpec) -> int:
    """The fixed cost of ``spec``: its templates without Jinja2 expressions, plus per-message framing."""
    messages = spec.as_messages()
    return sum(estimate_tokens(_JINJA.sub(" ", m.content)) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def check_prompt(loaded: LoadedPrompt) -> list[Problem]:
    """Problems of one prompt that loaded (templates, variables, golden cases)."""
    spec, file = loaded.spec, str(loaded.path)
    problems = [Problem(file, exc.line, "error", exc.detail) for exc in parse_errors(spec)]
    if problems:
        return problems  # variables and golden cases cannot be judged on a template that does not compile

    used = used_variables(spec)
    declared = {v.name for v in spec.input_variables}
    for name, line in used.items():
        if name not in declared:
            problems.append(
                Problem(file, line, "error", f"template uses variable '{name}' but input_variables does not declare it")
            )
    for index, variable in enumerate(spec.input_variables):
        if variable.name not in used:
            problems.append(
                Problem(
                    file,
                    spec.line_of(f"input_variables.{index}"),
                    "warning",
                    f"variable '{variable.name}' is declared but no template uses it",
                )
            )

    if any(p.severity == "error" for p in problems):
        return problems
    for index, case in enumerate(spec.tests):
        try:
            render_prompt(spec, case.inputs)
        except InvalidInputError as exc:
            detail = exc.detail if isinstance(exc, TemplateRenderError) else str(exc)
            problems.append(
                Problem(
                    file,
                    spec.line_of(f"tests.{index}"),
                    "error",
                    f"golden case '{case.name}' does not render: {detail}",
                )
            )
    return problems


def _price_table_problems(folder: Path) -> list[Problem]:
    try:
        load_prices(folder / PRICE_FILE)
    except PromptFileError as exc:
        return [Problem(exc.path, issue.line, "error", issue.message) for issue in exc.issues]
    return []


def check_library(folder: str | Path, published: Mapping[tuple[str, str], str] | None = None) -> CheckReport:
    """Check every prompt file under ``folder``; see the module docstring for what is reported.

    ``published`` — (name, version) → content hash of a registry's published versions: a file whose
    content changed under a published version is an error at its ``version:`` line.
    """
    library = load_library(folder)
    report = CheckReport()
    for error in library.errors:
        report.problems += [Problem(error.path, issue.line, "error", issue.message) for issue in error.issues]
    report.problems += _price_table_problems(Path(folder))
    for loaded in library.prompts if published is not None else []:
        stored = published.get((loaded.spec.name, loaded.spec.version)) if published is not None else None
        if stored is not None and stored != loaded.content_hash:
            report.problems.append(
                Problem(
                    str(loaded.path),
                    loaded.spec.line_of("version"),
                    "error",
                    f"{loaded.spec.name} version {loaded.spec.version} is already published with different content "
                    f"(registry {stored[:12]}, this file {loaded.content_hash[:12]}); published versions are "
                    "immutable: bump `version:` (or revert the change)",
                )
            )

    first_seen: dict[tuple[str, str], LoadedPrompt] = {}
    for loaded in library.prompts:
        spec = loaded.spec
        key = (spec.name, spec.version)
        if key in first_seen:
            report.problems.append(
                Problem(
                    str(loaded.path),
                    spec.line_of("version"),
                    "error",
                    f"{spec.name} version {spec.version} is also defined in {first_seen[key].path}; "
                    "give one of them a new version",
                )
            )
        else:
            first_seen[key] = loaded
        report.problems += check_prompt(loaded)
        report.prompts.append(
            PromptSummary(
                name=spec.name,
                version=spec.version,
                file=str(loaded.path),
                variables=len(spec.input_variables),
                messages=len(spec.as_messages()),
                golden_cases=len(spec.tests),
                token_estimate=prompt_token_estimate(spec),
                max_tokens=spec.execution_settings.max_tokens,
            )
        )
    report.problems.sort(key=lambda p: (p.file, p.line or 0, p.severity))
    return report
