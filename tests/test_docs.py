"""The README and the example Claude Desktop config stay true: every command they show parses."""

import json
import shlex
import tomllib
from pathlib import Path

import pytest

from mcp_suite.shared import gateway
from mcp_suite.shared.cli import SERVERS, build_parser, load_spec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


PROGRAMS = {"mcp-suite", *(f"mcp-suite-{name}" for name in SERVERS)}
GATEWAY = ("serve", "console")


def _invocation(words: list[str]) -> list[str] | None:
    """``[server-or-serve, *argv]`` for one shell command that runs mcp-suite (directly, via uvx, via python -m)."""
    for index, word in enumerate(words):
        program = None
        if word in PROGRAMS:
            program = word
        elif word == "-m" and index + 1 < len(words) and words[index + 1].startswith("mcp_suite"):
            module = words[index + 1]
            program = "mcp-suite" if module == "mcp_suite" else "mcp-suite-" + module.rsplit(".", 1)[-1]
            index += 1
        if program is None:
            continue
        rest = words[index + 1 :]
        if program != "mcp-suite":
            return [program.removeprefix("mcp-suite-"), *rest]
        if rest and (rest[0] in SERVERS or rest[0] in GATEWAY):
            return rest
        return None
    return None


def _readme_commands() -> list[list[str]]:
    commands = []
    for line in README.splitlines():
        # Commands are the indented code lines; `[--flag value]` marks an optional part.
        if not line.startswith("    "):
            continue
        for part in line.split("#")[0].split("&&"):
            if "mcp-suite" not in part and "mcp_suite" not in part:
                continue
            words = shlex.split(part.replace("[", "").replace("]", ""), posix=True)
            found = _invocation(words)
            if found:
                commands.append(found)
    return commands


COMMANDS = _readme_commands()


def test_readme_shows_commands_for_every_server() -> None:
    assert {command[0] for command in COMMANDS} >= set(SERVERS) | set(GATEWAY)


def test_readme_shows_every_install_route() -> None:
    install = README.split("## Install without a checkout's venv", 1)[1].split("\n## ", 1)[0]
    for route in ("pipx install ", "uvx --from ", "pip install ", "python -m mcp_suite "):
        assert any(line.startswith("    ") and route in line for line in install.splitlines()), route


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_readme_command_parses(command: list[str]) -> None:
    server, *argv = command
    argv = [word.replace("$TOKEN", "t") for word in argv]
    if server in GATEWAY:
        namespace = gateway.build_parser(server).parse_args(argv)
        assert all(name in SERVERS for name in namespace.servers)
        return
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
    launchers = set()
    for name, entry in config["mcpServers"].items():
        assert Path(entry["command"]).is_absolute(), "Claude Desktop does not search PATH"
        args = list(entry["args"])
        if Path(entry["command"]).name == "uvx":
            assert args[0] == "--from" and args[1]
            script, args = args[2], args[3:]
            launchers.add("uvx")
        else:
            script = Path(entry["command"]).name
            launchers.add("venv" if "/.venv/bin/" in entry["command"] else "pipx")
        assert script in SCRIPTS and SCRIPTS[script] == f"mcp_suite.servers.{name}.cli:main"
        build_parser(load_spec(name), script).parse_args(args)
    # The example shows every way to launch a server: uvx, a pipx-installed script, the checkout's venv.
    assert launchers == {"uvx", "pipx", "venv"}


def test_readme_shows_the_example_config() -> None:
    config = json.loads((ROOT / "claude_desktop_config.example.json").read_text(encoding="utf-8"))
    shown = README.split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == config
