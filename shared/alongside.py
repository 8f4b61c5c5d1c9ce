"""Two awaitables run side by side, for work that waits on another process while this one computes.

A search sends its SQL and, while the database answers, scans vectors on the event loop. anyio's task group
does the running; this adds the two things such callers need: the first one is started (up to its first wait,
e.g. a statement sent) before the second begins, and a failure comes out as itself, not inside an exception
group, so callers keep their ``except`` clauses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import anyio
import anyio.lowlevel

A = TypeVar("A")
B = TypeVar("B")


async def alongside(first: Callable[[], Awaitable[A]], second: Callable[[], Awaitable[B]]) -> tuple[A, B]:
    """Both results, ``first`` started before ``second``; an exception of either is raised once both have ended
    (the first one raised, if both fail)."""
    results: dict[int, object] = {}
    failed: list[Exception] = []

    async def run(index: int, work: Callable[[], Awaitable[object]]) -> None:
        try:
            results[index] = await work()
        except Exception as exc:
            failed.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run, 0, first)
        await anyio.lowlevel.checkpoint()  # lets it run to its first wait before `second` holds the loop
        await run(1, second)
    if failed:
        raise failed[0]
    return cast(A, results[0]), cast(B, results[1])
