"""The storage protocol on both engines: the same transaction, migration and rollback assertions run on a
SQLite file and on a fresh PostgreSQL database (the ``database_url`` fixture)."""

from __future__ import annotations

import asyncio

import pytest

from mcp_suite.shared.database_url import parse_database_url
from mcp_suite.shared.engine import Database, Migration, Session, open_database
from mcp_suite.shared.errors import DatabaseConfigError

pytestmark = pytest.mark.anyio

# DDL differs per engine (that is what storage modules own); the assertions below do not.
NOTES = {
    "sqlite": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n"
    "CREATE INDEX notes_body ON notes (body);",
    "postgresql": "CREATE TABLE notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL);\n"
    "CREATE INDEX notes_body ON notes (body);",
}


async def _seed(session: Session) -> None:
    await session.execute(f"INSERT INTO notes (body) VALUES ({session.placeholder})", ("seeded once",))


async def open_db(url: str, *extra: Migration, server: str = "testing") -> Database:
    parsed = parse_database_url(url)
    migrations = [Migration("001_notes", NOTES[parsed.engine]), Migration("002_seed", _seed), *extra]
    return await open_database(parsed, server, migrations)


async def bodies(db: Database) -> list[str]:
    async with db.snapshot() as session:
        return [str(row[0]) for row in await session.fetchall("SELECT body FROM notes ORDER BY id")]


async def add(session: Session, body: str) -> None:
    await session.execute(f"INSERT INTO notes (body) VALUES ({session.placeholder})", (body,))


async def test_migrations_apply_once_each(database_url: str) -> None:
    db = await open_db(database_url)
    try:
        assert await bodies(db) == ["seeded once"]
    finally:
        await db.close()

    db = await open_db(database_url, Migration("003_tags", "ALTER TABLE notes ADD COLUMN tag TEXT"))
    try:
        async with db.snapshot() as session:
            assert await session.fetchall("SELECT body, tag FROM notes") == [("seeded once", None)]
            names = await session.fetchall("SELECT name FROM _migrations ORDER BY name")
        assert names == [("001_notes",), ("002_seed",), ("003_tags",)]
    finally:
        await db.close()


async def test_failing_migration_leaves_no_trace(database_url: str) -> None:
    broken = Migration("003_half", "CREATE TABLE half (id INTEGER);\nINSERT INTO no_such_table VALUES (1);")
    with pytest.raises(Exception, match="no_such_table"):
        await open_db(database_url, broken)

    db = await open_db(database_url)
    try:
        async with db.snapshot() as session:
            assert await session.fetchall("SELECT name FROM _migrations ORDER BY name") == [
                ("001_notes",),
                ("002_seed",),
            ]
        # The statement that ran before the failure was rolled back too: the table can be made now.
        async with db.transaction() as session:
            await session.execute("CREATE TABLE half (id INTEGER)")
    finally:
        await db.close()


async def test_newer_schema_is_refused(database_url: str) -> None:
    db = await open_db(database_url, Migration("099_from_the_future", "CREATE TABLE future (id INTEGER)"))
    await db.close()
    with pytest.raises(DatabaseConfigError, match=r"newer mcp-suite.*099_from_the_future\); upgrade") as caught:
        await open_db(database_url)
    assert "\n" not in str(caught.value)


async def test_transaction_rolls_back_on_error(database_url: str) -> None:
    db = await open_db(database_url)
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                await add(session, "half-written")
                raise RuntimeError("the second half failed")
        async with db.transaction() as session:
            await add(session, "whole")
        assert await bodies(db) == ["seeded once", "whole"]
    finally:
        await db.close()


async def test_run_commits_and_returns(database_url: str) -> None:
    db = await open_db(database_url)
    try:

        async def change(session: Session) -> int:
            await add(session, "via run")
            return len(await session.fetchall("SELECT id FROM notes"))

        assert await db.run(change) == 2
        assert await bodies(db) == ["seeded once", "via run"]
    finally:
        await db.close()


async def test_cancel_inside_a_transaction_commits_nothing(database_url: str) -> None:
    db = await open_db(database_url)
    inside = asyncio.Event()
    try:

        async def writer() -> None:
            async with db.transaction() as session:
                await add(session, "cancelled")
                inside.set()
                await asyncio.sleep(30)

        task = asyncio.create_task(writer())
        await inside.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with db.transaction() as session:  # the engine is usable again at once
            await add(session, "after")
        assert await bodies(db) == ["seeded once", "after"]
    finally:
        await db.close()


async def test_concurrent_writers_lose_nothing(database_url: str) -> None:
    db = await open_db(database_url)
    try:

        async def writer(n: int) -> None:
            for i in range(10):
                await db.run(lambda session, i=i: add(session, f"w{n}-{i}"))  # type: ignore[misc]

        await asyncio.gather(*(writer(n) for n in range(4)))
        assert len(await bodies(db)) == 41
    finally:
        await db.close()


def test_only_the_engine_modules_know_the_driver() -> None:
    """One storage interface, two implementations chosen by URL: no `if postgres:` spread through the code."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    allowed = {"shared/postgres.py", "shared/changes.py", "shared/pg_statistics.py"}
    offenders = []
    # …and a server's own PostgreSQL storage modules (servers/<name>/storage/postgres*.py, pg_*.py).
    engine_modules = {
        str(p.relative_to(root))
        for pattern in ("postgres*.py", "pg_*.py")
        for p in (root / "servers").glob(f"*/storage/{pattern}")
    }
    allowed |= engine_modules
    for path in [*(root / "shared").rglob("*.py"), *(root / "servers").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            relative = path.relative_to(root)
            # A server's PostgreSQL storage modules (servers/<name>/storage/postgres*.py) speak the driver too.
            engine_module = relative.parts[0] == "servers" and relative.parent.name == "storage"
            if engine_module and relative.name.startswith("postgres"):
                continue
            if any(n.split(".")[0] in ("psycopg", "psycopg_pool", "pgvector") for n in names):
                offenders.append(str(relative))
    assert set(offenders) <= allowed
