"""One process, one port, every server: ``mcp-suite serve`` and ``mcp-suite console``.

``serve`` mounts each named server's HTTP app under its own prefix (``/memory/mcp``,
``/retrieval/mcp``, ``/prompts/mcp``; ``/<name>/sse`` with ``--transport sse``) with the same
Host/Origin checks and bearer token as a single server (:mod:`mcp_suite.shared.transports`), and adds
``GET /health`` (liveness and versions; no token, no data), ``GET /ready`` (each server's storage
reachable; no token, no data) and the web console at ``/console``. ``console`` serves the console
alone over a local data folder.

Each server reads its own settings exactly as when it runs alone (its ``MCP_SUITE_<SERVER>_*``
variables and its section of the YAML file); the common ones (host, port, token, data folder …)
come from this command's flags, so every mounted server shares them.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import anyio
import anyio.to_thread
from pydantic import Field
from starlette.types import ASGIApp, Message

from mcp_suite import __version__
from mcp_suite.shared.cli import SERVERS, ServerSpec, add_settings_arguments, load_spec
from mcp_suite.shared.database_url import DatabaseUrl, SqliteUrl
from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.settings import ServerSettings

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)


class GatewaySettings(ServerSettings):
    """The common settings, served over HTTP only, plus the console switch."""

    server_name: ClassVar[str] = "serve"

    transport: Literal["sse", "streamable-http"] = Field(
        "streamable-http", description="HTTP transport of every mounted server: streamable-http or sse"
    )
    console: bool = Field(True, description="serve the web console at /console")


def _common_values(settings: ServerSettings) -> dict[str, Any]:
    values = {name: getattr(settings, name) for name in ServerSettings.model_fields}
    if settings.auth_token is not None:
        values["auth_token"] = settings.auth_token.get_secret_value()
    return values


def load_server_settings(specs: Sequence[ServerSpec], common: ServerSettings, config: Path | None) -> dict[str, Any]:
    """Each server's own settings (env, YAML), with the common ones taken from ``common``."""
    return {spec.name: spec.settings.load(_common_values(common), config) for spec in specs}


def storage_ready(path: Path) -> str | None:
    """None when the database at ``path`` answers (or can be created); otherwise what is wrong."""
    if not path.exists():
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return None if os.access(folder, os.W_OK) else f"cannot create {path}: {folder} is not writable"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"cannot read {path}: {exc}"
    return None


async def database_ready(url: DatabaseUrl) -> str | None:
    """:func:`storage_ready` for either engine: a PostgreSQL server must accept a login."""
    if isinstance(url, SqliteUrl):
        return await anyio.to_thread.run_sync(storage_ready, url.path)
    from mcp_suite.shared.postgres import connect

    try:
        conn = await connect(url)
    except SuiteError as exc:
        return str(exc)
    await conn.close()
    return None


@asynccontextmanager
async def asgi_lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan: startup on entry, shutdown on exit (what uvicorn does for a top-level app)."""
    to_app, app_inbox = anyio.create_memory_object_stream[Message](2)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](2)

    async def receive() -> Message:
        return await app_inbox.receive()

    async def send(message: Message) -> None:
        await app_outbox.send(message)

    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

    async def run() -> None:
        await app(scope, receive, send)

    async with anyio.create_task_group() as group, to_app, from_app, app_inbox, app_outbox:
        group.start_soon(run)
        await to_app.send({"type": "lifespan.startup"})
        started = await from_app.receive()
        if started["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"a mounted app failed to start: {started.get('message', started['type'])}")
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await to_app.send({"type": "lifespan.shutdown"})
                await from_app.receive()


def build_app(
    specs: Sequence[ServerSpec],
    settings: dict[str, Any],
    common: GatewaySettings,
    *,
    mcp: bool = True,
    console: bool = True,
) -> Starlette:
    """The one ASGI app: the servers' MCP endpoints, the probes and (optionally) the console."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from mcp_suite.shared.transports import http_app

    routes: list[Route | Mount] = []
    mounted: list[ASGIApp] = []
    token = common.auth_token.get_secret_value() if common.auth_token is not None else None

    async def health(_: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "version": __version__, "servers": {spec.name: __version__ for spec in specs}}
        )

    async def ready(_: Request) -> Response:
        # Only ok/unavailable per server: the details (paths, errors) go to the log, not to an unauthenticated caller.
        states: dict[str, str] = {}
        for spec in specs:
            problem = await database_ready(settings[spec.name].database)
            if problem is not None:
                log.warning("%s not ready: %s", spec.name, problem)
            states[spec.name] = "ok" if problem is None else "unavailable"
        ok = all(state == "ok" for state in states.values())
        body = {"status": "ready" if ok else "unavailable", "servers": states}
        return JSONResponse(body, status_code=200 if ok else 503)

    routes += [Route("/health", health, methods=["GET"]), Route("/ready", ready, methods=["GET"])]

    if mcp:
        for spec in specs:
            # The very app a single server serves (token, Host/Origin and whatever else transports.py adds),
            # mounted under /<name>: its paths become /<name>/mcp, /<name>/sse and /<name>/messages/.
            app = http_app(spec.build(settings[spec.name]), settings[spec.name])
            mounted.append(app)
            routes.append(Mount(f"/{spec.name}", app=app))

    if console:
        from mcp_suite.shared.console.web import console_app

        console_sub = console_app(specs, settings, common)
        mounted.append(console_sub)
        routes.append(Mount("/console", app=console_sub))
        if token is None and common.host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("console on %s without --auth-token: anyone who can reach it can read it", common.host)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Starlette does not run a mounted app's lifespan; each one gets its own, as if it were served alone.
        async with AsyncExitStack() as stack:
            for app in mounted:
                await stack.enter_async_context(asgi_lifespan(app))
            yield

    return Starlette(routes=routes, lifespan=lifespan)


