"""Helpers for tests that run the real console scripts as subprocesses, as hosts do."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from mcp import StdioServerParameters


def script(name: str) -> str:
    """Absolute path of an installed console script (the one next to this Python first)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"console script {name} is not installed; run: pip install -e '.[dev]'")
    return found


def stdio_server(name: str, *args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    """Parameters that launch ``name`` over stdio, the way Claude Desktop does."""
    return StdioServerParameters(command=script(name), args=list(args), env={**os.environ, **(env or {})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(
    argv: Sequence[str], port: int, path: str = "/mcp", timeout: float = 20.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start a server subprocess on ``port`` (``env`` added to ours); yield its URL once it answers; stop it."""
    # stderr goes to a file: a pipe nobody reads would block a chatty server once it fills.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}{path}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"server exited with {proc.returncode}: {err}")
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"server on port {port} did not start within {timeout}s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
