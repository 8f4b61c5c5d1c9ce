"""Command line of the prompts server."""

from typing import Any

from servers.prompts.settings import PromptsSettings
from shared.cli import ServerSpec, server_main


def _build(settings: PromptsSettings) -> Any:
    from servers.prompts.server import build_server

    return build_server(settings)


SPEC = ServerSpec(name="prompts", summary="The prompts server of mcp-suite.", settings=PromptsSettings, build=_build)

main = server_main("prompts")
