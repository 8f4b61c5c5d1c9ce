"""The live view of a prompt library folder, with last-good-version semantics.

:meth:`Library.scan` compares every prompt file's size and modification time with the previous
scan and re-reads only the files that changed, so polling a 3,000-file library stays cheap. A
file that breaks (bad YAML, schema error, a conflict reported by the registry) keeps its last good
content in :meth:`Library.current` and its error in :attr:`Library.errors` until it is fixed: what
is served never goes from working to broken because of an edit on disk. A deleted file leaves the
view.

This module only reads files; it never touches the registry (see :mod:`servers.prompts.service`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from servers.prompts.spec import FileIssue, LoadedPrompt, PromptFileError, load_prompt_file
from servers.prompts.versioning import version_key

SUFFIXES = (".yaml", ".yml")


@dataclass
class FileState:
    stamp: tuple[int, int]
    """(size, mtime_ns) when last read."""
    good: LoadedPrompt | None = None
    """The last content of this file that loaded and was accepted: what is served."""
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


def list_files(folder: Path) -> dict[Path, tuple[int, int]]:
    """Every prompt file under ``folder`` with its (size, mtime_ns); hidden files and folders are skipped."""
    found: dict[Path, tuple[int, int]] = {}
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(SUFFIXES) and entry.is_file(follow_symlinks=True):
                    st = entry.stat(follow_symlinks=True)
                    found[Path(entry.path)] = (st.st_size, st.st_mtime_ns)
            except OSError:
                continue  # vanished between listing and stat: the next scan sees it gone
    return found


class Library:
    """What the prompt files in one folder currently say."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[Path, FileState] = {}
        self.scans = 0

    def scan(self) -> ScanResult:
        """Re-read the files that changed since the last scan (blocking file I/O: run it in a thread)."""
        result = ScanResult()
        self.scans += 1
        if not self.folder.is_dir():
            missing = PromptFileError(str(self.folder), [FileIssue(None, "the library folder does not exist")])
            if self.files:
                result.removed = list(self.files)
                self.files.clear()
            result.newly_broken.append(missing)
            return result
        on_disk = list_files(self.folder)
        for path in [p for p in self.files if p not in on_disk]:
            del self.files[path]
            result.removed.append(path)
        for path in sorted(on_disk):
            stamp = on_disk[path]
            state = self.files.get(path)
            if state is not None and state.stamp == stamp:
                continue
            if state is None:
                state = self.files[path] = FileState(stamp)
            state.stamp = stamp
            result.changed.append(path)
            state.pending = None
            try:
                state.pending = load_prompt_file(path)
            except PromptFileError as exc:
                state.error = exc
                result.newly_broken.append(exc)
                continue
            state.error = None
        self._reject_duplicates(result)
        return result

    def pending(self) -> list[LoadedPrompt]:
        """Content read by the last scan that is not served yet (to publish, then commit or reject)."""
        return [state.pending for state in self.files.values() if state.pending is not None]

    def reject(self, path: Path, error: PromptFileError) -> None:
        """Refuse the pending content of ``path`` (e.g. the registry has that version with other content)."""
        state = self.files.get(path)
        if state is not None:
            state.pending = None
            state.error = error

    def commit(self) -> None:
        """Serve the pending content that was not rejected."""
        for state in self.files.values():
            if state.pending is not None:
                state.good = state.pending
                state.pending = None

    def current(self) -> list[LoadedPrompt]:
        """The content served from each file: its latest good version (broken files keep their last one)."""
        return [state.good for state in self.files.values() if state.good is not None]

    def current_versions(self) -> dict[str, str]:
        """For each prompt name on disk, the highest version among its files."""
        best: dict[str, str] = {}
        for loaded in self.current():
            name, version = loaded.spec.name, loaded.spec.version
            if name not in best or version_key(version) > version_key(best[name]):
                best[name] = version
        return best

    @property
    def errors(self) -> list[PromptFileError]:
        return [state.error for _, state in sorted(self.files.items()) if state.error is not None]

    def _reject_duplicates(self, result: ScanResult) -> None:
        # Two files claiming the same name + version with different content: the later path loses.
        owner: dict[tuple[str, str], tuple[Path, str]] = {}
        for path, state in sorted(self.files.items()):
            content = state.pending or (state.good if state.error is None else None)
            if content is None:
                continue
            key = (content.spec.name, content.spec.version)
            if key in owner and owner[key][1] != content.content_hash:
                line = content.spec.line_of("version")
                error = PromptFileError(
                    str(path),
                    [
                        FileIssue(
                            line,
                            f"prompt '{key[0]}' version {key[1]} is also defined, differently, in {owner[key][0]}; "
                            "give this file another version",
                        )
                    ],
                )
                self.reject(path, error)
                result.newly_broken.append(error)
            else:
                owner.setdefault(key, (path, content.content_hash))
