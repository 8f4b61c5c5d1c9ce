"""The live view of a prompt library folder, with last-good-version semantics.

:meth:`Library.scan` compares every prompt file's size and modification time with the previous
scan and re-reads only the files that changed, so polling a 3,000-file library stays cheap. A
file that breaks (bad YAML, schema error, a conflict reported by the registry) keeps its last good
content served and its error in :attr:`Library.errors` until it is fixed: what is served never
goes from working to broken because of an edit on disk. A deleted file leaves the view.

Files whose size and modification time match what the registry recorded when it last published
them (``known``) are not parsed at all on start: the registry already holds their content, so a
restart over an unchanged 3,000-file library costs a stat per file.

This module only reads files; it never touches the registry (see :mod:`mcp_suite.servers.prompts.service`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mcp_suite.servers.prompts.spec import (
    FileIssue,
    LoadedPrompt,
    PromptFileError,
    load_prompt_file,
    outside_library,
)
from mcp_suite.servers.prompts.versioning import version_key

SUFFIXES = (".yaml", ".yml")
PRICE_FILE = "prices.yaml"
"""The library's price table (:mod:`mcp_suite.servers.prompts.prices`), not a prompt file."""
Stamp = tuple[int, int]


@dataclass(frozen=True)
class FileRef:
    """Which published version a file's content is."""

    name: str
    version: str
    content_hash: str


@dataclass(frozen=True)
class KnownFile:
    """A file as the registry last saw it: its (size, mtime_ns) and the version it held."""

    stamp: Stamp
    ref: FileRef


@dataclass
class FileState:
    stamp: Stamp
    """(size, mtime_ns) when last read."""
    good: FileRef | None = None
    """The version of this file's last accepted content: what is served."""
    pending: LoadedPrompt | None = None
    """Content just read, waiting for :meth:`Library.commit` (or :meth:`Library.reject`)."""
    error: PromptFileError | None = None
    """Why the current content on disk is not served (None: it is)."""


@dataclass
class ScanResult:
    changed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    newly_broken: list[PromptFileError] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.changed or self.removed)


def list_files(folder: Path) -> dict[str, Stamp]:
    """Every prompt file under ``folder`` with its (size, mtime_ns); hidden files and folders are skipped.

    Keys are plain strings: building 3,000 ``Path`` objects per poll would cost more than the stats.
    """
    found: dict[str, Stamp] = {}
    top = str(folder)
    root = os.path.realpath(folder)
    seen: set[tuple[int, int]] = set()  # folders by (device, inode): a symlink loop is entered once
    stack = [top]
    while stack:
        current = stack.pop()
        try:
            st = os.stat(current)
            entries = list(os.scandir(current))
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    real = os.path.realpath(entry.path)
                    if real == root or real.startswith(root + os.sep):  # folders linked from outside: not ours
                        stack.append(entry.path)
                elif (
                    entry.name.endswith(SUFFIXES)
                    and not (entry.name == PRICE_FILE and current == top)
                    and entry.is_file(follow_symlinks=True)
                ):
                    st = entry.stat(follow_symlinks=True)
                    found[entry.path] = (st.st_size, st.st_mtime_ns)
            except OSError:
                continue  # vanished between listing and stat: the next scan sees it gone
    return found


