"""Settings of the retrieval server."""

from typing import ClassVar

from shared.settings import ServerSettings


class RetrievalSettings(ServerSettings):
    server_name: ClassVar[str] = "retrieval"
