"""Hostile prompt libraries and templates: alias bombs, links out of the library, symlink loops and runaway
templates are refused with a clear message, and the server keeps answering other calls within 5 s."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from tests.prompts.serving import connected, prompt_yaml, write

pytestmark = pytest.mark.anyio  # SQLite only: files and templates, nothing here depends on the engine

# 9 anchors, each nine times the previous: 387 million strings once expanded, 400-odd bytes on disk.
BILLION_LAUGHS = (
    "name: Bomb\nversion: '1'\ndescription: lol\n"
    + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    + "template: '{{ i }}'\n"
)


async def _status(client: Client) -> dict[str, Any]:
    with anyio.fail_after(5):
        result = await client.call_tool("check_library", {})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _greets(client: Client) -> None:
    with anyio.fail_after(5):
        result = await client.get_prompt("Greet", {"person": "Ada"})
    assert "Hello Ada" in result.messages[0].content.text  # type: ignore[union-attr]


def _broken(status: dict[str, Any], name: str) -> str:
    found = [p["message"] for p in status["broken_files"] if p["file"].endswith(name)]
    assert found, status["broken_files"]
    return found[0]


async def test_billion_laughs_prompt_file_is_refused_quickly(tmp_path: Path) -> None:
    library = tmp_path / "library"
    write(library / "greet.yaml", prompt_yaml())
    write(library / "bomb.yaml", BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 450
    started = time.monotonic()
    async with connected(tmp_path, library) as (_, client):
        with anyio.fail_after(5):
            names = [p.name for p in (await client.list_prompts()).prompts]
        assert time.monotonic() - started < 5
        assert names == ["Greet"]
        assert "billion laughs" in _broken(await _status(client), "bomb.yaml")
        await _greets(client)


async def test_a_link_to_a_file_outside_the_library_is_refused(tmp_path: Path) -> None:
    library = tmp_path / "library"
    write(library / "greet.yaml", prompt_yaml())
    secret = write(tmp_path / "elsewhere" / "secret.yaml", prompt_yaml(name="Secret", template="top secret"))
    os.symlink(secret, library / "secret.yaml")
    async with connected(tmp_path, library) as (_, client):
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert names == ["Greet"]
        assert "outside the library folder" in _broken(await _status(client), "secret.yaml")
        await _greets(client)


async def test_symlink_loops_do_not_stall_the_scan(tmp_path: Path) -> None:
    library = tmp_path / "library"
    write(library / "greet.yaml", prompt_yaml())
    (library / "sub").mkdir()
    os.symlink(library, library / "sub" / "again")  # library/sub/again/sub/again/…
    os.symlink(library / "sub", library / "sub" / "self")
    os.symlink(tmp_path, library / "sub" / "up")  # a folder outside: not scanned
    async with connected(tmp_path, library, watch_interval=0.05) as (_, client):
        with anyio.fail_after(5):
            names = [p.name for p in (await client.list_prompts()).prompts]
        assert names == ["Greet"]
        await _greets(client)


HOSTILE_TEMPLATES = [
    (
        # Stopped by the loop budget or the deadline, whichever comes first on the machine.
        "nested-ranges",
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "range steps|rendering took longer than",
    ),
    (
        # No range at all: a loop over a list with an empty body is stopped by the deadline.
        "nested-lists",
        "{% set l = [1] * 1000000 %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}",
        "rendering took longer than",
    ),
    (
        "squaring",
        "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
        "number too large in template",
    ),
    (
        "string-doubling",
        "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "value too large in template",
    ),
    (
        "list-multiplication",
        "{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l * 2 %}{% endfor %}{{ ns.l }}",
        "repetition too large in template",
    ),
    ("wide-filter", "{{ 'x' | center(1000000000) }}", "value too large in template"),
    ("wide-method", "{{ 'x'.ljust(1000000000) }}", "value too large in template"),
    ("loop-output", "{% for a in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "renders to more than"),
]


@pytest.mark.parametrize(("name", "template", "message"), HOSTILE_TEMPLATES)
async def test_runaway_templates_are_stopped_while_others_are_served(
    tmp_path: Path, name: str, template: str, message: str
) -> None:
    library = tmp_path / "library"
    write(library / "greet.yaml", prompt_yaml())
    write(library / "hostile.yaml", prompt_yaml(name="Hostile", template=template + "{{ person }}{{ tone }}"))
    async with connected(tmp_path, library) as (_, client):
        errors: list[MCPError] = []
        answered: list[float] = []

        async def hostile() -> None:
            with pytest.raises(MCPError) as caught:
                await client.get_prompt("Hostile", {"person": "x"})
            errors.append(caught.value)

        async def meanwhile() -> None:
            await anyio.sleep(0.2)  # the hostile render is under way
            started = time.monotonic()
            await _greets(client)
            answered.append(time.monotonic() - started)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(hostile)
                group.start_soon(meanwhile)
        assert errors[0].code == INVALID_PARAMS
        assert any(m in errors[0].message for m in message.split("|")), errors[0].message
        assert answered[0] < 1.5, f"a normal prompts/get waited {answered[0]:.2f} s behind the hostile render"
        tool = await client.call_tool("render_prompt", {"name": "Hostile", "variables": {"person": "x"}})
        assert tool.is_error and any(m in tool.content[0].text for m in message.split("|"))  # type: ignore[union-attr]
        await _greets(client)
