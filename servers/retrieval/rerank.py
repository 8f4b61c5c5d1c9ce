"""An optional reranking stage behind an HTTP rerank API (off unless ``--rerank-url`` is set).

Two wire formats are spoken: Hugging Face TEI (``{"query", "texts"}`` → ``[{"index", "score"}]``)
when no model is configured, and the Cohere/Jina shape (``{"model", "query", "documents"}`` →
``{"results": [{"index", "relevance_score"}]}``) when one is. Failures raise :class:`RerankError`
with the reason; the search does not silently fall back. Calls go over the server's pooled client with
the suite's retry policy (:mod:`mcp_suite.shared.http`): scoring changes nothing, so the POST is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mcp_suite.shared.errors import SuiteError
from mcp_suite.shared.http import DEFAULT_RETRY, RETRY_STATUSES, RetryPolicy, borrowed, request

if TYPE_CHECKING:
    import httpx


class RerankError(SuiteError):
    """The rerank endpoint failed or answered in an unknown shape."""


class HttpReranker:
    """Scores (query, text) pairs on a rerank endpoint."""

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 15.0,
        client: httpx.AsyncClient | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.url = url
        self.model = model
        self._api_key = api_key
        self._timeout = timeout
        self._client = client
        self._retry = retry

    async def rerank(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text, in the order given."""
        import httpx

        if not texts:
            return []
        payload: dict[str, Any]
        if self.model:
            payload = {"model": self.model, "query": query, "documents": list(texts), "top_n": len(texts)}
        else:
            payload = {"query": query, "texts": list(texts), "truncate": True}
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            async with borrowed(self._client, timeout=self._timeout) as http:
                response = await request(
                    http,
                    "POST",
                    self.url,
                    json=payload,
                    headers=headers,
                    timeout=self._timeout,
                    retry_safe=True,
                    policy=self._retry,
                )
        except httpx.HTTPError as exc:
            raise RerankError(
                f"rerank endpoint {self.url} is unreachable ({exc.__class__.__name__}); fix --rerank-url or unset it"
            ) from exc
        if response.status_code in RETRY_STATUSES:
            raise RerankError(
                f"rerank endpoint {self.url} answered HTTP {response.status_code} after {self._retry.attempts} "
                "attempts; it is overloaded or restarting, try again shortly"
            )
        if response.status_code >= 400:
            raise RerankError(f"rerank endpoint {self.url} answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
            items = data["results"] if isinstance(data, dict) else data
            scores = [0.0] * len(texts)
            seen = 0
            for item in items:
                score = item.get("relevance_score", item.get("score"))
                scores[int(item["index"])] = float(score)
                seen += 1
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise RerankError(f"rerank endpoint {self.url} answered in an unknown format: {exc}") from exc
        if seen != len(texts):
            raise RerankError(f"rerank endpoint {self.url} scored {seen} of {len(texts)} texts")
        return scores
