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
import re
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
    # Domain messages name MCP tools ("list_sources shows …"); on the command line they name the command instead.
    cli_names: dict[str, str] = field(default_factory=dict)


def for_cli(message: str, spec: ServerSpec) -> str:
    """``message`` with the MCP tool names it mentions replaced by the CLI commands that do the same."""
    for tool, command in spec.cli_names.items():
        message = re.sub(rf"(?<![\w`]){re.escape(tool)}(?![\w`])", f"`{command}`", message)
    return message


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
    """Parse ``argv`` for ``spec`` and serve or run the chosen command.

    Exit codes: 0 done, 1 the command failed, 2 bad usage, settings or data folder (one line on stderr; in
    stdio serve mode the host's first request is also answered with that line, so it can show it).
    """
    args = build_parser(spec, prog).parse_args(list(argv))
    known = set(spec.settings.model_fields)
    flags = {k: v for k, v in vars(args).items() if k in known}
    command = getattr(args, "command", None)
    loaded: ServerSettings | None = None
    try:
        loaded = spec.settings.load(flags, getattr(args, "config", None))
        if not command:  # a server needs its data folder from the first request; a command opens it itself
            from mcp_suite.shared.db import check_data_dir

            check_data_dir(loaded.data_dir)
            loaded.check_serving()
    except SuiteError as exc:
        message = f"{prog}: {exc}"
        print(message, file=sys.stderr)
        if not command and _serves_stdio(loaded, flags):
            from mcp_suite.shared.transports import answer_startup_error

            answer_startup_error(message)
        return 2
    settings = loaded

    from mcp_suite.shared.logs import configure_logging

    configure_logging(settings.log_level)
    try:
        if command:
            return spec.commands[command].run(settings, args)
        from mcp_suite.shared.transports import serve

        serve(spec.build(settings), settings)
    except SuiteError as exc:
        print(f"{prog}: {for_cli(str(exc), spec) if command else exc}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:
        # anyio wraps what a lifespan or task raised; a domain error inside still deserves its one line.
        found = _first_suite_error(group)
        if found is None:
            raise
        print(f"{prog}: {for_cli(str(found), spec) if command else found}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _serves_stdio(settings: ServerSettings | None, flags: dict[str, Any]) -> bool:
    transport = settings.transport if settings is not None else flags.get("transport") or "stdio"
    return transport == "stdio"


def _first_suite_error(group: BaseExceptionGroup[Any]) -> SuiteError | None:
    for exc in group.exceptions:
        if isinstance(exc, SuiteError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_suite_error(exc)
            if found is not None:
                return found
    return None


def server_main(name: str) -> Callable[[], None]:
    """The entry point of a per-server console script such as ``mcp-suite-memory``."""

    def main() -> None:
        sys.exit(run(load_spec(name), sys.argv[1:], f"mcp-suite-{name}"))

    return main


USAGE = f"""usage: mcp-suite SERVER [options] [COMMAND ...]

servers: {", ".join(SERVERS)}

Run 'mcp-suite SERVER --help' for a server's options and commands.
'mcp-suite db copy --server NAME --from URL --to URL' copies a server's data between databases."""


def main(argv: Sequence[str] | None = None) -> None:
    """``mcp-suite <server> …``"""
    if (sys.argv[1:2] if argv is None else list(argv)[:1]) in (["serve"], ["console"]):  # see shared/gateway.py
        from mcp_suite.shared.gateway import main as gateway_main

        words = list(sys.argv[1:] if argv is None else argv)
        sys.exit(gateway_main(words[0], words[1:]))
    if (sys.argv[1:2] if argv is None else list(argv)[:1]) == ["db"]:  # see shared/db_copy.py
        from mcp_suite.shared.db_copy import main as db_main

        sys.exit(db_main(list(sys.argv[2:] if argv is None else argv[1:])))
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("--version", "-V"):
        print(f"mcp-suite {__version__}")
        sys.exit(0)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)  # asked for: stdout, success
        sys.exit(0)
    if not argv:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    if argv[0] not in SERVERS:
        from mcp_suite.shared.messages import did_you_mean

        hint = did_you_mean(argv[0], SERVERS)
        print(f"mcp-suite: unknown server {argv[0]!r}{hint}; the servers are: {', '.join(SERVERS)}", file=sys.stderr)
        print("Run 'mcp-suite --help' for usage.", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(load_spec(argv[0]), argv[1:], f"mcp-suite {argv[0]}"))
