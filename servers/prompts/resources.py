"""The prompts server's resources (``prompts://…``) and completion, registered on a :class:`PromptsServer`.

Part of the MCP surface (split out of ``server.py`` to keep it small): each handler only asks the
service and shapes the answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mcp.types import Completion, PromptReference, ResourceTemplateReference

from mcp_suite.servers.prompts.results import LibraryStatus, ProblemModel
from mcp_suite.servers.prompts.settings import PromptsSettings

MAX_COMPLETIONS = 100

if TYPE_CHECKING:
    from mcp_suite.servers.prompts.server import PromptsServer
    from mcp_suite.servers.prompts.service import PromptService


def register_resources(server: PromptsServer) -> None:
    """The prompts:// resources."""

    @server.resource("prompts://library/status", mime_type="application/json")
    async def status() -> str:
        """Which library folder is served, how many prompts, and which files are broken (file:line)."""
        service = await server.service()
        return library_status(server.runtime.settings, service).model_dump_json(indent=2)

    @server.resource("prompts://{name}/source", mime_type="application/yaml")
    async def prompt_source(name: str) -> str:
        """The YAML source of the version of a prompt that prompts/get serves."""
        service = await server.service()
        resolution = service.resolve(name)
        return service.entry(name).versions[resolution.version].source_text

    @server.resource("prompts://{name}/versions/{version}/source", mime_type="application/yaml")
    async def version_source(name: str, version: str) -> str:
        """The YAML source of one published version of a prompt."""
        service = await server.service()
        service.resolve(name, version=version)
        return service.entry(name).versions[version].source_text

    @server.resource("prompts://{name}/versions", mime_type="application/json")
    async def version_list(name: str) -> str:
        """The published versions of a prompt, its labels, rollouts and the served version."""
        service = await server.service()
        entry = service.entry(name)
        resolution = service.resolve(name)
        return json.dumps(
            {
                "name": name,
                "served": {"version": resolution.version, "reason": resolution.reason},
                "versions": [
                    {
                        "version": v.version,
                        "content_hash": v.content_hash,
                        "author": v.author,
                        "published_at": v.published_at,
                        "source_file": v.source_file,
                    }
                    for v in entry.ordered_versions()
                ],
                "labels": entry.labels,
                "rollouts": entry.rollouts,
            },
            indent=2,
        )


def register_completion(server: PromptsServer) -> None:
    """Completion of prompt arguments and resource template variables."""

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> Completion | None:
        service = await server.service()
        value = argument.value or ""
        if isinstance(ref, PromptReference):
            values = service.completions(ref.name, argument.name, value)
        elif isinstance(ref, ResourceTemplateReference):
            if argument.name == "name":
                values = service.names(value)
            elif argument.name == "version":
                known = (context.arguments or {}).get("name") if context is not None else None
                entry = service.catalog.get(known or "")
                values = [v.version for v in entry.ordered_versions() if v.version.startswith(value)] if entry else []
            else:
                values = []
        else:
            return None
        # The protocol allows 100 values per answer; total and hasMore tell the host how many more match.
        return Completion(values=values[:MAX_COMPLETIONS], total=len(values), has_more=len(values) > MAX_COMPLETIONS)


def library_status(settings: PromptsSettings, service: PromptService) -> LibraryStatus:
    """The library folder, whether it is watched, how many prompts are served, and the broken files."""
    broken = [
        ProblemModel(file=error.path, line=issue.line, severity="error", message=issue.message)
        for error in service.library_errors()
        for issue in error.issues
    ]
    library = settings.library
    return LibraryStatus(
        folder=str(library) if library is not None else None,
        watching=library is not None and settings.watch_interval > 0,
        prompts_served=len(service.served()),
        broken_files=broken,
    )
