"""Prompt files: the seed example as is, the accepted shorthands, and errors that point at a line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcp_suite.servers.prompts.spec import (
    ContainsAssertion,
    JsonSchemaAssertion,
    MaxLengthAssertion,
    PromptFileError,
    PromptSpec,
    ValidJsonAssertion,
    load_library,
    load_prompt_file,
    load_prompt_text,
)
from mcp_suite.shared.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "prompts"
SEED = Path("/work/shared/seeds/prompt-lifecycle.txt")


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> PromptFileError:
    with pytest.raises(PromptFileError) as info:
        load_prompt_file(path)
    return info.value


MINIMAL = """\
name: Hello
version: 1
template: "Hi {{ who }}"
input_variables: [who]
"""


# ── the seed example ──────────────────────────────────────────────────────────────────────────


@pytest.mark.skipif(not SEED.exists(), reason="the design brief is not on this machine")
def test_shipped_seed_example_is_the_brief_verbatim() -> None:
    brief = SEED.read_text(encoding="utf-8")
    start = brief.index("# summarize_ticket.v1.yaml")
    end = brief.index("Suddenly, your prompt")
    expected = brief[start:end].rstrip("\n") + "\n"
    assert (EXAMPLES / "summarize_ticket.v1.yaml").read_text(encoding="utf-8") == expected


def test_seed_example_loads_as_is() -> None:
    loaded = load_prompt_file(EXAMPLES / "summarize_ticket.v1.yaml")
    spec = loaded.spec
    assert spec.name == "SummarizeSupportTicket"
    assert spec.version == "1"  # `version: 1` (an int) is accepted as text
    assert spec.tags == ["support", "summarization"]
    # Plain strings are names; the trailing YAML comment is only a comment.
    assert [(v.name, v.required, v.description) for v in spec.input_variables] == [
        ("support_ticket_text", True, ""),
        ("output_format", True, ""),
    ]
    assert spec.execution_settings.model == "claude-3-opus-20240229"
    assert spec.execution_settings.temperature == 0.5
    assert spec.execution_settings.max_tokens == 512
    messages = spec.as_messages()
    assert [m.role for m in messages] == ["user"]
    assert messages[0].content.startswith("Your task is to extract information")
    assert spec.tests == []
    assert len(loaded.content_hash) == 64
    assert loaded.source_text.startswith("# summarize_ticket.v1.yaml")
    # The template's first line is line 23 of the file; render errors use this.
    assert spec.file_line(0, 1) == 23
    assert spec.line_of("input_variables.1") == 12


def test_every_shipped_example_loads() -> None:
    library = load_library(EXAMPLES)
    assert library.errors == []
    keys = {p.spec.key for p in library.prompts}
    assert {"SummarizeSupportTicket:1", "SummarizeSupportTicket:2"} <= keys
    assert len(keys) == len(library.prompts) >= 6


# ── accepted forms ────────────────────────────────────────────────────────────────────────────


def test_variable_forms_and_messages(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
name: review
version: 2.1
input_variables:
  - diff
  - name: focus
    description: what to look at
    required: false
    default: bugs
    enum: [bugs, style]
  - name: n
    required: false
    enum: [1, 2]
messages:
  - role: system
    content: You review code.
  - role: user
    content: "{{ focus }} {{ n }}: {{ diff }}"
execution_settings:
  model: m
  top_p: 0.9
""",
    )
    spec = load_prompt_file(path).spec
    assert spec.version == "2.1"
    diff, focus, n = spec.input_variables
    assert (diff.name, diff.required, diff.default) == ("diff", True, None)
    assert (focus.required, focus.default, focus.enum) == (False, "bugs", ["bugs", "style"])
    assert n.enum == ["1", "2"]  # numbers in an enum are the strings a client sends
    assert [m.role for m in spec.as_messages()] == ["system", "user"]
    assert spec.execution_settings.extras == {"top_p": 0.9}


@pytest.mark.parametrize(
    ("written", "version"), [("1", "1"), ("1.10", "1.10"), ("2.0", "2.0"), ('"3"', "3"), ("v4", "v4")]
)
def test_version_is_kept_as_written(tmp_path: Path, written: str, version: str) -> None:
    path = write(tmp_path, MINIMAL.replace("version: 1", f"version: {written}"))
    assert load_prompt_file(path).spec.version == version


