"""Protocol details of the prompts server through a real MCP client: serverInfo, tool metadata, completion."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.types import PromptReference, ResourceTemplateReference

from mcp_suite import __version__
from tests.prompts.serving import connected, prompt_yaml, write

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]  # every test on both engines


async def test_server_info_names_the_release(tmp_path: Path) -> None:
    async with connected(tmp_path, None) as (_, client):
        info = client.server_info
        assert info is not None and info.name == "mcp-suite-prompts"
        assert info.version == __version__ and info.version
        assert info.title == "mcp-suite prompt registry"


async def test_every_tool_has_a_title_and_honest_hints(tmp_path: Path) -> None:
    async with connected(tmp_path, None) as (_, client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"list_prompts", "render_prompt", "set_label", "record_run", "run_golden"} <= set(tools)
        for tool in tools.values():
            assert tool.title, tool.name
            assert tool.annotations is not None and tool.annotations.open_world_hint is not None, tool.name
        # Only run_golden reaches outside the registry (the host's model).
        assert [n for n, t in tools.items() if t.annotations and t.annotations.open_world_hint] == ["run_golden"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_name_completion_reports_total_and_has_more(tmp_path: Path, mode: str) -> None:
    library = tmp_path / "library"
    for i in range(150):
        write(library / f"p{i:03d}.yaml", prompt_yaml(name=f"Prompt{i:03d}"))
    write(library / "other.yaml", prompt_yaml(name="Other"))
    async with connected(tmp_path, library, mode=mode) as (_, client):
        ref = ResourceTemplateReference(type="ref/resource", uri="prompts://{name}/source")
        many = (await client.complete(ref, {"name": "name", "value": "Prompt"})).completion
        assert len(many.values) == 100 and many.values[0] == "Prompt000"
        assert many.total == 150 and many.has_more is True
        few = (await client.complete(ref, {"name": "name", "value": "Prompt14"})).completion
        assert few.values == [f"Prompt14{i}" for i in range(10)] and few.total == 10 and few.has_more is False
        tone = await client.complete(PromptReference(type="ref/prompt", name="Other"), {"name": "tone", "value": ""})
        assert tone.completion.total == 3 and tone.completion.has_more is False


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_prompts_list_is_paginated_and_refuses_a_bad_cursor(tmp_path: Path, mode: str) -> None:
    from mcp.shared.exceptions import MCPError
    from mcp.types import INVALID_PARAMS

    library = tmp_path / "library"
    for i in range(7):
        write(library / f"p{i}.yaml", prompt_yaml(name=f"P{i}"))
    async with connected(tmp_path, library, mode=mode, page_size=3) as (_, client):
        names, cursor, pages = [], None, 0
        while True:
            page = await client.list_prompts(cursor=cursor)
            pages += 1
            names += [p.name for p in page.prompts]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3 and names == [f"P{i}" for i in range(7)]
        for bad in ("nonsense", "bm90LWEtY3Vyc29y"):  # not base64 of ours / base64 of something else
            with pytest.raises(MCPError) as refused:
                await client.list_prompts(cursor=bad)
            assert refused.value.error.code == INVALID_PARAMS and "invalid cursor" in refused.value.error.message


async def test_subscribers_of_a_prompt_source_hear_when_it_changes(tmp_path: Path) -> None:
    import anyio
    from mcp.shared.subscriptions import ResourceUpdated

    library = tmp_path / "library"
    write(library / "greet.v1.yaml", prompt_yaml(version="1"))
    write(library / "greet.v2.yaml", prompt_yaml(version="2", template="Two {{ person }} {{ tone }}"))
    write(library / "other.yaml", prompt_yaml(name="Other"))
    async with connected(tmp_path, library, watch_interval=0.05) as (_, client):
        await client.list_prompts()
        watched = ["prompts://Greet/source", "prompts://Greet/versions", "prompts://Other/source"]
        async with client.listen(resource_subscriptions=watched) as subscription:
            assert set(subscription.honored.resource_subscriptions or []) == set(watched)
            # A label move changes what Greet's source resource reads (version 2 → 1), not Other's.
            result = await client.call_tool("set_label", {"name": "Greet", "label": "production", "version": "1"})
            assert not result.is_error
            seen = set()
            with anyio.fail_after(5):
                while len(seen) < 2:
                    event = await subscription.__anext__()
                    assert isinstance(event, ResourceUpdated)
                    seen.add(event.uri)
            assert seen == {"prompts://Greet/source", "prompts://Greet/versions"}
            source = await client.read_resource("prompts://Greet/source")
            assert "version: 1" in source.contents[0].text  # type: ignore[union-attr]
            # A file edit that publishes a new served version of Other tells its subscribers too.
            write(library / "other.v2.yaml", prompt_yaml(name="Other", version="2"))
            with anyio.fail_after(5):
                event = await subscription.__anext__()
            assert event == ResourceUpdated("prompts://Other/source")
