"""Text embeddings behind one small provider interface.

Three providers:

* ``wordllama`` — the built-in offline default: the 256-dimension static model that the
  ``wordllama`` wheel ships. It needs no network and no API key, and embeds thousands of chunks a
  second on a CPU. Its files are read straight from the installed wheel (never ``~/.cache``, never
  Hugging Face) with ``tokenizers`` and ``safetensors``, the libraries wordllama itself loads them with.
* ``openai`` — any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, vLLM, LM Studio,
  TEI) with batching and a timeout, over the server's pooled client and the suite's retry policy
  (:mod:`mcp_suite.shared.http`).
* ``none`` — no vectors: the index is lexical only.

Every provider returns L2-normalised ``float32`` rows, so cosine similarity is a dot product.
numpy, tokenizers and httpx are imported on first use: a server that never embeds starts fast.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from mcp_suite.shared.errors import InvalidInputError, SuiteError
from mcp_suite.shared.http import RETRY_STATUSES, RetryPolicy, borrowed, request

if TYPE_CHECKING:
    import httpx
    import numpy as np
    from tokenizers import Encoding, Tokenizer

log = logging.getLogger(__name__)

ProviderName = Literal["wordllama", "openai", "none"]
WORDLLAMA_MODEL = "l2_supercat"
WORDLLAMA_DIM = 256


class EmbeddingError(SuiteError):
    """The embedding provider failed (unreachable, bad answer, misconfigured)."""


@dataclass(frozen=True)
class EmbedderInfo:
    """What built a set of vectors; an index records it and refuses vectors from anything else."""

    provider: str
    model: str
    dimension: int

    def describe(self) -> str:
        return f"{self.provider}/{self.model} ({self.dimension} dims)" if self.dimension else self.provider


class Embedder(Protocol):
    """The provider interface: a name for the index to record, and a batch embed call."""

    @property
    def info(self) -> EmbedderInfo: ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns an ``(len(texts), dimension)`` float32 array of unit rows."""
        ...


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Unit-length float32 rows (zero rows stay zero rather than becoming NaN)."""
    import numpy as np

    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: np.ndarray = matrix / norms
    return unit


class NoEmbedder:
    """Lexical-only indexes: no vectors at all."""

    info = EmbedderInfo("none", "", 0)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        return np.zeros((len(texts), 0), dtype=np.float32)


def wordllama_package_dir() -> Path:
    """Where the wheel keeps ``weights/`` and ``tokenizers/`` (found without importing the package)."""
    import importlib.util

    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise EmbeddingError("the wordllama package is not installed; pip install wordllama, or use --embedder none")
    return Path(spec.origin).parent


@dataclass(frozen=True)
class WordLlamaFiles:
    """The shipped model's files and the package version they came with (the matrix cache's key)."""

    weights: Path
    tokenizer: Path
    version: str

    @classmethod
    def find(cls) -> WordLlamaFiles:
        """The files inside the installed wheel, under the names wordllama 0.4 gives them."""
        import importlib.metadata

        package_dir = wordllama_package_dir()
        files = cls(
            weights=package_dir / "weights" / f"{WORDLLAMA_MODEL}_{WORDLLAMA_DIM}.safetensors",
            tokenizer=package_dir / "tokenizers" / f"{WORDLLAMA_MODEL}_tokenizer_config.json",
            version=importlib.metadata.version("wordllama"),
        )
        for path in (files.weights, files.tokenizer):
            if not path.is_file():
                raise EmbeddingError(f"the wordllama model file {path} is missing; reinstall wordllama")
        return files


# The normaliser the shipped tokenizer declares. When it is exactly this (and there is no
# pre-tokenizer), the embedder applies it with ``str.replace`` and runs the tokenizer without it: the
# Rust normaliser tracks byte alignments for every character, ~15% of tokenizing time.
_EXPECTED_NORMALIZER = {
    "type": "Sequence",
    "normalizers": [
        {"type": "Prepend", "prepend": "\u2581"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    ],
}
# Longer texts are summed in slices, so one huge text never gathers a huge (tokens × dim) block.
_POOL_SLICE = 8192
_WEIGHTS_KEY = "embedding.weight"  # the tensor wordllama.load reads from the safetensors file


def _open_tokenizer(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _normaliser_is_expected(tokenizer: Tokenizer) -> bool:
    """Whether the tokenizer's normaliser is the Prepend + Replace pair the Python fast path reproduces."""
    import json

    normalizer = tokenizer.normalizer
    if normalizer is None or tokenizer.pre_tokenizer is not None:
        return False
    try:
        # Pickling state is the normaliser's JSON: a few hundred bytes, not the 1.2 MB tokenizer file.
        return bool(json.loads(normalizer.__getstate__()) == _EXPECTED_NORMALIZER)
    except (TypeError, ValueError, AttributeError):
        return False