def test_mapping_form_of_input_variables(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'name: x\nversion: "1"\ntemplate: "{{ a }}{{ b }}"\ninput_variables:\n  a: the first\n  b: {required: false}\n',
    )
    spec = load_prompt_file(path).spec
    assert [(v.name, v.description, v.required) for v in spec.input_variables] == [
        ("a", "the first", True),
        ("b", "", False),
    ]


def test_assertion_shorthands(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL
        + """\
tests:
  - name: one
    inputs: {who: you}
    assertions:
      - contains: "Hi"
      - {kind: contains, value: "you", ignore_case: true}
      - valid_json: true
      - json_schema: {type: object}
      - max_length: {value: 10, unit: words}
      - max_length: 99
""",
    )
    a = load_prompt_file(path).spec.tests[0].assertions
    assert isinstance(a[0], ContainsAssertion) and a[0].value == "Hi" and not a[0].ignore_case
    assert isinstance(a[1], ContainsAssertion) and a[1].ignore_case
    assert isinstance(a[2], ValidJsonAssertion)
    assert isinstance(a[3], JsonSchemaAssertion) and a[3].schema_ == {"type": "object"}
    assert isinstance(a[4], MaxLengthAssertion) and (a[4].value, a[4].unit) == (10, "words")
    assert isinstance(a[5], MaxLengthAssertion) and (a[5].value, a[5].unit) == (99, "chars")


# ── content hash ──────────────────────────────────────────────────────────────────────────────


def test_hash_ignores_layout_and_comments_but_not_content(tmp_path: Path) -> None:
    original = load_prompt_file(write(tmp_path, MINIMAL, "a.yaml")).content_hash
    reformatted = """\
# a comment changes nothing
input_variables:
    - who   # still the same variable
template:    'Hi {{ who }}'
version: "1"
name:   Hello
"""
    assert load_prompt_file(write(tmp_path, reformatted, "b.yaml")).content_hash == original
    # A plain-string variable and its expanded form are the same declaration.
    expanded = MINIMAL.replace("input_variables: [who]", "input_variables: [{name: who, required: true}]")
    assert load_prompt_file(write(tmp_path, expanded, "c.yaml")).content_hash == original
    changed = MINIMAL.replace("Hi {{ who }}", "Hi  {{ who }}")  # whitespace inside a template is content
    assert load_prompt_file(write(tmp_path, changed, "d.yaml")).content_hash != original


# ── errors with lines ─────────────────────────────────────────────────────────────────────────


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'name: x\nversion: 1\ntemplate: "unclosed\ntags: [a, b\n')
    error = error_of(path)
    assert isinstance(error, InvalidInputError)
    assert error.path == str(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: invalid YAML", str(error))
    assert error.line is not None and error.line >= 3


def test_bad_indentation_points_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nversion: 1\ntemplate: hi\n  tags: [a]\n")
    assert error_of(path).line == 4


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        # a value of the wrong type: the value's line
        (MINIMAL + "execution_settings:\n  model: m\n  temperature: hot\n", 7, "execution_settings.temperature"),
        # a typo in a key: the key's line, with a suggestion
        ("name: x\nversion: 1\ninput_variables: []\ntemplte: hi\n", 4, "did you mean `template`"),
        # a missing field: the mapping that lacks it
        ("version: 1\ntemplate: hi\n", 1, "missing field `name`"),
        # a whole-file rule: exactly one of template / messages
        ("name: x\nversion: 1\n", 1, "exactly one of `template`"),
        # an enum default outside the enum: the variable's entry
        (
            "name: x\nversion: 1\ntemplate: '{{ f }}'\ninput_variables:\n  - t\n  - name: f\n"
            "    required: false\n    default: c\n    enum: [a, b]\n",
            6,
            "default 'c' is not one of its enum",
        ),
        # a regex that does not compile, deep inside a golden case
        (MINIMAL + "tests:\n  - name: t\n    assertions:\n      - regex: '(unclosed'\n", 8, "does not compile"),
        # an assertion kind that does not exist
        (MINIMAL + "tests:\n  - name: t\n    assertions:\n      - similar_to: hello\n", 8, "unknown assertion"),
        # a variable name that cannot be a Jinja2 name
        ("name: x\nversion: 1\ntemplate: hi\ninput_variables:\n  - ok\n  - not-ok\n", 6, "identifier"),
        # the same key twice (YAML would silently keep the last)
        ("name: x\nversion: 1\ntemplate: a\ntemplate: b\n", 4, "key `template` appears twice"),
        # not a mapping at all
        ("- just\n- a list\n", 1, "must be a YAML mapping"),
    ],
)
def test_schema_errors_point_at_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    error = error_of(path)
    assert error.issues[0].line == line, str(error)
    assert fragment in str(error)
    assert str(error).startswith(f"{path}:{line}: ")


