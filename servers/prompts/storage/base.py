"""The prompt registry's storage contract: the records it keeps and the operations both engines implement.

:class:`PromptStorage` is one logical change (or one consistent read) per method; the SQLite and
PostgreSQL implementations (:mod:`.sqlite`, :mod:`.postgres`) hold all the SQL. The rules a change
enforces inside its transaction (published versions are immutable, a label moves only to a published
version, a rollback undoes one ``set``) live here as plain functions, so both engines decide alike.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from mcp_suite.servers.prompts.records import LabelAction
from mcp_suite.servers.prompts.versioning import version_key
from mcp_suite.shared.errors import ConflictError, DatabaseConfigError, NotFoundError

Feedback = Literal["positive", "negative"]
_VERSION = ("name", "version", "content_hash", "source_text", "source_file", "description", "author", "published_at")
TABLES: dict[str, tuple[str, ...]] = {
    "prompt_versions": (*_VERSION, "summary"),
    "labels": ("name", "label", "version", "updated_at", "updated_by"),
    "label_history": ("seq", "name", "label", "version", "previous_version", "action", "reverted", "at", "author"),
    "rollouts": ("name", "label", "splits", "updated_at", "updated_by"),
    "library_files": ("path", "size", "mtime_ns", "name", "version", "content_hash"),
    "prompt_drafts": (*_VERSION, "summary"),
    "prompt_runs": (
        "id",
        "name",
        "version",
        "recorded_at",
        "latency_ms",
        "input_tokens",
        "output_tokens",
        "cost",
        "quality_score",
        "feedback",
        "error",
        "subject",
        "model",
    ),
    "prompt_serves": ("name", "version", "label", "via", "hour", "count"),
    "golden_runs": ("id", "name", "version", "run_at", "mode", "passed", "failed", "error", "rendered", "not_run"),
}
"""Every table of the registry and the columns both engines give it, in an order that satisfies foreign keys."""
TableRows = dict[str, list[tuple[object, ...]]]


@dataclass(frozen=True)
class PublishItem:
    """One prompt file's content as it is offered for publication."""

    name: str
    version: str
    content_hash: str
    source_text: str
    source_file: str | None = None
    description: str = ""
    line: int | None = None
    """Line of ``version:`` in the source, to point a conflict at."""
    summary: str | None = None
    """JSON of what prompts/list shows (description, arguments), so listing never parses YAML."""


@dataclass(frozen=True)
class PublishedVersion:
    name: str
    version: str
    content_hash: str
    source_text: str
    source_file: str | None
    description: str
    author: str
    published_at: str
    summary: str | None = None


@dataclass(frozen=True)
class KnownFileRow:
    path: str
    size: int
    mtime_ns: int
    name: str
    version: str
    content_hash: str


@dataclass(frozen=True)
class Conflict:
    item: PublishItem
    published_hash: str

    @property
    def reason(self) -> str:
        return (
            f"prompt '{self.item.name}' version {self.item.version} is already published with different "
            f"content (hash {self.published_hash[:12]}, this file {self.item.content_hash[:12]}); published versions "
            "are immutable, so bump `version:` to publish this change"
        )

    @property
    def message(self) -> str:
        where = f"{self.item.source_file}:{self.item.line or 1}: " if self.item.source_file else ""
        return where + self.reason


@dataclass
class PublishOutcome:
    published: list[PublishItem] = field(default_factory=list)
    unchanged: list[PublishItem] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass
class PromptEntry:
    """Everything the registry knows about one prompt name."""

    name: str
    versions: dict[str, PublishedVersion] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    rollouts: dict[str, dict[str, float]] = field(default_factory=dict)
    draft: PublishedVersion | None = None
    """The prompt's draft (``published_at``: when it was last saved), served only on request."""

    @property
    def latest(self) -> str:
        return max(self.versions, key=version_key)

    def ordered_versions(self) -> list[PublishedVersion]:
        return [self.versions[v] for v in sorted(self.versions, key=version_key)]


@dataclass(frozen=True)
class LabelChange:
    seq: int
    label: str
    version: str
    previous_version: str | None
    action: LabelAction
    reverted: bool
    at: str
    author: str


@dataclass(frozen=True)
class Run:
    name: str
    version: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost: float | None = None
    """None: unknown (no cost given and no price for the model)."""
    quality_score: float | None = None
    feedback: Feedback | None = None
    error: str | None = None
    subject: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class RunRow:
    """One stored run, as the statistics read it."""

    version: str
    recorded_at: str
    latency_ms: float
    input_tokens: int
    output_tokens: int
    cost: float | None
    quality_score: float | None
    feedback: str | None
    error: str | None


@dataclass(frozen=True)
class ServeCount:
    """Serves of one version, summed per label and way it was chosen."""

    version: str
    label: str
    via: str
    count: int


@dataclass(frozen=True)
class GoldenRun:
    """One stored golden-case run of one prompt version: its cases counted per status."""

    name: str
    version: str
    run_at: str
    mode: str
    passed: int
    failed: int
    error: int
    rendered: int
    not_run: int

    @property
    def cases(self) -> int:
        return self.passed + self.failed + self.error + self.rendered + self.not_run


ServeKey = tuple[str, str, str, str, str]
"""(name, version, label, via, hour) of a served counter."""
SplitCheck = Callable[[Mapping[str, float], set[str]], dict[str, float]]
RollbackCheck = Callable[[str, str], None]


