"""Fetching a URL for ingestion: http(s) only, bounded in size, time and redirects.

The whole fetch — connecting, every redirect hop and reading the body — must finish within ``timeout``
seconds, and the body is streamed with a hard byte limit, so a hostile or huge page can neither stall
nor exhaust the server. Every failure is a :class:`FetchError` whose message says what went wrong and
what to try. ``httpx`` is imported lazily to keep server start-up fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import anyio

from mcp_suite.shared.errors import InvalidInputError

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5
USER_AGENT = "mcp-suite-retrieval/0.1 (+https://github.com/mcp-suite)"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(InvalidInputError):
    """The URL could not be fetched (bad scheme, unreachable, HTTP error, too large, too slow)."""


@dataclass(frozen=True)
class Fetched:
    """A fetched response body and where it finally came from."""

    url: str
    final_url: str
    content_type: str | None
    data: bytes
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def charset(self) -> str | None:
        """The ``charset`` parameter of the Content-Type, if any (a decoding hint)."""
        if not self.content_type:
            return None
        for param in self.content_type.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None


def check_url(url: str) -> str:
    """Return ``url`` stripped if it is an absolute http(s) URL with a host, else raise FetchError."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        shown = parts.scheme or "no scheme"
        raise FetchError(f"cannot fetch {url!r}: only http:// and https:// URLs are supported (got {shown})")
    if not parts.hostname:
        raise FetchError(f"cannot fetch {url!r}: the URL has no host name")
    return url


async def fetch_url(
    url: str,
    *,
    max_bytes: int = 10_000_000,
    timeout: float = 20.0,
    client: httpx.AsyncClient | None = None,
) -> Fetched:
    """GET ``url`` and return its body; raises :class:`FetchError` on any failure.

    Follows at most :data:`MAX_REDIRECTS` redirects (each must stay http/https); refuses bodies larger
    than ``max_bytes`` (by Content-Length up front, and while streaming); gives up after ``timeout``
    seconds in total. A given ``client`` is used as is (tests pass one with ``httpx.MockTransport``).
    """
    import httpx  # lazy: only URL ingestion needs it

    original = check_url(url)
    own_client = client is None
    http = client or httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), headers={"User-Agent": USER_AGENT}, follow_redirects=False
    )
    try:
        with anyio.fail_after(timeout if math.isfinite(timeout) else None):
            return await _fetch(http, original, max_bytes)
    except TimeoutError as exc:
        raise FetchError(f"fetching {original} took longer than {timeout:g} s; try again or raise the timeout") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"fetching {original} timed out ({type(exc).__name__}); the server is too slow") from exc
    except httpx.ConnectError as exc:
        host = urlsplit(original).hostname
        raise FetchError(f"cannot connect to {host}: {exc or type(exc).__name__}; check the URL and network") from exc
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"{original}: too many redirects") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"fetching {original} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if own_client:
            await http.aclose()


async def _fetch(http: httpx.AsyncClient, original: str, max_bytes: int) -> Fetched:
    current = original
    for _hop in range(MAX_REDIRECTS + 1):
        request = http.build_request("GET", current, headers={"Accept": "text/html, text/*;q=0.9, */*;q=0.5"})
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"{current} answered HTTP {response.status_code} without a Location header")
                current = check_url(urljoin(current, location))
                continue
            if response.status_code >= 400:
                reason = response.reason_phrase or ""
                raise FetchError(
                    f"{current} answered HTTP {response.status_code} {reason}".rstrip()
                    + ("; check the URL" if response.status_code in (404, 410) else "")
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(_too_large(current, max_bytes, int(declared)))
            body = bytearray()
            async for piece in response.aiter_bytes():
                body += piece
                if len(body) > max_bytes:
                    raise FetchError(_too_large(current, max_bytes))
            return Fetched(
                url=original,
                final_url=str(response.url),
                content_type=response.headers.get("content-type"),
                data=bytes(body),
            )
        finally:
            await response.aclose()
    raise FetchError(f"{original}: more than {MAX_REDIRECTS} redirects; give the final URL directly")


def _too_large(url: str, limit: int, size: int | None = None) -> str:
    got = f" ({size:,} bytes)" if size is not None else ""
    return f"{url} is larger than the {limit:,} byte limit{got}; download it and ingest the file instead"
