"""Replicas: prompts server processes over Streamable HTTP sharing one PostgreSQL database act as one service.

A label moved through one replica reaches the clients of another (list_changed within 2 s), every
acknowledged write from concurrent clients of both replicas is stored, and replicas publishing the same
library at once end with one copy of each version.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.subscriptions import PromptsListChanged

from mcp_suite.servers.prompts.registry import PublishItem, Registry
from mcp_suite.shared.database_url import parse_database_url
from tests.prompts.serving import prompt_yaml, write
from tests.prompts.test_watch import Inbox
from tests.support import free_port, http_server, script

pytestmark = pytest.mark.anyio

CLIENTS_PER_REPLICA = 4
WRITES_PER_CLIENT = 25


def replica(url: str, library: Path, data_dir: Path, port: int) -> list[str]:
    return [
        script("mcp-suite-prompts"),
        "--transport",
        "streamable-http",
        "--port",
        str(port),
        "--library",
        str(library),
        "--data-dir",
        str(data_dir),
        "--database-url",
        url,
        "--watch-interval",
        "0",
    ]


@pytest.mark.slow
async def test_two_replicas_share_labels_and_keep_every_write(tmp_path: Path, postgres_url: str) -> None:
    library = tmp_path / "library"
    write(library / "greet.v1.yaml", prompt_yaml(version="1"))
    write(library / "greet.v2.yaml", prompt_yaml(version="2", template="Two {{ person }} {{ tone }}"))
    with ExitStack() as stack:
        urls = [
            stack.enter_context(http_server(replica(postgres_url, library, tmp_path / name, port), port))
            for name, port in (("a", free_port()), ("b", free_port()))
        ]
        inbox = Inbox()
        async with (
            Client(urls[0]) as client_a,
            Client(urls[1], mode="legacy", message_handler=inbox) as legacy_b,
            Client(urls[1]) as modern_b,
        ):
            assert legacy_b.server_capabilities.prompts and legacy_b.server_capabilities.prompts.list_changed
            # Both replicas published the same library as their first clients arrived: one copy each.
            assert [v["version"] for v in (await call(client_a, "list_versions", name="Greet"))["versions"]] == [
                "1",
                "2",
            ]
            assert (await modern_b.get_prompt("Greet", {"person": "Ada"})).meta["mcp-suite/version"] == "2"  # type: ignore[index]
            async with modern_b.listen(prompts_list_changed=True) as subscription:
                started = time.monotonic()
                await call(client_a, "set_label", name="Greet", label="production", version="1")
                with anyio.fail_after(2):
                    event = await subscription.__anext__()
                    await inbox.wait(timeout=2)
                assert isinstance(event, PromptsListChanged)
                assert time.monotonic() - started < 2
            served = await modern_b.get_prompt("Greet", {"person": "Ada"})
            assert served.meta is not None and served.meta["mcp-suite/version"] == "1"
            assert served.meta["mcp-suite/label"] == "production"

            acknowledged_runs, acknowledged_gets = await concurrent_writers(urls)
            await anyio.sleep(2.5)  # each replica stores its served counters about once a second
    registry = await Registry.open(parse_database_url(postgres_url))
    try:
        stats = {s.version: s for s in await registry_stats(registry)}
    finally:
        await registry.close()
    assert sum(s.runs for s in stats.values()) == acknowledged_runs == 2 * CLIENTS_PER_REPLICA * WRITES_PER_CLIENT
    # The label's one get before the writers, and every get the writers made, each counted once.
    assert sum(s.served for s in stats.values()) == acknowledged_gets + 2


async def concurrent_writers(urls: list[str]) -> tuple[int, int]:
    """Several clients on each replica record runs and get prompts at once; returns what was acknowledged."""
    runs = gets = 0

    async def writer(url: str, number: int) -> None:
        nonlocal runs, gets
        async with Client(url) as client:
            for i in range(WRITES_PER_CLIENT):
                await call(
                    client,
                    "record_run",
                    name="Greet",
                    version="1",
                    latency_ms=number + i,
                    input_tokens=1,
                    output_tokens=1,
                )
                runs += 1
                await client.get_prompt("Greet", {"person": f"p{number}-{i}"})
                gets += 1

    async with anyio.create_task_group() as group:
        for n, url in enumerate(urls * CLIENTS_PER_REPLICA):
            group.start_soon(writer, url, n)
    return runs, gets


async def call(client: Client, name: str, /, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def registry_stats(registry: Registry) -> list[Any]:
    from mcp_suite.servers.prompts.telemetry import Telemetry

    return await Telemetry(registry.storage).prompt_stats("Greet")


def item(version: str) -> PublishItem:
    return PublishItem("Greet", version, f"hash-{version}", f"source {version}", f"/lib/greet.v{version}.yaml")


async def test_replicas_publishing_at_once_store_each_version_once(postgres_url: str) -> None:
    url = parse_database_url(postgres_url)
    registries = [await Registry.open(url) for _ in range(4)]
    try:
        items = [item(str(v)) for v in range(1, 21)]
        outcomes: list[Any] = [None] * len(registries)

        async def publish(index: int) -> None:
            outcomes[index] = await registries[index].publish(items, f"replica-{index}", atomic=False)

        async with anyio.create_task_group() as group:
            for index in range(len(registries)):
                group.start_soon(publish, index)
        # Every version published by exactly one replica; the others found it stored and unchanged.
        for version in range(1, 21):
            publishers = [o for o in outcomes if any(i.version == str(version) for i in o.published)]
            assert len(publishers) == 1
        assert all(not o.conflicts for o in outcomes)
        catalog = await registries[0].catalog()
        assert sorted(catalog["Greet"].versions, key=int) == [str(v) for v in range(1, 21)]
    finally:
        for registry in registries:
            await registry.close()


async def test_label_moves_racing_on_two_replicas_keep_a_consistent_history(postgres_url: str) -> None:
    url = parse_database_url(postgres_url)
    one, two = await Registry.open(url), await Registry.open(url)
    try:
        await one.publish([item("1"), item("2"), item("3")], "alice")

        async def mover(registry: Registry, who: str, versions: list[str]) -> None:
            for version in versions * 10:
                await registry.set_label("Greet", "production", version, who)

        async with anyio.create_task_group() as group:
            group.start_soon(mover, one, "one", ["1", "2"])
            group.start_soon(mover, two, "two", ["3", "1"])
        history = await one.label_history("Greet", "production")
        # Each move read the label inside its transaction: every entry starts where the one before it ended.
        assert all(later.previous_version == earlier.version for earlier, later in pairwise(history))
        assert (await two.catalog())["Greet"].labels["production"] == history[-1].version
    finally:
        await one.close()
        await two.close()
