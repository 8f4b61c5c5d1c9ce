"""Settings of the prompts server."""

from typing import ClassVar

from shared.settings import ServerSettings


class PromptsSettings(ServerSettings):
    server_name: ClassVar[str] = "prompts"
