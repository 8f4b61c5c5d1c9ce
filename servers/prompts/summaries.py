"""What one prompt version shows: its listing summary, its registry record, and the text its diffs compare.

Plain functions over a parsed :class:`~mcp_suite.servers.prompts.spec.PromptSpec`, shared by the
service (publishing, listing, diffing) and free of I/O.
"""

from __future__ import annotations

import difflib
import json

from mcp_suite.servers.prompts.records import ArgumentInfo, PromptSummary
from mcp_suite.servers.prompts.registry import PublishItem
from mcp_suite.servers.prompts.spec import LoadedPrompt, PromptSpec


def summarise_spec(spec: PromptSpec) -> PromptSummary:
    """What prompts/list shows of a version: its title, description, arguments and output contract."""
    return PromptSummary(
        title=spec.title,
        description=spec.description,
        arguments=[
            ArgumentInfo(
                name=v.name,
                description=v.description,
                required=v.required,
                enum=v.enum,
                default=None if v.default is None else str(v.default),
            )
            for v in spec.input_variables
        ],
        output_schema=spec.output_schema,
    )


def publish_item(loaded: LoadedPrompt) -> PublishItem:
    """A loaded prompt file as it is offered to the registry (with its listing summary)."""
    return PublishItem(
        name=loaded.spec.name,
        version=loaded.spec.version,
        content_hash=loaded.content_hash,
        source_text=loaded.source_text,
        source_file=str(loaded.path),
        description=loaded.spec.description,
        line=loaded.spec.line_of("version"),
        summary=summarise_spec(loaded.spec).model_dump_json(exclude_defaults=True),
    )


def template_text(spec: PromptSpec) -> str:
    """The template, or the messages one after another, as the text a diff compares."""
    if spec.template is not None:
        return spec.template
    return "\n".join(f"--- {m.role} ---\n{m.content}" for m in spec.as_messages())


def settings_text(spec: PromptSpec) -> str:
    """Description, tags, execution settings and variables as sorted JSON, the text a diff compares."""
    data = {
        "description": spec.description,
        "tags": spec.tags,
        "execution_settings": spec.execution_settings.model_dump(mode="json"),
        "input_variables": [v.model_dump(mode="json", exclude_defaults=True) for v in spec.input_variables],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def unified_diff(old: str, new: str, name: str, from_version: str, to_version: str) -> str:
    """A unified diff between two versions' texts (empty when equal)."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{name}@{from_version}",
        tofile=f"{name}@{to_version}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
