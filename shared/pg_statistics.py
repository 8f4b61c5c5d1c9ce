"""Planner statistics kept current after bulk writes, without waiting for autovacuum.

PostgreSQL plans every query from statistics that ``ANALYZE`` gathers. Autovacuum refreshes a table's once
its changes pass a tenth of it, but it looks only once a minute (``autovacuum_naptime``), and a table never
analyzed is planned from defaults. So in the minute after an import the plans are the wrong ones: memory
``search_nodes`` at 20,000 entities spent 3.8 ms in its word tier instead of 1.2 ms until autovacuum came
round (``bench/memory_bench.py`` searches right after its load, as an agent does after an import).

:class:`PlannerStatistics` counts the rows a server's own writes change in each table; once a table's count
reaches twice what it was at the table's last ``ANALYZE`` (the first time: :data:`FIRST_ROWS`), a background
task analyzes it. A table growing to n rows is analyzed about log2(n) times, each off the request path, and
a server of steady small writes leaves the rest to autovacuum. Per table, because a table filled after the
others (relations after entities) would otherwise keep the statistics of when it was empty: 3.4 ms for
the search rows' relations at 20,000 entities, against 0.1 ms.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import anyio
import psycopg
from psycopg import sql

from mcp_suite.shared.postgres import PostgresDatabase

log = logging.getLogger(__name__)

FIRST_ROWS = 1_000
"""Rows of a table a process changes before analyzing it the first time (the next time at twice as many)."""


class PlannerStatistics:
    """Background ``ANALYZE`` of ``tables`` in ``db``'s schema after bulk writes (see the module docstring)."""

    def __init__(self, db: PostgresDatabase, tables: Sequence[str], first: int = FIRST_ROWS) -> None:
        self._db = db
        self._first = first
        self._written = dict.fromkeys(tables, 0)  # rows changed per table by this process
        self._analyzed_at = dict.fromkeys(tables, 0)  # ... as counted at the table's last ANALYZE
        self._due = anyio.Event()
        self.runs = 0
        """ANALYZE rounds completed (for tests and logs)."""

    def wrote(self, rows: Mapping[str, int]) -> None:
        """A committed change of this process changed ``rows[table]`` rows of each table."""
        for table, count in rows.items():
            if table in self._written:
                self._written[table] += count
        if self._due_tables():
            self._due.set()

    def _due_tables(self) -> list[str]:
        return [
            table
            for table, written in self._written.items()
            if written - self._analyzed_at[table] >= max(self._first, self._analyzed_at[table])
        ]

    async def run(self) -> None:
        """Analyze whenever :meth:`wrote` says it is due, until cancelled (a task of the server's lifespan)."""
        while True:
            await self._due.wait()
            self._due = anyio.Event()
            await self.analyze(self._due_tables())

    async def analyze(self, tables: Sequence[str]) -> None:
        """One round now. A failure (a role that does not own the tables, a dropped connection) is logged, not
        raised: the statistics are an optimisation that autovacuum also provides."""
        counts = {table: self._written[table] for table in tables}
        try:
            async with self._db.connection() as conn:
                for table in tables:
                    await conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        except psycopg.Error as exc:
            log.info("planner statistics of %s not refreshed: %s", self._db.schema, exc)
            return
        finally:
            self._analyzed_at.update(counts)  # failed or not, due again only after as many changes more
        self.runs += 1
        log.debug("analyzed %s in %s", ", ".join(tables), self._db.schema)