class Library:
    """What the prompt files in one folder currently say."""

    def __init__(self, folder: Path, known: Mapping[Path, KnownFile] | None = None) -> None:
        self.folder = folder
        self.files: dict[Path, FileState] = {}
        self.known: dict[Path, KnownFile] = dict(known or {})
        self._stamps: dict[str, Stamp] | None = {}
        """What the last scan listed (None: the folder was missing)."""

    def scan(self) -> ScanResult:
        """Re-read the files that changed since the last scan (blocking file I/O: run it in a thread)."""
        result = ScanResult()
        if not self.folder.is_dir():
            if self._stamps is not None:  # report a missing folder once, not at every poll
                result.newly_broken.append(
                    PromptFileError(str(self.folder), [FileIssue(None, "the library folder does not exist")])
                )
            self._stamps = None
            if self.files:
                result.removed = list(self.files)
                self.files.clear()
            return result
        listed = list_files(self.folder)
        if listed == self._stamps:
            return result  # the common case of a poll: nothing changed, nothing else to do
        self._stamps = listed
        on_disk = {Path(p): stamp for p, stamp in listed.items()}
        for path in [p for p in self.files if p not in on_disk]:
            del self.files[path]
            result.removed.append(path)
        for path in sorted(on_disk):
            stamp = on_disk[path]
            state = self.files.get(path)
            if state is not None and state.stamp == stamp:
                continue
            result.changed.append(path)
            known = self.known.pop(path, None)
            if state is None and known is not None and known.stamp == stamp:
                self.files[path] = FileState(stamp, good=known.ref)  # published as is: nothing to parse
                continue
            if state is None:
                state = self.files[path] = FileState(stamp)
            state.stamp = stamp
            state.pending = None
            try:
                refused = outside_library(self.folder, path)
                if refused is not None:
                    raise refused
                state.pending = load_prompt_file(path)
            except PromptFileError as exc:
                state.error = exc
                result.newly_broken.append(exc)
                continue
            state.error = None
        self._reject_duplicates(result)
        return result

    def pending(self) -> dict[Path, LoadedPrompt]:
        """Content read by the last scan that is not served yet (to publish, then commit or reject)."""
        return {path: state.pending for path, state in self.files.items() if state.pending is not None}

    def reject(self, path: Path, error: PromptFileError) -> None:
        """Refuse the pending content of ``path`` (e.g. the registry has that version with other content)."""
        state = self.files.get(path)
        if state is not None:
            state.pending = None
            state.error = error

    def commit(self) -> dict[Path, KnownFile]:
        """Serve the pending content that was not rejected; returns what to remember for the next start."""
        accepted: dict[Path, KnownFile] = {}
        for path, state in self.files.items():
            if state.pending is not None:
                spec = state.pending.spec
                state.good = FileRef(spec.name, spec.version, state.pending.content_hash)
                state.pending = None
                accepted[path] = KnownFile(state.stamp, state.good)
        return accepted

    def current(self) -> dict[Path, FileRef]:
        """The version served from each file: its latest good content (broken files keep their last one)."""
        return {path: state.good for path, state in self.files.items() if state.good is not None}

    def current_versions(self) -> dict[str, str]:
        """For each prompt name on disk, the highest version among its files."""
        best: dict[str, str] = {}
        for ref in self.current().values():
            if ref.name not in best or version_key(ref.version) > version_key(best[ref.name]):
                best[ref.name] = ref.version
        return best

    @property
    def errors(self) -> list[PromptFileError]:
        return [state.error for _, state in sorted(self.files.items()) if state.error is not None]

    def _reject_duplicates(self, result: ScanResult) -> None:
        # Two files claiming the same name + version with different content: served files keep it, and
        # among new files the earlier path wins. Served files are indexed without sorting 3,000 paths.
        owner: dict[tuple[str, str], tuple[Path, str]] = {}
        for path, state in self.files.items():
            if state.pending is None and state.error is None and state.good is not None:
                owner.setdefault((state.good.name, state.good.version), (path, state.good.content_hash))
        for path in sorted(p for p, state in self.files.items() if state.pending is not None):
            loaded = self.files[path].pending
            assert loaded is not None
            key = (loaded.spec.name, loaded.spec.version)
            other = owner.get(key)
            if other is None or other[0] == path or other[1] == loaded.content_hash:
                owner[key] = (path, loaded.content_hash)
                continue
            error = PromptFileError(
                str(path),
                [
                    FileIssue(
                        loaded.spec.line_of("version"),
                        f"prompt '{key[0]}' version {key[1]} is also defined, differently, in {other[0]}; "
                        "give this file another version",
                    )
                ],
            )
            self.reject(path, error)
            result.newly_broken.append(error)
