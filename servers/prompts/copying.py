"""``mcp-suite db copy --server prompts``: the whole prompt registry from one engine to the other.

Versions, labels and their history, rollouts, drafts, library file stamps and all telemetry are read
in one snapshot of the source and written in one transaction of the target, which must be empty; the
row count of every table is read back inside that transaction and must match, or nothing is kept.
Prompt files stay where they are: only the database moves.
"""

from __future__ import annotations

from mcp_suite.servers.prompts.storage import open_storage
from mcp_suite.shared.database_url import DatabaseUrl


async def copy_database(source: DatabaseUrl, target: DatabaseUrl) -> dict[str, int]:
    """Copy every prompts table from ``source`` to the empty ``target``; returns the verified rows per table."""
    reader = await open_storage(source)
    try:
        rows = await reader.export_rows()
    finally:
        await reader.close()
    writer = await open_storage(target)
    try:
        return await writer.import_rows(rows)
    finally:
        await writer.close()
