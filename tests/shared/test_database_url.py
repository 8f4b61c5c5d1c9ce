"""--database-url: parsed once into a typed value; unset keeps today's SQLite file; bad values fail in one line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import pytest

from mcp_suite.servers.memory.settings import MemorySettings
from mcp_suite.shared.cli import load_spec, run
from mcp_suite.shared.database_url import PostgresUrl, SqliteUrl, parse_database_url
from mcp_suite.shared.errors import InvalidInputError
from mcp_suite.shared.settings import ServerSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MCP_SUITE_CONFIG", "MCP_SUITE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_sqlite_urls(tmp_path: Path) -> None:
    assert parse_database_url("sqlite:////abs/x.db") == SqliteUrl(Path("/abs/x.db"))
    assert parse_database_url("sqlite:///rel/x.db", base=tmp_path) == SqliteUrl(tmp_path / "rel" / "x.db")
    assert parse_database_url("sqlite:///~/x.db") == SqliteUrl(Path.home() / "x.db")
    with pytest.raises(InvalidInputError, match="names no file"):
        parse_database_url("sqlite://")


def test_postgres_urls_keep_every_libpq_form_and_hide_the_password() -> None:
    url = parse_database_url("postgres://me:s3cret@db.example:5433/suite?sslmode=require")
    assert url == PostgresUrl("postgresql://me:s3cret@db.example:5433/suite?sslmode=require")
    assert url.redacted() == "postgresql://me:***@db.example:5433/suite?sslmode=require"
    assert "s3cret" not in repr(url)
    socket = parse_database_url("postgresql:///suite?host=/run/postgresql&password=s3cret")
    assert socket.redacted() == "postgresql:///suite?host=/run/postgresql&password=***"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("mysql://x/y", "unsupported database URL scheme 'mysql'; use sqlite:///PATH or postgresql://"),
        ("/just/a/path.db", "has no scheme; use sqlite:///PATH"),
        ("postgresql://", "names no server"),
    ],
)
def test_bad_urls_say_what_to_write(raw: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        parse_database_url(raw)


def test_unset_keeps_todays_sqlite_file(tmp_path: Path) -> None:
    settings = MemorySettings.load({"data_dir": tmp_path})
    assert settings.database_url is None
    assert settings.database == SqliteUrl(tmp_path / "memory.db")
    assert settings.database_path == tmp_path / "memory.db"


def test_sqlite_url_moves_the_file_from_flag_env_or_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "suite.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path}/from-yaml.db\n", encoding="utf-8")
    assert MemorySettings.load({}, config).database_path == tmp_path / "from-yaml.db"
    monkeypatch.setenv("MCP_SUITE_DATABASE_URL", f"sqlite:///{tmp_path}/from-env.db")
    assert MemorySettings.load({}, config).database_path == tmp_path / "from-env.db"
    flags = {"database_url": f"sqlite:///{tmp_path}/from-flag.db"}
    assert MemorySettings.load(flags, config).database_path == tmp_path / "from-flag.db"


class SqliteOnlySettings(ServerSettings):
    server_name: ClassVar[str] = "sqlite-only"


def test_servers_not_yet_on_postgres_refuse_it_at_load() -> None:
    with pytest.raises(InvalidInputError, match="the sqlite-only server does not run on postgresql yet"):
        SqliteOnlySettings.load({"database_url": "postgresql://localhost/suite"})


def test_memory_runs_on_postgres() -> None:
    settings = MemorySettings.load({"database_url": "postgresql://localhost/suite"})
    assert settings.database == PostgresUrl("postgresql://localhost/suite")


@pytest.mark.parametrize("server", ["memory", "retrieval", "prompts"])
def test_cli_flag_exists_and_a_bad_url_exits_2(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(load_spec(server), ["--database-url", "mysql://x/y"], f"mcp-suite {server}") == 2
    err = capsys.readouterr().err
    assert "unsupported database URL scheme 'mysql'" in err and "Traceback" not in err


def test_a_password_in_a_refused_url_is_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    # (memory accepts postgresql:// now; tests/memory/test_replicas.py checks an unreachable one is not echoed)
    for url in ("mysql://me:hunter2@db/suite", "me:hunter2@db/suite"):
        assert run(load_spec("memory"), ["--database-url", url], "mcp-suite memory") == 2
        err = capsys.readouterr().err
        assert "hunter2" not in err
        assert "database_url" in err


def test_one_url_for_every_server_of_mcp_suite_serve(tmp_path: Path) -> None:
    from mcp_suite.shared.cli import SERVERS
    from mcp_suite.shared.gateway import GatewaySettings, load_server_settings

    common = GatewaySettings.load({"database_url": f"sqlite:///{tmp_path}/{{server}}.db"})
    loaded = load_server_settings([load_spec(name) for name in SERVERS], common, None)
    assert {name: s.database_path for name, s in loaded.items()} == {name: tmp_path / f"{name}.db" for name in SERVERS}
