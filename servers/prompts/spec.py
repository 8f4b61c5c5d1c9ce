"""Prompt files: the YAML schema, and loading files and folders with errors that point at a line.

A prompt file is one YAML mapping (see ``examples/prompts/``)::

    name: SummarizeSupportTicket
    description: "…"
    version: 1
    tags: [support]
    input_variables:
      - support_ticket_text              # a plain name: required, no description
      - name: output_format
        description: how much detail to return
        required: false
        default: summary
        enum: [summary, detailed]
    execution_settings: {model: "…", temperature: 0.5, max_tokens: 512}
    template: |                          # or `messages:` — a list of {role, content}
      …Jinja2…
    tests:                               # golden cases (optional)
      - name: billing
        inputs: {support_ticket_text: "…"}
        assertions:
          - valid_json: true
          - contains: "ticketId"
          - rubric: names the product the customer is stuck with    # judged by a model
          - similar: {value: "a reference answer", threshold: 0.8}  # embedding similarity
    output_schema: {type: object, required: [ticketId]}         # optional: the answer's JSON contract
    draft: true                          # optional: may change under its version until published

Content hash: :attr:`LoadedPrompt.content_hash` is the SHA-256 of the *validated* prompt written
as canonical JSON (sorted keys, plain-string variables expanded to their full form), not of the
file bytes. Re-indenting the YAML, re-ordering keys or editing comments therefore keeps the
hash — republishing such a file is a no-op — while any change a model or caller could observe
(template text, settings, variables, golden cases) is a new hash. Whitespace *inside* a template
is content and counts.

This module owns parsing only: it never renders (see :mod:`mcp_suite.servers.prompts.rendering`) and never
imports ``mcp``. ``yaml`` is imported lazily so the server starts without it until a library loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.yaml_safe import UnsafeYamlError, check_node

if TYPE_CHECKING:
    import yaml

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-+]*$"
# Variables become Jinja2 names, so they must be identifiers (and not Jinja2 keywords).
_JINJA_KEYWORDS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_FILE_BYTES = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputVariable(_Strict):
    """One argument of a prompt. ``enum`` restricts the value to a list of strings."""

    name: str = Field(description="the Jinja2 variable name, e.g. support_ticket_text")
    description: str = ""
    required: bool = True
    default: Any = None
    enum: list[str] | None = None
    max_chars: int | None = Field(default=None, ge=1, description="per-variable size limit (tighter than the server's)")

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value) or value in _JINJA_KEYWORDS:
            raise ValueError(
                f"variable name {value!r} must be an identifier such as 'ticket_text' (letters, digits, _)"
            )
        return value

    @field_validator("enum", mode="before")
    @classmethod
    def _enum_as_strings(cls, value: Any) -> Any:
        # `enum: [1, 2, 3]` or `[yes, no]` (YAML booleans) are meant as the strings a client sends.
        if isinstance(value, list):
            return [_scalar_text(v) if isinstance(v, bool | int | float) else v for v in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> InputVariable:
        if self.enum is not None:
            if not self.enum:
                raise ValueError(f"variable {self.name!r}: enum must list at least one value")
            if len(set(self.enum)) != len(self.enum):
                raise ValueError(f"variable {self.name!r}: enum lists a value twice")
            if self.default is not None and _scalar_text(self.default) not in self.enum:
                raise ValueError(f"variable {self.name!r}: default {self.default!r} is not one of its enum {self.enum}")
        if self.required and self.default is not None:
            raise ValueError(f"variable {self.name!r} has a default, so it cannot be required; set `required: false`")
        return self


class ExecutionSettings(BaseModel):
    """The model settings a prompt was tested against; extra keys (top_p, stop …) are kept and passed on."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)

    @property
    def extras(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PromptMessage(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str


# ── golden-case assertions ────────────────────────────────────────────────────────────────────


class EqualsAssertion(_Strict):
    """The output equals ``value`` once surrounding whitespace is stripped from both."""

    kind: Literal["equals"] = "equals"
    value: str
    ignore_case: bool = False


class ContainsAssertion(_Strict):
    kind: Literal["contains"] = "contains"
    value: str
    ignore_case: bool = False


class NotContainsAssertion(_Strict):
    kind: Literal["not_contains"] = "not_contains"
    value: str
    ignore_case: bool = False


class RegexAssertion(_Strict):
    """``re.search`` semantics: anchor with ``^``/``$`` (multiline is on when ``multiline: true``)."""

    kind: Literal["regex"] = "regex"
    pattern: str
    ignore_case: bool = False
    multiline: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"regex {value!r} does not compile: {exc}") from None
        return value


class ValidJsonAssertion(_Strict):
    """The output parses as JSON (one surrounding Markdown code fence is tolerated)."""

    kind: Literal["valid_json"] = "valid_json"


class JsonSchemaAssertion(_Strict):
    """The output parses as JSON and validates against ``schema`` (JSON Schema 2020-12)."""

    kind: Literal["json_schema"] = "json_schema"
    schema_: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = _schema_problem(json.dumps(value, sort_keys=True))
        if problem:
            raise ValueError(f"not a valid JSON Schema: {problem}")
        return value


@lru_cache(maxsize=1024)
def _schema_problem(schema_json: str) -> str | None:
    """Why a JSON Schema is invalid, or None. Cached: checking a schema costs ~4 ms and versions repeat them."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as exc:
        return str(exc.message)
    return None


class MaxLengthAssertion(_Strict):
    """The output (stripped) is at most ``value`` characters, or words with ``unit: words``."""

    kind: Literal["max_length"] = "max_length"
    value: int = Field(ge=1)
    unit: Literal["chars", "words"] = "chars"


class RubricAssertion(_Strict):
    """A model (the judge) decides whether the output meets ``rubric``, and says why."""

    kind: Literal["rubric"] = "rubric"
    rubric: str = Field(min_length=1, max_length=4000)


class SimilarAssertion(_Strict):
    """The output means about the same as ``value``, a reference answer: embedding cosine ≥ ``threshold``."""

    kind: Literal["similar"] = "similar"
    value: str = Field(min_length=1, max_length=20_000)
    threshold: float = Field(default=0.8, gt=0, le=1)


_AnyAssertion = Annotated[
    EqualsAssertion
    | ContainsAssertion
    | NotContainsAssertion
    | RegexAssertion
    | ValidJsonAssertion
    | JsonSchemaAssertion
    | MaxLengthAssertion
    | RubricAssertion
    | SimilarAssertion,
    Field(discriminator="kind"),
]
# The short form `- contains: "x"` names the kind as the key; this is the field its value fills.
_SHORTHAND_FIELD = {
    "equals": "value",
    "contains": "value",
    "not_contains": "value",
    "regex": "pattern",
    "valid_json": None,
    "json_schema": "schema",
    "max_length": "value",
    "rubric": "rubric",
    "similar": "value",
}
ASSERTION_KINDS = tuple(_SHORTHAND_FIELD)


def _expand_assertion(value: Any) -> Any:
    if not isinstance(value, dict) or "kind" in value:
        return value
    kinds = [key for key in value if key in _SHORTHAND_FIELD]
    if len(kinds) != 1:
        return value  # let the discriminator report the missing/ambiguous kind
    kind = kinds[0]
    rest = {k: v for k, v in value.items() if k != kind}
    target = _SHORTHAND_FIELD[kind]
    if target is None:
        if value[kind] is not True:
            raise ValueError(f"write `- {kind}: true` (got {value[kind]!r})")
        return {"kind": kind, **rest}
    if isinstance(value[kind], dict) and target != "schema":  # `- max_length: {value: 90, unit: words}`
        return {"kind": kind, **value[kind], **rest}
    return {"kind": kind, target: value[kind], **rest}


# Either `{kind: contains, value: x}` or the short form `{contains: x}`.
Assertion = Annotated[_AnyAssertion, BeforeValidator(_expand_assertion)]


class GoldenCase(_Strict):
    """A curated input and what a good output must satisfy."""

    name: str = Field(min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)
    assertions: list[Assertion] = Field(default_factory=list)

    @field_validator("inputs", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


# ── the prompt ────────────────────────────────────────────────────────────────────────────────


class PromptSpec(_Strict):
    """One version of one prompt, as written in its YAML file."""

    name: str = Field(pattern=NAME_PATTERN, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    description: str = ""
    version: str = Field(pattern=VERSION_PATTERN, max_length=64)
    draft: bool = False
    """A draft may change under its version until it is published (``mcp-suite prompts publish``)."""
    tags: list[str] = Field(default_factory=list)
    input_variables: list[InputVariable] = Field(default_factory=list)
    execution_settings: ExecutionSettings = Field(default_factory=lambda: ExecutionSettings())
    template: str | None = None
    messages: list[PromptMessage] | None = None
    tests: list[GoldenCase] = Field(default_factory=list)
    output_schema: dict[str, Any] | None = None
    """JSON Schema the model's answer must satisfy (checked by golden cases, returned by prompts/get)."""

    # Where the file's template text starts, so render errors can name a file line (set by the loader).
    _path: str | None = PrivateAttr(default=None)
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @field_validator("output_schema")
    @classmethod
    def _valid_output_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        problem = None if value is None else _schema_problem(json.dumps(value, sort_keys=True))
        if problem:
            raise ValueError(f"not a valid JSON Schema: {problem}")
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # `version: 1` is how people write it; the registry compares versions as text.
        return _scalar_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @field_validator("input_variables", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        if isinstance(value, dict):  # `input_variables: {ticket: "what the user wrote", …}`
            return [
                {"name": k, **v} if isinstance(v, dict) else {"name": k, "description": v or ""}
                for k, v in value.items()
            ]
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tag_text(cls, value: Any) -> Any:
        return (
            [_scalar_text(v) if isinstance(v, int | float) else v for v in value] if isinstance(value, list) else value
        )

    @field_validator("execution_settings", "tests", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any, info: Any) -> Any:
        if value is None:
            return [] if info.field_name == "tests" else {}
        return value

    @model_validator(mode="after")
    def _one_body(self) -> PromptSpec:
        if (self.template is None) == (self.messages is None):
            raise ValueError("a prompt needs exactly one of `template` (one user message) or `messages` (a list)")
        if self.template is not None and not self.template.strip():
            raise ValueError("`template` is empty")
        if self.messages is not None and not self.messages:
            raise ValueError("`messages` is empty; give at least one {role, content}")
        names = [v.name for v in self.input_variables]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"input variable(s) declared twice: {', '.join(twice)}")
        cases = [c.name for c in self.tests]
        twice = sorted({n for n in cases if cases.count(n) > 1})
        if twice:
            raise ValueError(f"golden case name(s) used twice: {', '.join(twice)}")
        return self

    @property
    def key(self) -> str:
        """``name:version``, how the registry and reports name one version."""
        return f"{self.name}:{self.version}"

    def variable(self, name: str) -> InputVariable | None:
        return next((v for v in self.input_variables if v.name == name), None)

    def as_messages(self) -> list[PromptMessage]:
        """The unrendered messages; a ``template`` is one user message."""
        if self.template is not None:
            return [PromptMessage(role="user", content=self.template)]
        return list(self.messages or [])

    def canonical(self) -> dict[str, Any]:
        """The content that defines this version (what :func:`content_hash` hashes).

        ``draft`` is a publishing state, not content; optional fields added later are left out while
        unset, so versions published before they existed keep their hash.
        """
        data = self.model_dump(mode="json", by_alias=True, exclude_none=False, exclude={"draft"})
        for later in ("title", "output_schema"):
            if data.get(later) is None:
                data.pop(later, None)
        return data

    def content_hash(self) -> str:
        text = json.dumps(self.canonical(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def file_line(self, message_index: int, template_line: int | None = None) -> int | None:
        """The file line of ``template_line`` (1-based) inside message ``message_index``'s template, if known."""
        start = self._lines.get(f"messages.{message_index}.content") or self._lines.get("template")
        return None if start is None else start + (template_line or 1) - 1

    def locate(self, message_index: int, template_line: int | None = None) -> str:
        """``file:line`` for a line inside message ``message_index``'s template (or the prompt and message)."""
        line = self.file_line(message_index, template_line)
        if self._path is not None and line is not None:
            return f"{self._path}:{line}"
        where = f"prompt {self.key}, message {message_index + 1}"
        return f"{where}, line {template_line}" if template_line else where

    def line_of(self, part: str) -> int | None:
        """The file line of a recorded part: ``input_variables.2``, ``tests.0``, ``version``, ``template`` …"""
        return self._lines.get(part)


# ── loading ───────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class FileIssue:
    line: int | None
    message: str


class PromptFileError(InvalidInputError):
    """A prompt file that cannot be used; ``str()`` is ``file:line: message`` for each problem."""

    def __init__(self, path: str, issues: list[FileIssue]) -> None:
        self.path = path
        self.issues = issues
        self.line = issues[0].line if issues else None
        super().__init__("\n".join(f"{path}:{i.line or 1}: {i.message}" for i in issues))


@dataclass(frozen=True)
class LoadedPrompt:
    spec: PromptSpec
    path: Path
    source_text: str
    content_hash: str


@dataclass
class LibraryLoad:
    prompts: list[LoadedPrompt] = field(default_factory=list)
    errors: list[PromptFileError] = field(default_factory=list)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _loader() -> type[yaml.SafeLoader]:
    import yaml

    # libyaml is ~5x faster, which matters for the start-up of a 3,000-version library.
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def load_prompt_file(path: str | Path) -> LoadedPrompt:
    """Read and validate one prompt file; raise :class:`PromptFileError` (file and line) if it is unusable."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptFileError(str(path), [FileIssue(None, f"cannot read the file: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise PromptFileError(str(path), [FileIssue(None, f"file is larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PromptFileError(str(path), [FileIssue(line, "file is not UTF-8 text")]) from None
    return load_prompt_text(text, path)


def load_prompt_text(text: str, path: str | Path) -> LoadedPrompt:
    """Validate prompt YAML held in memory (e.g. a published version's stored source); ``path`` names it."""
    import yaml

    label = str(path)
    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        # Alias bombs are refused before anything is expanded. Without an alias (`*name`) nothing can expand
        # and libyaml caps the nesting itself, so the common file skips the walk (start-up of big libraries).
        if node is not None and "*" in text:
            check_node(node, source=label)
        data = loader.construct_document(node) if node is not None else None
    except UnsafeYamlError as exc:
        raise PromptFileError(label, [FileIssue(exc.line, exc.problem)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise PromptFileError(label, [FileIssue(line, f"invalid YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise PromptFileError(label, [FileIssue(None, f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        line = node.start_mark.line + 1 if node is not None else 1
        raise PromptFileError(label, [FileIssue(line, "a prompt file must be a YAML mapping (name:, version:, …)")])

    issues = _duplicate_keys(node)
    _keep_version_text(node, data)
    try:
        spec = PromptSpec.model_validate(data)
    except ValidationError as exc:
        issues += [FileIssue(_line_for(node, err["loc"]), _describe(err)) for err in exc.errors()]
    if issues:
        issues.sort(key=lambda i: i.line or 0)
        raise PromptFileError(label, issues)

    spec._path = label
    spec._lines = _record_lines(node)
    return LoadedPrompt(spec=spec, path=Path(path), source_text=text, content_hash=spec.content_hash())


def load_library(folder: str | Path) -> LibraryLoad:
    """Load every ``*.yaml``/``*.yml`` under ``folder`` (recursively, sorted); broken files land in ``errors``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidInputError(f"prompt library folder {folder} does not exist or is not a folder")
    result = LibraryLoad()
    for path in library_files(folder):
        refused = outside_library(folder, path)
        if refused is not None:
            result.errors.append(refused)
            continue
        try:
            result.prompts.append(load_prompt_file(path))
        except PromptFileError as exc:
            result.errors.append(exc)
    return result


def outside_library(folder: Path, path: Path) -> PromptFileError | None:
    """The error for a library file that resolves outside ``folder`` (a symlink out of it), else None.

    Whoever may drop a link into the library must not make the server read and serve any file it can reach.
    """
    try:
        real, root = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    except (OSError, ValueError):
        return None
    if root == real or root in real.parents:
        return None
    issue = FileIssue(None, f"links to {real}, outside the library folder; copy the file into the library instead")
    return PromptFileError(str(path), [issue])


def library_files(folder: Path) -> list[Path]:
    """Prompt files under ``folder``; hidden folders and files (``.git``, editor swap files) are skipped."""
    files = [
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.relative_to(folder).parts != ("prices.yaml",)  # the price table (prices.py), not a prompt
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


# ── line numbers ──────────────────────────────────────────────────────────────────────────────


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "missing":
        return f"missing field `{loc}`"
    if err["type"] == "extra_forbidden":
        return f"unknown field `{loc}`" + _did_you_mean(str(err["loc"][-1]))
    if err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
        return f"{loc}: unknown assertion; use one of {', '.join(ASSERTION_KINDS)}"
    return f"{loc}: {message}" if loc else message


def _did_you_mean(key: str) -> str:
    import difflib

    known = list(PromptSpec.model_fields) + list(InputVariable.model_fields) + list(GoldenCase.model_fields)
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in ASSERTION_KINDS


def _line_for(node: Any, loc: tuple[Any, ...]) -> int:
    """Follow a pydantic error location through the composed YAML to the line it refers to."""
    import yaml

    line = node.start_mark.line
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if match is None:
                continue  # a union tag or a missing key: stay on the enclosing node
            key, node = match
            line = key.start_mark.line if isinstance(node, yaml.CollectionNode) else node.start_mark.line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line
    return line + 1


def _keep_version_text(root: Any, data: dict[str, Any]) -> None:
    """``version: 1.10`` is the text "1.10", not the float 1.1: take a numeric version as written."""
    if isinstance(data.get("version"), int | float) and not isinstance(data["version"], bool):
        for key, value in root.value:
            if getattr(key, "value", None) == "version" and not getattr(value, "style", None):
                data["version"] = str(value.value)


def _duplicate_keys(node: Any) -> list[FileIssue]:
    """PyYAML keeps the last of two equal keys silently; in a prompt file that hides an edit, so it is an error."""
    import yaml

    issues: list[FileIssue] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        issues.append(FileIssue(key.start_mark.line + 1, f"key `{key.value}` appears twice"))
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return issues


def _content_line(node: Any) -> int:
    # A block scalar (`template: |`) starts on the line after its indicator.
    return node.start_mark.line + (2 if getattr(node, "style", None) in ("|", ">") else 1)


def _record_lines(root: Any) -> dict[str, int]:
    """The file lines later checks report against (variables, template starts, golden cases)."""
    import yaml

    lines: dict[str, int] = {}

    def child(node: Any, key: str) -> Any:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == key:
                    return k, v
        return None

    for key in ("name", "version", "draft", "template", "messages", "input_variables", "tests"):
        found = child(root, key)
        if found is None:
            continue
        k, v = found
        lines[key] = k.start_mark.line + 1
        if key == "template":
            lines["template"] = _content_line(v)
        elif isinstance(v, yaml.SequenceNode):
            for i, item in enumerate(v.value):
                lines[f"{key}.{i}"] = item.start_mark.line + 1
                if key == "messages":
                    content = child(item, "content")
                    if content is not None:
                        lines[f"messages.{i}.content"] = _content_line(content[1])
        elif isinstance(v, yaml.MappingNode) and key == "input_variables":
            for i, (name_node, _) in enumerate(v.value):
                lines[f"{key}.{i}"] = name_node.start_mark.line + 1
    return lines
