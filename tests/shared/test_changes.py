"""Change notifications between replicas: LISTEN/NOTIFY over two real connections to one database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest

from mcp_suite.shared.changes import RESYNC, Change, ChangeFeed, publish
from mcp_suite.shared.database_url import PostgresUrl
from mcp_suite.shared.postgres import PostgresDatabase, PostgresSession

pytestmark = pytest.mark.anyio


async def next_change(changes: AsyncIterator[Change], timeout: float = 2.0) -> Change:
    return await asyncio.wait_for(anext(changes), timeout)


async def test_a_committed_change_reaches_the_other_replica_only(postgres_url: str) -> None:
    url = PostgresUrl(postgres_url)
    db = await PostgresDatabase.open(url, "prompts")
    try:
        async with ChangeFeed(url, "prompts", origin="a") as mine, ChangeFeed(url, "prompts", origin="b") as theirs:
            mine_changes, their_changes = aiter(mine), aiter(theirs)

            with pytest.raises(RuntimeError):
                async with db.transaction() as session:
                    await publish(session, "prompts", mine.change("prompts", "rolled-back"))
                    raise RuntimeError("the change failed, so nobody hears of it")
            async with db.transaction() as session:
                assert isinstance(session, PostgresSession)
                await publish(session, "prompts", mine.change("prompts", "greeting"))

            assert await next_change(their_changes) == Change(topic="prompts", key="greeting", origin="a")
            with pytest.raises(TimeoutError):  # its own change is not echoed back to the replica that made it
                await next_change(mine_changes, timeout=0.3)
    finally:
        await db.close()


async def test_other_servers_channels_stay_quiet(postgres_url: str) -> None:
    url = PostgresUrl(postgres_url)
    db = await PostgresDatabase.open(url, "memory")
    try:
        async with ChangeFeed(url, "prompts") as prompts_feed:
            async with db.transaction() as session:
                assert isinstance(session, PostgresSession)
                await publish(session, "memory", Change(topic="resources", origin="x"))
            with pytest.raises(TimeoutError):
                await next_change(aiter(prompts_feed), timeout=0.3)
    finally:
        await db.close()


async def test_a_feed_that_lost_its_connection_reconnects_and_asks_for_a_resync(postgres_url: str) -> None:
    url = PostgresUrl(postgres_url)
    db = await PostgresDatabase.open(url, "prompts")
    try:
        async with ChangeFeed(url, "prompts", origin="b") as feed:
            changes = aiter(feed)
            waiting = asyncio.create_task(next_change(changes, timeout=5))
            await asyncio.sleep(0.1)
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%' "
                    "AND datname = current_database()"
                )
            assert await waiting == RESYNC
            async with db.transaction() as session:
                assert isinstance(session, PostgresSession)
                await publish(session, "prompts", Change(topic="prompts", key="after", origin="a"))
            assert (await next_change(changes)).key == "after"  # listening again
    finally:
        await db.close()
