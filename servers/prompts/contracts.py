"""Argument contracts between prompt versions: which versions a label may serve without breaking its callers.

Callers of a label were written against the version the label serves them (its *contract*
version): they always send the variables that version requires, and may send any variable it
declares. Another version may serve those callers — through a label move or a rollout split — only
if

* every variable it requires is required by the contract version (callers are sure to send it), and
* it declares every variable the contract version declares (rendering refuses unknown variables).

A variable a new version needs must therefore come with a default (``required: false``) until
every version the label may serve requires it. Enum values are not compared.

Labels and rollouts point at published versions only: a draft is never served to their callers,
and the ``draft`` label is reserved for asking for the draft.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_suite.servers.prompts.records import ArgumentInfo
from mcp_suite.servers.prompts.registry import PromptEntry
from mcp_suite.servers.prompts.versioning import DRAFT_LABEL
from mcp_suite.shared.errors import InvalidInputError


def incompatibility(
    prompt: str,
    label: str,
    contract: tuple[str, Sequence[ArgumentInfo]],
    candidate: tuple[str, Sequence[ArgumentInfo]],
) -> str | None:
    """Why ``candidate`` (version, arguments) would break callers of ``label`` served ``contract``; None if not."""
    contract_version, contract_args = contract
    version, args = candidate
    if version == contract_version:
        return None
    sent = {a.name for a in contract_args if a.required}
    declared = {a.name for a in args}
    for arg in args:
        if arg.required and arg.name not in sent:
            return (
                f"version {version} of {prompt} requires variable '{arg.name}', but callers of label '{label}' "
                f"(served version {contract_version}) need not send it; give '{arg.name}' a default in version "
                f"{version} (required: false, default: …), or require it in version {contract_version} first"
            )
    for arg in contract_args:
        if arg.name not in declared:
            return (
                f"callers of label '{label}' of {prompt} (served version {contract_version}) may send variable "
                f"'{arg.name}', which version {version} does not accept; declare '{arg.name}' in version {version} "
                "(required: false) so both versions take the same calls"
            )
    return None


def common_arguments(versions: Sequence[Sequence[ArgumentInfo]]) -> list[ArgumentInfo]:
    """The arguments every one of ``versions`` accepts, in the first version's order and wording.

    An argument is required when any of the versions requires it.
    """
    if not versions:
        return []
    first, *others = versions
    required = {a.name for args in versions for a in args if a.required}
    common: list[ArgumentInfo] = []
    for arg in first:
        if all(any(o.name == arg.name for o in other) for other in others):
            common.append(arg.model_copy(update={"required": arg.name in required}) if others else arg)
    return common


def is_draft(entry: PromptEntry, version: str) -> bool:
    """``version`` is the prompt's draft, not a published version."""
    return entry.draft is not None and entry.draft.version == version and version not in entry.versions


def require_published(entry: PromptEntry, label: str, versions: list[str]) -> None:
    """Labels and rollouts point at published versions only: a draft is never served to their callers."""
    if label == DRAFT_LABEL:
        raise InvalidInputError(f"label '{DRAFT_LABEL}' is reserved: it always serves the prompt's draft, if any")
    for version in versions:
        if is_draft(entry, version):
            raise InvalidInputError(
                f"version {version} of {entry.name} is a draft; publish it first (tool publish, or "
                "`mcp-suite prompts publish DIR`), then point labels at it"
            )
