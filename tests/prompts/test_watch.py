"""The watched library: edits reach connected hosts without a restart, breaks never take a prompt down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.subscriptions import PromptsListChanged
from mcp.types import TextContent

from tests.prompts.serving import connected, prompt_yaml, write

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("database_url")]  # every test on both engines

INTERVAL = 0.05


class Inbox:
    """Collects the notifications a handshake-era client receives."""

    def __init__(self) -> None:
        self.methods: list[str] = []
        self.logs: list[str] = []
        self.changed = anyio.Event()

    async def __call__(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method is None:
            return
        self.methods.append(method)
        if method == "notifications/message":
            self.logs.append(str(message.params.data))
        if method == "notifications/prompts/list_changed":
            self.changed.set()

    async def wait(self, timeout: float = 5.0) -> None:
        with anyio.fail_after(timeout):
            await self.changed.wait()
        self.changed = anyio.Event()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    write(folder / "greet.yaml", prompt_yaml(version="1"))
    return folder


async def served_text(client: Client, person: str = "Ada") -> tuple[str, str]:
    result = await client.get_prompt("Greet", {"person": person})
    content = result.messages[0].content
    assert isinstance(content, TextContent) and result.meta is not None
    return result.meta["mcp-suite/version"], content.text


async def test_legacy_host_is_told_about_an_edit(tmp_path: Path, library: Path) -> None:
    inbox = Inbox()
    options = {"message_handler": inbox}
    async with connected(tmp_path, library, mode="legacy", client_options=options, watch_interval=INTERVAL) as (
        _,
        client,
    ):
        assert client.server_capabilities.prompts and client.server_capabilities.prompts.list_changed
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")

        write(library / "greet.yaml", prompt_yaml(version="2", template="Howdy {{ person }} ({{ tone }})"))
        await inbox.wait()
        assert await served_text(client) == ("2", "Howdy Ada (warm)")
        assert "notifications/resources/list_changed" in inbox.methods

        # A new prompt file appears in the list.
        write(library / "sub" / "bye.yaml", prompt_yaml(name="Bye", template="Bye {{ person }} {{ tone }}"))
        await inbox.wait()
        assert {p.name for p in (await client.list_prompts()).prompts} == {"Greet", "Bye"}


async def test_modern_client_is_told_through_listen(tmp_path: Path, library: Path) -> None:
    async with connected(tmp_path, library, watch_interval=INTERVAL) as (_, client):
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")
        async with client.listen(prompts_list_changed=True) as subscription:
            write(library / "greet.v2.yaml", prompt_yaml(version="2", template="Two {{ person }} {{ tone }}"))
            with anyio.fail_after(5):
                event = await subscription.__anext__()
            assert isinstance(event, PromptsListChanged)
        assert await served_text(client) == ("2", "Two Ada warm")


async def test_label_change_notifies(tmp_path: Path, library: Path) -> None:
    inbox = Inbox()
    async with connected(tmp_path, library, mode="legacy", client_options={"message_handler": inbox}) as (_, client):
        await client.list_prompts()
        result = await client.call_tool("set_label", {"name": "Greet", "label": "production", "version": "1"})
        assert not result.is_error
        await inbox.wait()


async def test_broken_file_keeps_the_previous_version(tmp_path: Path, library: Path) -> None:
    inbox = Inbox()
    options = {"message_handler": inbox}
    async with connected(tmp_path, library, mode="legacy", client_options=options, watch_interval=INTERVAL) as (
        _,
        client,
    ):
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")
        write(library / "greet.yaml", "name: Greet\nversion: 2\ntemplate: [unclosed\n")
        with anyio.fail_after(5):
            while not inbox.logs:
                await anyio.sleep(0.02)
        assert f"{library / 'greet.yaml'}:" in inbox.logs[0] and "invalid YAML" in inbox.logs[0]
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")  # still live

        status = (await client.call_tool("check_library", {})).structured_content
        assert status is not None
        [broken] = status["broken_files"]
        assert broken["file"] == str(library / "greet.yaml") and broken["line"] == 4
        assert "invalid YAML" in broken["message"]

        # A schema error is reported with its line too, and the fix is picked up.
        write(library / "greet.yaml", prompt_yaml(version="2").replace("description: Greets", "descripton: Greets"))
        with anyio.fail_after(5):
            while len(inbox.logs) < 2:
                await anyio.sleep(0.02)
        assert "greet.yaml:2: unknown field `descripton`" in inbox.logs[1]
        write(library / "greet.yaml", prompt_yaml(version="2", template="Fixed {{ person }} {{ tone }}"))
        await inbox.wait()
        assert await served_text(client) == ("2", "Fixed Ada warm")
        status = (await client.call_tool("check_library", {})).structured_content
        assert status is not None and status["broken_files"] == []


async def test_edit_without_a_version_bump_is_refused(tmp_path: Path, library: Path) -> None:
    inbox = Inbox()
    options = {"message_handler": inbox}
    async with connected(tmp_path, library, mode="legacy", client_options=options, watch_interval=INTERVAL) as (
        _,
        client,
    ):
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")
        write(library / "greet.yaml", prompt_yaml(version="1", template="Sneaky {{ person }} {{ tone }}"))
        with anyio.fail_after(5):
            while not inbox.logs:
                await anyio.sleep(0.02)
        assert "version 1 is already published with different content" in inbox.logs[0]
        assert f"{library / 'greet.yaml'}:3:" in inbox.logs[0]  # the `version:` line
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")
        versions = (await client.call_tool("list_versions", {"name": "Greet"})).structured_content
        assert versions is not None and len(versions["versions"]) == 1


async def test_deleted_file_falls_back(tmp_path: Path, library: Path) -> None:
    write(library / "greet.v2.yaml", prompt_yaml(version="2", template="Two {{ person }} {{ tone }}"))
    inbox = Inbox()
    options = {"message_handler": inbox}
    async with connected(tmp_path, library, mode="legacy", client_options=options, watch_interval=INTERVAL) as (
        _,
        client,
    ):
        assert (await served_text(client))[0] == "2"
        (library / "greet.v2.yaml").unlink()
        await inbox.wait()
        version, _ = await served_text(client)
        assert version == "1"  # the library folder holds version 1 again (a git revert, say)


async def test_missing_library_folder_serves_the_registry(tmp_path: Path) -> None:
    async with connected(tmp_path, tmp_path / "nowhere") as (_, client):
        assert (await client.list_prompts()).prompts == []
        status = (await client.call_tool("check_library", {})).structured_content
        assert status is not None and status["broken_files"] == []  # reported in the log, nothing to serve


async def test_restart_reads_only_changed_files(tmp_path: Path, library: Path) -> None:
    write(library / "other.yaml", prompt_yaml(name="Other", version="1"))
    async with connected(tmp_path, library) as (_, client):
        await client.list_prompts()
    # Unchanged size and mtime: the registry's copy is trusted and the file is not parsed again
    # (proved by making its bytes unparseable without changing either).
    path = library / "other.yaml"
    stat = path.stat()
    path.write_bytes(b"#" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    # Changed while the server was down, same version: refused on start, the published one stays.
    write(library / "greet.yaml", prompt_yaml(version="1", template="Offline edit {{ person }} {{ tone }}"))
    inbox = Inbox()
    options = {"message_handler": inbox}
    async with connected(tmp_path, library, mode="legacy", client_options=options) as (_, client):
        assert {p.name for p in (await client.list_prompts()).prompts} == {"Greet", "Other"}
        assert await served_text(client) == ("1", "Hello Ada, in a warm tone.")
        status = (await client.call_tool("check_library", {})).structured_content
        assert status is not None
        assert [b["file"] for b in status["broken_files"]] == [str(library / "greet.yaml")]
        assert "already published with different content" in status["broken_files"][0]["message"]


async def test_library_folder_created_later(tmp_path: Path) -> None:
    inbox = Inbox()
    folder = tmp_path / "later"
    options = {"message_handler": inbox}
    async with connected(tmp_path, folder, mode="legacy", client_options=options, watch_interval=INTERVAL) as (
        _,
        client,
    ):
        assert (await client.list_prompts()).prompts == []
        await anyio.sleep(INTERVAL * 4)
        assert len([m for m in inbox.logs if "does not exist" in m]) <= 1  # said once, not at every poll
        write(folder / "greet.yaml", prompt_yaml())
        await inbox.wait()
        assert [p.name for p in (await client.list_prompts()).prompts] == ["Greet"]
