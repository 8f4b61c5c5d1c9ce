"""Command line of the prompts server: serve (default), publish, label, check, test."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import anyio

from mcp_suite.servers.prompts.commands import CHECK_COMMAND, TEST_COMMAND
from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.shared.cli import Command, ServerSpec, server_main
from mcp_suite.shared.errors import InvalidInputError


def _build(settings: PromptsSettings) -> Any:
    # The MCP surface (and the SDK) load only when serving, not for the other commands or --help.
    from mcp_suite.servers.prompts.server import build_server
    from mcp_suite.servers.prompts.storage import check_database

    check_database(settings.database)  # a bad --database-url is one line before serving, not a failed session

    return build_server(settings)


def _console(settings: PromptsSettings) -> Any:
    # The web console (Starlette, templates) loads only when the console is served.
    from mcp_suite.servers.prompts.console import section

    return section(settings)


async def _open_service(settings: PromptsSettings) -> Any:
    # Storage and service load only for the commands that use the registry, not at start-up.
    from mcp_suite.servers.prompts.registry import Registry
    from mcp_suite.servers.prompts.service import PromptService
    from mcp_suite.servers.prompts.telemetry import Telemetry

    registry = await Registry.open(settings.database)
    service = PromptService(
        registry,
        Telemetry(registry.storage),
        None,
        author=settings.publisher,
        max_variable_chars=settings.max_variable_chars,
        max_output_chars=settings.max_output_chars,
    )
    await service.refresh()
    return service


def _publish_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, help="prompt library folder (default: --library)")


def _publish(settings: PromptsSettings, args: argparse.Namespace) -> int:
    folder: Path | None = args.folder or settings.library
    if folder is None:
        raise InvalidInputError("name the prompt library folder: mcp-suite prompts publish DIR")

    async def run() -> int:
        service = await _open_service(settings)
        try:
            outcome = await service.publish_folder(folder.expanduser())
        finally:
            await service.registry.close()
        for item in outcome.published:
            print(f"published {item.name}:{item.version}  ({item.source_file})")
        for item in outcome.unchanged:
            print(f"unchanged {item.name}:{item.version}")
        from mcp_suite.servers.prompts.storage import location

        where = location(settings.database)
        print(f"{len(outcome.published)} published, {len(outcome.unchanged)} unchanged into {where}")
        return 0

    return anyio.run(run)


def _label_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="prompt name")
    parser.add_argument("label", help="label, e.g. production or staging")
    parser.add_argument("version", nargs="?", help="version to point the label at (omit with --rollback)")
    parser.add_argument("--rollback", action="store_true", help="move the label back to its previous version")
    parser.add_argument(
        "--force", action="store_true", help="move it even if the version's arguments do not fit the label's callers"
    )


def _label(settings: PromptsSettings, args: argparse.Namespace) -> int:
    if not args.rollback and not args.version:
        raise InvalidInputError("give the version to point the label at, or --rollback")

    async def run() -> int:
        service = await _open_service(settings)
        try:
            if args.rollback:
                before, after = await service.rollback(args.name, args.label, force=args.force)
                print(f"{args.name}: label {args.label} rolled back from {before} to {after}")
            else:
                previous = await service.set_label(args.name, args.label, args.version, force=args.force)
                print(f"{args.name}: label {args.label} -> {args.version} (was {previous or 'unset'})")
        finally:
            await service.registry.close()
        return 0

    return anyio.run(run)


def _commands() -> dict[str, Command]:
    commands: dict[str, Command] = {"check": CHECK_COMMAND, "test": TEST_COMMAND}
    commands["publish"] = Command(
        help="publish a prompt library folder into the registry (all or nothing; unchanged versions are no-ops)",
        run=_publish,
        add_arguments=_publish_arguments,
    )
    commands["label"] = Command(
        help="point a label (production, staging …) of a prompt at a version, or roll it back",
        run=_label,
        add_arguments=_label_arguments,
    )
    return commands


SPEC = ServerSpec(
    name="prompts",
    summary="A versioned prompt registry served as MCP prompts: labels, rollouts, golden tests and telemetry.",
    settings=PromptsSettings,
    build=_build,
    console=_console,
    commands=_commands(),
    cli_names={
        "set_label": "mcp-suite prompts label",
        "tool publish": "mcp-suite prompts publish",
        "check_library": "mcp-suite prompts check",
    },
)

main = server_main("prompts")
