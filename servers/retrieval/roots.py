"""Path confinement for requests that arrive over MCP.

A path from a client is resolved (``..`` collapsed, symlinks followed) before it is compared with
the allowed roots, so neither ``../`` nor a symlink can lead outside them. Roots come from the
server's ``--root`` settings, or, when none are configured, from the roots the client offers. The
terminal CLI does not use this module: the user running it may read what they like.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from mcp_suite.shared.errors import AccessDeniedError, InvalidInputError


def roots_from_uris(uris: Sequence[str]) -> list[Path]:
    """Local folders from MCP root URIs (only ``file://`` roots name local folders)."""
    paths: list[Path] = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
            paths.append(Path(unquote(parsed.path)))
    return paths


class RootPolicy:
    """The folders a client may ingest from."""

    def __init__(self, roots: Sequence[Path | str]) -> None:
        self.roots = [Path(r).expanduser().resolve() for r in roots]

    def __bool__(self) -> bool:
        return bool(self.roots)

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.roots) or "(none)"

    def confine(self, path: Path | str) -> Path:
        """The resolved path if it lies inside a root; :class:`AccessDeniedError` otherwise.

        A relative path is taken relative to the first root (a stdio server's working folder is
        whatever the host picked, so it means nothing to the user).
        """
        if not self.roots:
            raise AccessDeniedError(
                "no folders are open to this server: start it with --root DIR (or MCP_SUITE_RETRIEVAL_ROOTS), "
                "or use a client that offers MCP roots"
            )
        raw = str(path)
        if not raw.strip():
            raise InvalidInputError("the path is empty")
        if "\x00" in raw:
            raise InvalidInputError("the path contains a NUL byte")
        candidate = Path(os.path.expanduser(raw))
        if not candidate.is_absolute():
            candidate = self.roots[0] / candidate
        resolved = candidate.resolve()
        for root in self.roots:
            if resolved == root or resolved.is_relative_to(root):
                return resolved
        raise AccessDeniedError(
            f"{raw} resolves to {resolved}, which is outside the allowed roots ({self.describe()}); "
            "ingest only from inside them, or add a --root"
        )
