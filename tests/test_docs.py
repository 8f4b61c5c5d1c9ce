"""The README and the example Claude Desktop config stay true: every command they show parses."""

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from mcp_suite.shared.cli import SERVERS, build_parser, load_spec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def _readme_commands() -> list[list[str]]:
    commands = []
    for line in README.splitlines():
        # Commands are the indented code lines; `[--flag value]` marks an optional part.
        match = re.search(r"\bmcp-suite(?:-(\w+))? (.*)$", line) if line.startswith("    ") else None
        if not match:
            continue
        words = shlex.split(match.group(2).split("#")[0].replace("[", "").replace("]", ""), posix=True)
        server = match.group(1) or (words.pop(0) if words and words[0] in SERVERS else None)
        if server:
            commands.append([server, *words])
    return commands


COMMANDS = _readme_commands()


def test_readme_shows_commands_for_every_server() -> None:
    assert {command[0] for command in COMMANDS} == set(SERVERS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_readme_command_parses(command: list[str]) -> None:
    server, *argv = command
    argv = [word.replace("$TOKEN", "t") for word in argv]
    parser = build_parser(load_spec(server), f"mcp-suite {server}")
    parser.parse_args(argv)  # exits with status 2 on an unknown flag or command


def test_readme_has_exactly_two_setup_commands() -> None:
    setup = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in setup.splitlines() if line.startswith("    ")]
    assert commands == [
        "    python3 -m venv .venv && . .venv/bin/activate && pip install -e . && mcp-suite memory",
        "    bash .ci/run",
    ]


def test_claude_desktop_example_names_real_scripts_and_flags() -> None:
    config = json.loads((ROOT / "claude_desktop_config.example.json").read_text(encoding="utf-8"))
    assert set(config["mcpServers"]) == set(SERVERS)
    for name, entry in config["mcpServers"].items():
        script = Path(entry["command"]).name
        assert script in SCRIPTS and SCRIPTS[script] == f"mcp_suite.servers.{name}.cli:main"
        build_parser(load_spec(name), script).parse_args(entry["args"])
