"""Settings of the memory server."""

from typing import ClassVar

from pydantic import Field

from mcp_suite.shared.settings import ServerSettings

DEFAULT_NAMESPACE = "default"


class MemorySettings(ServerSettings):
    server_name: ClassVar[str] = "memory"

    namespace: str = Field(
        DEFAULT_NAMESPACE,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="which isolated memory of the shared store this instance reads and writes",
    )
