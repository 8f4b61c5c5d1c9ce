"""The console's web layer: routing, sign-in, Host/Origin checks, rendering and confirmed actions.

Pages are server-rendered (Jinja2, autoescape on) with no JavaScript build and nothing fetched
from elsewhere. Security follows the MCP endpoints of the same process:

* Host must be one the MCP endpoints accept (DNS-rebinding protection); a POST with a foreign
  ``Origin`` is refused.
* With a token configured, every page needs it: once per browser through the sign-in form (which
  sets an HttpOnly, SameSite=Strict cookie holding a value derived from the token, never the token
  itself), or as ``Authorization: Bearer`` like the MCP endpoints.
* Without a token the console is read-only. Actions (moving a label, a rollout, deleting a source)
  need the token, a per-token form key, and an explicit confirmation page; they call the same
  service-layer methods as the MCP tools.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from mcp_suite import __version__
from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.settings import ServerSettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

BASE = "/console"
COOKIE = "mcp_suite_console"
TEMPLATES = Path(__file__).with_name("templates")
_LOOPBACK_HOSTS = ("127.0.0.1:*", "localhost:*", "[::1]:*")
# Nothing is loaded from elsewhere (no CDN, by policy, not just by habit), no page can be framed by
# another site, and the sign-in link's token never leaves in a Referer header.
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'unsafe-inline'; style-src 'self'; img-src 'self' data:; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on form posts.
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
]


@dataclass(frozen=True)
class Section:
    """One server's pages: mounted at ``/console/<name>``, with templates in ``templates`` and an
    optional lifespan (opening the server's storage through its service layer)."""

    name: str
    title: str
    summary: str
    routes: Sequence[BaseRoute]
    templates: Path
    lifespan: Callable[[], AbstractAsyncContextManager[None]] | None = None


@dataclass
class Console:
    """What every page needs: the sections, the template environment and the token (if any)."""

    sections: list[Section]
    env: Environment
    token: str | None
    allowed_hosts: list[str] = field(default_factory=list)

    def _derive(self, purpose: str) -> str:
        assert self.token is not None
        return hmac.new(self.token.encode(), purpose.encode(), hashlib.sha256).hexdigest()

    @property
    def session_value(self) -> str:
        return self._derive("console-session")

    @property
    def form_key(self) -> str:
        return self._derive("console-form")

    def signed_in(self, request: Request) -> bool:
        if self.token is None:
            return False
        cookie = request.cookies.get(COOKIE, "")
        if cookie and hmac.compare_digest(cookie.encode(), self.session_value.encode()):
            return True
        supplied = request.headers.get("authorization", "")
        return hmac.compare_digest(supplied.encode(), f"Bearer {self.token}".encode())


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def can_act(request: Request) -> bool:
    """Actions are possible only when a token is configured and this browser has signed in with it."""
    console = console_of(request)
    return console.token is not None and console.signed_in(request)


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200) -> Response:
    """Render ``template`` inside the shell (navigation, sign-in state, form key)."""
    console = console_of(request)
    section = next((s for s in console.sections if request.url.path.startswith(f"{BASE}/{s.name}")), None)
    page = {
        "base": BASE,
        "sections": console.sections,
        "section": section,
        "version": __version__,
        "can_act": can_act(request),
        "has_token": console.token is not None,
        "form_key": console.form_key if can_act(request) else "",
        "notice": request.query_params.get("done"),
        "path": request.url.path,
    }
    html = console.env.get_template(template).render({**page, **(context or {})})
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, message: str, status: int = 400) -> Response:
    return render(request, "error.html", {"message": message}, status=status)


async def confirmed_action(
    request: Request,
    *,
    title: str,
    describe: str,
    perform: Callable[[], Awaitable[str]],
    back: str,
) -> Response:
    """Run a state-changing action: refused without the token, shown for confirmation first, then performed.

    ``perform`` returns the sentence shown back on ``back``; a :class:`SuiteError` it raises is shown
    as the page's error, with its own advice.
    """
    console = console_of(request)
    if console.token is None:
        return error_page(
            request,
            "This console is read-only: actions need a token. Restart with --auth-token TOKEN "
            "(or MCP_SUITE_AUTH_TOKEN) and sign in with it.",
            status=403,
        )
    if not can_act(request):
        return error_page(request, "Sign in with the token first (Sign in, top right).", status=403)
    form = await request.form()
    # The cookie alone does not authorise an action: the form must carry the key only our pages hold.
    if not hmac.compare_digest(str(form.get("form_key", "")).encode(), console.form_key.encode()):
        return error_page(request, "Missing or stale form key; reload the page and try again.", status=403)
    fields = {k: str(v) for k, v in form.items() if k not in ("confirm", "form_key")}
    if form.get("confirm") != "yes":
        return render(request, "confirm.html", {"title": title, "describe": describe, "fields": fields, "back": back})
    try:
        outcome = await perform()
    except SuiteError as exc:
        return error_page(request, str(exc))
    log.info("console action: %s", outcome)
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={quote(outcome)}", status_code=303)


