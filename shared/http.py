"""The suite's one HTTP layer: a pooled client per server and one retry policy for every outbound call.

A server opens one :class:`HttpPool` in its lifespan (:func:`open_pool`; its client is created on first
use) and hands its client to whatever talks HTTP — embeddings, the reranker, URL ingest — so connections
are pooled and closed once; a one-shot command opens one client (:func:`open_client`) the same way.
:func:`send` applies :class:`RetryPolicy` through tenacity: exponential backoff with full jitter, a
``Retry-After`` header honoured (seconds or an HTTP date, capped), and retries only for requests that may
be repeated — idempotent methods, or a POST the caller marks ``retry_safe`` (an embedding or rerank call
changes nothing on the peer). Only connect errors, timeouts and 429/502/503/504 are retried; anything
else is the caller's to report. When retries run out the last response is returned (or the last
exception raised), so each caller keeps its own actionable error message.

``httpx`` and ``tenacity`` are imported on first use: a server that never calls out starts without them.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx
    from tenacity import RetryCallState

log = logging.getLogger(__name__)

USER_AGENT = "mcp-suite/0.1 (+https://github.com/mcp-suite)"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "try again later": rate limited, or a gateway/upstream that is briefly away."""
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""RFC 9110 §9.2.2: repeating these has the effect of sending them once."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; one instance per kind of call, the defaults for most."""

    attempts: int = 4
    """Tries in all (1 = no retry)."""
    backoff: float = 0.5
    """Base of the exponential backoff in seconds: retry n waits up to ``backoff * 2**(n-1)`` (full jitter)."""
    max_backoff: float = 8.0
    """Cap of one backoff wait."""
    max_retry_after: float = 30.0
    """Cap of a wait a peer asks for with ``Retry-After``: a hostile or confused peer cannot park a call."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition; a naive parse means the zone was left off
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _RetryableAnswer(Exception):
    """Carries a 429/502/503/504 response through tenacity so it can decide and wait on it."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retryable(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, _RetryableAnswer | httpx.TimeoutException | httpx.ConnectError)


class _Wait:
    """Exponential backoff with full jitter, unless the answer said how long to wait (then that, capped)."""

    def __init__(self, policy: RetryPolicy) -> None:
        from tenacity import wait_random_exponential

        self.policy = policy
        self._backoff = wait_random_exponential(multiplier=policy.backoff, max=policy.max_backoff)

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        problem = outcome.exception() if outcome is not None else None
        if isinstance(problem, _RetryableAnswer):
            asked = retry_after_seconds(problem.response.headers.get("retry-after"))
            if asked is not None:
                return min(asked, self.policy.max_retry_after)
        return float(self._backoff(state))


def may_retry(method: str, retry_safe: bool) -> bool:
    """Whether a request may be sent again: idempotent methods always, others only when the caller says so."""
    return retry_safe or method.upper() in IDEMPOTENT_METHODS


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    retry_safe: bool = False,
    policy: RetryPolicy = DEFAULT_RETRY,
    stream: bool = False,
    inspect: Callable[[httpx.Response], None] | None = None,
) -> httpx.Response:
    """Send ``request`` on ``client``, retrying per ``policy`` when it may be repeated.

    Returns the final response (possibly a 429/5xx once retries are spent); raises the last ``httpx``
    error when every attempt failed to get an answer. A redirect is returned as it is, never followed.
    With ``stream`` the body is left unread, and a response that is retried is closed first. ``inspect``
    sees every response before anything else does (URL ingest checks the connected address there); what
    it raises closes the response and ends the call.
    """
    import anyio
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    attempts = policy.attempts if may_retry(request.method, retry_safe) else 1
    retrying = AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=_Wait(policy),
        retry=retry_if_exception(_retryable),
        sleep=anyio.sleep,
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                # Never followed here, whatever the client says: URL ingest checks every hop itself.
                response = await client.send(request, stream=stream, follow_redirects=False)
                if inspect is not None:
                    try:
                        inspect(response)
                    except BaseException:
                        await response.aclose()
                        raise
                if response.status_code in RETRY_STATUSES:
                    if attempt.retry_state.attempt_number < attempts:
                        await response.aclose()  # its connection goes back to the pool before the wait
                    raise _RetryableAnswer(response)
                return response
    except _RetryableAnswer as spent:
        return spent.response
    raise AssertionError("tenacity stops by raising or returning")  # pragma: no cover


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    retry_safe: bool = False,
    policy: RetryPolicy = DEFAULT_RETRY,
    json: object = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> httpx.Response:
    """Build and :func:`send` one request (the body is read); ``timeout`` overrides the client's for it."""
    import httpx

    built = client.build_request(
        method,
        url,
        json=json,
        headers=dict(headers or {}),
        timeout=httpx.Timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
    )
    return await send(client, built, retry_safe=retry_safe, policy=policy)


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome
    problem = outcome.exception() if outcome is not None else None
    wait = state.upcoming_sleep
    log.info("HTTP attempt %d failed (%s); retrying in %.2fs", state.attempt_number, problem, wait)


def new_client(
    *,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    max_connections: int = 20,
) -> httpx.AsyncClient:
    """A pooled client with the suite's defaults: a timeout, a User-Agent, and redirects not followed.

    Redirects are left to the caller because URL ingest checks every hop against its address policy.
    """
    import httpx

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout if math.isfinite(timeout) else None),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
        limits=limits,
        transport=transport,
    )


@contextlib.asynccontextmanager
async def open_client(
    *, timeout: float = 30.0, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The lifespan form of :func:`new_client`: open on entry, every pooled connection closed on exit."""
    async with new_client(timeout=timeout, transport=transport) as client:
        yield client


class HttpPool:
    """A server's one HTTP client, created on first use and closed with the lifespan that owns the pool.

    A session that never calls out (the default offline embedder, no reranker, no URL ingest) never
    imports httpx, so the handshake does not wait for it.
    """

    def __init__(self, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = new_client(timeout=self._timeout)
        return self._client

    @property
    def opened(self) -> bool:
        return self._client is not None

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


@contextlib.asynccontextmanager
async def open_pool(*, timeout: float = 30.0) -> AsyncIterator[HttpPool]:
    """The lifespan form of :class:`HttpPool`: every pooled connection is closed on exit."""
    pool = HttpPool(timeout=timeout)
    try:
        yield pool
    finally:
        await pool.aclose()


@contextlib.asynccontextmanager
async def borrowed(client: httpx.AsyncClient | None, *, timeout: float = 30.0) -> AsyncIterator[httpx.AsyncClient]:
    """``client`` as is, or, for callers outside a lifespan (a one-shot command, a test), a client of its own."""
    if client is not None:
        yield client
        return
    async with new_client(timeout=timeout) as own:
        yield own


__all__ = [
    "DEFAULT_RETRY",
    "IDEMPOTENT_METHODS",
    "NO_RETRY",
    "RETRY_STATUSES",
    "USER_AGENT",
    "HttpPool",
    "RetryPolicy",
    "borrowed",
    "may_retry",
    "new_client",
    "open_client",
    "open_pool",
    "request",
    "retry_after_seconds",
    "send",
]
