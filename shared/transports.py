"""Running a server over stdio, SSE or Streamable HTTP with the suite's security defaults.

HTTP binds to 127.0.0.1 unless told otherwise, keeps the SDK's Host/Origin (DNS-rebinding)
checks, and, given a token, refuses any request without ``Authorization: Bearer <token>``; all of
it holds in ``--stateless`` mode too (the SDK's stateless Streamable HTTP, for replicas behind a
load balancer).
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

import anyio

from mcp_suite.shared.settings import ServerSettings

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
INTERNAL_ERROR = -32603


class BearerTokenMiddleware:
    """Rejects HTTP requests that lack the configured bearer token (401), before the MCP app sees them."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(supplied, self._expected):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorized", "error_description": "missing or wrong bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="mcp-suite"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _accepts(headers: dict[bytes, bytes], wanted: tuple[str, ...]) -> bool:
    """Whether the Accept header covers every media type in ``wanted`` (wildcards included, RFC 9110)."""
    raw = headers.get(b"accept", b"").decode("latin-1")
    offered = {part.split(";", 1)[0].strip().lower() for part in raw.split(",") if part.strip()}
    if "*/*" in offered:
        return True
    return all(kind in offered or f"{kind.split('/', 1)[0]}/*" in offered for kind in wanted)


class AcceptMiddleware:
    """406 for a request whose ``Accept`` header does not cover what the transport answers with.

    Streamable HTTP asks a POST to accept ``application/json`` and ``text/event-stream`` and a GET to accept
    ``text/event-stream``; the SSE transport's stream is ``text/event-stream``. (The SDK checks Streamable
    HTTP itself as of mcp 2.3; this keeps the rule for both transports whatever the SDK version does.)
    """

    def __init__(self, app: ASGIApp, transport: str) -> None:
        self.app = app
        self.transport = transport

    def _required(self, method: str, path: str) -> tuple[str, ...]:
        if self.transport == "sse":
            return ("text/event-stream",) if method == "GET" and path.rstrip("/").endswith("/sse") else ()
        if method == "POST":
            return ("application/json", "text/event-stream")
        return ("text/event-stream",) if method == "GET" else ()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = self._required(scope.get("method", ""), scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        if not wanted or _accepts(headers, wanted):
            await self.app(scope, receive, send)
            return
        message = f"Not Acceptable: the Accept header must include {' and '.join(wanted)}"
        body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 406,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class NoStandaloneStreamMiddleware:
    """405 for ``GET`` in stateless mode: there is no session, so nothing could ever be sent on that stream.

    The SDK (mcp 2.3) would answer 200 and hold an empty SSE stream open for as long as the client waits,
    one idle connection per client at the load balancer. The spec lets a server without a standalone
    stream answer 405, which tells the client not to wait for server-initiated messages.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        message = "Method Not Allowed: this server runs stateless (--stateless) and offers no server-to-client stream"
        body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 405,
                "headers": [
                    (b"allow", b"POST"),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def transport_security(settings: ServerSettings) -> Any:
    """Host/Origin checks: on for loopback binds (as the SDK does), extended by ``--allowed-host``."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if settings.host not in _LOOPBACK and not settings.allowed_hosts:
        log.warning("binding to %s with no --allowed-host: only loopback Host headers are accepted", settings.host)
    for extra in settings.allowed_hosts:
        # A name without a port matches it with any port and without one (a proxy on 80/443 sends none).
        names = [extra] if ":" in extra else [extra, f"{extra}:*"]
        hosts.extend(names)
        origins.extend(f"{scheme}://{name}" for name in names for scheme in ("http", "https"))
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def http_app(server: MCPServer[Any], settings: ServerSettings) -> ASGIApp:
    """The ASGI app for the HTTP transports, with the token check outermost."""
    security = transport_security(settings)
    app: ASGIApp
    if settings.transport == "sse":
        app = server.sse_app(transport_security=security, host=settings.host)
    else:
        # Stateless: every POST gets a fresh transport and no Mcp-Session-Id, so a load balancer may send any
        # request to any replica; the lifespan (database, embedder) is still entered once per process.
        app = server.streamable_http_app(
            transport_security=security,
            host=settings.host,
            stateless_http=settings.stateless,
            json_response=settings.json_response,
        )
    app = AcceptMiddleware(app, settings.transport)
    if settings.stateless:
        app = NoStandaloneStreamMiddleware(app)
    if settings.auth_token is not None:
        app = BearerTokenMiddleware(app, settings.auth_token.get_secret_value())
    elif settings.host not in _LOOPBACK:
        log.warning("serving on %s without --auth-token: anyone who can reach it can use it", settings.host)
    return app


STARTUP_ERROR_WAIT = 10.0


def answer_startup_error(message: str, *, wait: float = STARTUP_ERROR_WAIT) -> bool:
    """In stdio mode a server that cannot start still answers the host's first request with ``message``.

    Without this a host only sees the process exit and reports "server disconnected"; a JSON-RPC error on
    ``initialize`` (or ``server/discover``) is shown to the user. Waits at most ``wait`` seconds for a request;
    returns True if one was answered. No-op when stdin is a terminal or closed.
    """
    import select

    stdin = sys.stdin
    if stdin is None or stdin.closed or stdin.isatty():
        return False
    deadline = time.monotonic() + wait
    try:
        fd = stdin.fileno()
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return False
            line = stdin.buffer.readline()
            if not line:
                return False  # the host hung up
            try:
                request = json.loads(line)
            except ValueError:
                continue
            if not isinstance(request, dict) or "id" not in request or "method" not in request:
                continue  # a notification needs no answer
            error = {"code": INTERNAL_ERROR, "message": message}
            reply = {"jsonrpc": "2.0", "id": request["id"], "error": error}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()
            return True
    except (OSError, ValueError):  # no selectable stdin (Windows pipes, a closed stream): exit quietly
        return False
    return False


def serve(server: MCPServer[Any], settings: ServerSettings) -> None:
    """Run ``server`` on the configured transport until the client hangs up or the process is stopped."""
    if settings.transport == "stdio":
        import sys

        if sys.stdin.isatty():
            # A person ran it in a terminal, not a host: say why it sits silent and what to do instead.
            print(stdio_greeting(server.name), file=sys.stderr, flush=True)
        anyio.run(server.run_stdio_async)
        return

    import uvicorn

    config = uvicorn.Config(
        http_app(server, settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep our stderr logging instead of uvicorn's own handlers
        lifespan="on",
    )
    path = "/sse" if settings.transport == "sse" else "/mcp"
    mode = " (stateless)" if settings.stateless else ""
    log.info("%s listening on http://%s:%s%s%s", server.name, settings.host, settings.port, path, mode)
    anyio.run(uvicorn.Server(config).serve)


def stdio_greeting(name: str) -> str:
    """The one line a server prints when started by hand on an interactive terminal."""
    return (
        f"{name} speaks MCP on stdin/stdout and waits for a host: add it to your host's config "
        f"(see claude_desktop_config.example.json), try it with `npx @modelcontextprotocol/inspector {name}`, "
        "or serve it over HTTP with --transport streamable-http. Ctrl-C quits."
    )
