"""``mcp-suite memory import`` and ``export``, run as the installed script: the reference file
format in and out, all-or-nothing imports, and --namespace / --data-dir respected."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import script

pytestmark = pytest.mark.slow

# Exactly as the reference server writes memory.jsonl: compact JSON, "\n"-joined, no final newline.
REFERENCE_FILE = "\n".join(
    [
        '{"type":"entity","name":"default_user","entityType":"person","observations":["likes tea","Ünïcode ✓"]}',
        '{"type":"entity","name":"Acme","entityType":"organization","observations":[]}',
        '{"type":"entity","name":"Bob","entityType":"person","observations":["plays chess"]}',
        '{"type":"relation","from":"default_user","to":"Acme","relationType":"works_at"}',
        '{"type":"relation","from":"Bob","to":"default_user","relationType":"knows"}',
    ]
)


def memory(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("mcp-suite"), "memory", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_import_then_export_round_trips_the_reference_format(tmp_path: Path, data_dir: Path) -> None:
    source = tmp_path / "memory.jsonl"
    source.write_text(REFERENCE_FILE, encoding="utf-8")
    imported = memory("import", str(source), data_dir=data_dir)
    assert imported.returncode == 0, imported.stderr
    assert "3 entities created, 3 observations added, 2 relations created" in imported.stdout
    exported = memory("export", data_dir=data_dir)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == REFERENCE_FILE + "\n"
    target = tmp_path / "out" / "memory.jsonl"
    to_file = memory("export", "--output", str(target), data_dir=data_dir)
    assert to_file.returncode == 0, to_file.stderr
    assert target.read_text(encoding="utf-8") == REFERENCE_FILE + "\n"
    again = memory("import", str(target), data_dir=data_dir)
    assert "0 entities created" in again.stdout and "8 duplicates skipped" in again.stdout


def test_a_single_json_document_merges_into_existing_entities(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "memory.jsonl").write_text(REFERENCE_FILE, encoding="utf-8")
    assert memory("import", str(tmp_path / "memory.jsonl"), data_dir=data_dir).returncode == 0
    document = {
        "entities": [{"name": "Bob", "entityType": "person", "observations": ["plays chess", "lives in Oslo"]}],
        "relations": [{"from": "Bob", "to": "Acme", "relationType": "visited"}],
    }
    (tmp_path / "memory.json").write_text(json.dumps(document), encoding="utf-8")
    result = memory("import", str(tmp_path / "memory.json"), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "0 entities created, 1 observations added, 1 relations created" in result.stdout
    lines = [json.loads(line) for line in memory("export", data_dir=data_dir).stdout.splitlines()]
    assert {
        "type": "entity",
        "name": "Bob",
        "entityType": "person",
        "observations": ["plays chess", "lives in Oslo"],
    } in lines
    assert {"type": "relation", "from": "Bob", "to": "Acme", "relationType": "visited"} in lines


def test_bad_lines_are_reported_by_number_and_nothing_is_imported(tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type":"entity","name":"Fine","entityType":"person","observations":[]}\n'
        '{"type":"entity","name":"","entityType":"person","observations":[]}\n'
        "\n"
        "{not json\n"
        '{"type":"relation","from":"Fine","to":"Fine"}\n'
        '{"type":"mystery"}\n',
        encoding="utf-8",
    )
    result = memory("import", str(bad), data_dir=data_dir)
    assert result.returncode == 1
    assert "4 bad record(s), nothing imported" in result.stderr
    for number in ("line 2:", "line 4: not valid JSON", "line 5: relation: relationType", 'line 6: "type"'):
        assert number in result.stderr
    assert memory("export", data_dir=data_dir).stdout == ""


def test_dangling_relations_roll_back_the_whole_import_unless_asked(tmp_path: Path, data_dir: Path) -> None:
    dangling = tmp_path / "dangling.jsonl"
    dangling.write_text(
        '{"type":"entity","name":"Alice","entityType":"person","observations":["x"]}\n'
        '{"type":"relation","from":"Alice","to":"Nobody","relationType":"knows"}\n',
        encoding="utf-8",
    )
    refused = memory("import", str(dangling), data_dir=data_dir)
    assert refused.returncode == 1
    assert "line 2: Alice -knows-> Nobody (missing 'Nobody')" in refused.stderr
    assert "--create-missing" in refused.stderr
    # Alice was written inside the transaction before the relation failed: it must be gone.
    assert memory("export", data_dir=data_dir).stdout == ""
    accepted = memory("import", str(dangling), "--create-missing", "--namespace", "work", data_dir=data_dir)
    assert accepted.returncode == 0, accepted.stderr
    assert "1 placeholder entities" in accepted.stdout
    work = memory("export", "--namespace", "work", data_dir=data_dir).stdout.splitlines()
    assert json.loads(work[1]) == {"type": "entity", "name": "Nobody", "entityType": "unknown", "observations": []}
    assert memory("export", data_dir=data_dir).stdout == ""  # the default namespace is untouched


def test_command_help(data_dir: Path) -> None:
    for command in ("import", "export"):
        result = memory(command, "--help", data_dir=data_dir)
        assert result.returncode == 0
        assert "--namespace" in result.stdout and "--data-dir" in result.stdout
