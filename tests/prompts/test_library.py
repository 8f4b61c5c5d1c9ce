"""The library folder view: incremental scans, duplicates, last-good content, hidden files."""

from pathlib import Path

from mcp_suite.servers.prompts.library import FileRef, KnownFile, Library
from tests.prompts.serving import prompt_yaml, write


def test_scan_reads_only_what_changed(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", prompt_yaml(name="A"))
    write(tmp_path / "b.yml", prompt_yaml(name="B"))
    write(tmp_path / ".git" / "c.yaml", prompt_yaml(name="C"))
    write(tmp_path / "notes.txt", "not a prompt")
    library = Library(tmp_path)
    first = library.scan()
    assert sorted(p.name for p in first.changed) == ["a.yaml", "b.yml"]
    assert sorted(p.spec.name for p in library.pending().values()) == ["A", "B"]
    library.commit()
    assert library.current_versions() == {"A": "1", "B": "1"}
    assert not library.scan().any
    write(tmp_path / "a.yaml", prompt_yaml(name="A", version="2"))
    (tmp_path / "b.yml").unlink()
    second = library.scan()
    assert [p.name for p in second.changed] == ["a.yaml"] and [p.name for p in second.removed] == ["b.yml"]
    library.commit()
    assert library.current_versions() == {"A": "2"}


def test_broken_file_keeps_its_last_good_content(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", prompt_yaml(name="A"))
    library = Library(tmp_path)
    library.scan()
    library.commit()
    write(path, "name: A\nversion: [\n")
    result = library.scan()
    assert [str(e).split(":")[0] for e in result.newly_broken] == [str(path)]
    library.commit()
    assert library.current() == {path: library.current()[path]} and library.current_versions() == {"A": "1"}
    assert len(library.errors) == 1


def test_same_version_in_two_files(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", prompt_yaml(name="A", template="one {{ person }} {{ tone }}"))
    write(tmp_path / "b.yaml", prompt_yaml(name="A", template="two {{ person }} {{ tone }}"))
    write(tmp_path / "c.yaml", prompt_yaml(name="A", template="one {{ person }} {{ tone }}"))  # same content: fine
    library = Library(tmp_path)
    result = library.scan()
    [error] = result.newly_broken
    assert error.path == str(tmp_path / "b.yaml") and error.line == 3
    assert f"version 1 is also defined, differently, in {tmp_path / 'a.yaml'}" in str(error)
    library.commit()
    assert sorted(p.name for p in library.current()) == ["a.yaml", "c.yaml"]


def test_known_files_are_not_parsed(tmp_path: Path) -> None:
    path = write(tmp_path / "a.yaml", "this is not even YAML: [")
    stat = path.stat()
    known = {path: KnownFile((stat.st_size, stat.st_mtime_ns), FileRef("A", "3", "hash"))}
    library = Library(tmp_path, known)
    result = library.scan()
    assert result.newly_broken == [] and library.pending() == {}
    assert library.current() == {path: FileRef("A", "3", "hash")}


def test_missing_folder(tmp_path: Path) -> None:
    library = Library(tmp_path / "nope")
    assert len(library.scan().newly_broken) == 1
    assert library.scan().newly_broken == []  # said once
    write(tmp_path / "nope" / "a.yaml", prompt_yaml(name="A"))
    assert library.scan().changed
