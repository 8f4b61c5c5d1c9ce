"""The stdio transport on pipes, read and written by the event loop itself.

The SDK's stdio transport reads each request line, and writes and then flushes each reply, through anyio's
worker threads: three thread hand-offs a request, each a wake-up of another thread and of the loop again
(measured over stdio at 20,000 entities: memory ``search_nodes`` p50 0.8-2.6 ms lower without them, six of
six interleaved pairs on SQLite). A host starts a stdio server with pipes, which the loop can watch itself,
so :func:`event_loop_stdio` reads and writes them without blocking (asyncio's pipe transports) and gives the
server the same message streams the SDK's transport would.

Two behaviours are kept from the SDK and one is added:

- The descriptors are claimed as the SDK claims them: while serving, fd 0 reads the null device and fd 1
  writes to stderr, so a handler's or a child process's stray output never reaches the wire; both point at
  the wire again, blocking as before, on exit.
- A terminal, a regular file or Windows keep the SDK's own transport (``None``).
- When the host closes stdin right after a request (``echo '{…}' | mcp-suite memory``), the requests already
  read are answered before the server stops (for up to :data:`EOF_GRACE_S`): the SDK cancels handlers still
  running at end of input, and its threaded reader only won that race by being slow to see the end.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import IO, Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

MAX_LINE = 1 << 30
"""The line buffer's limit: a request is one line of JSON, and no request is refused for its length here."""
EOF_GRACE_S = 10.0
"""How long requests read before the end of input may still run to be answered."""

Streams = tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]


def _pollable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class _Claim:
    """``fd`` pointed at a diversion while served from a private duplicate (the wire), as the SDK does."""

    def __init__(self, fd: int, diversion: int) -> None:
        import fcntl

        self.fd = fd
        self.flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        self.private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        try:
            os.dup2(diversion, fd)
        finally:
            os.close(diversion)

    def transport_file(self, mode: str) -> IO[Any]:
        """A file of its own for the transport (which closes it, at end of input or at the end), on the wire."""
        return os.fdopen(os.dup(self.private), mode, buffering=0)

    def rewire(self) -> None:
        """``fd`` on the wire again."""
        os.dup2(self.private, self.fd)
        os.close(self.private)

    def unblock(self) -> None:
        """The wire's original flags back (the pipe transports made it non-blocking), once nothing is left to send."""
        import fcntl

        fcntl.fcntl(self.fd, fcntl.F_SETFL, self.flags)


class _Unanswered:
    """Ids of the requests read and not yet answered."""

    def __init__(self) -> None:
        self.ids: set[str | int] = set()

    async def drained(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            while self.ids:
                await anyio.sleep(0.01)


async def _read(reader: asyncio.StreamReader, send: MemoryObjectSendStream[Any], unanswered: _Unanswered) -> None:
    async with send:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:  # end of input; the last line may lack its newline
                line = exc.partial
            if not line:
                break
            try:
                message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
            except Exception as exc:  # the SDK's transport hands a bad line to the server as an exception too
                await send.send(exc)
                continue
            if isinstance(message, types.JSONRPCRequest):
                unanswered.ids.add(message.id)
            elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
                unanswered.ids.discard((message.params or {}).get("requestId", ""))  # no reply comes for it
            await send.send(SessionMessage(message))
        await unanswered.drained(EOF_GRACE_S)


async def _write(
    writer: asyncio.StreamWriter, receive: MemoryObjectReceiveStream[SessionMessage], unanswered: _Unanswered
) -> None:
    async with receive:
        async for session_message in receive:
            message = session_message.message
            writer.write(message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n")
            with suppress(BrokenPipeError, ConnectionResetError):  # the host went: nothing to send replies to
                await writer.drain()  # at once, unless the pipe is full: then until the host has read enough
            if isinstance(message, types.JSONRPCResponse | types.JSONRPCError) and message.id is not None:
                unanswered.ids.discard(message.id)


@asynccontextmanager
async def event_loop_stdio() -> AsyncIterator[Streams | None]:
    """The server's read and write streams over the process's stdin and stdout (see the module docstring), or
    ``None`` where the SDK's own transport serves."""
    if sys.platform == "win32" or not (_pollable(0) and _pollable(1)):
        yield None
        return
    loop = asyncio.get_running_loop()
    stdin = _Claim(0, os.open(os.devnull, os.O_RDONLY))
    stdout = _Claim(1, os.dup(2))
    read_file, write_file = stdin.transport_file("rb"), stdout.transport_file("wb")
    writer: asyncio.StreamWriter | None = None
    read_transport: asyncio.BaseTransport | None = None
    try:
        reader = asyncio.StreamReader(limit=MAX_LINE)
        read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_file)
        write_transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, write_file)
        write_transport.set_write_buffer_limits(high=0)  # drain() returns once the reply is in the pipe
        writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
        to_server, from_stdin = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        to_stdout, from_server = anyio.create_memory_object_stream[SessionMessage](0)
        unanswered = _Unanswered()
        reading = anyio.CancelScope()

        async def read() -> None:
            with reading:
                await _read(reader, to_server, unanswered)

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            tasks.start_soon(_write, writer, from_server, unanswered)
            try:
                yield from_stdin, to_stdout
            finally:
                reading.cancel()  # the server is done: stop listening
                await to_stdout.aclose()  # and the writer ends once it has sent everything it was given
    finally:
        stdin.rewire()
        stdout.rewire()
        if writer is not None:
            writer.close()
        else:
            write_file.close()
        if read_transport is not None:
            read_transport.close()
        else:
            read_file.close()
        stdin.unblock()
        stdout.unblock()
