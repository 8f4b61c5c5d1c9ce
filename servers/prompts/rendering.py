"""Rendering prompt templates safely: Jinja2 sandbox, strict variables, fencing and injection flags.

Two kinds of text meet here and are treated differently:

* **Templates** are written by the library's authors. They run in Jinja2's
  :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no ``__class__``/``__globals__`` tricks,
  no mutating the caller's lists and dicts, bounded ``range``, and — added here — bounded string
  repetition and powers) with :class:`~jinja2.StrictUndefined`, so a misspelt variable is an error
  rather than an empty string. ``trim_blocks``/``lstrip_blocks`` are on so ``{% if %}`` lines leave
  no blank lines behind; each rendered message is stripped of surrounding whitespace.
* **Variables** are untrusted input. They are never rendered as templates; they are checked against
  the prompt's declaration (required, enum, unknown names, size), scanned for likely injection
  phrases (reported in :attr:`RenderResult.warnings`, naming the variable), and a template can wrap
  them with the ``fence`` filter::

      {{ ticket | fence }}              {{ ticket | fence("ticket") }}

  which yields ``<untrusted-input name="ticket" id="…">…</untrusted-input id="…">``. The id is
  derived from a hash of the value, so it is deterministic (renders can be diffed and cached) yet
  cannot be predicted by the text it encloses; any fence-like tag and chat control tokens
  (``<|im_start|>``…) inside the value are defused before wrapping.

Optional variables that are not given (or given as ``""``/``None``) take their ``default``, or the
empty string when they have none, so ``{% if var %}`` works in templates.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from mcp_suite.servers.prompts.spec import PromptMessage, PromptSpec
from mcp_suite.shared.errors import InvalidInputError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_VARIABLE_CHARS = 20_000
MAX_OUTPUT_CHARS = 200_000
# The largest string/list a template may build (with `*`, `+`, `~`, filters) — far above any sane prompt,
# far below memory trouble.
MAX_REPEAT_ITEMS = 1_000_000
# Integers a template may compute: 4,096 bits (~1,200 digits); repeated squaring would otherwise grow
# numbers until one multiplication takes minutes.
MAX_INT_BITS = 4_096
# Loop iterations a render may spend on `range` in total (Jinja2 caps one range at 100,000 items).
MAX_RANGE_ITEMS = 1_000_000
# Wall-clock budget of one render, checked while the template runs.
RENDER_SECONDS = 2.0
FENCE_TAG = "untrusted-input"


class TemplateRenderError(InvalidInputError):
    """A template that does not compile or fails while rendering; the message names the file line when known.

    ``line`` is that file line (``None`` for a spec not loaded from a file); ``detail`` the message without it.
    """

    def __init__(self, spec: PromptSpec, message_index: int, template_line: int | None, detail: str) -> None:
        self.line = spec.file_line(message_index, template_line)
        self.detail = detail
        super().__init__(f"{spec.locate(message_index, template_line)}: {detail}")


@dataclass
class RenderResult:
    messages: list[PromptMessage]
    warnings: list[str] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)


# ── the environment ───────────────────────────────────────────────────────────────────────────


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    """The one sandboxed environment every template compiles in (built on first use: jinja2 is imported lazily)."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Environment(ImmutableSandboxedEnvironment):
        """Every operation that can grow a value or loop is checked against the render's budget."""

        intercepted_binops = frozenset({"*", "**", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            check_deadline()
            # `{{ "x" * 10**10 }}` would exhaust memory before any output limit could apply.
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponent too large in template")
            if operator == "**" and _is_int(left) and _is_int(right) and abs(left).bit_length() * right > MAX_INT_BITS:
                raise SecurityError(f"number too large in template (more than {MAX_INT_BITS} bits)")
            if operator == "*":
                if _is_int(left) and _is_int(right) and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                    raise SecurityError(f"number too large in template (more than {MAX_INT_BITS} bits)")
                for seq, count in ((left, right), (right, left)):
                    sized = isinstance(seq, str | list | tuple) and _is_int(count)
                    if sized and len(seq) * count > MAX_REPEAT_ITEMS:
                        raise SecurityError("repetition too large in template")
            sequences = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
            if operator == "+" and sequences and len(left) + len(right) > MAX_REPEAT_ITEMS:
                raise SecurityError(f"value too large in template (more than {MAX_REPEAT_ITEMS:,} items)")
            return super().call_binop(context, operator, left, right)

        def getattr(self, obj: Any, attribute: str) -> Any:
            # `{% set ns.s = ns.s ~ ns.s %}` in a loop doubles a string with `~`, which has no hook of its
            # own: the next read of ns.s is where its size is checked.
            check_deadline()
            return check_size(super().getattr(obj, attribute))

        def getitem(self, obj: Any, argument: Any) -> Any:
            check_deadline()
            return check_size(super().getitem(obj, argument))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            check_deadline()
            if getattr(__obj, "__self__", None) is not None and isinstance(__obj.__self__, str | list | tuple):
                # "x".ljust(10**9), "x".center(…): a width is a size
                for value in (*args, *kwargs.values()):
                    if _is_int(value) and value > MAX_REPEAT_ITEMS:
                        raise SecurityError(f"value too large in template (more than {MAX_REPEAT_ITEMS:,} items)")
            return check_size(super().call(__context, __obj, *args, **kwargs))

    env = _Environment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    for filter_name, function in list(env.filters.items()):
        env.filters[filter_name] = _budgeted_filter(function)
    env.filters["fence"] = fence
    env.globals["fence"] = fence
    env.globals["range"] = budgeted_range
    return env


# ── the render budget ─────────────────────────────────────────────────────────────────────────


class RenderBudget:
    """Time and loop budget of the render running in this thread (see :func:`render_prompt`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.range_items = MAX_RANGE_ITEMS
        self.ticks = 0


_current = threading.local()


def _budget() -> RenderBudget | None:
    return getattr(_current, "budget", None)


def check_deadline() -> None:
    """Stop the render running in this thread once it has used its time."""
    from jinja2.exceptions import SecurityError

    budget = _budget()
    if budget is not None and time.monotonic() > budget.deadline:
        raise SecurityError(f"rendering took longer than {budget.seconds:g} s; simplify the template's loops")


def check_size(value: Any) -> Any:
    from jinja2.exceptions import SecurityError

    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_REPEAT_ITEMS:
        raise SecurityError(f"value too large in template (more than {MAX_REPEAT_ITEMS:,} items)")
    if _is_int(value) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"number too large in template (more than {MAX_INT_BITS} bits)")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _BudgetedRange(Sequence[int]):
    """``range`` whose iteration draws from the render's loop budget and checks its deadline."""

    def __init__(self, inner: range) -> None:
        self._inner = inner

    def __len__(self) -> int:
        return len(self._inner)

    def __getitem__(self, index: Any) -> Any:
        return self._inner[index]

    def __iter__(self) -> Iterator[int]:
        from jinja2.exceptions import SecurityError

        budget = _budget()
        for count, value in enumerate(self._inner):
            if budget is not None:
                budget.range_items -= 1
                if budget.range_items < 0:
                    raise SecurityError(f"loops run more than {MAX_RANGE_ITEMS:,} range steps; simplify the template")
                if count % 1024 == 0:
                    check_deadline()
            yield value


def budgeted_range(*args: Any) -> _BudgetedRange:
    from jinja2.sandbox import safe_range

    return _BudgetedRange(safe_range(*args))


def _budgeted_filter(function: Any) -> Any:
    """A built-in filter whose size arguments (``center(10**9)``, ``indent(…)``) and result are checked."""

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        from jinja2.exceptions import SecurityError

        check_deadline()
        for value in (*args[1:], *kwargs.values()):
            if _is_int(value) and value > MAX_REPEAT_ITEMS:
                raise SecurityError(f"value too large in template (more than {MAX_REPEAT_ITEMS:,} items)")
        return check_size(function(*args, **kwargs))

    return checked


def _template_tracer(frame: Any, event: str, arg: Any) -> Any:
    # Only template code is traced: a loop over a list with an empty body calls nothing the sandbox sees,
    # but it executes template lines, and those are where the deadline is checked.
    return _trace_template_line if frame.f_code.co_filename == "<template>" else None


def _trace_template_line(frame: Any, event: str, arg: Any) -> Any:
    budget = _budget()
    if budget is not None:
        budget.ticks += 1
        if budget.ticks % 256 == 0:
            check_deadline()
    return _trace_template_line


@contextmanager
def render_budget(seconds: float = RENDER_SECONDS) -> Iterator[RenderBudget]:
    """Run the renders inside with a time and loop budget (per thread; nested scopes keep the outer one)."""
    if _budget() is not None:
        yield cast(RenderBudget, _budget())
        return
    budget = _current.budget = RenderBudget(seconds)
    previous = sys.gettrace()
    if previous is None:  # a debugger or coverage keeps its tracer; the sandbox hooks still apply
        sys.settrace(_template_tracer)
    try:
        yield budget
    finally:
        if previous is None:
            sys.settrace(None)
        _current.budget = None


@lru_cache(maxsize=4096)
def _compile_cached(digest: str, source: str) -> Template:
    return environment().from_string(source)


def compile_template(source: str) -> Template:
    """Compile ``source`` once per distinct content (the cache key is its SHA-256)."""
    return _compile_cached(hashlib.sha256(source.encode("utf-8")).hexdigest(), source)


# ── fencing untrusted text ────────────────────────────────────────────────────────────────────

_FENCE_LIKE = re.compile(r"<\s*(/?)\s*untrusted-input", re.IGNORECASE)
_CONTROL_TOKEN = re.compile(r"<\|([A-Za-z0-9_\-]{1,40})\|>")


def defuse(text: str) -> str:
    """Make fence tags and chat control tokens inside ``text`` inert while keeping them readable."""
    text = _FENCE_LIKE.sub(lambda m: f"‹{m.group(1)}untrusted-input", text)
    return _CONTROL_TOKEN.sub(lambda m: f"‹|{m.group(1)}|›", text)


def fence(value: Any, label: str = "input") -> str:
    """Wrap untrusted ``value`` in delimiters it cannot close: ``{{ ticket | fence("ticket") }}``."""
    # Surrounding newlines are layout, not content; the fence adds its own.
    text = defuse(value if isinstance(value, str) else str(value)).strip("\r\n")
    fence_id = hashlib.sha256(f"{label}\0{text}".encode()).hexdigest()[:12]
    safe_label = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(label))[:64] or "input"
    return f'<{FENCE_TAG} name="{safe_label}" id="{fence_id}">\n{text}\n</{FENCE_TAG} id="{fence_id}">'


# ── spotting injection attempts ───────────────────────────────────────────────────────────────

_INJECTION_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (label, re.compile(pattern, re.IGNORECASE | re.MULTILINE))
    for label, pattern in [
        (
            "ignore previous instructions",
            r"\b(ignore|disregard|forget|override|bypass)\b.{0,30}?\b(previous|prior|above|earlier|preceding|all|any|your"
            r"|the|these|those)\b.{0,20}?\b(instructions?|prompts?|rules|directions|guidelines|messages|context)\b",
        ),
        ("you are now", r"\byou\s+are\s+now\b"),
        ("system prompt", r"\bsystem\s+prompt\b"),
        ("new instructions", r"\b(new|updated|real|actual)\s+instructions\s*:"),
        ("role switch", r"\b(pretend|act)\s+(to\s+be|as\s+if\s+you|like\s+you)\b"),
        ("jailbreak", r"\b(jailbreak|developer\s+mode|DAN\s+mode|do\s+anything\s+now)\b"),
        ("chat control token", r"<\|\s*(im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)"),
        ("chat control token", r"\[/?INST\]|<<\s*/?SYS\s*>>|</?s>"),
        ("role header", r"^\s*#{2,}\s*(system|instruction|instructions|assistant)\b"),
        ("role header", r"^\s*(system|assistant)\s*:"),
        ("fence escape", r"<\s*/?\s*untrusted-input"),
    ]
]
# Zero-width, bidi-override and Unicode "tag" characters hide text from a human reviewer.
_HIDDEN = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")


