"""Polling watch of the prompt library folder (and of the shared registry database).

Every ``interval`` seconds the library is re-scanned (a stat per file; only changed files are
re-read) and the registry is checked for writes by other processes. When what is served changed,
or a file broke, ``on_change`` is called with the report, which is how connected hosts learn about
it. Polling keeps the server free of platform file-notification dependencies and works the same
on network drives and in containers; at the default interval of one second a 3,000-file library
costs a few milliseconds per poll.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from mcp_suite.servers.prompts.service import PromptService, SyncReport
from mcp_suite.shared.errors import SuiteError

log = logging.getLogger(__name__)

OnChange = Callable[[SyncReport], Awaitable[None]]


async def poll_once(service: PromptService) -> SyncReport:
    """One poll: sync the library folder, then pick up registry writes made elsewhere."""
    report = await service.sync_library()
    if await service.refresh_if_changed_elsewhere():
        report.served_changed = True
    return report


async def watch(service: PromptService, interval: float, on_change: OnChange) -> None:
    """Poll until cancelled; a failing poll is logged and retried at the next tick, never fatal."""
    while True:
        await anyio.sleep(interval)
        try:
            report = await poll_once(service)
        except (OSError, SuiteError) as exc:
            log.warning("prompt library poll failed: %s", exc)
            continue
        if report.served_changed or report.new_errors:
            await on_change(report)