def _host_allowed(host: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        if pattern.endswith(":*"):
            name = pattern[:-2]
            if host == name or (host.startswith(name + ":") and host[len(name) + 1 :].isdigit()):
                return True
        elif host == pattern:
            return True
    return False


class _Guard:
    """Host/Origin checks, the sign-in requirement and the form key, in front of every console page."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self._refuse(request)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        if response is None:
            await self.app(scope, receive, send_with_headers)
        else:
            await response(scope, receive, send_with_headers)

    async def _refuse(self, request: Request) -> Response | None:
        console = self.console
        if not _host_allowed(request.headers.get("host", ""), console.allowed_hosts):
            return PlainTextResponse("Invalid Host header", status_code=421)
        origin = request.headers.get("origin")
        if request.method == "POST" and origin is not None:
            netloc = urlsplit(origin).netloc
            if not _host_allowed(netloc, console.allowed_hosts):
                return PlainTextResponse("Invalid Origin header", status_code=403)
        path = request.url.path
        if console.token is None or path in (f"{BASE}/login", f"{BASE}/style.css"):
            return None
        if not console.signed_in(request):
            return RedirectResponse(f"{BASE}/login?next={quote(path)}", status_code=303)
        return None


def _allowed_hosts(settings: ServerSettings) -> list[str]:
    hosts = list(_LOOPBACK_HOSTS)
    for extra in settings.allowed_hosts:
        hosts.extend([extra] if ":" in extra else [extra, f"{extra}:*"])
    return hosts


async def _index(request: Request) -> Response:
    return render(request, "index.html")


async def _style(_: Request) -> Response:
    return Response((TEMPLATES / "style.css").read_text(encoding="utf-8"), media_type="text/css")


async def _login(request: Request) -> Response:
    console = console_of(request)
    target = request.query_params.get("next") or f"{BASE}/"
    if not target.startswith(f"{BASE}/"):
        target = f"{BASE}/"  # only ever back into the console: no open redirect
    if console.token is None:
        return RedirectResponse(target, status_code=303)
    supplied = request.query_params.get("token")
    if request.method == "POST":
        supplied = str((await request.form()).get("token", ""))
    if supplied is None:
        return render(request, "login.html", {"next": target})
    if not hmac.compare_digest(supplied.encode(), console.token.encode()):
        return render(request, "login.html", {"next": target, "wrong": True}, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, console.session_value, path=BASE, httponly=True, samesite="strict")
    return response


async def _logout(request: Request) -> Response:
    response = RedirectResponse(f"{BASE}/login", status_code=303)
    response.delete_cookie(COOKIE, path=BASE)
    return response


def console_app(specs: Sequence[Any], settings: Mapping[str, Any], common: ServerSettings) -> Starlette:
    """The console for ``specs`` (each server's pages come from its ``ServerSpec.console``)."""
    sections: list[Section] = [spec.console(settings[spec.name]) for spec in specs if spec.console is not None]
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(str(TEMPLATES)), *(FileSystemLoader(str(s.templates)) for s in sections)]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    token = common.auth_token.get_secret_value() if common.auth_token is not None else None
    console = Console(sections, env, token, _allowed_hosts(common))

    routes: list[BaseRoute] = [
        Route("/", _index),
        Route("/style.css", _style),
        Route("/login", _login, methods=["GET", "POST"]),
        Route("/logout", _logout, methods=["POST"]),
        *(Mount(f"/{s.name}", routes=list(s.routes)) for s in sections),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for section in sections:
                if section.lifespan is not None:
                    await stack.enter_async_context(section.lifespan())
            yield

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    app.add_middleware(_Guard, console=console)
    return app


__all__ = ["BASE", "Section", "can_act", "confirmed_action", "console_app", "error_page", "render"]
