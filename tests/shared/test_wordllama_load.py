"""Loading the wordllama embedder fast: the matrix cache, one tokenizer parse, no wordllama import — and
vectors identical to wordllama's own ``embed`` whichever way the model was loaded."""

from __future__ import annotations

import importlib.metadata
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcp_suite.shared.embeddings import WordLlamaEmbedder, WordLlamaFiles, load_matrix, wordllama_package_dir

TEXTS = [
    "How do I enable write-ahead logging?",
    "  spaces  and\ttabs\n",
    "café 検索 🚀",
    "Strike <s>this</s> out",  # a special-token string: the full pipeline
    "",
]


def reference_vectors(texts: list[str]) -> np.ndarray:
    from wordllama import WordLlama

    model = WordLlama.load("l2_supercat", cache_dir=wordllama_package_dir(), dim=256, disable_download=True)
    return np.asarray(model.embed(texts, norm=True))


def test_cached_matrix_is_memory_mapped_and_gives_identical_vectors(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = WordLlamaEmbedder(cache)
    from_weights = first.embed_sync(TEXTS)
    version = importlib.metadata.version("wordllama")
    cached = cache / f"wordllama-{version}-l2_supercat-256.f32.npy"
    assert cached.is_file() and not isinstance(first.load().matrix, np.memmap)

    second = WordLlamaEmbedder(cache)
    assert isinstance(second.load().matrix, np.memmap)  # a later process maps the file, reads only used rows
    from_cache = second.embed_sync(TEXTS)
    assert np.array_equal(from_cache, from_weights)
    assert np.array_equal(from_cache, WordLlamaEmbedder().embed_sync(TEXTS))

    expected = reference_vectors(TEXTS[:-1])  # wordllama divides the empty text by a zero norm (NaN)
    assert np.allclose(from_cache[:-1], expected, rtol=1e-5, atol=1e-6)
    assert not from_cache[-1].any()


def test_a_damaged_cache_is_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    files = WordLlamaFiles.find()
    good = load_matrix(files)
    cached = tmp_path / f"wordllama-{files.version}-l2_supercat-256.f32.npy"
    cached.write_bytes(b"\x93NUMPY truncated")
    with caplog.at_level(logging.WARNING, logger="mcp_suite.shared.embeddings"):
        matrix = load_matrix(files, tmp_path)
    assert "ignoring the unreadable matrix cache" in caplog.text
    assert np.array_equal(matrix, good)
    assert np.array_equal(load_matrix(files, tmp_path), good)  # rewritten, readable again


def test_a_read_only_cache_folder_only_costs_speed(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    vectors = WordLlamaEmbedder(blocked / "cache").embed_sync(TEXTS[:2])
    assert vectors.shape == (2, 256)


def test_loading_parses_the_tokenizer_once_and_imports_no_wordllama(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mcp_suite.shared.embeddings import WordLlamaEmbedder\n"
        f"model = WordLlamaEmbedder(Path({str(tmp_path)!r})).load()\n"
        "model.embed(['plain text only'])\n"
        "print(model._full is None, sorted(m for m in ('wordllama', 'requests', 'safetensors') if m in sys.modules))\n"
        "model.embed(['with </s> inside'])\n"
        "print(model._full is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # The full pipeline is parsed only when a special-token string arrives; safetensors reads the weights.
    assert done.stdout.split("\n")[:2] == ["True ['safetensors']", "True"]