class PromptStorage(Protocol):
    """The registry's database, whichever engine holds it. Each method is one transaction."""

    async def publish(
        self, items: Mapping[tuple[str, str], PublishItem], author: str, stamp: str, *, atomic: bool
    ) -> PublishOutcome: ...

    async def catalog(self) -> dict[str, PromptEntry]: ...

    async def save_drafts(self, items: Sequence[PublishItem], author: str, stamp: str, forget: Sequence[str]) -> None:
        """Store ``items`` as their prompts' drafts (replacing earlier ones); forget drafts of ``forget`` files."""
        ...

    async def changed_elsewhere(self) -> bool:
        """True when another process committed since the last :meth:`catalog` and that is not announced
        through :meth:`changes` (SQLite: other processes on the same file)."""
        ...

    def changes(self) -> AsyncGenerator[None, None]:
        """Yields whenever another replica changed what is served (first once right after listening)."""
        ...

    async def known_files(self) -> list[KnownFileRow]: ...

    async def remember_files(self, files: Sequence[KnownFileRow], forget: Sequence[str]) -> None: ...

    async def label_history(self, name: str, label: str | None) -> list[LabelChange]: ...

    async def set_label(self, name: str, label: str, version: str, author: str, stamp: str) -> str | None: ...

    async def rollback(
        self, name: str, label: str, author: str, stamp: str, check: RollbackCheck | None
    ) -> tuple[str, str]: ...

    async def set_rollout(
        self, name: str, label: str, splits: Mapping[str, float], author: str, stamp: str, validate: SplitCheck
    ) -> dict[str, float]: ...

    async def add_serves(self, counts: Mapping[ServeKey, int]) -> None: ...

    async def insert_run(self, run: Run, stamp: str) -> int: ...

    async def insert_golden_runs(self, runs: Sequence[GoldenRun]) -> None: ...

    async def golden_runs(self, name: str) -> list[GoldenRun]:
        """Every golden run of ``name``, newest first."""
        ...

    async def runs(self, name: str, since: str | None) -> list[RunRow]:
        """Runs of ``name`` recorded at or after ``since`` (all when None), oldest first."""
        ...

    async def serves(self, name: str, since_hour: str | None) -> list[ServeCount]: ...

    async def export_rows(self) -> TableRows:
        """Every row of every table (:data:`TABLES` columns), read in one snapshot: the source of a copy."""
        ...

    async def import_rows(self, rows: TableRows) -> dict[str, int]:
        """Store ``rows`` into this empty registry in one transaction; returns the row count per table, as
        read back inside it. Refuses (:class:`DatabaseConfigError`) a registry that holds anything."""
        ...

    async def close(self) -> None: ...


def not_empty(where: str, counts: Mapping[str, int]) -> DatabaseConfigError:
    held = ", ".join(f"{n} in {t}" for t, n in counts.items() if n)
    return DatabaseConfigError(f"the prompts registry at {where} is not empty ({held}); copy into an empty database")


def count_mismatch(where: str, expected: Mapping[str, int], found: Mapping[str, int]) -> DatabaseConfigError:
    wrong = ", ".join(f"{t}: {found.get(t)} of {n}" for t, n in expected.items() if found.get(t) != n)
    return DatabaseConfigError(f"copy into {where} stored the wrong number of rows ({wrong}); nothing was kept")


# -- rules both engines apply inside their transactions -------------------------------------------------


def classify(
    items: Mapping[tuple[str, str], PublishItem], stored: Mapping[tuple[str, str], str], *, atomic: bool
) -> PublishOutcome:
    """Split ``items`` into new, unchanged and conflicting against the stored hashes (raise if ``atomic``)."""
    outcome = PublishOutcome()
    for key, item in items.items():
        existing = stored.get(key)
        if existing is None:
            outcome.published.append(item)
        elif existing == item.content_hash:
            outcome.unchanged.append(item)
        else:
            outcome.conflicts.append(Conflict(item, existing))
    if atomic and outcome.conflicts:
        raise ConflictError("; ".join(c.message for c in outcome.conflicts))
    return outcome


def require_version(name: str, version: str, known: Sequence[str]) -> None:
    if not known:
        raise NotFoundError(f"prompt '{name}' is not published; publish the library first (tool publish)")
    if version not in known:
        listed = ", ".join(sorted(known, key=version_key))
        raise NotFoundError(f"prompt '{name}' has no version '{version}' (published: {listed})")


def missing_label(name: str, label: str) -> NotFoundError:
    return NotFoundError(f"prompt '{name}' has no label '{label}'; set it first with set_label")


def rollback_target(name: str, label: str, current: str, recent_sets: Sequence[str]) -> str:
    """The version before ``current``: the second of the label's latest not-reverted ``set`` moves."""
    if len(recent_sets) < 2:
        raise ConflictError(
            f"label '{label}' of prompt '{name}' has no earlier version to roll back to "
            f"(it points at {current}); use set_label to choose a version"
        )
    return recent_sets[1]


def no_rollout_label(name: str, label: str) -> NotFoundError:
    return NotFoundError(
        f"prompt '{name}' has no label '{label}'; point it at the current version with set_label first"
    )


def version_row(item: PublishItem, author: str, stamp: str) -> tuple[object, ...]:
    """The columns a published version and a draft share, in their INSERT order."""
    return (
        item.name,
        item.version,
        item.content_hash,
        item.source_text,
        item.source_file,
        item.description,
        author,
        stamp,
        item.summary,
    )
