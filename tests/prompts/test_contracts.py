"""Rollouts and label moves that cannot break callers: argument contracts checked through a real MCP client."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from mcp_suite.servers.prompts.contracts import common_arguments, incompatibility
from mcp_suite.servers.prompts.records import ArgumentInfo
from tests.prompts.serving import EXAMPLES, connected

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]  # every test on both engines
SEED = "SummarizeSupportTicket"  # v1 requires output_format; v2 makes it optional with a default


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "lib")
    return tmp_path / "lib"


async def call(client: Client, tool_name: str, /, **arguments: Any) -> tuple[bool, Any]:
    result = await client.call_tool(tool_name, arguments)
    if result.is_error:
        content = result.content[0]
        assert isinstance(content, TextContent)
        return False, content.text
    return True, result.structured_content


async def state(client: Client) -> tuple[dict[str, str], dict[str, Any]]:
    ok, listing = await call(client, "list_versions", name=SEED)
    assert ok
    return listing["labels"], listing["rollouts"]


async def test_split_that_would_break_callers_is_refused(tmp_path: Path, examples: Path) -> None:
    async with connected(tmp_path, examples) as (_, client):
        assert (await call(client, "set_label", name=SEED, label="production", version="2"))[0]
        ok, message = await call(client, "set_rollout", name=SEED, splits={"1": 50, "2": 50})
        assert not ok
        assert "version 1 of SummarizeSupportTicket requires variable 'output_format'" in message
        assert "label 'production' (served version 2)" in message
        assert await state(client) == ({"production": "2"}, {})  # nothing changed
        # What production callers send still renders for everyone.
        for subject in ("a", "b", "c", "d"):
            result = await client.get_prompt(SEED, {"support_ticket_text": "x"}, meta={"mcp-suite/subject": subject})
            assert result.meta is not None and result.meta["mcp-suite/version"] == "2"


async def test_label_move_and_rollback_that_would_break_callers_are_refused(tmp_path: Path, examples: Path) -> None:
    async with connected(tmp_path, examples) as (_, client):
        # Without a label, prompts/get serves version 2 (the library's): its callers need not send output_format.
        ok, message = await call(client, "set_label", name=SEED, label="production", version="1")
        assert not ok and "requires variable 'output_format'" in message and "served version 2" in message
        assert await state(client) == ({}, {})
        # A brand-new label has no callers yet; forcing is explicit.
        assert (await call(client, "set_label", name=SEED, label="staging", version="1"))[0]
        assert (await call(client, "set_label", name=SEED, label="production", version="1", force=True))[0]
        # 1 → 2 relaxes the contract (output_format gets a default): allowed.
        assert (await call(client, "set_label", name=SEED, label="production", version="2"))[0]
        # Rolling back to 1 would require output_format from callers that were told it is optional.
        ok, message = await call(client, "rollback", name=SEED)
        assert not ok and "version 1 of SummarizeSupportTicket requires variable 'output_format'" in message
        assert (await state(client))[0] == {"production": "2", "staging": "1"}
        ok, moved = await call(client, "rollback", name=SEED, force=True)
        assert ok and moved["to_version"] == "1"


async def test_compatible_split_is_accepted_and_listed_with_common_arguments(tmp_path: Path, examples: Path) -> None:
    async with connected(tmp_path, examples) as (_, client):
        assert (await call(client, "set_label", name=SEED, label="production", version="1", force=True))[0]
        ok, rollout = await call(client, "set_rollout", name=SEED, splits={"1": 50, "2": 50})
        assert ok and rollout["splits"] == {"1": 50, "2": 50}
        assert (await state(client))[1] == {"production": {"1": 50, "2": 50}}
        listed = {p.name: p for p in (await client.list_prompts()).prompts}[SEED]
        arguments = {a.name: a.required for a in listed.arguments or []}
        # Version 1 requires output_format, so a host must send it to be served by either version.
        assert arguments == {"support_ticket_text": True, "output_format": True}
        served = set()
        for subject in [f"user-{i}" for i in range(20)]:
            result = await client.get_prompt(
                SEED, {"support_ticket_text": "x", "output_format": "summary"}, meta={"mcp-suite/subject": subject}
            )
            assert result.meta is not None
            served.add(result.meta["mcp-suite/version"])
        assert served == {"1", "2"}


def arg(name: str, required: bool = True) -> ArgumentInfo:
    return ArgumentInfo(name=name, required=required)


def test_contract_rules() -> None:
    v1 = ("1", [arg("text"), arg("tone", False)])
    assert incompatibility("P", "production", v1, ("2", [arg("text"), arg("tone", False), arg("x", False)])) is None
    dropped = incompatibility("P", "production", v1, ("2", [arg("text")]))
    assert dropped is not None and "may send variable 'tone', which version 2 does not accept" in dropped
    needs = incompatibility("P", "production", v1, ("2", [arg("text"), arg("tone")]))
    assert needs is not None and "version 2 of P requires variable 'tone'" in needs
    common = common_arguments([[arg("text"), arg("tone", False), arg("only1", False)], [arg("tone"), arg("text")]])
    assert [(a.name, a.required) for a in common] == [("text", True), ("tone", True)]
