"""Settings precedence and the command line, used the way a person or a host config uses them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.servers.retrieval.settings import RetrievalSettings
from mcp_suite.shared.cli import SERVERS
from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.settings import ServerSettings
from tests.support import script

YAML = """\
port: 7001
log-level: warning
memory:
  namespace: from-yaml
"""


def write_config(tmp_path: Path, text: str = YAML) -> Path:
    path = tmp_path / "mcp-suite.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MCP_SUITE_CONFIG", "MCP_SUITE_PORT", "MCP_SUITE_MEMORY_NAMESPACE", "MCP_SUITE_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults(tmp_path: Path) -> None:
    settings = MemorySettings.load({"data_dir": tmp_path})
    assert (settings.transport, settings.host, settings.port) == ("stdio", "127.0.0.1", 8000)
    assert settings.namespace == "default"
    assert settings.database_path == tmp_path / "memory.db"
    # No data dir given anywhere: the platform's user data folder, so a bare host config works.
    assert MemorySettings.load().data_dir.name == "mcp-suite"


def test_flags_beat_env_beat_yaml_beat_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path)
    from_yaml = MemorySettings.load({}, config)
    assert (from_yaml.port, from_yaml.log_level, from_yaml.namespace) == (7001, "WARNING", "from-yaml")
    assert from_yaml.transport == "stdio"  # untouched fields keep their defaults

    monkeypatch.setenv("MCP_SUITE_PORT", "7002")
    monkeypatch.setenv("MCP_SUITE_MEMORY_NAMESPACE", "from-env")
    from_env = MemorySettings.load({}, config)
    assert (from_env.port, from_env.namespace, from_env.log_level) == (7002, "from-env", "WARNING")

    from_flags = MemorySettings.load({"port": 7003, "namespace": "from-flag"}, config)
    assert (from_flags.port, from_flags.namespace) == (7003, "from-flag")


def test_config_file_from_environment_and_list_env_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SUITE_CONFIG", str(write_config(tmp_path)))
    monkeypatch.setenv("MCP_SUITE_ALLOWED_HOSTS", os.pathsep.join(["a.example", "b.example"]))
    settings = MemorySettings.load({})
    assert settings.port == 7001
    assert settings.allowed_hosts == ["a.example", "b.example"]


def test_a_list_may_name_its_own_env_separator(monkeypatch: pytest.MonkeyPatch) -> None:
    # IPv6 networks hold ':' (the path separator here), so url_allow splits on commas instead.
    monkeypatch.setenv("MCP_SUITE_RETRIEVAL_URL_ALLOW", "10.1.0.0/16, fd00:1234::/32")
    assert RetrievalSettings.load({}).url_allow == ["10.1.0.0/16", "fd00:1234::/32"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port: [unclosed\n", "is not valid YAML"),
        ("- just\n- a list\n", "must hold a mapping"),
        ("memory: 3\n", "section 'memory' must be a mapping"),
        ("port: not-a-number\n", "invalid settings"),
        ("memory:\n  no_such_setting: 1\n", "invalid settings"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MemorySettings.load({}, write_config(tmp_path, text))


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="cannot read config file"):
        ServerSettings.load({}, tmp_path / "absent.yaml")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("server", sorted(SERVERS))
def test_help_of_every_server(server: str) -> None:
    for argv in ([script(f"mcp-suite-{server}"), "--help"], [script("mcp-suite"), server, "--help"]):
        proc = run(*argv)
        assert proc.returncode == 0, proc.stderr
        for flag in ("--transport", "--host", "--port", "--data-dir", "--auth-token", "--allowed-host", "--config"):
            assert flag in proc.stdout, f"{flag} missing from {' '.join(argv)}"
        assert "MCP_SUITE_DATA_DIR" in proc.stdout
        assert proc.stderr == ""


@pytest.mark.slow
def test_umbrella_cli_exit_codes() -> None:
    helped = run(script("mcp-suite"), "--help")
    assert helped.returncode == 0
    assert "servers: memory, retrieval, prompts" in helped.stdout  # asked for: stdout

    bare = run(script("mcp-suite"))
    assert bare.returncode == 2 and "usage: mcp-suite SERVER" in bare.stderr
    unknown = run(script("mcp-suite"), "nosuchserver")
    assert unknown.returncode == 2

    version = run(script("mcp-suite"), "--version")
    assert version.returncode == 0 and version.stdout.startswith("mcp-suite ")


@pytest.mark.slow
def test_bad_flags_and_config_exit_2_with_a_message(tmp_path: Path) -> None:
    bad_choice = run(script("mcp-suite-memory"), "--transport", "carrier-pigeon")
    assert bad_choice.returncode == 2 and "invalid choice" in bad_choice.stderr

    bad_value = run(script("mcp-suite-memory"), "--port", "99999")
    assert bad_value.returncode == 2 and "invalid settings" in bad_value.stderr and "port" in bad_value.stderr

    bad_yaml = run(script("mcp-suite-memory"), "--config", str(write_config(tmp_path, "port: [\n")))
    assert bad_yaml.returncode == 2 and "is not valid YAML" in bad_yaml.stderr
    assert bad_yaml.stdout == ""  # stdout stays the protocol's, even for errors
