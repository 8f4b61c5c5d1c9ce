"""``mcp-suite db copy --server NAME --from URL --to URL``: one server's data moved between engines.

Each server that can be copied provides ``mcp_suite.servers.<name>.copying.copy_database(source, target)``,
which copies in one target transaction, refuses a non-empty target and returns the verified row count
per table; this module only parses the command line, dispatches and prints the counts. Errors are one
line on stderr and a non-zero exit, never a traceback; URLs are shown without their passwords.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

import anyio

from mcp_suite.shared.database_url import DatabaseUrl, parse_database_url
from mcp_suite.shared.errors import SuiteError

CopyDatabase = Callable[[DatabaseUrl, DatabaseUrl], Awaitable[dict[str, int]]]
SERVERS = ("memory", "retrieval", "prompts")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="mcp-suite db", description="Work on a server's database.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    copy = commands.add_parser(
        "copy",
        help="copy one server's data from one database to another, empty one (SQLite <-> PostgreSQL)",
        description="Copy one server's data between databases in one transaction, verified by row counts. "
        "The target must hold none of that server's data yet.",
    )
    copy.add_argument("--server", required=True, choices=SERVERS, help="whose data to copy")
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="sqlite:///PATH or postgresql://…")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="sqlite:///PATH or postgresql://…")
    return root


def _url(raw: str, server: str) -> DatabaseUrl:
    return parse_database_url(raw.replace("{server}", server))


def _copier(server: str) -> CopyDatabase:
    try:
        module = importlib.import_module(f"mcp_suite.servers.{server}.copying")
    except ModuleNotFoundError as exc:
        if exc.name != f"mcp_suite.servers.{server}.copying":
            raise
        raise SuiteError(f"the {server} server cannot be copied by this version of mcp-suite") from None
    return cast(CopyDatabase, module.copy_database)


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    try:
        source, target = _url(args.source, args.server), _url(args.target, args.server)
        copy = _copier(args.server)
        counts = anyio.run(copy, source, target)
    except SuiteError as exc:
        print(f"mcp-suite db copy: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mcp-suite db copy: interrupted; the target is unchanged", file=sys.stderr)
        return 130
    shown = ", ".join(f"{table} {n}" for table, n in counts.items())
    print(f"copied {args.server} from {source.redacted()} to {target.redacted()} (verified: {shown})")
    return 0