def injection_findings(text: str) -> list[str]:
    """The injection patterns ``text`` matches (labels, in order, without repeats)."""
    found: list[str] = []
    if _HIDDEN.search(text):
        found.append("hidden Unicode characters")
    normal = unicodedata.normalize("NFKC", _HIDDEN.sub("", text))
    for label, pattern in _INJECTION_PATTERNS:
        if label not in found and pattern.search(normal):
            found.append(label)
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple | set):
        return [s for item in value for s in _strings(item)]
    return []


# ── template analysis ─────────────────────────────────────────────────────────────────────────


def _message_sources(spec: PromptSpec) -> list[str]:
    return [m.content for m in spec.as_messages()]


def parse_errors(spec: PromptSpec) -> list[TemplateRenderError]:
    """Templates of ``spec`` that do not compile."""
    from jinja2 import TemplateSyntaxError

    errors: list[TemplateRenderError] = []
    for index, source in enumerate(_message_sources(spec)):
        try:
            compile_template(source)
        except TemplateSyntaxError as exc:
            errors.append(TemplateRenderError(spec, index, exc.lineno, f"template does not compile: {exc.message}"))
    return errors


@lru_cache(maxsize=4096)
def _free_names(source: str) -> tuple[tuple[str, int], ...]:
    """Names ``source`` reads from its context, each with the template line of its first use (cached per source)."""
    from jinja2 import meta, nodes

    env = environment()
    tree = env.parse(source)
    names = meta.find_undeclared_variables(tree) - set(env.globals)
    first: dict[str, int] = {}
    for node in tree.find_all(nodes.Name):
        if node.name in names:
            first.setdefault(node.name, node.lineno)
    return tuple(first.items())


