"""Change notifications between replicas of one server that share a PostgreSQL database.

A replica that changes something other replicas show to their clients (a prompt label moved, a library
published, a source ingested) calls :func:`publish` inside the transaction that makes the change:
PostgreSQL delivers a ``NOTIFY`` only when that transaction commits, so listeners never hear of a change
that rolled back. Every replica keeps one :class:`ChangeFeed` (a dedicated connection outside the pool,
``LISTEN`` on the server's channel) and turns what it hears into ``list_changed`` notifications for its
own clients. A replica skips its own changes by ``origin``. If the listening connection drops, the feed
reconnects and yields a :data:`RESYNC` change: anything may have changed while it was deaf.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from types import TracebackType

import psycopg
from psycopg import sql
from pydantic import BaseModel, Field

from mcp_suite.shared.database_url import PostgresUrl
from mcp_suite.shared.errors import DatabaseConfigError
from mcp_suite.shared.postgres import AsyncConnection, PostgresSession, connect, schema_name

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 7900  # PostgreSQL refuses payloads of 8000 bytes or more
RECONNECT_DELAY_S = 0.5


class Change(BaseModel):
    """What changed, in terms a replica can act on; the payload of one notification (JSON)."""

    topic: str = Field(description="kind of thing: 'prompts', 'resources', 'tools', or '*' for anything")
    key: str = Field(default="", description="which one (a prompt name, a library id); empty for the whole topic")
    origin: str = Field(default="", description="the replica that made the change")


RESYNC = Change(topic="*")


def channel(server: str) -> str:
    return schema_name(server)  # one channel per server; same spelling as its schema


async def publish(session: PostgresSession, server: str, change: Change) -> None:
    """Announce ``change`` to the other replicas once the surrounding transaction commits."""
    payload = change.model_dump_json()
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"change notification of {len(payload)} bytes is too large; name the thing, not its content")
    await session.execute("SELECT pg_notify(%s, %s)", (channel(server), payload))


class ChangeFeed:
    """``async with ChangeFeed(url, 'prompts') as feed: async for change in feed: …``"""

    def __init__(self, url: PostgresUrl, server: str, origin: str | None = None) -> None:
        self.url = url
        self.channel = channel(server)
        self.origin = origin or uuid.uuid4().hex
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> ChangeFeed:
        self._conn = await self._listen()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _listen(self) -> AsyncConnection:
        conn = await connect(self.url)
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except BaseException:
            await conn.close()
            raise
        return conn

    def change(self, topic: str, key: str = "") -> Change:
        """A change stamped with this replica as its origin, ready for :func:`publish`."""
        return Change(topic=topic, key=key, origin=self.origin)

    async def __aiter__(self) -> AsyncIterator[Change]:
        while True:
            if self._conn is None:
                raise RuntimeError("use the feed inside 'async with'")
            try:
                async for notice in self._conn.notifies():
                    change = Change.model_validate_json(notice.payload)
                    if change.origin != self.origin:
                        yield change
            except psycopg.OperationalError as exc:
                log.warning("change feed on %s lost its connection (%s); reconnecting", self.channel, exc)
            await self._conn.close()
            self._conn = None
            while self._conn is None:
                try:
                    self._conn = await self._listen()
                except DatabaseConfigError as exc:
                    log.warning("change feed cannot reconnect yet: %s", exc)
                    await asyncio.sleep(RECONNECT_DELAY_S)
            yield RESYNC
