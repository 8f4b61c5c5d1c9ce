"""Telemetry for free (served counts, prices) and discovery for tool-only hosts, through a real MCP client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from tests.prompts.serving import connected, prompt_yaml, rows, write

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]  # every test on both engines


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    write(folder / "greet.v1.yaml", prompt_yaml(version="1"))
    write(folder / "greet.v2.yaml", prompt_yaml(version="2", template="Hi {{ person }}! Tone: {{ tone }}."))
    return folder


async def tool(client: Client, tool_name: str, /, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool_name, arguments)
    if result.is_error:
        content = result.content[0]
        raise AssertionError(content.text if isinstance(content, TextContent) else content)
    assert result.structured_content is not None
    return result.structured_content


async def stored_serves(server: Any) -> list[tuple[str, str, str, int]]:
    service = await server.service()
    found = await rows(
        service.registry, "SELECT version, label, via, SUM(count) FROM prompt_serves GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    return [(version, label, via, int(count)) for version, label, via, count in found]


async def test_every_get_and_render_is_counted_without_extra_calls(tmp_path: Path, library: Path) -> None:
    async with connected(tmp_path, library) as (server, client):
        for _ in range(3):
            await client.get_prompt("Greet", {"person": "Ada"})  # the library's version 2
        for _ in range(2):
            await tool(client, "render_prompt", name="Greet", variables={"person": "Ada"}, version="1")
        service = await server.service()
        assert service.telemetry.unflushed == 5  # counted in memory: the request path does no write
        assert await stored_serves(server) == []
        await tool(client, "set_label", name="Greet", label="production", version="2")
        await tool(client, "set_rollout", name="Greet", splits={"1": 50, "2": 50})
        subjects = [f"user-{i}" for i in range(40)]
        versions = []
        for subject in subjects:
            result = await client.get_prompt("Greet", {"person": "Ada"}, meta={"mcp-suite/subject": subject})
            assert result.meta is not None
            versions.append(result.meta["mcp-suite/version"])
        await client.get_prompt("Greet", {"person": "Ada"})  # no subject: the label's version
        # Nothing was served with a failing call: a refused render is not a serve.
        assert (await client.call_tool("render_prompt", {"name": "Greet", "variables": {}})).is_error

        stats = {v["version"]: v for v in (await tool(client, "prompt_stats", name="Greet"))["versions"]}
        ones, twos = versions.count("1"), versions.count("2")
        assert ones and twos
        assert stats["1"]["served_via"] == {"rollout:production": ones, "version": 2}
        assert stats["2"]["served_via"] == {"label:production": 1, "library": 3, "rollout:production": twos}
        assert stats["1"]["served"] == ones + 2 and stats["1"]["runs"] == 0
        assert await stored_serves(server) == [
            ("1", "", "version", 2),
            ("1", "production", "rollout", ones),
            ("2", "", "library", 3),
            ("2", "production", "label", 1),
            ("2", "production", "rollout", twos),
        ]


async def test_counts_are_stored_when_the_server_stops(tmp_path: Path, library: Path) -> None:
    async with connected(tmp_path, library) as (_, client):
        for _ in range(4):
            await client.get_prompt("Greet", {"person": "Ada"})
    async with connected(tmp_path, library) as (server, client):
        stats = await tool(client, "prompt_stats", name="Greet", since="1h")
        assert [(v["version"], v["served"]) for v in stats["versions"]] == [("2", 4)]
        assert await stored_serves(server) == [("2", "", "library", 4)]


async def test_background_flush_stores_counts_while_running(tmp_path: Path, library: Path) -> None:
    import anyio

    from mcp_suite.servers.prompts import runtime

    async with connected(tmp_path, library) as (server, client):
        await client.get_prompt("Greet", {"person": "Ada"})
        with anyio.fail_after(5):
            while not await stored_serves(server):
                await anyio.sleep(runtime.FLUSH_INTERVAL / 4)
        assert await stored_serves(server) == [("2", "", "library", 1)]


async def test_runs_without_cost_are_priced_from_the_library_table(tmp_path: Path, library: Path) -> None:
    write(library / "prices.yaml", "currency: USD\nmodels:\n  test-model: {input: 2, output: 10}\n")
    async with connected(tmp_path, library) as (_, client):
        names = [p.name for p in (await client.list_prompts()).prompts]
        assert names == ["Greet"]  # the price table is not a prompt
        priced = await tool(
            client, "record_run", name="Greet", version="2", latency_ms=5, input_tokens=1000, output_tokens=500
        )
        assert priced["model"] == "test-model" and priced["cost"] == pytest.approx(0.007)
        unknown = await tool(
            client, "record_run", name="Greet", version="2", latency_ms=5, input_tokens=10, output_tokens=5,
            model="other-model",
        )  # fmt: skip
        assert unknown["model"] == "other-model" and unknown["cost"] is None
        given = await tool(
            client, "record_run", name="Greet", version="2", latency_ms=5, input_tokens=1, output_tokens=1, cost=0.5
        )
        assert given["cost"] == 0.5
        (two,) = (await tool(client, "prompt_stats", name="Greet"))["versions"]
        assert two["runs"] == 3 and two["priced_runs"] == 2
        assert two["total_cost"] == pytest.approx(0.507) and two["mean_cost"] == pytest.approx(0.2535)


async def test_runs_without_cost_or_price_table_store_no_cost(tmp_path: Path, library: Path) -> None:
    async with connected(tmp_path, library) as (server, client):
        run = await tool(client, "record_run", name="Greet", version="1", latency_ms=5, input_tokens=1, output_tokens=1)
        assert run["cost"] is None
        service = await server.service()
        assert await rows(service.registry, "SELECT cost, model FROM prompt_runs") == [(None, "test-model")]


async def test_a_broken_price_table_is_reported_and_prices_nothing(tmp_path: Path, library: Path) -> None:
    write(library / "prices.yaml", "models:\n  test-model: {input: -1}\n")
    async with connected(tmp_path, library) as (_, client):
        run = await tool(client, "record_run", name="Greet", version="1", latency_ms=5, input_tokens=1, output_tokens=1)
        assert run["cost"] is None


async def test_list_prompts_tool_for_hosts_without_prompt_support(tmp_path: Path, library: Path) -> None:
    write(library / "farewell.yaml", prompt_yaml(name="Farewell", description="Says goodbye.").replace(
        "description: Says goodbye.\n", "title: Say goodbye\ndescription: Says goodbye.\n"
    ))  # fmt: skip
    async with connected(tmp_path, library) as (_, client):
        listed = await tool(client, "list_prompts")
        assert listed["total"] == 2 and listed["next_offset"] is None
        farewell, greet = listed["prompts"]
        assert farewell["name"] == "Farewell" and farewell["title"] == "Say goodbye"
        assert greet["version"] == "2" and "library folder" in greet["served_because"]
        assert [(a["name"], a["required"]) for a in greet["arguments"]] == [("person", True), ("tone", False)]
        assert greet["arguments"][1]["enum"] == ["warm", "formal", "pirate"]
        assert (await tool(client, "list_prompts", query="goodbye"))["total"] == 1
        page = await tool(client, "list_prompts", limit=1)
        assert [p["name"] for p in page["prompts"]] == ["Farewell"] and page["next_offset"] == 1
        rest = await tool(client, "list_prompts", limit=1, offset=1)
        assert [p["name"] for p in rest["prompts"]] == ["Greet"] and rest["next_offset"] is None
        assert (await client.call_tool("list_prompts", {"limit": 0})).is_error
        # What list_prompts shows is enough to render with tools alone.
        rendered = await tool(client, "render_prompt", name=greet["name"], variables={"person": "Ada"})
        assert rendered["version"] == greet["version"]


async def test_output_schema_travels_with_the_prompt(tmp_path: Path, library: Path) -> None:
    schema_yaml = "output_schema:\n  type: object\n  required: [greeting]\n"
    write(library / "greet.v3.yaml", prompt_yaml(version="3") + schema_yaml)
    async with connected(tmp_path, library) as (_, client):
        result = await client.get_prompt("Greet", {"person": "Ada"})
        assert result.meta is not None and result.meta["mcp-suite/version"] == "3"
        assert result.meta["mcp-suite/outputSchema"] == {"type": "object", "required": ["greeting"]}
        rendered = await tool(client, "render_prompt", name="Greet", variables={"person": "Ada"})
        assert rendered["output_schema"] == {"type": "object", "required": ["greeting"]}
        older = await client.get_prompt("Greet", {"person": "Ada"}, meta={"mcp-suite/version": "2"})
        assert older.meta is not None and "mcp-suite/outputSchema" not in older.meta
        listed = (await tool(client, "list_prompts"))["prompts"][0]
        assert listed["output_schema"] == {"type": "object", "required": ["greeting"]}


async def test_run_golden_judges_rubrics_with_the_hosts_model(tmp_path: Path, library: Path) -> None:
    from mcp.types import CreateMessageResult

    write(
        library / "judged.yaml",
        prompt_yaml(name="Judged").replace(
            "      - contains: Alice\n",
            "      - rubric: greets Alice by name\n      - similar: {value: 'Greetings, Alice.', threshold: 0.6}\n",
        )
        + "output_schema: {type: string}\n",
    )
    asked: list[str] = []

    async def sampling(context: Any, params: Any) -> CreateMessageResult:
        asked.append(params.system_prompt or "")
        if (params.system_prompt or "").startswith("You grade"):
            text = '{"pass": true, "reason": "it greets Alice"}'
        else:
            text = '"Greetings, Alice."'
        return CreateMessageResult(role="assistant", content=TextContent(text=text), model="host-model")

    options = {"sampling_callback": sampling}
    async with connected(tmp_path, library, mode="legacy", client_options=options) as (_, client):
        report = await tool(client, "run_golden", name="Judged")
    [case] = report["cases"]
    assert case["status"] == "passed" and report["passed"] and report["counts"]["passed"] == 1
    kinds = {a["kind"]: a for a in case["assertions"]}
    assert kinds["rubric"]["message"] == "judge: pass — it greets Alice"
    assert kinds["similar"]["passed"] and kinds["output_schema"]["passed"]
    assert len(asked) == 2 and asked[1].startswith("You grade")
