"""Planner statistics kept current after bulk writes, without waiting for autovacuum.

PostgreSQL plans every query from statistics that ``ANALYZE`` gathers. Autovacuum refreshes a table's once
its changes pass a tenth of it, but it looks only once a minute (``autovacuum_naptime``), and a table never
analyzed is planned from defaults. So in the minute after an import the plans are the wrong ones: memory
``search_nodes`` at 20,000 entities spent 3.8 ms in its word tier instead of 1.2 ms until autovacuum came
round (``bench/memory_bench.py`` searches right after its load, as an agent does after an import).

:class:`PlannerStatistics` counts the rows a server's own writes change; once they reach twice the count
at its last ``ANALYZE`` (the first time: :data:`FIRST_ROWS`), a background task analyzes the server's tables
whose plans depend on it. A table growing to n rows is analyzed about log2(n) times, each off the request
path, and a server of steady small writes leaves the rest to autovacuum.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import anyio
import psycopg
from psycopg import sql

from mcp_suite.shared.postgres import PostgresDatabase

log = logging.getLogger(__name__)

FIRST_ROWS = 1_000
"""Rows changed before the first ``ANALYZE`` of a process (the next at twice as many, and so on)."""


class PlannerStatistics:
    """Background ``ANALYZE`` of ``tables`` in ``db``'s schema after bulk writes (see the module docstring)."""

    def __init__(self, db: PostgresDatabase, tables: Sequence[str], first: int = FIRST_ROWS) -> None:
        self._db = db
        self._tables = tuple(tables)
        self._changed = 0
        self._due_at = first
        self._due = anyio.Event()
        self.runs = 0
        """ANALYZE rounds completed (for tests and logs)."""

    def wrote(self, rows: int) -> None:
        """A committed change of this process changed ``rows`` rows."""
        self._changed += rows
        if self._changed >= self._due_at:
            self._due.set()

    async def run(self) -> None:
        """Analyze whenever :meth:`wrote` says it is due, until cancelled (a task of the server's lifespan)."""
        while True:
            await self._due.wait()
            self._due = anyio.Event()
            self._due_at = 2 * self._changed
            await self.analyze()

    async def analyze(self) -> None:
        """One round now. A failure (a role that does not own the tables, a dropped connection) is logged, not
        raised: the statistics are an optimisation that autovacuum also provides."""
        try:
            async with self._db.connection() as conn:
                for table in self._tables:
                    await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        except psycopg.Error as exc:
            log.info("planner statistics of %s not refreshed: %s", self._db.schema, exc)
            return
        self.runs += 1
        log.debug("analyzed %s in %s after %d changed rows", ", ".join(self._tables), self._db.schema, self._changed)
