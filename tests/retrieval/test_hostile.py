"""Hostile and malformed requests to the retrieval server: each gets a precise answer (the right JSON-RPC
code, or a tool error that says what to fix), no traceback is logged, and the server keeps answering a normal
call within 5 s."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from mcp_suite.servers.retrieval.server import build_server
from mcp_suite.servers.retrieval.settings import RetrievalSettings

pytestmark = pytest.mark.anyio


@pytest.fixture
def lexical(data_dir: Path) -> RetrievalSettings:
    return RetrievalSettings(data_dir=data_dir, embedder="none")


async def _still_serving(client: Client) -> None:
    with anyio.fail_after(5):
        result = await client.call_tool("search", {"query": "lighthouse"})
    assert not result.is_error, result.content
    assert result.structured_content and result.structured_content["hits"]


async def _seed(client: Client) -> None:
    text = "# Keeper\n\nThe lighthouse keeper logs every ship."
    result = await client.call_tool("ingest_text", {"text": text, "source": "notes/keeper.md"})
    assert not result.is_error, result.content


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


BAD_TOOL_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("search", {"query": "light\x00house"}, "query: must not contain control characters (found U+0000"),
    ("search", {"query": "\x00"}, "query: must not contain control characters (found U+0000"),
    ("search", {"query": "x", "k": 1e30}, "k: 1e+30 is out of range"),
    ("search", {"query": "x", "k": "five"}, "k: expected a whole number, got a string"),
    ("list_sources", {"offset": 2**63}, "offset: 9223372036854775808 is out of range"),
    ("list_sources", {"offset": 1e30}, "offset: 1e+30 is out of range"),
    ("get_chunk", {"chunk_id": 2**63}, "chunk_id: 9223372036854775808 is out of range"),
    ("ingest_text", {"text": "a\x00b", "source": "x.md"}, "text: must not contain control characters (found U+0000"),
    ("ingest_text", {"text": "ok", "source": "x\x00.md"}, "source: must not contain control characters (found U+0000"),
    ("ingest_text", {"text": ["not", "text"], "source": "x.md"}, "text: expected a string, got a list"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_TOOL_CALLS)
async def test_bad_tool_calls_get_one_clear_line(
    lexical: RetrievalSettings, caplog: pytest.LogCaptureFixture, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(lexical)) as client:
        await _seed(client)
        result = await client.call_tool(tool, arguments)
        assert result.is_error
        message = result.content[0].text  # type: ignore[union-attr]
        assert expected in message
        assert "pydantic" not in message and "validation error for" not in message
        await _still_serving(client)
    _no_traceback(caplog)


async def test_prompt_errors_are_invalid_params(lexical: RetrievalSettings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(lexical)) as client:
        await _seed(client)
        for name, arguments, text in (
            ("nosuch", {}, "unknown prompt 'nosuch'; this server's prompts are: answer_with_context"),
            ("answer_with_context", {}, "needs the argument(s) 'question'"),
            ("answer_with_context", {"question": "x", "k": "99"}, "k must be a whole number from 1 to 20"),
            ("answer_with_context", {"question": "light\x00"}, "control characters (found U+0000 at position 5)"),
        ):
            with pytest.raises(MCPError) as caught:
                await client.get_prompt(name, arguments)
            assert caught.value.code == INVALID_PARAMS, caught.value
            assert text in caught.value.message
        await _still_serving(client)
    _no_traceback(caplog)


async def test_unknown_resources_are_invalid_params(
    lexical: RetrievalSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Client(build_server(lexical)) as client:
        await _seed(client)
        for uri, text in (
            ("retrieval://nosuch", "Unknown resource"),
            ("retrieval://documents/999", "no indexed source 999"),
            ("retrieval://documents/abc", "must be a number"),
        ):
            with pytest.raises(MCPError) as caught:
                await client.read_resource(uri)
            assert caught.value.code == INVALID_PARAMS
            assert text in caught.value.message
        await _still_serving(client)
    _no_traceback(caplog)


# ---- URL ingestion reaches public addresses only (SSRF) --------------------------------------------------

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.1.1", "link-local"),
    ("100.100.100.200", "cloud metadata"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("100.64.0.1", "not a public address"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fc00::1", "private"),
    ("fd00:ec2::254", "cloud metadata"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
    ("2002:7f00:1::", "loopback"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    from mcp_suite.servers.retrieval.fetching import UrlPolicy

    reason = UrlPolicy().refusal(address)
    assert reason is not None and kind in reason
    assert UrlPolicy(allow_private=True).refusal(address) is None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    from mcp_suite.servers.retrieval.fetching import UrlPolicy

    assert UrlPolicy().refusal(address) is None


def test_allow_list_opens_only_its_networks() -> None:
    from mcp_suite.servers.retrieval.fetching import UrlPolicy
    from mcp_suite.shared.errors import InvalidInputError

    policy = UrlPolicy.from_settings(False, ["10.0.0.0/8", "fd12::/16"])
    assert policy.refusal("10.20.30.40") is None and policy.refusal("fd12::5") is None
    assert policy.refusal("192.168.1.1") and policy.refusal("127.0.0.1")
    with pytest.raises(InvalidInputError, match="not an IP network"):
        UrlPolicy.from_settings(False, ["intranet"])
    with pytest.raises(ValueError, match="not an IP network"):
        RetrievalSettings(url_allow=["10.0.0.0/33"])


def _mock(routes: dict[str, tuple[int, dict[str, str]]]) -> Any:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        status, headers = routes.get(str(request.url), (404, {}))
        return httpx.Response(status, headers=headers, text="secret admin page" if status == 200 else "")

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("http://localhost:8080/admin", "resolves to 127.0.0.1, a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata service address"),
        ("http://[::ffff:127.0.0.1]:9000/", "a loopback address"),
        ("http://[fd00:ec2::254]/latest/", "a cloud metadata service address"),
        ("http://0.0.0.0:6379/", "the unspecified address"),
    ],
)
async def test_a_redirect_to_an_internal_address_is_refused(target: str, kind: str) -> None:
    from mcp_suite.servers.retrieval.fetching import BlockedUrlError, fetch_url

    routes = {"https://93.184.215.14/start": (302, {"location": target}), target: (200, {})}
    async with _mock(routes) as http:
        with pytest.raises(BlockedUrlError, match="refusing to fetch") as caught:
            await fetch_url("https://93.184.215.14/start", client=http)
    assert kind in str(caught.value) and "--url-allow" in str(caught.value)


async def test_the_connected_address_is_checked_too(local_site: str) -> None:
    """A name that resolves publicly (or not at all) but connects to loopback is refused before the body
    is read: here a proxy on 127.0.0.1 stands in for a rebinding DNS answer."""
    import httpx

    from mcp_suite.servers.retrieval.fetching import BlockedUrlError, fetch_url

    async with httpx.AsyncClient(proxy=local_site, trust_env=False) as http:
        with pytest.raises(BlockedUrlError, match=r"connected to 127\.0\.0\.1, a loopback address"):
            await fetch_url("http://rebind.invalid/page.html", client=http)


@pytest.fixture
def local_site(tmp_path: Path) -> Any:
    import functools
    import http.server
    import threading

    from tests.support import free_port

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "page.html").write_text("<html><body><p>intranet wiki: the lighthouse</p></body></html>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path / "site"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_ingest_url_refuses_loopback_unless_allowed(data_dir: Path, local_site: str) -> None:
    url = f"{local_site}/page.html"
    refused = RetrievalSettings(data_dir=data_dir, embedder="none")
    async with Client(build_server(refused)) as client:
        result = await client.call_tool("ingest_url", {"url": url})
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "refusing to fetch" in text and "127.0.0.1 is a loopback address" in text
        assert "--allow-private-urls" in text
        localhost = await client.call_tool("ingest_url", {"url": url.replace("127.0.0.1", "localhost")})
        assert localhost.is_error and "resolves to 127.0.0.1" in localhost.content[0].text  # type: ignore[union-attr]
        sources = await client.call_tool("list_sources", {})
        assert sources.structured_content is not None and sources.structured_content["total"] == 0

    for opened in (
        RetrievalSettings(data_dir=data_dir, embedder="none", allow_private_urls=True),
        RetrievalSettings(data_dir=data_dir, embedder="none", url_allow=["127.0.0.0/8"]),
    ):
        async with Client(build_server(opened)) as client:
            result = await client.call_tool("ingest_url", {"url": url, "metadata": {"run": str(opened.url_allow)}})
            assert not result.is_error, result.content
            found = await client.call_tool("search", {"query": "intranet lighthouse"})
            assert found.structured_content is not None and found.structured_content["hits"][0]["source"] == url


async def test_front_matter_alias_bomb_is_not_expanded(lexical: RetrievalSettings) -> None:
    import time

    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    text = "---\n" + "\n".join(levels) + "\n---\n# Laughs\n\nThe lighthouse keeper laughs.\n"
    async with Client(build_server(lexical)) as client:
        started = time.monotonic()
        result = await client.call_tool("ingest_text", {"text": text, "source": "laughs.md"})
        assert not result.is_error, result.content
        assert time.monotonic() - started < 5
        sources = await client.call_tool("list_sources", {})
        assert sources.structured_content is not None
        (source,) = sources.structured_content["sources"]
        assert len(str(source["metadata"])) < 10_000  # not 351 million characters
        await _still_serving(client)
