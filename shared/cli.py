"""The command line every server shares.

``mcp-suite <server> [flags]`` serves over the chosen transport (stdio by default);
``mcp-suite <server> <command> …`` runs one of the server's own commands (``memory import``,
``retrieval ingest``, ``prompts check`` …). Each server's console script (``mcp-suite-memory``)
is the same parser without the first word. Flags come from the server's settings model, so a
new setting is a new flag, env var and YAML key at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin

from mcp_suite import __version__
from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.settings import ServerSettings

if TYPE_CHECKING:
    from mcp.server import MCPServer

# Imported only when named, so `mcp-suite memory` never pays for numpy or the embedder.
SERVERS: dict[str, str] = {
    "memory": "mcp_suite.servers.memory.cli:SPEC",
    "retrieval": "mcp_suite.servers.retrieval.cli:SPEC",
    "prompts": "mcp_suite.servers.prompts.cli:SPEC",
}


@dataclass(frozen=True)
class Command:
    """A server's own subcommand: it gets the loaded settings and the parsed arguments, returns an exit code."""

    help: str
    run: Callable[[Any, argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


@dataclass(frozen=True)
class ServerSpec:
    """How the CLI knows a server: its settings model, how to build its MCP surface, and its commands."""

    name: str
    summary: str
    settings: type[ServerSettings]
    build: Callable[[Any], MCPServer[Any]]
    console: Callable[[Any], Any] | None = None
    """Builds the server's pages of the web console from its settings (a ``shared.console.web.Section``)."""
    commands: dict[str, Command] = field(default_factory=dict)


def load_spec(name: str) -> ServerSpec:
    module_name, _, attr = SERVERS[name].partition(":")
    spec: ServerSpec = getattr(importlib.import_module(module_name), attr)
    return spec


def _flag_for(name: str, info: Any) -> str:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return str(extra.get("flag") or "--" + name.replace("_", "-"))


def add_settings_arguments(parser: argparse.ArgumentParser, settings: type[ServerSettings]) -> None:
    """One flag per settings field; defaults stay unset so env vars and the YAML file can fill them."""
    common = parser.add_argument_group("common options")
    own = parser.add_argument_group(f"{settings.server_name} options")
    parser.add_argument(
        "--config", type=Path, default=argparse.SUPPRESS, help="YAML settings file (env MCP_SUITE_CONFIG)"
    )
    for name, info in settings.model_fields.items():
        group = common if name in ServerSettings.model_fields else own
        help_text = f"{info.description or name} (env {settings.env_name(name)})"
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": help_text}
        annotation = info.annotation
        args = get_args(annotation)
        if get_origin(annotation) is list:
            kwargs["action"] = "append"
            kwargs["metavar"] = name.rstrip("s").upper()
        elif annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif get_origin(annotation) is not None and all(isinstance(a, str) for a in args):
            kwargs["choices"] = list(args)
        else:
            kwargs["metavar"] = name.upper()
        group.add_argument(_flag_for(name, info), **kwargs)


def build_parser(spec: ServerSpec, prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=spec.summary)
    parser.add_argument("--version", action="version", version=f"mcp-suite {__version__}")
    add_settings_arguments(parser, spec.settings)
    if spec.commands:
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands (default: serve)")
        for name, command in spec.commands.items():
            child = sub.add_parser(name, help=command.help, description=command.help)
            add_settings_arguments(child, spec.settings)
            command.add_arguments(child)
    return parser


def run(spec: ServerSpec, argv: Sequence[str], prog: str) -> int:
    """Parse ``argv`` for ``spec`` and serve or run the chosen command."""
    args = build_parser(spec, prog).parse_args(list(argv))
    known = set(spec.settings.model_fields)
    flags = {k: v for k, v in vars(args).items() if k in known}
    try:
        settings = spec.settings.load(flags, getattr(args, "config", None))
    except SuiteError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2

    from mcp_suite.shared.logs import configure_logging

    configure_logging(settings.log_level)
    command = getattr(args, "command", None)
    try:
        if command:
            return spec.commands[command].run(settings, args)
        from mcp_suite.shared.transports import serve

        serve(spec.build(settings), settings)
    except SuiteError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def server_main(name: str) -> Callable[[], None]:
    """The entry point of a per-server console script such as ``mcp-suite-memory``."""

    def main() -> None:
        sys.exit(run(load_spec(name), sys.argv[1:], f"mcp-suite-{name}"))

    return main


def main(argv: Sequence[str] | None = None) -> None:
    """``mcp-suite <server> …``"""
    if (sys.argv[1:2] if argv is None else list(argv)[:1]) in (["serve"], ["console"]):  # see shared/gateway.py
        from mcp_suite.shared.gateway import main as gateway_main

        words = list(sys.argv[1:] if argv is None else argv)
        sys.exit(gateway_main(words[0], words[1:]))
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SERVERS:
        if argv and argv[0] in ("--version", "-V"):
            print(f"mcp-suite {__version__}")
            sys.exit(0)
        names = ", ".join(SERVERS)
        print(f"usage: mcp-suite SERVER [options] [COMMAND ...]\n\nservers: {names}\n", file=sys.stderr)
        print("Run 'mcp-suite SERVER --help' for a server's options and commands.", file=sys.stderr)
        sys.exit(0 if argv and argv[0] in ("-h", "--help") else 2)
    sys.exit(run(load_spec(argv[0]), argv[1:], f"mcp-suite {argv[0]}"))
