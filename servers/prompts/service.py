"""The prompt service: what the server serves, and every operation on the registry, in plain Python.

It ties the pieces together: the registry (published versions, labels, rollouts), the live library
folder (auto-published on start and on change), rendering and telemetry. The MCP surface
(:mod:`mcp_suite.servers.prompts.server`) only translates calls into these methods.

Which version answers a request for a prompt, in order (:meth:`PromptService.resolve`):

1. an explicit ``version``, or an explicit ``label`` (``draft``: the prompt's draft, the only way a
   draft is ever served);
2. the ``production`` label, when set — split by its rollout when one is active and a subject key
   is given (sticky per subject);
3. the version the library folder currently holds for that name (the highest published one on disk);
4. the latest published version.

Labels and rollouts only move to versions whose argument contract fits the label's callers
(:mod:`mcp_suite.servers.prompts.contracts`), and never to a draft.

Every resolution carries the reason, so a render always says which version was served and why.
The whole registry is held in memory (:attr:`PromptService.catalog`) and refreshed after each
change, so serving a prompt never waits on the database.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from mcp_suite.servers.prompts.contracts import common_arguments, incompatibility, is_draft, require_published
from mcp_suite.servers.prompts.library import FileRef, KnownFile, Library
from mcp_suite.servers.prompts.prices import PRICE_FILE, PriceTable, load_prices
from mcp_suite.servers.prompts.records import PromptSummary, ResolutionSource, VersionStats
from mcp_suite.servers.prompts.registry import (
    KnownFileRow,
    LabelChange,
    PromptEntry,
    PublishedVersion,
    PublishOutcome,
    Registry,
)
from mcp_suite.servers.prompts.rendering import render_prompt
from mcp_suite.servers.prompts.rollout import bucket, choose, validate_splits
from mcp_suite.servers.prompts.spec import (
    FileIssue,
    LoadedPrompt,
    PromptFileError,
    PromptSpec,
    load_library,
    load_prompt_text,
)
from mcp_suite.servers.prompts.summaries import (
    publish_item,
    settings_text,
    summarise_spec,
    template_text,
    unified_diff,
)
from mcp_suite.servers.prompts.telemetry import GoldenCase, GoldenRun, Run, Telemetry
from mcp_suite.servers.prompts.versioning import DEFAULT_LABEL, DRAFT_LABEL, version_key
from mcp_suite.shared.errors import ConflictError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    """Which version serves a request, and why."""

    name: str
    version: str
    source: ResolutionSource
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
    summary: PromptSummary
    """The served version's summary, with the arguments every version a caller may be served accepts."""


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
        self._library_versions: dict[str, list[str]] = {}
        """For each prompt name, the versions its library files hold, highest first."""
        self._specs: dict[tuple[str, str, str], PromptSpec] = {}
        self._summaries: dict[tuple[str, str, str], PromptSummary] = {}
        self.prices: PriceTable | None = None
        self._prices_stamp: tuple[int, int] | None = None
        self._served: list[ServedPrompt] | None = None
        self._fingerprint: object = None
        # Refreshes run one at a time: a slow one started before a write (the change feed's first, say) must
        # not finish after the write's own refresh and put the older catalog back.
        self._refreshing = anyio.Lock()
        self._resource_state: dict[str, tuple[str, object]] | None = None
        self._resource_updates: set[str] = set()
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
        async with self._refreshing:
            if reload:
                self.catalog = await self.registry.catalog()
            self._served = None
            fingerprint = self._current_fingerprint()
            changed = fingerprint != self._fingerprint
            self._fingerprint = fingerprint
            self._note_resource_updates()
            return changed

    def _note_resource_updates(self) -> None:
        """Remember which ``prompts://{name}/source`` and ``…/versions`` resources now read differently."""
        state: dict[str, tuple[str, object]] = {}
        for name, entry in self.catalog.items():
            if entry.versions:
                served = self.resolve(name).version
                state[name] = (
                    served,
                    (tuple(entry.versions), tuple(sorted(entry.labels.items())), str(entry.rollouts)),
                )
        before = self._resource_state
        self._resource_state = state
        if before is None:
            return  # the first load: nobody has read anything yet
        for name in set(before) | set(state):
            old, new = before.get(name), state.get(name)
            if old is None or new is None or old[0] != new[0]:
                self._resource_updates.add(f"prompts://{name}/source")
            if old != new:
                self._resource_updates.add(f"prompts://{name}/versions")

    def take_resource_updates(self) -> list[str]:
        """The resource URIs changed since the last call (for ``notifications/resources/updated``)."""
        updates, self._resource_updates = sorted(self._resource_updates), set()
        return updates

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
            price_error = await anyio.to_thread.run_sync(self._reload_prices, library.folder)
            scan = await anyio.to_thread.run_sync(library.scan)
            report.changed_files = len(scan.changed) + len(scan.removed)
            report.new_errors = [str(e) for e in scan.newly_broken] + ([price_error] if price_error else [])
            if not scan.any and not scan.newly_broken:
                for message in report.new_errors:
                    log.warning("prompt library: %s", message)
                return report
            pending = library.pending()
            drafts = self._split_drafts(pending, report)
            outcome = await self.registry.publish(
                [publish_item(p) for path, p in pending.items() if path not in drafts], self.author, atomic=False
            )
            await self.registry.save_drafts(
                [publish_item(p) for p in drafts.values()], self.author, forget_files=[str(p) for p in scan.removed]
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
            self._library_versions = _versions_on_disk(library)
            report.published = [f"{i.name}:{i.version}" for i in outcome.published]
            # Reading the registry back is only needed when this pass stored something in it.
            report.served_changed = await self.refresh(reload=bool(outcome.published or drafts or scan.removed))
        for message in report.new_errors:
            log.warning("prompt library: %s", message)
        return report

    def _split_drafts(self, pending: Mapping[Path, LoadedPrompt], report: SyncReport) -> dict[Path, LoadedPrompt]:
        """The pending files that are drafts of a version not published yet (one per prompt name).

        A draft file whose version is published is content like any other: unchanged, or a conflict.
        """
        assert self.library is not None
        drafts: dict[Path, LoadedPrompt] = {}
        owner: dict[str, Path] = {}
        for path, loaded in sorted(pending.items()):
            spec = loaded.spec
            entry = self.catalog.get(spec.name)
            if not spec.draft or (entry is not None and spec.version in entry.versions):
                continue
            other = owner.get(spec.name)
            stored = entry.draft if entry is not None else None
            elsewhere = Path(stored.source_file) if stored is not None and stored.source_file else None
            if other is None and elsewhere not in (None, path) and elsewhere in self.library.files:
                other = elsewhere  # the stored draft's file is still in the library
            if other is not None:
                issue = FileIssue(
                    spec.line_of("draft"), f"prompt '{spec.name}' already has a draft in {other}; keep one draft"
                )
                error = PromptFileError(str(path), [issue])
                self.library.reject(path, error)
                report.new_errors.append(str(error))
                continue
            owner[spec.name] = path
            drafts[path] = loaded
        return drafts

    async def publish_folder(self, folder: Path) -> PublishOutcome:
        """Snapshot every prompt file under ``folder`` into the registry, all or nothing.

        A broken file or a changed file that kept its version fails the whole publish with the
        reasons (file and line); unchanged versions are no-ops.
        """
        loaded = await anyio.to_thread.run_sync(load_library, folder)
        if loaded.errors:
            raise InvalidInputError(
                "nothing was published; fix these prompt files first:\n" + "\n".join(str(e) for e in loaded.errors)
            )
        outcome = await self.registry.publish([publish_item(p) for p in loaded.prompts], self.author, atomic=True)
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
                listed = ", ".join(sorted(entry.versions, key=version_key)) or "none"
                hint = f"; {version} is a draft: ask for label '{DRAFT_LABEL}'" if is_draft(entry, version) else ""
                raise NotFoundError(f"prompt '{name}' has no version '{version}' (published: {listed}){hint}")
            return Resolution(name, version, "version", f"version {version} was requested")
        if label == DRAFT_LABEL:
            if entry.draft is None:
                raise NotFoundError(f"prompt '{name}' has no draft; mark a library file `draft: true` to make one")
            return Resolution(
                name, entry.draft.version, "draft", f"the draft of version {entry.draft.version} was asked for", label
            )
        if label:
            if label not in entry.labels:
                known = ", ".join(sorted(entry.labels)) or "none"
                raise NotFoundError(
                    f"prompt '{name}' has no label '{label}' (labels: {known}); point one at a version with set_label"
                )
            return self._via_label(entry, label, subject)
        if DEFAULT_LABEL in entry.labels:
            return self._via_label(entry, DEFAULT_LABEL, subject)
        # The highest version on disk that is published: a draft file's version is not (yet).
        on_disk = next((v for v in self._library_versions.get(name, ()) if v in entry.versions), None)
        if on_disk is not None:
            return Resolution(
                name, on_disk, "library", f"no '{DEFAULT_LABEL}' label; version {on_disk} is in the library folder"
            )
        if not entry.versions:
            raise NotFoundError(
                f"prompt '{name}' has only a draft, served only on request (label '{DRAFT_LABEL}'); publish it first"
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

    def spec(self, name: str, version: str, *, draft: bool = False) -> PromptSpec:
        """The parsed prompt of one published version, or of the draft (parsed once per content, then cached)."""
        entry = self.entry(name)
        published = entry.draft if draft and entry.draft is not None else entry.versions[version]
        key = (name, version, published.content_hash)
        spec = self._specs.get(key)
        if spec is None:
            spec = load_prompt_text(published.source_text, published.source_file or f"{name}@{version}").spec
            self._specs[key] = spec
        return spec

    def golden_spec(self, name: str, version: str) -> PromptSpec:
        """The prompt whose golden cases to run: a published version, or ``draft`` for the prompt's draft."""
        if version == DRAFT_LABEL:
            return self.spec(name, self.resolve(name, label=DRAFT_LABEL).version, draft=True)
        return self.spec(name, self.resolve(name, version=version).version)

    def render(
        self,
        name: str,
        variables: Mapping[str, Any] | None,
        *,
        version: str | None = None,
        label: str | None = None,
        subject: str | None = None,
    ) -> Rendered:
        resolution = self.resolve(name, version=version, label=label, subject=subject)
        spec = self.spec(name, resolution.version, draft=resolution.source == "draft")
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
        spec = self.spec(name, resolution.version, draft=resolution.source == "draft")
        result = await render_prompt_async(
            spec,
            dict(variables or {}),
            max_variable_chars=self.max_variable_chars,
            max_output_chars=self.max_output_chars,
        )
        return Rendered(resolution, spec, [(m.role, m.content) for m in result.messages], result.warnings)

    def served(self) -> list[ServedPrompt]:
        """Every prompt at the version a request without version, label or subject gets (cached).

        The arguments are those every version such a request may be served accepts (the label's
        target and its rollout's versions), so a host that fills them in is never refused.
        """
        if self._served is None:
            served: list[ServedPrompt] = []
            for name in sorted(self.catalog):
                entry = self.catalog[name]
                if not entry.versions:
                    continue
                resolution = self.resolve(name)
                try:
                    summary = self.summary(name, resolution.version)
                    others = [v for v in entry.rollouts.get(resolution.label or "", {}) if v != resolution.version]
                    if others:
                        arguments = [summary.arguments] + [self.summary(name, v).arguments for v in others]
                        summary = summary.model_copy(update={"arguments": common_arguments(arguments)})
                except PromptFileError as exc:  # stored by an older release with another schema
                    log.warning("cannot serve %s:%s: %s", name, resolution.version, exc)
                    continue
                served.append(ServedPrompt(resolution, summary))
            self._served = served
        return self._served

    def summary(self, name: str, version: str) -> PromptSummary:
        """What listing shows of one published version (stored with it; parsed from its source if not)."""
        published = self.entry(name).versions[version]
        key = (name, version, published.content_hash)
        summary = self._summaries.get(key)
        if summary is None:
            if published.summary:
                summary = PromptSummary.model_validate_json(published.summary)
            else:
                summary = summarise_spec(self.spec(name, version))
            self._summaries[key] = summary
        return summary

    def _current_fingerprint(self) -> object:
        return (
            tuple(
                (name, self.resolve(name).version, tuple(sorted(e.labels.items())), json.dumps(e.rollouts))
                for name, e in sorted(self.catalog.items())
                if e.versions  # a prompt with only a draft is not served
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
            unified_diff(template_text(old), template_text(new), name, from_version, to_version),
            unified_diff(settings_text(old), settings_text(new), name, from_version, to_version),
        )

    async def set_label(self, name: str, label: str, version: str, *, force: bool = False) -> str | None:
        """Point ``label`` at ``version``, refused when its callers' calls would not fit it (unless ``force``)."""
        entry = self.entry(name)
        require_published(entry, label, [version])
        if version in entry.versions and not force:
            self._require_compatible(entry, label, [version])
        previous = await self.registry.set_label(name, label, version, self.author)
        await self._after_change()
        return previous

    async def rollback(self, name: str, label: str, *, force: bool = False) -> tuple[str, str]:
        entry = self.entry(name)

        def check(_current: str, target: str) -> None:
            if not force:
                self._require_compatible(entry, label, [target])

        moved = await self.registry.rollback(name, label, self.author, check=check)
        await self._after_change()
        return moved

    async def set_rollout(self, name: str, label: str, splits: Mapping[str, float]) -> dict[str, float]:
        """Split ``label``'s traffic; every version of the split must take the calls the label's callers make."""
        entry = self.entry(name)
        require_published(entry, label, list(splits))
        if splits and label in entry.labels:
            clean = validate_splits(splits, set(entry.versions))
            self._require_compatible(entry, label, list(clean))
        clean = await self.registry.set_rollout(name, label, splits, self.author)
        await self._after_change()
        return clean

    def _contract_version(self, entry: PromptEntry, label: str) -> str | None:
        """The version callers of ``label`` are written against: its target, or for the default label the
        version served today without it; None for a new label nobody calls yet."""
        if label in entry.labels:
            return entry.labels[label]
        if label == DEFAULT_LABEL and entry.versions:
            return self.resolve(entry.name).version
        return None

    def _require_compatible(self, entry: PromptEntry, label: str, versions: list[str]) -> None:
        contract = self._contract_version(entry, label)
        if contract is None:
            return
        served = (contract, self.summary(entry.name, contract).arguments)
        for version in versions:
            problem = incompatibility(entry.name, label, served, (version, self.summary(entry.name, version).arguments))
            if problem:
                raise ConflictError(f"{problem}. Nothing was changed.")

    async def record_run(self, run: Run) -> tuple[int, Run]:
        """Store a run (its id and the run as stored); without a cost, it is computed from the library's price table
        when the model is listed there."""
        self.resolve(run.name, version=run.version)
        model = run.model or self.spec(run.name, run.version).execution_settings.model
        cost = run.cost
        if cost is None and self.prices is not None:
            cost = self.prices.cost(model, run.input_tokens, run.output_tokens)
        stored = replace(run, model=model, cost=cost)
        return await self.telemetry.record_run(stored), stored

    def count_served(self, resolution: Resolution) -> None:
        """Count one serve (prompts/get, render_prompt) for the stats; no I/O on the request path."""
        self.telemetry.count_served(resolution.name, resolution.version, resolution.source, resolution.label)
        self.telemetry.annotate_render(resolution.name, resolution.version, resolution.source)

    def _reload_prices(self, folder: Path) -> str | None:
        """Re-read ``prices.yaml`` when it changed (a stat per poll); returns a new problem with it, once."""
        path = folder / PRICE_FILE
        try:
            st = path.stat()
            stamp: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            stamp = None
        if stamp == self._prices_stamp:
            return None
        self._prices_stamp = stamp
        try:
            self.prices = load_prices(path) if stamp is not None else None
        except PromptFileError as exc:
            return str(exc)  # the last good table stays in use
        return None

    async def stats(self, name: str, since: str | None) -> list[VersionStats]:
        self.entry(name)
        return await self.telemetry.prompt_stats(name, since)

    async def record_golden(self, mode: str, cases: Sequence[GoldenCase]) -> list[GoldenRun]:
        """Store a golden-case run: per prompt version, its cases counted per status."""
        return await self.telemetry.record_golden(mode, cases)

    async def golden_runs(self, name: str, per_version: int = 5) -> dict[str, list[GoldenRun]]:
        """The newest golden-case runs of each version of ``name``, newest first."""
        self.entry(name)
        return await self.telemetry.golden_runs(name, per_version)

    def completions(self, name: str, argument: str, prefix: str) -> list[str]:
        """Values to suggest for ``argument`` of prompt ``name``: its enum, default and golden-case inputs."""
        entry = self.catalog.get(name)
        if entry is None or not entry.versions:
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
        return list(seen)

    def names(self, prefix: str = "") -> list[str]:
        """Every prompt name starting with ``prefix`` (case-insensitive), sorted."""
        wanted = prefix.lower()
        return [n for n in sorted(self.catalog) if n.lower().startswith(wanted)]


def _versions_on_disk(library: Library) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for ref in library.current().values():
        found.setdefault(ref.name, []).append(ref.version)
    return {name: sorted(set(versions), key=version_key, reverse=True) for name, versions in found.items()}
