"""Records the prompts server's layers share: one type per concept, used by storage, service and protocol.

Also the timestamp format stored records carry (:func:`now`). Kept in a module of its own (pydantic
only) so the MCP surface can declare them as tool results without importing the storage modules
before a client is connected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

LabelAction = Literal["set", "rollback"]
"""How a label moved: set to a version, or rolled back to the one before."""

ResolutionSource = Literal["version", "label", "rollout", "library", "latest", "draft"]
"""Why a version was served: requested by number, through a label or its rollout, from the library
folder, as the latest published, or as the draft."""


def now() -> str:
    """The current time as stored: UTC, ISO 8601 with microseconds and a ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class VersionStats(BaseModel):
    """One version's telemetry: what serving it cost, how fast and how good it was."""

    model_config = ConfigDict(frozen=True)

    version: str
    served: int = Field(0, description="prompts/get and render_prompt calls that served this version")
    served_via: dict[str, int] = Field(
        default_factory=dict,
        description="served counts by how the version was chosen: label:<name>, rollout:<label>, library, "
        "latest, version, draft",
    )
    runs: int
    errors: int
    error_rate: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    total_cost: float = Field(description="sum of the known costs")
    priced_runs: int = Field(0, description="runs with a known cost (given, or computed from the price table)")
    mean_cost: float | None
    mean_quality_score: float | None
    rated_runs: int
    approval_rate: float | None = Field(
        description="share of positive feedback among runs that got feedback (None: no feedback yet)"
    )


class ArgumentInfo(BaseModel):
    """One argument of a prompt as callers see it (prompts/list, list_prompts)."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    required: bool = True
    enum: list[str] | None = None
    default: str | None = None


class PromptSummary(BaseModel):
    """What listing a version shows, stored with it so listing never parses YAML."""

    model_config = ConfigDict(frozen=True)

    title: str | None = None
    description: str = ""
    arguments: list[ArgumentInfo] = Field(default_factory=list)
    output_schema: dict[str, Any] | None = None
