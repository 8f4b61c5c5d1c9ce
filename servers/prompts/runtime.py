"""The runtime behind a prompts server object: the service opened once, loaded after the handshake, watched.

However many lifespans share one server object (an HTTP server runs one per session), the registry
and library are opened once and closed with the last one. The registry and library load in the
background after the first client is connected, so ``initialize`` is answered as fast as by a bare
server; requests that need prompts wait for the load (:meth:`Runtime.service`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from mcp_suite.servers.prompts.settings import PromptsSettings
from mcp_suite.shared.errors import InvalidInputError, SuiteError

if TYPE_CHECKING:
    from mcp_suite.servers.prompts.broadcast import ChangeBroadcaster
    from mcp_suite.servers.prompts.service import PromptService, SyncReport

log = logging.getLogger(__name__)


@dataclass
class PromptsState:
    runtime: Runtime
    settings: PromptsSettings


STARTUP_GRACE = 0.5
"""Seconds the registry and library load waits for a client to finish its handshake before going ahead."""
FLUSH_INTERVAL = 1.0
"""Seconds between writes of the served counters (prompts/get and render_prompt only count in memory)."""


class Runtime:
    """The service behind the server: opened once, however many lifespans share the server object.

    The registry and the library are loaded in the background after the first client is connected
    (its ``notifications/initialized``, or its first request on the 2026-07-28 protocol), so
    ``initialize`` is answered as fast as by a bare server; requests that need prompts wait for the
    load (:meth:`service`).
    """

    def __init__(self, settings: PromptsSettings, broadcaster: ChangeBroadcaster) -> None:
        self.settings = settings
        self.broadcaster = broadcaster
        self._service: PromptService | None = None
        self._users = 0
        self._lock = anyio.Lock()
        self._kicked: anyio.Event | None = None
        self._opened: anyio.Event | None = None
        self._follower = anyio.Lock()

    def kick(self) -> None:
        """A client is here: start loading now rather than after the grace period."""
        if self._kicked is not None:
            self._kicked.set()

    async def service(self) -> PromptService:
        """The service, once the registry and the library folder are loaded."""
        if self._opened is None:
            raise InvalidInputError("the prompts server is not running")
        self.kick()
        await self._opened.wait()
        service = self._service
        assert service is not None
        await service.ready.wait()
        return service

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[PromptsState]:
        async with self._lock:
            first = self._users == 0
            if first:
                self._kicked, self._opened = anyio.Event(), anyio.Event()
            self._users += 1
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._background, first)
                try:
                    yield PromptsState(self, self.settings)
                finally:
                    group.cancel_scope.cancel()
        finally:
            async with self._lock:
                self._users -= 1
                if self._users == 0:
                    if self._service is not None:
                        with anyio.CancelScope(shield=True):
                            await self._final_flush(self._service)
                            await self._service.registry.close()
                    self._service = self._opened = self._kicked = None

    async def _background(self, first: bool) -> None:
        assert self._kicked is not None and self._opened is not None
        if first:
            with anyio.move_on_after(STARTUP_GRACE):
                await self._kicked.wait()
            # Shielded: a client that hangs up while the database opens must not leave an open connection
            # (and its worker thread) behind; the lifespan closes what was opened.
            with anyio.CancelScope(shield=True):
                self._service = service = await self._open()
            self.broadcaster.resource_updates = service.take_resource_updates
            self._opened.set()
            report = await service.start()
            if report.new_errors:
                await self._changed(report)
        else:
            service = await self.service()
        async with anyio.create_task_group() as group:
            group.start_soon(self._flush_forever, service)
            group.start_soon(self._follow_replicas, service)
            if self.settings.watch_interval > 0:
                from mcp_suite.servers.prompts.watcher import watch  # imports the service: loads after the handshake

                group.start_soon(watch, service, self.settings.watch_interval, self._changed)

    @staticmethod
    async def _flush_forever(service: PromptService) -> None:
        """Store the serve counters off the request path, about once a second, while anything was served."""
        while True:
            await anyio.sleep(FLUSH_INTERVAL)
            try:
                await service.telemetry.flush()
            except (OSError, SuiteError, sqlite3.Error) as exc:  # kept in memory; the next tick retries
                log.warning("could not store the served counts: %s", exc)

    async def _follow_replicas(self, service: PromptService) -> None:
        """Serve what other replicas sharing the database changed, and tell this replica's clients.

        One follower per process: every lifespan queues on the lock, and when the one following ends (its
        session closed) the next takes over; its feed starts with a refresh, so nothing heard in between is lost.
        """
        from mcp_suite.servers.prompts.service import SyncReport

        async with self._follower:
            await self._follow(service, SyncReport)

    async def _follow(self, service: PromptService, report: type[SyncReport]) -> None:
        while True:
            try:
                async with aclosing(service.registry.changes()) as changes:
                    async for _ in changes:
                        # Unchanged lists still send resources/updated to subscribers of what did change.
                        await self._changed(report(served_changed=await service.refresh()))
                return
            except SuiteError as exc:  # the database is away: try again, the server keeps serving its copy
                log.warning("not hearing other replicas' changes: %s", exc)
                await anyio.sleep(FLUSH_INTERVAL)

    @staticmethod
    async def _final_flush(service: PromptService) -> None:
        try:
            await service.telemetry.flush()
        except (OSError, SuiteError, sqlite3.Error) as exc:
            log.warning("served counts not stored at shutdown (%d lost): %s", service.telemetry.unflushed, exc)

    async def _open(self) -> PromptService:
        # Imported here, after the handshake: they are not needed to answer `initialize`.
        from mcp_suite.servers.prompts.library import Library
        from mcp_suite.servers.prompts.registry import Registry
        from mcp_suite.servers.prompts.service import PromptService
        from mcp_suite.servers.prompts.telemetry import Telemetry

        settings = self.settings
        registry = await Registry.open(settings.database)
        return PromptService(
            registry,
            Telemetry(registry.storage, otel=settings.otel),
            Library(settings.library) if settings.library is not None else None,
            author=settings.publisher,
            max_variable_chars=settings.max_variable_chars,
            max_output_chars=settings.max_output_chars,
        )

    async def _changed(self, report: SyncReport) -> None:
        if report.published:
            log.info("published from the library: %s", ", ".join(report.published))
        await self.broadcaster.prompts_changed(report.new_errors, lists_changed=report.served_changed)
