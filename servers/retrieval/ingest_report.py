"""What an ingest run reports to the client: per-source items, totals and what folder walks left unread."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mcp_suite.servers.retrieval.folders import Skipped

MAX_REPORTED_ITEMS = 200

Status = Literal["added", "updated", "unchanged", "removed", "skipped", "error"]


class IngestItem(BaseModel):
    """What happened to one source."""

    source: str
    status: Status
    chunks: int = Field(default=0, description="chunks the source has in the index now")
    embedded: int = Field(default=0, description="chunks whose vectors were computed in this run (others were reused)")
    message: str | None = None


class Exclusion(BaseModel):
    """Files (or folders, shown with a trailing ``/``) a folder walk did not read, for one reason."""

    reason: str = Field(description="e.g. 'other rendering', 'stylesheet', 'build output', 'not a regular file'")
    count: int
    examples: list[str] = Field(description="a few of them, relative to the ingested folder")


class IngestReport(BaseModel):
    """Totals of an ingest run, and the items that changed or failed (unchanged ones are only counted)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    errors: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    items: list[IngestItem] = Field(default_factory=list)
    items_omitted: int = Field(
        default=0, description="changed or failed items left out of `items` to keep the report short"
    )
    excluded: list[Exclusion] = Field(
        default_factory=list,
        description="what folder walks left unread and why (default excludes, globs, non-regular files); "
        "pass include globs or default_excludes=false to read them",
    )

    def add_exclusions(self, skipped: Skipped) -> None:
        found = {e.reason: e for e in self.excluded}
        for reason, count in skipped.counts.items():
            if reason in found:
                found[reason].count += count
                room = 3 - len(found[reason].examples)
                found[reason].examples += skipped.examples.get(reason, [])[: max(room, 0)]
            else:
                found[reason] = Exclusion(reason=reason, count=count, examples=list(skipped.examples.get(reason, [])))
        self.excluded = sorted(found.values(), key=lambda e: (-e.count, e.reason))

    def record(self, item: IngestItem) -> None:
        count = getattr(self, "errors" if item.status == "error" else item.status)
        setattr(self, "errors" if item.status == "error" else item.status, count + 1)
        if item.status in ("added", "updated"):
            self.chunks_written += item.chunks
        self.chunks_embedded += item.embedded
        if item.status == "unchanged":
            return
        if len(self.items) < MAX_REPORTED_ITEMS:
            self.items.append(item)
        else:
            self.items_omitted += 1

    def summary(self) -> str:
        text = (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed, "
            f"{self.skipped} skipped, {self.errors} errors; {self.chunks_written} chunks written, "
            f"{self.chunks_embedded} new vectors computed (unchanged chunks keep theirs) in {self.seconds:.2f}s"
        )
        if self.excluded:
            reasons = ", ".join(f"{e.count} {e.reason}" for e in self.excluded)
            text += f"; not read: {reasons}"
        return text
