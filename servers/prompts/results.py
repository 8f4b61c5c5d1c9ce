"""Structured results of the prompts server's tools: the pydantic models MCP clients see as outputSchema.

These are protocol shapes only (no behaviour); records that storage and service already define once
(a version's run statistics) are reused here rather than copied.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mcp_suite.servers.prompts.records import ArgumentInfo, LabelAction, ResolutionSource, VersionStats


class VersionInfo(BaseModel):
    version: str
    content_hash: str
    author: str
    published_at: str
    source_file: str | None
    labels: list[str] = Field(description="labels pointing at this version")


class LabelMove(BaseModel):
    label: str
    version: str
    previous_version: str | None
    action: LabelAction
    rolled_back: bool = Field(description="a later rollback undid this move")
    at: str
    author: str


class Served(BaseModel):
    version: str
    reason: str = Field(description="why this version answers prompts/get")


class DraftInfo(BaseModel):
    version: str = Field(description="the version it will be published as")
    content_hash: str
    saved_at: str
    source_file: str | None


class VersionList(BaseModel):
    name: str
    served: Served
    versions: list[VersionInfo]
    draft: DraftInfo | None = Field(None, description="served only on request (label 'draft'), never to production")
    labels: dict[str, str] = Field(description="label → version")
    rollouts: dict[str, dict[str, float]] = Field(description="label → {version: percent}")
    label_history: list[LabelMove] = Field(description="the last 20 label moves, oldest first")


class VersionDiff(BaseModel):
    name: str
    from_version: str
    to_version: str
    identical: bool
    template_diff: str = Field(description="unified diff of the template/messages")
    settings_diff: str = Field(description="unified diff of description, tags, execution settings and variables")


class LabelResult(BaseModel):
    name: str
    label: str
    version: str
    previous_version: str | None


class RollbackResult(BaseModel):
    name: str
    label: str
    from_version: str
    to_version: str


class RolloutResult(BaseModel):
    name: str
    label: str
    label_version: str = Field(description="what the label points at (served to callers without a subject key)")
    splits: dict[str, float] = Field(description="version → percent of subjects; empty: no rollout")


class RenderedMessage(BaseModel):
    role: str
    content: str


class RenderResultModel(BaseModel):
    name: str
    version: str
    source: ResolutionSource
    reason: str = Field(description="why this version was served")
    label: str | None = None
    bucket: int | None = Field(None, description="the subject's rollout bucket (0-9999) when a split decided")
    messages: list[RenderedMessage]
    warnings: list[str] = Field(description="likely prompt-injection phrases found in the variables")
    execution_settings: dict[str, Any]
    output_schema: dict[str, Any] | None = Field(None, description="JSON Schema the model's answer should satisfy")


class PublishResult(BaseModel):
    folder: str
    published: list[str] = Field(description="name:version newly stored")
    unchanged: list[str] = Field(description="name:version already published with the same content")


class RecordedRun(BaseModel):
    id: int
    name: str
    version: str
    model: str | None = Field(None, description="the model the run is priced as")
    cost: float | None = Field(None, description="as given, or computed from the price table; None: unknown")


class StatsResult(BaseModel):
    name: str
    since: str | None
    versions: list[VersionStats]


CaseStatus = Literal["passed", "failed", "error", "rendered", "not run"]


class AssertionModel(BaseModel):
    kind: str
    passed: bool
    message: str = Field(description="what was found; for a rubric, the judge's verdict and reason")


class GoldenCaseModel(BaseModel):
    version: str
    case: str
    status: CaseStatus = Field(
        description="passed/failed: assertions checked on the model's output; error: no output (did not render, "
        "model call failed); rendered: nothing to assert and it renders; not run: its assertions need a model"
    )
    output: str | None = None
    error: str | None = None
    failed_assertions: list[str] = Field(default_factory=list)
    assertions: list[AssertionModel] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class GoldenVersionModel(BaseModel):
    version: str
    cases: int
    passed: int = Field(description="cases checked and fine")
    failed: int = Field(0, description="cases failed or in error")
    not_run: int = Field(0, description="cases whose assertions were not checked (no model)")


class GoldenResult(BaseModel):
    name: str
    mode: Literal["model", "render-only"]
    why_mode: str
    passed: bool = Field(description="every case was checked and is fine (a case not run is not a pass)")
    failed: int = Field(0, description="cases failed or in error")
    counts: dict[CaseStatus, int] = Field(default_factory=dict, description="cases per status")
    versions: list[GoldenVersionModel]
    cases: list[GoldenCaseModel]


class ProblemModel(BaseModel):
    file: str
    line: int | None
    severity: str
    message: str


class LibraryStatus(BaseModel):
    folder: str | None
    watching: bool
    prompts_served: int
    broken_files: list[ProblemModel] = Field(
        description="files on disk not served (their last good version stays live) and why"
    )
    problems: list[ProblemModel] = Field(default_factory=list, description="findings of the library check")


class PromptListing(BaseModel):
    name: str
    title: str | None
    description: str
    version: str = Field(description="the version prompts/get and render_prompt serve without a label or version")
    served_because: str
    arguments: list[ArgumentInfo] = Field(description="what every version a caller may be served accepts")
    output_schema: dict[str, Any] | None = Field(None, description="JSON Schema the model's answer should satisfy")


class PromptList(BaseModel):
    prompts: list[PromptListing]
    total: int = Field(description="prompts matching the query")
    next_offset: int | None = Field(None, description="pass as offset for the next page; None: this is the last")
