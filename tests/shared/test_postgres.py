"""shared.postgres on a real PostgreSQL: schemas per server, replicas migrating at once, retries, cancellation,
the vector extension, and configuration errors that read as one actionable line."""

from __future__ import annotations

import asyncio
import random
import socket
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from mcp_suite.shared.database_url import PostgresUrl, parse_database_url
from mcp_suite.shared.engine import Migration, Session
from mcp_suite.shared.errors import DatabaseConfigError
from mcp_suite.shared.postgres import PostgresDatabase
from tests.postgres_support import PASSWORD_ROLE, PostgresServer, with_database

pytestmark = pytest.mark.anyio

NOTES = [Migration("001_notes", "CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL)")]


def admin_rows(url: str, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(query).fetchall())


async def open_pg(url: str, server: str = "testing", migrations: list[Migration] = NOTES) -> PostgresDatabase:
    db_url = parse_database_url(url)
    assert isinstance(db_url, PostgresUrl)
    return await PostgresDatabase.open(db_url, server, migrations)


async def test_servers_sharing_a_database_keep_separate_schemas(postgres_url: str) -> None:
    memory = await open_pg(postgres_url, "memory")
    prompts = await open_pg(postgres_url, "prompts", [*NOTES, Migration("002_more", "ALTER TABLE notes ADD x int")])
    try:
        async with memory.transaction() as session:
            await session.execute("INSERT INTO notes (body) VALUES (%s)", ("memory's",))
        async with prompts.snapshot() as session:
            assert await session.fetchall("SELECT body FROM notes") == []
            assert await session.fetchall("SELECT current_schema()") == [("mcp_suite_prompts",)]
    finally:
        await memory.close()
        await prompts.close()
    recorded = {
        schema: admin_rows(postgres_url, f"SELECT name FROM {schema}._migrations ORDER BY name")
        for schema in ("mcp_suite_memory", "mcp_suite_prompts")
    }
    assert recorded == {"mcp_suite_memory": [("001_notes",)], "mcp_suite_prompts": [("001_notes",), ("002_more",)]}
    assert admin_rows(postgres_url, "SELECT body FROM mcp_suite_memory.notes") == [("memory's",)]


async def test_vector_extension_and_adapter(postgres: PostgresServer) -> None:
    with postgres.database(template="template1") as url:  # a database without the extension yet
        db = await open_pg(url, migrations=[Migration("001_items", "CREATE TABLE items (v vector(3))")])
        try:
            import numpy as np

            async with db.transaction() as session:
                await session.execute("INSERT INTO items (v) VALUES (%s)", (np.array([1.0, 2.0, 3.0]),))
            async with db.snapshot() as session:
                [(vector,)] = await session.fetchall("SELECT v FROM items")
            assert vector.to_list() == [1.0, 2.0, 3.0]  # a pgvector Vector: the adapter is registered
        finally:
            await db.close()
        assert admin_rows(url, "SELECT extname FROM pg_extension WHERE extname = 'vector'") == [("vector",)]


async def test_replicas_starting_at_once_migrate_once(postgres_url: str) -> None:
    runs: list[int] = []

    async def slow_seed(session: Session) -> None:
        runs.append(1)
        await session.execute("INSERT INTO notes (body) VALUES ('seeded once')")
        await asyncio.sleep(0.3)  # hold the lock: the other replicas wait, then find it recorded

    migrations = [*NOTES, Migration("002_seed", slow_seed)]
    replicas = await asyncio.gather(*(open_pg(postgres_url, migrations=migrations) for _ in range(4)))
    for replica in replicas:
        await replica.close()
    assert runs == [1]
    assert admin_rows(postgres_url, "SELECT body FROM mcp_suite_testing.notes") == [("seeded once",)]


async def test_conflicting_read_modify_writes_are_retried_not_lost(postgres_url: str) -> None:
    counter = Migration("002_counter", "CREATE TABLE counter (n int NOT NULL); INSERT INTO counter VALUES (0);")
    db = await open_pg(postgres_url, migrations=[*NOTES, counter])
    try:
        calls = 0
        all_read = asyncio.Barrier(3)

        async def writer() -> None:
            first = True

            async def increment(session: Session) -> None:
                nonlocal calls, first
                calls += 1
                [(n,)] = await session.fetchall("SELECT n FROM counter")
                if first:  # the first round surely conflicts: every writer has read 0 before any writes
                    first = False
                    await all_read.wait()
                await asyncio.sleep(random.random() / 1000)
                await session.execute("UPDATE counter SET n = %s", (n + 1,))

            for _ in range(5):
                await db.run(increment)

        await asyncio.gather(*(writer() for _ in range(3)))
        async with db.snapshot() as session:
            assert await session.fetchall("SELECT n FROM counter") == [(15,)]
        assert calls >= 15 + 2  # at least the two losers of the first round ran again
    finally:
        await db.close()


async def test_a_connection_dropped_mid_change_is_retried(postgres_url: str) -> None:
    db = await open_pg(postgres_url)
    attempts = 0
    try:

        async def change(session: Session) -> None:
            nonlocal attempts
            attempts += 1
            await session.execute("INSERT INTO notes (body) VALUES ('kept once')")
            if attempts == 1:  # the server ends this backend, as a failover or idle reaper would
                await session.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        await db.run(change)
        assert attempts == 2
        async with db.snapshot() as session:
            assert await session.fetchall("SELECT body FROM notes") == [("kept once",)]
    finally:
        await db.close()