def load_matrix(files: WordLlamaFiles, cache_dir: Path | None = None) -> np.ndarray:
    """The token matrix as float32, as ``WordLlama.load`` gives it (the wheel ships float16).

    With ``cache_dir`` the converted matrix is kept there as ``.npy``, keyed by the wordllama version, and
    memory-mapped on later loads: a one-query process reads only the rows its tokens name, instead of
    reading and converting 8 million weights.
    """
    import numpy as np

    cached = cache_dir / f"wordllama-{files.version}-{WORDLLAMA_MODEL}-{WORDLLAMA_DIM}.f32.npy" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            matrix: np.ndarray = np.load(cached, mmap_mode="r")
            if matrix.ndim == 2 and matrix.shape[1] == WORDLLAMA_DIM and matrix.dtype == np.float32:
                return matrix
            log.warning("ignoring %s: it holds a %s %s array", cached, matrix.dtype, matrix.shape)
        except (OSError, ValueError) as exc:
            log.warning("ignoring the unreadable matrix cache %s: %s", cached, exc)
    from safetensors.numpy import load_file

    matrix = np.ascontiguousarray(load_file(str(files.weights))[_WEIGHTS_KEY], dtype=np.float32)
    if cached is not None:
        _write_atomically(cached, matrix)
    return matrix


def _write_atomically(path: Path, matrix: np.ndarray) -> None:
    """Save ``matrix`` under a temporary name and rename it: a concurrent reader sees all of it or nothing."""
    import os

    import numpy as np

    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as handle:
            np.save(handle, matrix)
        os.replace(temporary, path)
    except OSError as exc:  # a read-only data folder costs speed, not correctness
        log.info("not caching the wordllama matrix in %s: %s", path.parent, exc)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


