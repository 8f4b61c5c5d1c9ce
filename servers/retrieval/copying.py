"""``mcp-suite db copy --server retrieval``: the whole retrieval index from one engine to the other.

Read in one snapshot of the source, written in one transaction of the target (which must be empty),
then verified by counting every table in the target. Derived data — SQLite's FTS5 table, PostgreSQL's
``tsvector`` column and HNSW index — is rebuilt by the target engine, not copied.
"""

from __future__ import annotations

from mcp_suite.servers.retrieval.storage.base import COPY_TABLES
from mcp_suite.servers.retrieval.storage.factory import open_storage
from mcp_suite.shared.database_url import DatabaseUrl
from mcp_suite.shared.errors import DatabaseConfigError


async def copy_database(source: DatabaseUrl, target: DatabaseUrl) -> dict[str, int]:
    """Copy every table from ``source`` to an empty ``target``; returns the verified row count per table."""
    if source == target:
        raise DatabaseConfigError("the source and the target of the copy are the same database")
    reader = await open_storage(source)
    try:
        tables = await reader.export_tables()
    finally:
        await reader.close()
    writer = await open_storage(target)
    try:
        await writer.import_rows(tables)
        counts = {table: await writer.count_rows(table) for table in COPY_TABLES}
    finally:
        await writer.close()
    wrong = [
        f"{table} {counts[table]} of {len(tables[table])}"
        for table in COPY_TABLES
        if counts[table] != len(tables[table])
    ]
    if wrong:
        raise DatabaseConfigError(
            f"the copy does not match its source ({', '.join(wrong)} rows); do not use the target"
        )
    return counts