def used_variables(spec: PromptSpec) -> dict[str, int | None]:
    """Variables the templates read from outside, each with the file line of its first use."""
    used: dict[str, int | None] = {}
    for index, source in enumerate(_message_sources(spec)):
        for name, lineno in _free_names(source):
            if name not in used:
                used[name] = spec.file_line(index, lineno)
    return used


def declared_but_unused(spec: PromptSpec) -> list[str]:
    used = used_variables(spec)
    return [v.name for v in spec.input_variables if v.name not in used]


def used_but_undeclared(spec: PromptSpec) -> list[str]:
    declared = {v.name for v in spec.input_variables}
    return [name for name in used_variables(spec) if name not in declared]


# ── rendering ─────────────────────────────────────────────────────────────────────────────────


def resolve_variables(
    spec: PromptSpec, variables: dict[str, Any], *, max_variable_chars: int = MAX_VARIABLE_CHARS
) -> dict[str, Any]:
    """Check ``variables`` against the declaration and fill defaults; raise :class:`InvalidInputError` if wrong."""
    declared = {v.name: v for v in spec.input_variables}
    unknown = sorted(set(variables) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "none"
        raise InvalidInputError(
            f"prompt {spec.key} has no variable(s) {', '.join(repr(u) for u in unknown)}; it takes: {allowed}"
        )
    resolved: dict[str, Any] = {}
    for name, var in declared.items():
        value = variables.get(name)
        if value is None or value == "":
            if var.required:
                hint = f" ({var.description})" if var.description else ""
                raise InvalidInputError(f"prompt {spec.key} needs variable {name!r}{hint}; it is required")
            resolved[name] = var.default if var.default is not None else ""
            continue
        if var.enum is not None:
            text = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
            if text not in var.enum:
                raise InvalidInputError(
                    f"variable {name!r} of prompt {spec.key} must be one of {', '.join(var.enum)}; got {value!r}"
                )
            value = text
        limit = min(var.max_chars or max_variable_chars, max_variable_chars)
        size = sum(len(s) for s in _strings(value)) if not isinstance(value, int | float) else len(str(value))
        if size > limit:
            raise InvalidInputError(
                f"variable {name!r} of prompt {spec.key} is {size} characters; the limit is {limit}. Shorten it."
            )
        resolved[name] = value
    return resolved


def render_prompt(
    spec: PromptSpec,
    variables: dict[str, Any],
    *,
    max_variable_chars: int = MAX_VARIABLE_CHARS,
    max_output_chars: int = MAX_OUTPUT_CHARS,
    max_seconds: float = RENDER_SECONDS,
) -> RenderResult:
    """Render every message of ``spec`` with ``variables``; see the module docstring for the rules.

    The render has a budget enforced while it runs: ``max_seconds`` of time, ``max_output_chars`` of output
    (counted as it streams), and bounded values, numbers and loops (:func:`environment`). Exceeding it is a
    :class:`TemplateRenderError` naming the limit. Blocking: async callers use :func:`render_prompt_async`.
    """
    from jinja2 import TemplateError, TemplateSyntaxError

    resolved = resolve_variables(spec, variables, max_variable_chars=max_variable_chars)
    warnings: list[str] = []
    for name, value in variables.items():
        findings = sorted({f for text in _strings(value) for f in injection_findings(text)})
        if findings:
            warnings.append(
                f"variable {name!r} looks like a prompt-injection attempt ({'; '.join(findings)}); "
                "treat it as data, not instructions"
            )

    messages: list[PromptMessage] = []
    total = 0
    too_long = InvalidInputError(
        f"prompt {spec.key} renders to more than {max_output_chars} characters; shorten the variables"
    )
    with render_budget(max_seconds):
        for index, message in enumerate(spec.as_messages()):
            try:
                # Streamed, so the output limit stops a runaway loop while it runs, not after.
                pieces: list[str] = []
                produced = 0
                for piece in compile_template(message.content).generate(resolved):
                    produced += len(piece)
                    # Checked exactly after strip(); while streaming, twice the limit leaves room for the
                    # whitespace strip() removes and still bounds the memory a runaway loop can take.
                    if total + produced > 2 * max_output_chars + 10_000:
                        raise too_long
                    pieces.append(piece)
                text = "".join(pieces)
            except TemplateSyntaxError as exc:
                detail = f"template does not compile: {exc.message}"
                raise TemplateRenderError(spec, index, exc.lineno, detail) from None
            except RecursionError as exc:
                detail = f"prompt {spec.key} failed to render: recursion too deep ({exc})"
                raise TemplateRenderError(spec, index, _template_line(exc), detail) from None
            except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
                if exc is too_long:
                    raise
                detail = f"prompt {spec.key} failed to render: {type(exc).__name__}: {exc}"
                raise TemplateRenderError(spec, index, _template_line(exc), detail) from None
            text = text.strip()
            total += len(text)
            if total > max_output_chars:
                raise too_long
            messages.append(PromptMessage(role=message.role, content=text))
    return RenderResult(messages=messages, warnings=warnings, variables=resolved)


async def render_prompt_async(
    spec: PromptSpec,
    variables: dict[str, Any],
    *,
    max_variable_chars: int = MAX_VARIABLE_CHARS,
    max_output_chars: int = MAX_OUTPUT_CHARS,
    max_seconds: float = RENDER_SECONDS,
) -> RenderResult:
    """:func:`render_prompt` in a worker thread, so a slow template never holds up the event loop."""
    import anyio

    return await anyio.to_thread.run_sync(
        functools.partial(
            render_prompt,
            spec,
            variables,
            max_variable_chars=max_variable_chars,
            max_output_chars=max_output_chars,
            max_seconds=max_seconds,
        )
    )


def _template_line(exc: BaseException) -> int | None:
    """The template line a runtime error came from (Jinja2 rewrites tracebacks to template frames)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
