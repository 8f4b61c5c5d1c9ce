"""``mcp-suite db copy --server memory``: every namespace of one memory database copied into another,
SQLite to PostgreSQL (a laptop's memory becomes the team's) or back (a backup).

Rows keep their ids, timestamps and validity intervals; vectors move between the engines' formats;
the target's search index is rebuilt from the copied rows. The whole copy is one target transaction,
checked table by table before it commits: a copy is complete or absent. A target that already holds
memory data is refused, so nothing is ever merged by accident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_suite.servers.memory.storage import MemoryDatabase, open_storage
from mcp_suite.servers.memory.storage.base import scalar
from mcp_suite.shared.database_url import DatabaseUrl
from mcp_suite.shared.errors import DatabaseConfigError

if TYPE_CHECKING:
    from mcp_suite.servers.memory.storage.base import Conn

# In foreign-key order. Columns named once for both engines (the schemas match column for column).
TABLES: dict[str, tuple[str, ...]] = {
    "entities": ("id", "namespace", "name", "entity_type", "created_at", "updated_at"),
    "observations": ("id", "entity_id", "content", "created_at", "valid_from", "valid_to", "superseded_by"),
    "relations": ("id", "namespace", "from_id", "to_id", "relation_type", "created_at", "valid_from", "valid_to"),
    "aliases": ("namespace", "alias", "entity_id", "created_at"),
    "memory_meta": ("key", "value"),
    "observation_vectors": ("observation_id", "vector"),
    "entity_vectors": ("seq", "entity_id", "vector"),
}
_VECTOR_TABLES = ("observation_vectors", "entity_vectors")

Rows = list[tuple[object, ...]]


async def copy_database(source: DatabaseUrl, target: DatabaseUrl) -> dict[str, int]:
    """Copy all memory data from ``source`` to an empty ``target``; return the verified row count per table."""
    if source == target:
        raise DatabaseConfigError(f"the source and the target are the same database ({source.redacted()})")
    src = await open_storage(source)
    try:
        data = await _read_all(src)
        dst = await open_storage(target)
        try:
            return await dst.run(lambda conn: _write_all(dst, conn, src, data))
        finally:
            await dst.close()
    finally:
        await src.close()


async def _read_all(db: MemoryDatabase) -> dict[str, Rows]:
    data: dict[str, Rows] = {}
    async with db.snapshot() as conn:
        for table, columns in TABLES.items():
            async with conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}") as cur:
                data[table] = [tuple(row) for row in await cur.fetchall()]
    return data


async def _write_all(db: MemoryDatabase, conn: Conn, source: MemoryDatabase, data: dict[str, Rows]) -> dict[str, int]:
    held = {table: await _count(conn, table) for table in TABLES}
    if any(held.values()):
        found = ", ".join(f"{n} {t}" for t, n in held.items() if n)
        raise DatabaseConfigError(
            f"the target {db.where} already holds memory data ({found}); copy into an empty database"
        )
    for table, columns in TABLES.items():
        rows = data[table]
        if table in _VECTOR_TABLES:
            rows = [(*row[:-1], db.dialect.vector_param(source.dialect.vector_blob(row[-1]))) for row in rows]
        marks = ", ".join("?" for _ in columns)
        await conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
    await db.dialect.copied(conn)
    await db.dialect.reindex(conn, [row[0] for row in data["entities"] if isinstance(row[0], int)])
    counts = {table: await _count(conn, table) for table in TABLES}
    wrong = [f"{t}: {counts[t]} of {len(data[t])}" for t in TABLES if counts[t] != len(data[t])]
    if wrong:
        raise DatabaseConfigError(f"the copy to {db.where} did not verify ({'; '.join(wrong)}); nothing was written")
    return counts


async def _count(conn: Conn, table: str) -> int:
    return await scalar(conn, f"SELECT count(*) FROM {table}", (), int)
