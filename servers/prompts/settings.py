"""Settings of the prompts server: where the prompt library lives and how it is watched and served."""

import getpass
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from mcp_suite.shared.settings import ServerSettings


class PromptsSettings(ServerSettings):
    server_name: ClassVar[str] = "prompts"
    engines: ClassVar[frozenset[str]] = frozenset({"sqlite", "postgresql"})

    library: Path | None = Field(
        None,
        description="prompt library folder (YAML files), auto-published into the registry on start and on change; "
        "unset: serve the registry only",
    )
    watch_interval: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="seconds between polls of the library folder for changes (0: never watch)",
    )
    author: str | None = Field(
        None,
        max_length=200,
        description="who publishes versions and moves labels (default: $USER)",
    )
    max_variable_chars: int = Field(
        20_000,
        ge=1,
        le=10_000_000,
        description="largest value accepted for one prompt variable, in characters",
    )
    max_output_chars: int = Field(
        200_000,
        ge=1,
        le=100_000_000,
        description="largest rendered prompt, in characters",
    )
    page_size: int = Field(
        500,
        ge=1,
        le=100_000,
        description="prompts per prompts/list page (hosts follow nextCursor for the rest)",
    )
    otel: bool = Field(
        False,
        description="export an OpenTelemetry span per render and per recorded run "
        "(needs opentelemetry-sdk and the usual OTEL_* variables)",
    )

    @field_validator("library", mode="after")
    @classmethod
    def _expand_library(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def publisher(self) -> str:
        """The author recorded on published versions and label changes."""
        if self.author:
            return self.author
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "unknown"