def test_every_schema_problem_is_reported_with_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: 'bad name!'\nversion: 1\ntemplate: hi\nexecution_settings:\n  max_tokens: 0\n")
    error = error_of(path)
    assert [issue.line for issue in error.issues] == [1, 5]
    assert len(str(error).splitlines()) == 2


def test_required_variable_with_default_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nversion: 1\ntemplate: '{{ a }}'\ninput_variables:\n  - {name: a, default: z}\n")
    assert "set `required: false`" in str(error_of(path))


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: x\nversion: 1\ntemplate: caf\xe9\n")
    error = error_of(path)
    assert error.line == 3 and "not UTF-8" in str(error)


def test_load_prompt_text_reparses_stored_source() -> None:
    loaded = load_prompt_text(MINIMAL, "registry:Hello:1")
    assert loaded.spec.key == "Hello:1"
    assert isinstance(loaded.spec, PromptSpec)


# ── folders ───────────────────────────────────────────────────────────────────────────────────


def test_library_loads_recursively_and_a_broken_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    write(tmp_path, MINIMAL.replace("Hello", "Nested"), "team/deep/b.yml")
    write(tmp_path, "name: [\n", "broken.yaml")
    write(tmp_path, MINIMAL.replace("Hello", "Hidden"), ".git/c.yaml")
    write(tmp_path, "not a prompt", "notes.txt")
    library = load_library(tmp_path)
    assert sorted(p.spec.name for p in library.prompts) == ["Hello", "Nested"]
    assert [Path(e.path).name for e in library.errors] == ["broken.yaml"]


def test_missing_library_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_library(tmp_path / "nope")


def test_the_format_reference_in_the_example_readme_loads(tmp_path: Path) -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
    spec = load_prompt_file(write(tmp_path, block)).spec
    assert spec.key == "SummarizeDocument:3"
    assert [v.name for v in spec.input_variables] == ["document", "length"]
    assert [a.kind for a in spec.tests[0].assertions][-2:] == ["rubric", "similar"]
    assert len(spec.tests[0].assertions) == 9
    assert spec.draft and spec.title == "Summarise a document"
    assert spec.output_schema == {"type": "object", "required": ["summary"]}


def test_new_optional_fields_do_not_change_the_hash_of_versions_published_before_them(tmp_path: Path) -> None:
    # Hashes computed by the release before title, draft and output_schema existed: a registry that
    # published these must still see them as unchanged, not as edits that need a version bump.
    assert load_prompt_file(EXAMPLES / "summarize_ticket.v2.yaml").content_hash == (
        "431796e227a419770156afc4ca1652150ff75c4a859d3d527e8c1145d6ef8ec8"
    )
    assert load_prompt_file(EXAMPLES / "code_review.yaml").content_hash == (
        "a3454cdeb17798e241276b450d11dc1d4849644277a68fccab7b59f8d5164ec3"
    )
    plain = (EXAMPLES / "code_review.yaml").read_text(encoding="utf-8")
    drafted = write(tmp_path, plain.replace("version: 1\n", "version: 1\ndraft: true\n", 1))
    assert load_prompt_file(drafted).content_hash.startswith("a3454cdeb17798e2")  # draft is a state, not content
    titled = write(tmp_path, plain.replace("version: 1\n", "version: 1\ntitle: Review\n", 1))
    assert not load_prompt_file(titled).content_hash.startswith("a3454cdeb17798e2")