class StaticModel:
    """The parts of a wordllama model that embedding needs: the token matrix and the tokenizer.

    The tokenizer file is parsed once. When its normaliser is the expected Prepend + Replace pair, the
    loaded tokenizer runs without it (applied in Python) and the full pipeline, needed only for texts that
    contain special-token strings, is parsed on first such text.
    """

    def __init__(self, matrix: np.ndarray, tokenizer_path: Path) -> None:
        self.matrix = matrix  # (vocabulary, dimension) float32, possibly memory-mapped
        self._tokenizer_path = tokenizer_path
        self._lock = threading.Lock()
        loaded = _open_tokenizer(tokenizer_path)
        self.special_tokens = tuple(t.content for t in loaded.get_added_tokens_decoder().values() if t.content)
        self._full: Tokenizer | None
        self.bare_tokenizer: Tokenizer | None
        if _normaliser_is_expected(loaded):
            loaded.normalizer = None
            self.bare_tokenizer, self._full = loaded, None
        else:
            self.bare_tokenizer, self._full = None, loaded

    @classmethod
    def load(cls, files: WordLlamaFiles, cache_dir: Path | None = None) -> StaticModel:
        return cls(load_matrix(files, cache_dir), files.tokenizer)

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's own tokenizer pipeline (normaliser included), without padding or truncation."""
        with self._lock:
            if self._full is None:
                self._full = _open_tokenizer(self._tokenizer_path)
            return self._full

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, exactly as ``WordLlamaInference.tokenize`` gives them (without padding)."""
        bare = self.bare_tokenizer
        if bare is None:
            return [enc.ids for enc in _encode(self.tokenizer, list(texts))]
        plain: list[int] = []
        special: list[int] = []
        for i, text in enumerate(texts):
            (special if any(token in text for token in self.special_tokens) else plain).append(i)
        ids: list[list[int]] = [[] for _ in texts]
        # The Prepend + Replace normaliser, applied to whole texts (Prepend leaves an empty text empty).
        normalised = ["\u2581" + texts[i].replace(" ", "\u2581") if texts[i] else "" for i in plain]
        for i, enc in zip(plain, _encode(bare, normalised), strict=True):
            ids[i] = enc.ids
        if special:
            # Special-token strings are split out before normalising, and each remaining piece is
            # normalised on its own: only the model's own pipeline gets that right.
            for i, enc in zip(special, _encode(self.tokenizer, [texts[i] for i in special]), strict=True):
                ids[i] = enc.ids
        return ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean of each text's token vectors, L2-normalised (zero rows for texts without tokens)."""
        import numpy as np

        matrix = self.matrix
        pooled = np.zeros((len(texts), matrix.shape[1]), dtype=np.float32)
        counts = np.ones(len(texts), dtype=np.float32)
        for row, ids in enumerate(self.token_ids(texts)):
            n = len(ids)
            if not n:
                continue
            if n <= _POOL_SLICE:
                # One gather and a sum down the rows: no padding, no per-token Python work.
                pooled[row] = matrix[ids].sum(axis=0)
            else:
                for start in range(0, n, _POOL_SLICE):
                    pooled[row] += matrix[ids[start : start + _POOL_SLICE]].sum(axis=0)
            counts[row] = n
        pooled /= counts[:, None]
        return normalise_rows(pooled)


def _encode(tokenizer: Tokenizer, texts: list[str]) -> list[Encoding]:
    if not texts:
        return []
    # encode_batch_fast (tokenizers >= 0.21) skips character offsets, which embedding never reads.
    return list(tokenizer.encode_batch_fast(texts, add_special_tokens=False))


class WordLlamaEmbedder:
    """The offline default. The model (16 MB of weights) loads on first use, or earlier via :meth:`warm_up`.

    Embedding gives the same vectors as ``WordLlama.embed(texts, norm=True)`` without its overheads. It
    reads the wheel's files itself rather than calling ``WordLlama.load``: that imports ``requests`` and
    the package's clustering code and parses the tokenizer twice, about 0.5 s a process start pays for
    nothing. Tokenizing encodes the whole list in one parallel batch without padding, and each text's token
    vectors are gathered and averaged directly, so no batch is padded to its longest text. With
    ``cache_dir`` (the server's data folder) the float32 matrix is cached there and memory-mapped.
    """

    info = EmbedderInfo("wordllama", WORDLLAMA_MODEL, WORDLLAMA_DIM)

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._model: StaticModel | None = None
        self._lock = threading.Lock()
        self._cache_dir = cache_dir

    def load(self) -> StaticModel:
        """Load the model (thread-safe, once). Never touches the network."""
        with self._lock:
            if self._model is None:
                files = WordLlamaFiles.find()
                self._model = StaticModel.load(files, self._cache_dir)
                log.debug("loaded wordllama %s %s from %s", files.version, WORDLLAMA_MODEL, files.weights.parent.parent)
            return self._model

    async def warm_up(self) -> None:
        import anyio

        await anyio.to_thread.run_sync(self.load)

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, WORDLLAMA_DIM), dtype=np.float32)
        return self.load().embed(texts)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import anyio

        # CPU-bound: run in a worker thread so the event loop keeps serving other requests.
        return await anyio.to_thread.run_sync(self.embed_sync, list(texts))


