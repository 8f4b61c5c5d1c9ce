"""Drafts: edited freely under their version, served only on request, never to production; publishing freezes them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent

from tests.prompts.serving import connected, prompt_yaml, write

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]  # every test on both engines
DRAFT = {"mcp-suite/label": "draft"}


def draft_yaml(template: str, version: str = "3", name: str = "Greet") -> str:
    return prompt_yaml(name=name, version=version, template=template).replace(
        f"version: {version}\n", f"version: {version}\ndraft: true\n"
    )


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    write(folder / "greet.v1.yaml", prompt_yaml(version="1"))
    write(folder / "greet.v2.yaml", prompt_yaml(version="2", template="Hi {{ person }}! Tone: {{ tone }}."))
    write(folder / "greet.v3.yaml", draft_yaml("Draft one for {{ person }} ({{ tone }})."))
    return folder


async def call(client: Client, tool_name: str, /, **arguments: Any) -> tuple[bool, Any]:
    result = await client.call_tool(tool_name, arguments)
    if result.is_error:
        content = result.content[0]
        assert isinstance(content, TextContent)
        return False, content.text
    return True, result.structured_content


async def text(client: Client, meta: dict[str, Any] | None = None) -> tuple[str, str, str]:
    result = await client.get_prompt("Greet", {"person": "Ada"}, meta=meta)
    content = result.messages[0].content
    assert isinstance(content, TextContent) and result.meta is not None
    return result.meta["mcp-suite/version"], result.meta["mcp-suite/source"], content.text


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    with anyio.fail_after(5):
        while not await check():
            await anyio.sleep(0.05)


async def test_draft_lifecycle_edit_serve_on_request_publish_freeze(tmp_path: Path, library: Path) -> None:
    async with connected(tmp_path, library, watch_interval=0.05) as (_, client):
        # Served by default: the highest published version on disk, never the draft.
        assert await text(client) == ("2", "library", "Hi Ada! Tone: warm.")
        assert await text(client, DRAFT) == ("3", "draft", "Draft one for Ada (warm).")
        ok, listing = await call(client, "list_versions", name="Greet")
        assert [v["version"] for v in listing["versions"]] == ["1", "2"]
        assert listing["draft"]["version"] == "3" and listing["draft"]["source_file"].endswith("greet.v3.yaml")

        # Edit freely: same version, new content, no bump asked for.
        write(library / "greet.v3.yaml", draft_yaml("Draft two for {{ person }}."))

        async def edited() -> bool:
            return (await text(client, DRAFT))[2] == "Draft two for Ada."

        await eventually(edited)
        ok, status = await call(client, "check_library")
        assert ok and status["broken_files"] == []
        assert await text(client) == ("2", "library", "Hi Ada! Tone: warm.")

        # Never to production, never a label of its own.
        ok, message = await call(client, "set_label", name="Greet", label="production", version="3")
        assert not ok and "version 3 of Greet is a draft; publish it first" in message
        ok, message = await call(client, "set_label", name="Greet", label="draft", version="2")
        assert not ok and "label 'draft' is reserved" in message
        ok, message = await call(client, "set_rollout", name="Greet", splits={"2": 50, "3": 50})
        assert not ok and "is a draft" in message
        with pytest.raises(MCPError, match="3 is a draft: ask for label 'draft'"):
            await client.get_prompt("Greet", {"person": "Ada"}, meta={"mcp-suite/version": "3"})
        ok, golden = await call(client, "run_golden", name="Greet", versions=["draft"])
        assert ok and golden["versions"][0]["version"] == "3"

        # Publishing freezes it: version 3 is published as last edited, the draft is gone.
        ok, published = await call(client, "publish")
        assert ok and published["published"] == ["Greet:3"]
        ok, listing = await call(client, "list_versions", name="Greet")
        assert [v["version"] for v in listing["versions"]] == ["1", "2", "3"] and listing["draft"] is None
        assert await text(client, {"mcp-suite/version": "3"}) == ("3", "version", "Draft two for Ada.")
        assert (await text(client))[:2] == ("3", "library")
        with pytest.raises(MCPError, match="has no draft"):
            await client.get_prompt("Greet", {"person": "Ada"}, meta=DRAFT)

        # Frozen: editing version 3 now needs a bump, and what is served does not change.
        write(library / "greet.v3.yaml", draft_yaml("Draft three for {{ person }}."))

        async def refused() -> bool:
            ok, status = await call(client, "check_library")
            assert ok
            return any("bump `version:`" in p["message"] for p in status["broken_files"])

        await eventually(refused)
        assert await text(client) == ("3", "library", "Draft two for Ada.")


async def test_a_prompt_with_only_a_draft_is_not_listed(tmp_path: Path, library: Path) -> None:
    write(library / "new.yaml", draft_yaml("New {{ person }} {{ tone }}", version="1", name="Newbie"))
    async with connected(tmp_path, library) as (_, client):
        assert [p.name for p in (await client.list_prompts()).prompts] == ["Greet"]
        ok, listed = await call(client, "list_prompts")
        assert [p["name"] for p in listed["prompts"]] == ["Greet"]
        with pytest.raises(MCPError, match="has only a draft, served only on request"):
            await client.get_prompt("Newbie", {"person": "Ada"})
        result = await client.get_prompt("Newbie", {"person": "Ada"}, meta=DRAFT)
        assert result.meta is not None and result.meta["mcp-suite/source"] == "draft"
        ok, rendered = await call(client, "render_prompt", name="Newbie", variables={"person": "Ada"}, label="draft")
        assert ok and rendered["source"] == "draft" and rendered["messages"][0]["content"] == "New Ada warm"


async def test_two_drafts_of_one_prompt_are_refused(tmp_path: Path, library: Path) -> None:
    write(library / "zz.yaml", draft_yaml("Other draft {{ person }} {{ tone }}", version="4"))
    async with connected(tmp_path, library) as (_, client):
        ok, status = await call(client, "check_library")
        assert ok
        [broken] = status["broken_files"]
        assert broken["file"].endswith("zz.yaml") and broken["line"] == 4
        assert "already has a draft in" in broken["message"] and "greet.v3.yaml" in broken["message"]
        assert (await text(client, DRAFT))[0] == "3"


async def test_a_removed_draft_file_removes_the_draft(tmp_path: Path, library: Path) -> None:
    async with connected(tmp_path, library, watch_interval=0.05) as (_, client):
        assert (await text(client, DRAFT))[0] == "3"
        (library / "greet.v3.yaml").unlink()

        async def gone() -> bool:
            ok, listing = await call(client, "list_versions", name="Greet")
            return ok and listing["draft"] is None

        await eventually(gone)
