"""Command line of the retrieval server."""

from typing import Any

from servers.retrieval.settings import RetrievalSettings
from shared.cli import ServerSpec, server_main


def _build(settings: RetrievalSettings) -> Any:
    from servers.retrieval.server import build_server

    return build_server(settings)


SPEC = ServerSpec(
    name="retrieval", summary="The retrieval server of mcp-suite.", settings=RetrievalSettings, build=_build
)

main = server_main("retrieval")
