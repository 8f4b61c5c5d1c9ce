"""Command line of the memory server: serve (default), import, export."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from mcp_suite.servers.memory.settings import DEFAULT_NAMESPACE, MemorySettings
from mcp_suite.shared.cli import Command, ServerSpec, server_main
from mcp_suite.shared.errors import InvalidInputError, NotFoundError


def _build(settings: MemorySettings) -> Any:
    # The MCP surface (and the SDK) load only when serving, not for the other commands or --help.
    from mcp_suite.servers.memory.server import build_server

    return build_server(settings)


def _console(settings: MemorySettings) -> Any:
    # The web console (Starlette, templates) loads only when the console is served.
    from mcp_suite.servers.memory.console import section

    return section(settings)


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="memory.jsonl (or memory.json) of the reference server")
    parser.add_argument(
        "--create-missing",
        action="store_true",
        help="create entities of type 'unknown' for relations that name entities absent from the file and store",
    )


def _run_import(settings: MemorySettings, args: argparse.Namespace) -> int:
    # The store loads only for the commands that use it, not for --help or the console.
    from mcp_suite.servers.memory import jsonl
    from mcp_suite.servers.memory.graph import GraphStore
    from mcp_suite.servers.memory.storage import open_storage

    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text: {exc}") from exc
    parsed = jsonl.parse(text, str(path))

    async def run() -> Any:
        db = await open_storage(settings.database)
        try:
            return await GraphStore(db, settings.namespace).import_graph(
                parsed.entities, parsed.relations, parsed.relation_lines, create_missing=args.create_missing
            )
        finally:
            await db.close()

    report = anyio.run(run)
    print(
        f"imported {path} into namespace '{settings.namespace}' of {settings.database.redacted()}: "
        f"{report.entitiesCreated} entities created, {report.observationsAdded} observations added, "
        f"{report.relationsCreated} relations created, {report.entitiesCreatedForRelations} placeholder entities, "
        f"{report.duplicatesSkipped} duplicates skipped"
    )
    return 0


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write here instead of standard output")


def _run_export(settings: MemorySettings, args: argparse.Namespace) -> int:
    # The store loads only for the commands that use it, not for --help or the console.
    from mcp_suite.servers.memory import jsonl
    from mcp_suite.servers.memory.graph import GraphStore
    from mcp_suite.servers.memory.storage import open_storage

    async def run() -> Any:
        db = await open_storage(settings.database)
        try:
            store = GraphStore(db, settings.namespace)
            graph = await store.export()
            if not graph.entities and settings.namespace != DEFAULT_NAMESPACE:
                known = ", ".join(await store.namespaces()) or "none yet"
                raise NotFoundError(
                    f"namespace '{settings.namespace}' of {settings.database.redacted()} holds nothing; "
                    f"the namespaces with entities are: {known}"
                )
            return graph
        finally:
            await db.close()

    graph = anyio.run(run)
    text = "".join(line + "\n" for line in jsonl.dump(graph))
    output: Path | None = args.output
    if output is None:
        sys.stdout.write(text)
        return 0
    # Written beside the target and renamed over it: an interrupted export never leaves half a file.
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"exported {len(graph.entities)} entities and {len(graph.relations)} relations to {output}", file=sys.stderr)
    return 0


SPEC = ServerSpec(
    name="memory",
    summary="A persistent knowledge graph for MCP hosts, compatible with @modelcontextprotocol/server-memory.",
    settings=MemorySettings,
    build=_build,
    console=_console,
    commands={
        "import": Command(
            help="import a reference memory.jsonl/memory.json file (one transaction; merges with what is stored)",
            run=_run_import,
            add_arguments=_import_arguments,
        ),
        "export": Command(
            help="export the namespace in the reference memory.jsonl format",
            run=_run_export,
            add_arguments=_export_arguments,
        ),
    },
)

main = server_main("memory")
