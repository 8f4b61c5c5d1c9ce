"""URL fetching: scheme checks, redirects, status errors, size and time limits (peers via httpx.MockTransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest

from mcp_suite.servers.retrieval.fetching import MAX_REDIRECTS, Fetched, FetchError, UrlPolicy, fetch_url
from mcp_suite.servers.retrieval.readers import parse_bytes, type_for_content_type
from mcp_suite.shared.errors import InvalidInputError

pytestmark = pytest.mark.anyio

PAGE = (
    b"<html><head><title>Docs</title></head><body><nav>Menu</nav><main><h1>Hello</h1><p>Body.</p></main></body></html>"
)


def client(handler: Callable[[httpx.Request], Any]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_fetches_html_and_parses_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=PAGE, headers={"content-type": "text/html; charset=UTF-8"})

    async with client(handler) as http:
        fetched = await fetch_url("https://docs.example.com/start", client=http)
    assert isinstance(fetched, Fetched)
    assert (fetched.url, fetched.final_url) == ("https://docs.example.com/start", "https://docs.example.com/start")
    assert fetched.data == PAGE
    assert fetched.charset == "UTF-8"
    assert fetched.fetched_at.tzinfo is UTC and (datetime.now(UTC) - fetched.fetched_at).total_seconds() < 60
    assert seen[0].method == "GET"
    doc = parse_bytes(
        fetched.data,
        name=fetched.final_url,
        doc_type=type_for_content_type(fetched.content_type),
        encoding=fetched.charset,
    )
    assert doc.title == "Hello" and doc.text == "Hello\n\nBody."


async def test_follows_relative_redirects() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "/middle"})
        if request.url.path == "/middle":
            return httpx.Response(307, headers={"location": "https://cdn.example.com/new"})
        return httpx.Response(200, text="# New home\n", headers={"content-type": "text/markdown"})

    async with client(handler) as http:
        fetched = await fetch_url("http://example.com/old", client=http)
    assert fetched.url == "http://example.com/old"
    assert fetched.final_url == "https://cdn.example.com/new"
    assert fetched.content_type == "text/markdown"


async def test_redirect_limit() -> None:
    hops: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hops.append(request.url.path)
        return httpx.Response(302, headers={"location": f"/hop{len(hops)}"})

    async with client(handler) as http:
        with pytest.raises(FetchError, match=f"more than {MAX_REDIRECTS} redirects"):
            await fetch_url("https://example.com/start", client=http)
    assert len(hops) == MAX_REDIRECTS + 1


async def test_redirect_to_other_scheme_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "file:///etc/passwd"})

    async with client(handler) as http:
        with pytest.raises(FetchError, match="only http:// and https:// URLs are supported"):
            await fetch_url("https://example.com/", client=http)


async def test_redirect_without_location() -> None:
    async with client(lambda request: httpx.Response(302)) as http:
        with pytest.raises(FetchError, match="without a Location header"):
            await fetch_url("https://example.com/", client=http)


@pytest.mark.parametrize(
    ("status", "message"), [(404, "answered HTTP 404 Not Found; check the URL"), (503, "HTTP 503 Service Unavailable")]
)
async def test_http_errors(status: int, message: str) -> None:
    async with client(lambda request: httpx.Response(status, text="nope")) as http:
        with pytest.raises(FetchError, match=message):
            await fetch_url("https://example.com/missing", client=http)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file.txt", r"got ftp"),
        ("file:///etc/passwd", r"got file"),
        ("example.com/page", r"got no scheme"),
        ("javascript:alert(1)", r"got javascript"),
        ("http:///nohost", r"has no host name"),
    ],
)
async def test_wrong_scheme_or_host(url: str, message: str) -> None:
    called = False

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal called
        called = True
        return httpx.Response(200)

    async with client(handler) as http:
        with pytest.raises(FetchError, match=message):
            await fetch_url(url, client=http)
    assert not called
    assert issubclass(FetchError, InvalidInputError)


async def test_too_large_by_content_length() -> None:
    async with client(lambda request: httpx.Response(200, content=b"x" * 2000)) as http:
        with pytest.raises(FetchError, match=r"larger than the 1,000 byte limit \(2,000 bytes\)"):
            await fetch_url("https://example.com/big", client=http, max_bytes=1000)
        fetched = await fetch_url("https://example.com/big", client=http, max_bytes=2000)
        assert len(fetched.data) == 2000


async def test_too_large_while_streaming() -> None:
    produced = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal produced
        for _ in range(1000):
            produced += 1
            yield b"y" * 1024

    async with client(lambda request: httpx.Response(200, content=body())) as http:
        with pytest.raises(FetchError, match="larger than the 10,000 byte limit"):
            await fetch_url("https://example.com/stream", client=http, max_bytes=10_000)
    assert produced < 20  # stopped reading right after the limit, not after 1 MB


async def test_total_timeout() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(10)
        return httpx.Response(200)

    async with client(slow) as http:
        with anyio.fail_after(5):
            with pytest.raises(FetchError, match=r"took longer than 0.2 s"):
                await fetch_url("https://example.com/slow", client=http, timeout=0.2)


async def test_transport_timeout_and_connect_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    async with client(timeout) as http:
        with pytest.raises(FetchError, match=r"timed out \(ReadTimeout\)"):
            await fetch_url("https://example.com/", client=http)
    async with client(refused) as http:
        with pytest.raises(FetchError, match=r"cannot connect to unreachable\.example: .*Connection refused"):
            await fetch_url("https://unreachable.example/", client=http)


async def test_own_client_reports_unreachable_host() -> None:
    # Port 1 on localhost is closed: a real connection attempt that fails fast without network access.
    with pytest.raises(FetchError, match=r"cannot connect to 127\.0\.0\.1"):
        await fetch_url("http://127.0.0.1:1/", timeout=5, policy=UrlPolicy(allow_private=True))
