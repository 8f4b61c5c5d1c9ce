"""YAML that cannot explode: sizes are checked on the composed node graph, before anything is constructed.

PyYAML's ``safe_load`` refuses arbitrary objects but not alias bombs: nine anchors that each repeat the
previous one nine times ("billion laughs") fit in 420 bytes and expand to 387 million values; whoever
walks the result (a validator, ``json.dumps``, a duplicate-key check) then needs minutes and gigabytes.
Composing is cheap because an alias is the *same* node object, so :func:`check_node` measures the
expanded size once per node (memoised, iterative, cycle-safe) and refuses a document whose expansion,
alias count or nesting passes :class:`YamlLimits`. Prompt files (``servers/prompts/spec.py``), Markdown
front matter and ``--config`` files all go through here. ``yaml`` is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp_suite.shared.errors import InvalidInputError


@dataclass(frozen=True)
class YamlLimits:
    """What one YAML document may hold once aliases are expanded."""

    max_bytes: int = 1_000_000
    max_depth: int = 100
    max_aliases: int = 1_000  # references to an anchor (``*name``); 0 refuses aliases entirely
    max_nodes: int = 200_000  # values after expanding every alias
    max_chars: int = 5_000_000  # characters of scalars after expanding every alias


DEFAULT_LIMITS = YamlLimits()
# Front matter is a handful of keys: no reason for anchors at all.
FRONT_MATTER_LIMITS = YamlLimits(max_bytes=64_000, max_depth=20, max_aliases=0, max_nodes=5_000, max_chars=200_000)


class UnsafeYamlError(InvalidInputError):
    """The YAML is invalid or larger than :class:`YamlLimits` allows; ``line`` (1-based) when known."""

    def __init__(self, problem: str, line: int | None = None, source: str = "YAML", *, syntax: bool = False) -> None:
        self.problem = problem
        self.line = line
        self.syntax = syntax  # not YAML at all, rather than YAML over the limits
        where = f"{source} line {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")


def _line(node: Any) -> int | None:
    mark = getattr(node, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def check_node(root: Any, limits: YamlLimits = DEFAULT_LIMITS, source: str = "YAML") -> None:
    """Raise :class:`UnsafeYamlError` if the composed document ``root`` expands past ``limits``."""
    import yaml

    sizes: dict[int, tuple[int, int]] = {}
    active: set[int] = set()
    aliases = 0
    stack: list[tuple[Any, bool, int]] = [(root, False, 1)]

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return []

    while stack:
        node, finished, depth = stack.pop()
        key = id(node)
        if finished:
            if isinstance(node, yaml.ScalarNode):
                size = (1, len(node.value))
            else:
                parts = [sizes[id(child)] for child in children(node)]
                size = (1 + sum(p[0] for p in parts), sum(p[1] for p in parts))
            sizes[key] = size
            active.discard(key)
            if size[0] > limits.max_nodes:
                raise UnsafeYamlError(
                    f"expands to more than {limits.max_nodes:,} values (anchors and aliases repeated inside "
                    "each other, a 'billion laughs' document); write the values out instead",
                    _line(node),
                    source,
                )
            if size[1] > limits.max_chars:
                raise UnsafeYamlError(
                    f"expands to more than {limits.max_chars:,} characters of text through aliases; "
                    "write the values out instead",
                    _line(node),
                    source,
                )
            continue
        if key in active:
            raise UnsafeYamlError("an alias refers to a value that contains it (a loop)", _line(node), source)
        if key in sizes:  # the same node reached again: an alias
            aliases += 1
            if aliases > limits.max_aliases:
                allowed = "are not allowed here" if not limits.max_aliases else f"exceed {limits.max_aliases}"
                raise UnsafeYamlError(f"aliases (*name) {allowed}; write the values out", _line(node), source)
            continue
        if depth > limits.max_depth:
            raise UnsafeYamlError(f"nested deeper than {limits.max_depth} levels", _line(node), source)
        active.add(key)
        stack.append((node, True, depth))
        stack.extend((child, False, depth + 1) for child in reversed(children(node)))


def _loader_class() -> Any:
    import yaml

    # libyaml is ~5x faster and has its own nesting limit; the pure-Python loader is the fallback.
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose(text: str, limits: YamlLimits = DEFAULT_LIMITS, source: str = "YAML") -> Any:
    """The checked node graph of ``text`` (``None`` for an empty document); raises :class:`UnsafeYamlError`."""
    import yaml

    if len(text) > limits.max_bytes:
        raise UnsafeYamlError(f"is larger than {limits.max_bytes:,} characters", None, source)
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        line = mark.line + 1 if mark else None
        raise UnsafeYamlError(f"invalid YAML: {problem}", line, source, syntax=True) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise UnsafeYamlError(f"invalid YAML: {exc}", None, source, syntax=True) from None
    finally:
        loader.dispose()
    if node is not None:
        check_node(node, limits, source)
    return node


def construct(node: Any) -> Any:
    """Python values of a node graph that :func:`compose` checked."""
    import yaml

    if node is None:
        return None
    loader = _loader_class()("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise UnsafeYamlError(f"invalid YAML: {exc.problem or exc}", line, syntax=True) from None
    finally:
        loader.dispose()


def safe_load(text: str, limits: YamlLimits = DEFAULT_LIMITS, source: str = "YAML") -> Any:
    """``yaml.safe_load`` with the checks of :func:`check_node`: invalid or explosive YAML raises
    :class:`UnsafeYamlError` whose message names ``source`` and the line."""
    return construct(compose(text, limits, source))


__all__ = [
    "DEFAULT_LIMITS",
    "FRONT_MATTER_LIMITS",
    "UnsafeYamlError",
    "YamlLimits",
    "check_node",
    "compose",
    "construct",
    "safe_load",
]