class OpenAIEmbedder:
    """An OpenAI-compatible ``POST {base_url}/embeddings`` endpoint.

    ``base_url`` includes the version prefix (``https://api.openai.com/v1``,
    ``http://localhost:11434/v1`` for Ollama). The dimension is learnt from the first answer unless
    given, and checked on every answer after that.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dimension: int | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if not base_url:
            raise InvalidInputError(
                "the openai embedder needs a base URL (--embedding-url), e.g. http://localhost:11434/v1"
            )
        if not model:
            raise InvalidInputError("the openai embedder needs a model name (--embedding-model)")
        if batch_size < 1:
            raise InvalidInputError("embedding batch size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self._dimension = dimension or 0
        self._batch_size = batch_size
        self._timeout = timeout
        self._retry = RetryPolicy(attempts=max_retries + 1, backoff=backoff)
        self._client = client

    @property
    def info(self) -> EmbedderInfo:
        return EmbedderInfo("openai", self.model, self._dimension)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), self._batch_size):
            rows.append(await self._embed_batch(list(texts[start : start + self._batch_size])))
        return normalise_rows(np.vstack(rows))

    async def _embed_batch(self, batch: list[str]) -> np.ndarray:
        import httpx

        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        payload = {"model": self.model, "input": batch}
        url = f"{self.base_url}/embeddings"
        attempts = self._retry.attempts
        try:
            async with borrowed(self._client, timeout=self._timeout) as http:
                # An embedding changes nothing on the peer: safe to send again.
                response = await request(
                    http,
                    "POST",
                    url,
                    json=payload,
                    headers=headers,
                    timeout=self._timeout,
                    retry_safe=True,
                    policy=self._retry,
                )
        except httpx.TimeoutException:
            problem = f"timed out after {self._timeout:g}s"
        except httpx.TransportError as exc:
            problem = f"could not connect ({exc.__class__.__name__}: {exc})"
        else:
            if response.status_code in RETRY_STATUSES:
                problem = f"HTTP {response.status_code}"
            else:
                return self._matrix(url, response, len(batch))
        raise EmbeddingError(
            f"embedding endpoint {url} failed after {attempts} attempts: {problem}; "
            "is the server running and reachable?"
        )

    def _matrix(self, url: str, response: httpx.Response, expected: int) -> np.ndarray:
        import numpy as np

        if response.status_code >= 400:
            raise EmbeddingError(
                f"embedding endpoint {url} answered HTTP {response.status_code}: {response.text[:300]}; "
                "check --embedding-url, --embedding-model and the API key"
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item.get("index", 0))
            matrix = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"embedding endpoint {url} gave an answer that is not OpenAI-shaped: {exc}") from exc
        if matrix.ndim != 2 or matrix.shape[0] != expected:
            raise EmbeddingError(f"embedding endpoint {url} returned {matrix.shape[0]} vectors for {expected} texts")
        if self._dimension and matrix.shape[1] != self._dimension:
            raise EmbeddingError(
                f"embedding endpoint {url} returned {matrix.shape[1]}-dimension vectors, expected {self._dimension}"
            )
        self._dimension = int(matrix.shape[1])
        return matrix


def make_embedder(
    provider: str,
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    dimension: int | None = None,
    batch_size: int = 64,
    timeout: float = 30.0,
    client: httpx.AsyncClient | None = None,
    cache_dir: Path | None = None,
) -> Embedder:
    """Build the embedder a server's settings name; ``cache_dir`` keeps wordllama's prepared matrix."""
    if provider == "wordllama":
        if model and model != WORDLLAMA_MODEL:
            raise InvalidInputError(f"the wordllama embedder ships only the {WORDLLAMA_MODEL!r} model, not {model!r}")
        return WordLlamaEmbedder(cache_dir)  # batch size is for HTTP round trips; wordllama embeds any list at once
    if provider == "openai":
        return OpenAIEmbedder(
            base_url=base_url or "",
            model=model or "",
            api_key=api_key,
            dimension=dimension,
            batch_size=batch_size,
            timeout=timeout,
            client=client,
        )
    if provider == "none":
        return NoEmbedder()
    raise InvalidInputError(f"unknown embedding provider {provider!r}; use wordllama, openai or none")


__all__ = [
    "Embedder",
    "EmbedderInfo",
    "EmbeddingError",
    "NoEmbedder",
    "OpenAIEmbedder",
    "StaticModel",
    "WordLlamaEmbedder",
    "WordLlamaFiles",
    "make_embedder",
    "normalise_rows",
]
