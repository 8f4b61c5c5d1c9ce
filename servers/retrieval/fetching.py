"""Fetching a URL for ingestion: http(s) only, public addresses only, bounded in size, time and redirects.

A URL comes from a conversation, so it is untrusted: by default the server refuses to reach loopback,
private, link-local (cloud metadata at 169.254.169.254 / fd00:ec2::254), unspecified, multicast and other
non-global addresses, IPv4 and IPv6 alike (IPv4-mapped, 6to4 and NAT64 forms are unwrapped first). The host
is resolved and checked before every hop (redirects included), and the address actually connected to is
checked again before the body is read, so DNS rebinding gains nothing. :class:`UrlPolicy` (settings
``allow_private_urls`` and ``url_allow``) opens chosen networks for intranet use.

The whole fetch — connecting, every redirect hop and reading the body — must finish within ``timeout``
seconds, and the body is streamed with a hard byte limit, so a hostile or huge page can neither stall
nor exhaust the server. Every failure is a :class:`FetchError` whose message says what went wrong and
what to try. Requests go through the suite's HTTP layer (:mod:`mcp_suite.shared.http`): the server's
pooled client when one is given, and its retry policy (a page that answers 503 with ``Retry-After`` is asked
again, within the same time budget). ``httpx`` is imported lazily to keep server start-up fast.
"""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import anyio

from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.http import RetryPolicy, new_client, send

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5
USER_AGENT = "mcp-suite-retrieval/0.1 (+https://github.com/mcp-suite)"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
FETCH_RETRY = RetryPolicy(attempts=3, backoff=0.25, max_backoff=2.0, max_retry_after=5.0)
"""A user waits on URL ingest: few, short retries (the whole fetch stays within its timeout anyway)."""


class FetchError(InvalidInputError):
    """The URL could not be fetched (bad scheme, unreachable, HTTP error, too large, too slow)."""


class BlockedUrlError(FetchError):
    """The URL's host is (or resolves to, or connected to) an address the :class:`UrlPolicy` refuses."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack …
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class UrlPolicy:
    """Which addresses URL ingestion may reach: public ones, plus ``allow`` networks (or all, ``allow_private``)."""

    allow_private: bool = False
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, allow: Iterable[str]) -> UrlPolicy:
        networks: list[IPNetwork] = []
        for entry in allow:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise InvalidInputError(
                    f"url_allow entry {entry!r} is not an IP network; use CIDR form such as 10.0.0.0/8 or fd00::/8"
                ) from exc
        return cls(allow_private=allow_private, allow=tuple(networks))

    def refusal(self, address: str) -> str | None:
        """What kind of address ``address`` is if it may not be fetched (``a loopback address``), else None."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
        except ValueError:
            return "not an IP address"
        if self.allow_private or any(ip in net for net in self.allow if net.version == ip.version):
            return None
        return _non_public_kind(ip)


def _non_public_kind(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = _non_public_kind(embedded)
            return f"{inner} (as {embedded})" if inner else None
    if ip in _METADATA:
        return "a cloud metadata service address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private-network address"
    if ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def _blocked(url: str, host: str, reason: str) -> BlockedUrlError:
    return BlockedUrlError(
        f"refusing to fetch {url}: {host} {reason}. URL ingestion reaches public addresses only; to index an "
        "intranet, allow its network with --url-allow CIDR (setting url_allow) or all with --allow-private-urls"
    )


async def check_host(url: str, policy: UrlPolicy) -> None:
    """Refuse ``url`` if its host is, or resolves to, an address ``policy`` does not allow.

    A name that does not resolve is left to the connection to report; the connected address is checked
    again in any case (:func:`_check_peer`).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if policy.allow_private:
        return
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        kind = policy.refusal(host)
        if kind:
            raise _blocked(url, host, f"is {kind}")
        return
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return  # unresolvable: the connection attempt fails with its own message
    for info in infos:
        address = str(info[4][0])
        kind = policy.refusal(address)
        if kind:
            raise _blocked(url, host, f"resolves to {address}, {kind}")


def _check_peer(url: str, response: httpx.Response, policy: UrlPolicy) -> None:
    """Refuse a response whose connection went to a refused address (DNS rebinding, a hostile resolver)."""
    stream = response.extensions.get("network_stream")
    if stream is None or policy.allow_private:
        return  # not a socket (tests' MockTransport) or nothing to check
    peer = stream.get_extra_info("server_addr")
    if isinstance(peer, tuple) and peer:
        kind = policy.refusal(str(peer[0]))
        if kind:
            raise _blocked(url, urlsplit(url).hostname or "", f"connected to {peer[0]}, {kind}")


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
    policy: UrlPolicy | None = None,
    retry: RetryPolicy = FETCH_RETRY,
) -> Fetched:
    """GET ``url`` and return its body; raises :class:`FetchError` on any failure.

    Follows at most :data:`MAX_REDIRECTS` redirects (each must stay http/https); refuses bodies larger
    than ``max_bytes`` (by Content-Length up front, and while streaming); gives up after ``timeout``
    seconds in total. A given ``client`` (the server's pooled one, or a test's ``httpx.MockTransport``) is
    used as is; its redirect setting does not matter, every hop is sent with redirects off.
    Every hop must pass ``policy`` (default: public addresses only), else :class:`BlockedUrlError`.
    """
    import httpx  # lazy: only URL ingestion needs it

    original = check_url(url)
    own_client = client is None
    http = client or new_client(timeout=timeout, headers={"User-Agent": USER_AGENT})
    try:
        with anyio.fail_after(timeout if math.isfinite(timeout) else None):
            return await _fetch(http, original, max_bytes, policy or UrlPolicy(), retry, timeout)
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


async def _fetch(
    http: httpx.AsyncClient, original: str, max_bytes: int, policy: UrlPolicy, retry: RetryPolicy, timeout: float
) -> Fetched:
    import httpx

    current = original
    per_request = httpx.Timeout(timeout if math.isfinite(timeout) else None)
    headers = {"Accept": "text/html, text/*;q=0.9, */*;q=0.5", "User-Agent": USER_AGENT}
    for _hop in range(MAX_REDIRECTS + 1):
        await check_host(current, policy)
        request = http.build_request("GET", current, headers=headers, timeout=per_request)
        hop = current

        def peer_ok(response: httpx.Response, url: str = hop) -> None:
            _check_peer(url, response, policy)

        # shared.http.send never follows a redirect: each hop comes back here to be checked.
        response = await send(http, request, stream=True, policy=retry, inspect=peer_ok)
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
    return (
        f"{url} is larger than the {limit:,} byte limit{got} (--max-url-mb); raise it, or download the file and "
        "ingest it (held to --max-file-mb)"
    )


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if it names one."""
    if not content_type:
        return None
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None