async def test_a_connection_dropped_just_after_use_is_replaced_not_used(postgres_url: str) -> None:
    # Handed back a moment ago, the connection skips the pool's check on its next checkout; the server ends it
    # meanwhile (a failover, an idle reaper): the read and the write after it still succeed, on a new one.
    db = await open_pg(postgres_url)
    try:
        for _ in range(2):
            async with db.snapshot() as session:
                [(pid,)] = await session.fetchall("SELECT pg_backend_pid()")
            assert admin_rows(postgres_url, f"SELECT pg_terminate_backend({pid})") == [(True,)]
            await asyncio.sleep(0.05)  # the backend is gone before the next checkout
            async with db.snapshot() as session:
                [(other,)] = await session.fetchall("SELECT pg_backend_pid()")
            assert other != pid
            async with db.transaction() as session:
                await session.execute("INSERT INTO notes (body) VALUES ('after a drop')")
        async with db.snapshot() as session:
            assert await session.fetchall("SELECT count(*) FROM notes") == [(2,)]
    finally:
        await db.close()


async def test_a_transaction_starts_with_one_statement(postgres_url: str) -> None:
    db = await open_pg(postgres_url)
    try:
        for begin, expected in (
            (db.snapshot, ("repeatable read", "on")),
            (db.transaction, ("serializable", "off")),
            (db._migration_step, ("read committed", "off")),
        ):
            async with begin() as session:
                rows = await session.fetchall(
                    "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only')"
                )
            assert rows == [expected]
        async with db.locked("some key") as session:
            rows = await session.fetchall(
                "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), "
                "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())"
            )
        assert rows == [("read committed", "off", 1)]
    finally:
        await db.close()


async def test_cancel_at_any_await_leaves_no_open_transaction(postgres_url: str) -> None:
    db = await open_pg(postgres_url)
    try:

        async def writer() -> None:
            async with db.transaction() as session:
                await session.execute("INSERT INTO notes (body) VALUES ('never committed')")
                await session.execute("SELECT pg_sleep(0.02)")
                await session.execute("INSERT INTO notes (body) VALUES ('never committed either')")
                await session.execute("SELECT pg_sleep(30)")

        for delay in [0.0, 0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.2]:
            task = asyncio.create_task(writer())
            await asyncio.sleep(delay)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        async with db.snapshot() as session:
            assert await session.fetchall("SELECT body FROM notes") == []
        async with db.transaction() as session:
            await session.execute("INSERT INTO notes (body) VALUES ('after')")
        await asyncio.sleep(0.2)  # a connection the pool threw away may take a moment to leave the server
        busy = admin_rows(
            postgres_url,
            "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state <> 'idle'",
        )
        assert busy == []  # neither 'idle in transaction' nor a pg_sleep left running
    finally:
        await db.close()


# --- configuration errors: one line that says what to do -------------------------------------------


async def open_fails(url: str) -> str:
    with pytest.raises(DatabaseConfigError) as caught:
        await open_pg(url)
    message = str(caught.value)
    assert "\n" not in message and message.strip() == message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no driver traceback attached
    return message


async def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        message = await open_fails(f"postgresql://someone:secret@127.0.0.1:{port}/db")
    assert message.startswith(f"cannot reach PostgreSQL at postgresql://someone:***@127.0.0.1:{port}/db:")
    assert "secret" not in message and "check that the server runs" in message


async def test_wrong_password(postgres: PostgresServer, postgres_url: str) -> None:
    user, password = PASSWORD_ROLE
    good = with_database(postgres_url, "postgres", user, password)
    with psycopg.connect(good):
        pass  # the right password logs in
    try:
        with psycopg.connect(with_database(postgres_url, "postgres", user, "wrong")):
            pytest.skip("this server trusts the login without a password")
    except psycopg.OperationalError:
        pass
    message = await open_fails(with_database(postgres_url, "postgres", user, "wrong"))
    assert "refused the login (wrong user or password)" in message and "wrong@" not in message


async def test_missing_database(postgres_url: str) -> None:
    message = await open_fails(with_database(postgres_url, "no_such_db"))
    assert '"no_such_db" does not exist; create it' in message


async def test_vector_extension_the_role_may_not_create(postgres: PostgresServer, postgres_url: str) -> None:
    user, password = PASSWORD_ROLE
    with postgres.database(template="template1", owner=user) as url:
        message = await open_fails(with_database(url, urlsplit(url).path.lstrip("/"), user, password))
    assert "vector extension is not enabled" in message and "run: CREATE EXTENSION vector;" in message


async def test_old_server_version_message_names_the_minimum(postgres_url: str) -> None:
    # The check itself needs an old server; what can be checked here is that a current one passes it.
    rows = admin_rows(postgres_url, "SELECT current_setting('server_version_num')::int")
    assert int(str(rows[0][0])) >= 150000
    db = await open_pg(postgres_url)
    await db.close()


def test_identifiers_are_quoted() -> None:
    assert sql.Identifier("mcp_suite_memory").as_string(None) == '"mcp_suite_memory"'
