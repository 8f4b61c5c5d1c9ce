"""shared.stdio_pipes in a real child process: pipes are served by the event loop, messages of any length
pass, stray output never reaches the wire, requests read before the end of input are still answered, the
descriptors are restored (blocking again) afterwards, and anything other than a pipe keeps the SDK's path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# A toy server on the transport's streams: answers each request with the size of its params, slowly.
ECHO = r"""
import asyncio, os
import anyio, mcp_types as types
from mcp.shared.message import SessionMessage
from mcp_suite.shared.stdio_pipes import event_loop_stdio

async def main():
    async with event_loop_stdio() as streams:
        if streams is None:
            print("fallback", flush=True)
            return
        read, write = streams
        print("stray print", flush=True)  # fd 1 is stderr while serving
        os.write(1, b"stray write\n")
        async with read, write, anyio.create_task_group() as tasks:
            async def answer(request):
                await anyio.sleep(0.5)  # still running when the host has closed stdin
                size = len(str(request.params))
                reply = types.JSONRPCResponse(jsonrpc="2.0", id=request.id, result={"n": size})
                await write.send(SessionMessage(reply))
            async for item in read:
                if isinstance(item, Exception):
                    print("bad line", flush=True)  # on stderr: the wire carries only messages
                elif isinstance(item.message, types.JSONRPCRequest):
                    tasks.start_soon(answer, item.message)
    print("restored", os.get_blocking(0), os.get_blocking(1), flush=True)

asyncio.run(main())
"""


def request(request_id: int, params: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})


def run(stdin: Any, text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", ECHO], input=text, stdin=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_requests_read_before_the_end_of_input_are_answered_and_only_replies_reach_stdout() -> None:
    big = {"text": "x" * 3_000_000}  # far past asyncio's default 64 KiB line limit
    lines = [request(1, {"a": 1}), "not json", request(2, big), request(3, {"b": 2})]
    proc = run(None, "\n".join(lines))  # the last line without its newline, then end of input
    assert proc.returncode == 0, proc.stderr
    *replies, last = proc.stdout.splitlines()
    answered = {json.loads(line)["id"]: json.loads(line)["result"]["n"] for line in replies}
    assert answered == {1: len(str({"a": 1})), 2: len(str(big)), 3: len(str({"b": 2}))}
    assert last == "restored True True"
    assert "stray print" in proc.stderr and "stray write" in proc.stderr and "bad line" in proc.stderr


def test_a_file_on_stdin_keeps_the_sdk_transport(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(request(1, {}) + "\n")
    with requests.open() as stdin:
        proc = run(stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["fallback"]