def run_http(app: ASGIApp, settings: ServerSettings, banner: str) -> None:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep our stderr logging instead of uvicorn's own handlers
        lifespan="on",
    )
    log.info("%s", banner)
    anyio.run(uvicorn.Server(config).serve)


def build_parser(command: str) -> argparse.ArgumentParser:
    if command == "serve":
        description = (
            "Serve every MCP server (or the named ones) on one port: /<server>/mcp (or /<server>/sse), "
            "GET /health, GET /ready and the web console at /console."
        )
    else:
        description = "Serve the web console over a local data folder (no MCP endpoints)."
    parser = argparse.ArgumentParser(prog=f"mcp-suite {command}", description=description)
    parser.add_argument("--version", action="version", version=f"mcp-suite {__version__}")
    parser.add_argument(
        "servers", nargs="*", metavar="SERVER", help=f"which servers (default: all of {', '.join(SERVERS)})"
    )
    add_settings_arguments(parser, GatewaySettings)
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    """``mcp-suite serve [SERVER ...]`` and ``mcp-suite console [SERVER ...]``."""
    prog = f"mcp-suite {command}"
    args = build_parser(command).parse_args(list(argv))
    names: list[str] = list(dict.fromkeys(args.servers)) or list(SERVERS)
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        print(f"{prog}: unknown server {', '.join(unknown)}; choose from {', '.join(SERVERS)}", file=sys.stderr)
        return 2
    flags = {k: v for k, v in vars(args).items() if k in GatewaySettings.model_fields}
    config: Path | None = getattr(args, "config", None)
    try:
        common = GatewaySettings.load(flags, config)
        common.check_serving()
        if command == "console" and common.auth_token is None:
            # Actions need a token; a local console makes its own and hands it over in the link below.
            common = common.model_copy(update={"auth_token": _secret(secrets.token_urlsafe(24))})
        specs = [load_spec(name) for name in names]
        own = load_server_settings(specs, common, config)
    except SuiteError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2

    from mcp_suite.shared.logs import configure_logging

    configure_logging(common.log_level)
    base = f"http://{_url_host(common.host)}:{common.port}"
    try:
        if command == "serve":
            app = build_app(specs, own, common, console=common.console)
            path = "sse" if common.transport == "sse" else "mcp"
            endpoints = ", ".join(f"{base}/{spec.name}/{path}" for spec in specs)
            banner = f"mcp-suite serve: {endpoints}; {base}/health, {base}/ready"
            if common.console:
                banner += f"; console at {base}/console/"
        else:
            app = build_app(specs, own, common, mcp=False, console=True)
            assert common.auth_token is not None
            login = f"{base}/console/login?token={common.auth_token.get_secret_value()}"
            banner = f"mcp-suite console: open {login} (the link logs you in; it holds this run's token)"
        run_http(app, common, banner)
    except SuiteError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


__all__ = ["GatewaySettings", "build_app", "main", "storage_ready"]
