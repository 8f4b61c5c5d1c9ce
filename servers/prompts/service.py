"""The prompt service: what the server serves, and every operation on the registry, in plain Python.

It ties the pieces together: the registry (published versions, labels, rollouts), the live library
folder (auto-published on start and on change), rendering and telemetry. The MCP surface
(:mod:`mcp_suite.servers.prompts.server`) only translates calls into these methods.

Which version answers a request for a prompt, in order (:meth:`PromptService.resolve`):

1. an explicit ``version``, or an explicit ``label``;
2. the ``production`` label, when set — split by its rollout when one is active and a subject key
   is given (sticky per subject);
3. the version the library folder currently holds for that name (the highest one on disk);
4. the latest published version.

Every resolution carries the reason, so a render always says which version was served and why.
The whole registry is held in memory (:attr:`PromptService.catalog`) and refreshed after each
change, so serving a prompt never waits on the database.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from mcp_suite.servers.prompts.library import FileRef, KnownFile, Library
from mcp_suite.servers.prompts.registry import (
    KnownFileRow,
    LabelChange,
    PromptEntry,
    PublishedVersion,
    PublishItem,
    PublishOutcome,
    Registry,
)
from mcp_suite.servers.prompts.rollout import bucket, choose
from mcp_suite.servers.prompts.spec import FileIssue, LoadedPrompt, PromptFileError, PromptSpec, load_prompt_text
from mcp_suite.servers.prompts.telemetry import Run, Telemetry, VersionStats
from mcp_suite.servers.prompts.versioning import DEFAULT_LABEL, version_key
from mcp_suite.shared.errors import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    """Which version serves a request, and why."""

    name: str
    version: str
    source: str
    """``version`` | ``label`` | ``rollout`` | ``library`` | ``latest``"""
    reason: str
    label: str | None = None
    bucket: int | None = None


@dataclass(frozen=True)
class Rendered:
    resolution: Resolution
    spec: PromptSpec
    messages: list[tuple[str, str]]
    warnings: list[str]


@dataclass
class SyncReport:
    """What one pass over the library folder did."""

    changed_files: int = 0
    published: list[str] = field(default_factory=list)
    new_errors: list[str] = field(default_factory=list)
    served_changed: bool = False


@dataclass(frozen=True)
class ServedPrompt:
    resolution: Resolution
    summary: dict[str, Any]
    """``{"description": …, "arguments": [{name, description, required, enum, default}]}``"""


class PromptService:
    """Serves prompts from the registry and keeps it in step with the library folder."""

    def __init__(
        self,
        registry: Registry,
        telemetry: Telemetry,
        library: Library | None,
        *,
        author: str,
        max_variable_chars: int,
        max_output_chars: int,
    ) -> None:
        self.registry = registry
        self.telemetry = telemetry
        self.library = library
        self.author = author
        self.max_variable_chars = max_variable_chars
        self.max_output_chars = max_output_chars
        self.catalog: dict[str, PromptEntry] = {}
        self.ready = anyio.Event()
        self._library_versions: dict[str, str] = {}
        self._specs: dict[tuple[str, str, str], PromptSpec] = {}
        self._served: list[ServedPrompt] | None = None
        self._fingerprint: object = None
        self._sync_lock = anyio.Lock()

    # -- keeping in step ---------------------------------------------------------------------------

    async def start(self) -> SyncReport:
        """Read the registry, then publish and load the library folder; sets :attr:`ready` either way."""
        try:
            await self.refresh()
            if self.library is not None:
                self.library.known = {
                    Path(row.path): KnownFile(
                        (row.size, row.mtime_ns), FileRef(row.name, row.version, row.content_hash)
                    )
                    for row in await self.registry.known_files()
                    # Only what the registry still holds can be served without reading the file.
                    if row.version in getattr(self.catalog.get(row.name), "versions", {})
                }
            return await self.sync_library()
        finally:
            self.ready.set()

    async def refresh(self, *, reload: bool = True) -> bool:
        """Reload the in-memory catalog (``reload``) and recompute what is served; True when that changed."""
        if reload:
            self.catalog = await self.registry.catalog()
        self._served = None
        fingerprint = self._current_fingerprint()
        changed = fingerprint != self._fingerprint
        self._fingerprint = fingerprint
        return changed

    async def refresh_if_changed_elsewhere(self) -> bool:
        """Pick up writes by other processes sharing the database (labels moved from a CLI, …)."""
        if await self.registry.changed_elsewhere():
            return await self.refresh()
        return False

    async def sync_library(self) -> SyncReport:
        """Re-read changed library files, publish their new versions, and serve them."""
        report = SyncReport()
        library = self.library
        if library is None:
            return report
        async with self._sync_lock:
            scan = await anyio.to_thread.run_sync(library.scan)
            report.changed_files = len(scan.changed) + len(scan.removed)
            report.new_errors = [str(e) for e in scan.newly_broken]
            if not scan.any and not scan.newly_broken:
                return report
            pending = library.pending()
            outcome = await self.registry.publish(
                [_publish_item(p) for p in pending.values()], self.author, atomic=False
            )
            for conflict in outcome.conflicts:
                path = Path(conflict.item.source_file or "")
                error = PromptFileError(str(path), [FileIssue(conflict.item.line, conflict.reason)])
                library.reject(path, error)
                report.new_errors.append(str(error))
            for loaded in library.pending().values():
                self._specs[(loaded.spec.name, loaded.spec.version, loaded.content_hash)] = loaded.spec
            accepted = library.commit()
            await self.registry.remember_files(
                [
                    KnownFileRow(str(p), k.stamp[0], k.stamp[1], k.ref.name, k.ref.version, k.ref.content_hash)
                    for p, k in accepted.items()
                ],
                forget=[str(p) for p in scan.removed],
            )
            self._library_versions = library.current_versions()
            report.published = [f"{i.name}:{i.version}" for i in outcome.published]
            # Reading the registry back is only needed when this pass stored something in it.
            report.served_changed = await self.refresh(reload=bool(outcome.published))
        for message in report.new_errors:
            log.warning("prompt library: %s", message)
        return report

    async def publish_folder(self, folder: Path) -> PublishOutcome:
        """Snapshot every prompt file under ``folder`` into the registry, all or nothing.

        A broken file or a changed file that kept its version fails the whole publish with the
        reasons (file and line); unchanged versions are no-ops.
        """
        from mcp_suite.servers.prompts.spec import load_library

        loaded = await anyio.to_thread.run_sync(load_library, folder)
        if loaded.errors:
            raise InvalidInputError(
                "nothing was published; fix these prompt files first:\n" + "\n".join(str(e) for e in loaded.errors)
            )
        outcome = await self.registry.publish([_publish_item(p) for p in loaded.prompts], self.author, atomic=True)
        for prompt in loaded.prompts:
            self._specs[(prompt.spec.name, prompt.spec.version, prompt.content_hash)] = prompt.spec
        await self.refresh()
        return outcome

    def library_errors(self) -> list[PromptFileError]:
        return self.library.errors if self.library is not None else []

    # -- resolving and rendering -------------------------------------------------------------------

    def entry(self, name: str) -> PromptEntry:
        entry = self.catalog.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, list(self.catalog), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; list them with prompts/list"
            raise NotFoundError(f"no prompt named '{name}'{hint}")
        return entry

    def resolve(
        self, name: str, *, version: str | None = None, label: str | None = None, subject: str | None = None
    ) -> Resolution:
        """Pick the version that serves this request (see the module docstring for the order)."""
        entry = self.entry(name)
        if version and label:
            raise InvalidInputError("give either a version or a label, not both")
        if version:
            if version not in entry.versions:
                listed = ", ".join(sorted(entry.versions, key=version_key))
                raise NotFoundError(f"prompt '{name}' has no version '{version}' (published: {listed})")
            return Resolution(name, version, "version", f"version {version} was requested")
        if label:
            if label not in entry.labels:
                known = ", ".join(sorted(entry.labels)) or "none"
                raise NotFoundError(
                    f"prompt '{name}' has no label '{label}' (labels: {known}); point one at a version with set_label"
                )
            return self._via_label(entry, label, subject)
        if DEFAULT_LABEL in entry.labels:
            return self._via_label(entry, DEFAULT_LABEL, subject)
        on_disk = self._library_versions.get(name)
        if on_disk is not None and on_disk in entry.versions:
            return Resolution(
                name, on_disk, "library", f"no '{DEFAULT_LABEL}' label; version {on_disk} is in the library folder"
            )
        latest = entry.latest
        return Resolution(name, latest, "latest", f"no '{DEFAULT_LABEL}' label; {latest} is the latest published")

    def _via_label(self, entry: PromptEntry, label: str, subject: str | None) -> Resolution:
        target = entry.labels[label]
        splits = entry.rollouts.get(label)
        if not splits:
            return Resolution(entry.name, target, "label", f"label '{label}' points at version {target}", label)
        shares = ", ".join(f"{v}: {w:g}%" for v, w in splits.items())
        if not subject:
            return Resolution(
                entry.name,
                target,
                "label",
                f"label '{label}' points at version {target}; its rollout ({shares}) needs a subject key, none given",
                label,
            )
        slot = bucket(entry.name, label, subject)
        chosen = choose(splits, slot)
        return Resolution(
            entry.name,
            chosen,
            "rollout",
            f"label '{label}' rollout ({shares}): subject bucket {slot} of 10000 gets version {chosen}",
            label,
            slot,
        )

    def spec(self, name: str, version: str) -> PromptSpec:
        """The parsed prompt of one published version (parsed once, then cached: versions never change)."""
        published = self.entry(name).versions[version]
        key = (name, version, published.content_hash)
        spec = self._specs.get(key)
        if spec is None:
            spec = load_prompt_text(published.source_text, published.source_file or f"{name}@{version}").spec
            self._specs[key] = spec
        return spec

    def render(
        self,
        name: str,
        variables: Mapping[str, Any] | None,
        *,
        version: str | None = None,
        label: str | None = None,
        subject: str | None = None,
    ) -> Rendered:
        from mcp_suite.servers.prompts.rendering import render_prompt

        resolution = self.resolve(name, version=version, label=label, subject=subject)
        spec = self.spec(name, resolution.version)
        result = render_prompt(
            spec,
            dict(variables or {}),
            max_variable_chars=self.max_variable_chars,
            max_output_chars=self.max_output_chars,
        )
        return Rendered(resolution, spec, [(m.role, m.content) for m in result.messages], result.warnings)

    async def render_async(
        self,
        name: str,
        variables: Mapping[str, Any] | None,
        *,
        version: str | None = None,
        label: str | None = None,
        subject: str | None = None,
    ) -> Rendered:
        """:meth:`render` with the template run in a worker thread (under its time and size budget), so a
        slow template never holds up other requests."""
        from mcp_suite.servers.prompts.rendering import render_prompt_async

        resolution = self.resolve(name, version=version, label=label, subject=subject)
        spec = self.spec(name, resolution.version)
        result = await render_prompt_async(
            spec,
            dict(variables or {}),
            max_variable_chars=self.max_variable_chars,
            max_output_chars=self.max_output_chars,
        )
        return Rendered(resolution, spec, [(m.role, m.content) for m in result.messages], result.warnings)

    def served(self) -> list[ServedPrompt]:
        """Every prompt at the version a request without version, label or subject gets (cached)."""
        if self._served is None:
            served: list[ServedPrompt] = []
            for name in sorted(self.catalog):
                resolution = self.resolve(name)
                published = self.catalog[name].versions[resolution.version]
                try:
                    summary = (
                        json.loads(published.summary)
                        if published.summary
                        else summarise_spec(self.spec(name, resolution.version))
                    )
                except PromptFileError as exc:  # stored by an older release with another schema
                    log.warning("cannot serve %s:%s: %s", name, resolution.version, exc)
                    continue
                served.append(ServedPrompt(resolution, summary))
            self._served = served
        return self._served

    def _current_fingerprint(self) -> object:
        return (
            tuple(
                (name, self.resolve(name).version, tuple(sorted(e.labels.items())), json.dumps(e.rollouts))
                for name, e in sorted(self.catalog.items())
            ),
        )

    async def _after_change(self) -> None:
        await self.refresh()

    # -- registry operations -----------------------------------------------------------------------

    def versions(self, name: str) -> list[PublishedVersion]:
        return self.entry(name).ordered_versions()

    async def label_history(self, name: str, label: str | None = None) -> list[LabelChange]:
        self.entry(name)
        return await self.registry.label_history(name, label)

    def diff(self, name: str, from_version: str, to_version: str) -> tuple[str, str]:
        """Unified diffs (template, settings) between two versions of a prompt."""
        for version in (from_version, to_version):
            self.resolve(name, version=version)
        old, new = self.spec(name, from_version), self.spec(name, to_version)
        return (
            _unified(_template_text(old), _template_text(new), name, from_version, to_version),
            _unified(_settings_text(old), _settings_text(new), name, from_version, to_version),
        )

    async def set_label(self, name: str, label: str, version: str) -> str | None:
        self.entry(name)
        previous = await self.registry.set_label(name, label, version, self.author)
        await self._after_change()
        return previous

    async def rollback(self, name: str, label: str) -> tuple[str, str]:
        self.entry(name)
        moved = await self.registry.rollback(name, label, self.author)
        await self._after_change()
        return moved

    async def set_rollout(self, name: str, label: str, splits: Mapping[str, float]) -> dict[str, float]:
        self.entry(name)
        clean = await self.registry.set_rollout(name, label, splits, self.author)
        await self._after_change()
        return clean

    async def record_run(self, run: Run) -> int:
        self.resolve(run.name, version=run.version)
        return await self.telemetry.record_run(run)

    async def stats(self, name: str, since: str | None) -> list[VersionStats]:
        self.entry(name)
        return await self.telemetry.prompt_stats(name, since)

    def completions(self, name: str, argument: str, prefix: str) -> list[str]:
        """Values to suggest for ``argument`` of prompt ``name``: its enum, default and golden-case inputs."""
        entry = self.catalog.get(name)
        if entry is None:
            return []
        spec = self.spec(name, self.resolve(name).version)
        variable = spec.variable(argument)
        if variable is None:
            return []
        candidates: list[str] = list(variable.enum or [])
        if variable.default is not None:
            candidates.append(str(variable.default))
        for case in spec.tests:
            value = case.inputs.get(argument)
            if isinstance(value, str | int | float) and not isinstance(value, bool) and len(str(value)) <= 200:
                candidates.append(str(value))
        wanted = prefix.lower()
        seen: dict[str, None] = {}
        for value in candidates:
            if value.lower().startswith(wanted):
                seen.setdefault(value, None)
        return list(seen)[:100]

    def names(self, prefix: str = "") -> list[str]:
        wanted = prefix.lower()
        return [n for n in sorted(self.catalog) if n.lower().startswith(wanted)][:100]


def summarise_spec(spec: PromptSpec) -> dict[str, Any]:
    """What prompts/list shows of a version: its description and arguments."""
    return {
        "description": spec.description,
        "arguments": [
            {
                "name": v.name,
                "description": v.description,
                "required": v.required,
                "enum": v.enum,
                "default": None if v.default is None else str(v.default),
            }
            for v in spec.input_variables
        ],
    }


def _publish_item(loaded: LoadedPrompt) -> PublishItem:
    return PublishItem(
        name=loaded.spec.name,
        version=loaded.spec.version,
        content_hash=loaded.content_hash,
        source_text=loaded.source_text,
        source_file=str(loaded.path),
        description=loaded.spec.description,
        line=loaded.spec.line_of("version"),
        summary=json.dumps(summarise_spec(loaded.spec), ensure_ascii=False),
    )


def _template_text(spec: PromptSpec) -> str:
    if spec.template is not None:
        return spec.template
    return "\n".join(f"--- {m.role} ---\n{m.content}" for m in spec.as_messages())


def _settings_text(spec: PromptSpec) -> str:
    data = {
        "description": spec.description,
        "tags": spec.tags,
        "execution_settings": spec.execution_settings.model_dump(mode="json"),
        "input_variables": [v.model_dump(mode="json", exclude_defaults=True) for v in spec.input_variables],
    }
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def _unified(old: str, new: str, name: str, from_version: str, to_version: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{name}@{from_version}",
        tofile=f"{name}@{to_version}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
