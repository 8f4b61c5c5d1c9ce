"""The vectors behind semantic recall: stored in the database, mirrored in memory, embedded off the request path.

A write never waits for the model: :class:`Recall` is told what was written (:meth:`Recall.written`)
after the transaction commits, and a background task (:meth:`Recall.run`, started by the server's
lifespan) embeds it and stores the vectors. A search first brings the in-memory matrix up to date:
the first one loads every stored vector of the namespace and embeds whatever has none (facts
written before this version, by another process that has not caught up, or by ``memory import``);
later ones pick up only what is new (observation ids only grow; entity vectors carry a sequence
number). Texts embedded during a search are handed to the background task to store, so a search
stays read-only. Nothing is ever missing from semantic results because it was not embedded yet.

The model itself loads on first use (first write or first search), never at start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio

from mcp_suite.servers.memory.semantic import ENTITY, OBSERVATION, Kind, VectorMatrix, entity_text
from mcp_suite.servers.memory.storage.base import MemoryDatabase, scalar
from mcp_suite.shared.alongside import alongside
from mcp_suite.shared.embeddings import Embedder, WordLlamaEmbedder

if TYPE_CHECKING:
    import numpy as np

    from mcp_suite.servers.memory.storage.base import Conn

log = logging.getLogger(__name__)

STORE_BATCH = 2_000
"""Vectors written per transaction by the background task, so requests interleave with a backlog."""
FULL_SCAN_SECONDS = 60.0
"""How often a search also looks for entities other processes left unembedded (a cheap safety net)."""
DEBOUNCE_SECONDS = 0.05
"""The background task waits this long after a write, so a burst of writes is embedded in one batch."""


class Recall:
    """Vectors of one namespace's observations and entities."""

    def __init__(self, db: MemoryDatabase, namespace: str, embedder: Embedder) -> None:
        self.db = db
        self.namespace = namespace
        self.embedder = embedder
        self._vector = db.dialect.vector_column.format("v.vector")  # a stored vector, as selected
        self._matrix: VectorMatrix | None = None
        self._obs_mark = 0  # every observation with id <= this is in the matrix (or was deleted)
        self._entity_seq = 0  # entity vectors with seq <= this are in the matrix
        # Keyed by (kind, id); values carry the owning entity's id.
        self._pending: dict[tuple[Kind, int], tuple[int, str]] = {}  # written, not embedded yet
        self._unstored: dict[tuple[Kind, int], tuple[int, bytes]] = {}  # embedded, not in SQLite yet
        self._lock = anyio.Lock()
        self._wake = anyio.Event()
        self._last_full_scan = 0.0
        self._retired_since = ""  # observations that stopped holding after this moment are not retired yet
        self._checked_model = False
        self._dirty = True
        self._data_version: object = None

    @property
    def enabled(self) -> bool:
        return self.embedder.info.provider != "none"

    @property
    def idle(self) -> bool:
        """Nothing written here is waiting to be embedded or stored."""
        return not self._pending and not self._unstored

    # ---- told by the graph store ----------------------------------------------------------------

    def written(
        self, observations: Sequence[tuple[int, int, str]] = (), entities: Sequence[tuple[int, str, str]] = ()
    ) -> None:
        """New observations ``(id, entity id, text)`` and entities ``(id, name, type)`` were committed."""
        if not self.enabled or not (observations or entities):
            return
        for obs_id, entity_id, text in observations:
            self._pending[(OBSERVATION, obs_id)] = (entity_id, text)
        for entity_id, name, entity_type in entities:
            self._pending[(ENTITY, entity_id)] = (entity_id, entity_text(name, entity_type))
        self._wake.set()

    def moved(self, observation_ids: Sequence[int], entity_id: int) -> None:
        """Observations were moved onto another entity (a merge)."""
        for obs_id in observation_ids:
            for store in (self._pending, self._unstored):
                item = store.get((OBSERVATION, obs_id))
                if item is not None:
                    store[(OBSERVATION, obs_id)] = (entity_id, item[1])  # type: ignore[assignment]
        if self._matrix is not None:
            self._matrix.move(observation_ids, entity_id)

    def removed(self, observation_ids: Sequence[int] = (), entity_ids: Sequence[int] = ()) -> None:
        """Rows that no longer exist (their stored vectors went with them, by foreign-key cascade)."""
        for kind, ids in ((OBSERVATION, observation_ids), (ENTITY, entity_ids)):
            for key_id in ids:
                self._pending.pop((kind, key_id), None)
                self._unstored.pop((kind, key_id), None)
            if self._matrix is not None:
                self._matrix.remove(kind, ids)

    # ---- search ---------------------------------------------------------------------------------

    async def query_vector(self, query: str) -> np.ndarray:
        """The index brought up to date, and ``query`` embedded: what :meth:`nearest` needs."""
        await self.catch_up()
        vector: np.ndarray = (await self._embed_query(query))[0]
        return vector

    async def search(self, query: str, k: int, past: bool = False) -> tuple[np.ndarray, list[tuple[int, float]]]:
        """``query`` embedded and its ``k`` nearest entities (:meth:`nearest`), from an up-to-date index.

        When this process wrote nothing since the index was last brought up to date, the one thing to
        learn is whether another process committed: that check (a round trip on PostgreSQL) runs beside
        the embedding and the scan rather than before them, and only if another process did commit is
        the index brought up to date and scanned again."""
        if not self._current():
            vector = await self.query_vector(query)
            return vector, self.nearest(vector, k, past)

        async def scan() -> tuple[np.ndarray, list[tuple[int, float]]]:
            vector: np.ndarray = (await self._embed_query(query))[0]
            return vector, self.nearest(vector, k, past)

        version, (vector, found) = await alongside(self.db.data_version, scan)
        if version == self._data_version and self._current():
            return vector, found
        await self.catch_up()
        return vector, self.nearest(vector, k, past)

    def _current(self) -> bool:
        """Up to date but for other processes' commits: loaded, nothing of ours unread, unembedded or unchecked."""
        return self._matrix is not None and self._checked_model and not self._dirty and not self._pending

    def nearest(self, vector: np.ndarray, k: int, past: bool = False) -> list[tuple[int, float]]:
        """The ``k`` entities closest in meaning to ``vector`` with their score (see
        ``VectorMatrix.search_entities``); ``past`` also weighs facts that no longer hold."""
        return self._matrix.search_entities(vector, k, past) if self._matrix is not None else []

    async def _embed_query(self, query: str) -> np.ndarray:
        # One short text with a loaded static model takes microseconds: cheaper than a thread hop.
        if isinstance(self.embedder, WordLlamaEmbedder) and self._matrix is not None and len(query) < 2_000:
            return self.embedder.embed_sync([query])
        return await self.embedder.embed([query])

    def cosines(self, query: np.ndarray, observation_ids: Sequence[int]) -> dict[int, float]:
        """Cosine of ``query`` with each of these observations (those with a vector in memory)."""
        if self._matrix is None:
            return {}
        return self._matrix.similarities(query, OBSERVATION, observation_ids)

    def changed(self) -> None:
        """This process committed a write (other processes' writes show in ``db.data_version()``)."""
        self._dirty = True

    async def catch_up(self) -> None:
        """Bring the in-memory matrix up to date with everything stored in the namespace."""
        async with self._lock:
            await self._check_model()
            # data_version moves when another connection commits; our own writes set _dirty. Neither:
            # nothing to read, and a search costs no extra database round trips.
            version = await self.db.data_version()
            if self._matrix is None:
                self._dirty = False
                await self._load()
            elif self._dirty or version != self._data_version:
                self._dirty = False
                await self._load_new()
            self._data_version = version
            await self._embed_pending(into_matrix=True)
        if self._unstored:
            self._wake.set()

    # ---- background -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Embed and store what was written, until cancelled (the server's lifespan runs this)."""
        if not self.enabled:
            return
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await anyio.sleep(DEBOUNCE_SECONDS)
            try:
                await self.flush()
            except Exception:  # the model or endpoint failed: searches embed inline and report it
                log.warning("background embedding failed; will retry on the next write", exc_info=True)
                await anyio.sleep(1.0)

    async def flush(self) -> None:
        """Embed everything written so far and store the vectors (what the background task does)."""
        async with self._lock:
            await self._check_model()
            await self._embed_pending(into_matrix=self._matrix is not None)
        while self._unstored:
            batch = dict(list(self._unstored.items())[:STORE_BATCH])
            await self._store(batch)
            for key in batch:
                self._unstored.pop(key, None)

    # ---- internals ------------------------------------------------------------------------------

    async def _check_model(self) -> None:
        """Vectors from another embedder (the settings changed) are dropped and rebuilt."""
        if self._checked_model:
            return
        if self.embedder.info.provider == "openai" and not self.embedder.info.dimension:
            await self.embedder.embed(["dimension probe"])  # learns the endpoint's dimension
        wanted = self.embedder.info.describe()
        async with (
            self.db.snapshot() as conn,
            conn.execute("SELECT value FROM memory_meta WHERE key = 'embedder'") as cur,
        ):
            row = await cur.fetchone()
        if row is None or row[0] != wanted:

            async def change(conn: Conn) -> None:
                if row is not None:
                    log.warning("memory vectors were made by %s, now %s: re-embedding everything", row[0], wanted)
                    await conn.execute("DELETE FROM observation_vectors")
                    await conn.execute("DELETE FROM entity_vectors")
                await conn.execute(
                    "INSERT INTO memory_meta (key, value) VALUES ('embedder', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (wanted,),
                )

            await self.db.run(change)
        self._checked_model = True

    async def _load(self) -> None:
        started = time.perf_counter()
        matrix = VectorMatrix(self.embedder.info.dimension)
        # Taken before the snapshot: the background flush stores a batch and then drops it from _unstored
        # without our lock, so a batch stored while we read is in this copy, and one stored before is read.
        unstored = dict(self._unstored)
        async with self.db.snapshot() as conn:
            mark = await self._max_observation_id(conn)
            async with conn.execute(
                f"SELECT v.observation_id, o.entity_id, {self._vector} FROM observation_vectors v "
                "JOIN observations o ON o.id = v.observation_id JOIN entities e ON e.id = o.entity_id "
                "WHERE e.namespace = ?",
                (self.namespace,),
            ) as cur:
                to_blob = self.db.dialect.vector_blob
                matrix.add_blobs(OBSERVATION, [(i, e, to_blob(b)) for i, e, b in await cur.fetchall()])
            seq = await self._load_entities(conn, matrix, 0)
            async with conn.execute(
                "SELECT o.id, o.entity_id, o.content FROM observations o JOIN entities e ON e.id = o.entity_id "
                "WHERE e.namespace = ? AND o.id <= ? AND NOT EXISTS "
                "(SELECT 1 FROM observation_vectors v WHERE v.observation_id = o.id)",
                (self.namespace, mark),
            ) as cur:
                for obs_id, entity_id, content in await cur.fetchall():
                    if (OBSERVATION, obs_id) not in unstored:
                        self._pending.setdefault((OBSERVATION, obs_id), (entity_id, content))
            await self._scan_entities(conn)
            await self._retire(conn, matrix)
        for (kind, key_id), (entity_id, blob) in unstored.items():  # embedded, not stored when we read
            if (kind, key_id) not in matrix:
                matrix.add_blobs(kind, [(key_id, entity_id, blob)])
        self._matrix, self._obs_mark, self._entity_seq = matrix, mark, seq
        log.info(
            "semantic index of namespace %r: %d vectors loaded, %d texts to embed (%.2fs)",
            self.namespace,
            len(matrix),
            len(self._pending),
            time.perf_counter() - started,
        )

    async def _load_new(self) -> None:
        assert self._matrix is not None
        async with self.db.snapshot() as conn:
            async with conn.execute(
                # A straight join fixes the loop order: walk new observation ids, not the namespace's entities.
                f"SELECT o.id, o.entity_id, o.content, {self._vector} FROM observations o "
                f"{self.db.dialect.straight_join} entities e ON e.id = o.entity_id "
                "LEFT JOIN observation_vectors v ON v.observation_id = o.id "
                "WHERE o.id > ? AND e.namespace = ? ORDER BY o.id",
                (self._obs_mark, self.namespace),
            ) as cur:
                rows = [(i, e, c, b) for i, e, c, b in await cur.fetchall()]
            to_blob = self.db.dialect.vector_blob
            stored = [(obs_id, entity_id, to_blob(blob)) for obs_id, entity_id, _, blob in rows if blob is not None]
            self._matrix.add_blobs(OBSERVATION, stored)
            for obs_id, entity_id, content, blob in rows:
                key = (OBSERVATION, obs_id)
                if blob is None and key not in self._matrix:
                    self._pending.setdefault(key, (entity_id, content))
                else:
                    self._pending.pop(key, None)
            if rows:
                self._obs_mark = max(self._obs_mark, rows[-1][0])
            self._entity_seq = await self._load_entities(conn, self._matrix, self._entity_seq)
            await self._retire(conn, self._matrix)
            if time.monotonic() - self._last_full_scan > FULL_SCAN_SECONDS:
                await self._scan_entities(conn)

    async def _retire(self, conn: Conn, matrix: VectorMatrix) -> None:
        # Superseded facts, also by other processes (valid_to is set once, from the database clock).
        async with conn.execute(
            "SELECT o.id, o.valid_to FROM observations o WHERE o.valid_to IS NOT NULL AND o.valid_to >= ?",
            (self._retired_since,),
        ) as cur:
            rows = [(i, v) for i, v in await cur.fetchall()]
        matrix.retire([obs_id for obs_id, _ in rows])
        if rows:
            self._retired_since = max(v for _, v in rows)

    async def _load_entities(self, conn: Conn, matrix: VectorMatrix, after: int) -> int:
        async with conn.execute(
            f"SELECT v.seq, v.entity_id, {self._vector} FROM entity_vectors v "
            f"{self.db.dialect.straight_join} entities e "
            "ON e.id = v.entity_id WHERE v.seq > ? AND e.namespace = ? ORDER BY v.seq",
            (after, self.namespace),
        ) as cur:
            rows = list(await cur.fetchall())
        to_blob = self.db.dialect.vector_blob
        matrix.add_blobs(ENTITY, [(entity_id, entity_id, to_blob(blob)) for _, entity_id, blob in rows])
        for _, entity_id, _ in rows:
            self._pending.pop((ENTITY, entity_id), None)
        return max([after, *(int(seq) for seq, _, _ in rows)])

    async def _scan_entities(self, conn: Conn) -> None:
        async with conn.execute(
            "SELECT e.id, e.name, e.entity_type FROM entities e WHERE e.namespace = ? AND NOT EXISTS "
            "(SELECT 1 FROM entity_vectors v WHERE v.entity_id = e.id)",
            (self.namespace,),
        ) as cur:
            for entity_id, name, entity_type in await cur.fetchall():
                key = (ENTITY, entity_id)
                if key not in self._unstored:
                    self._pending.setdefault(key, (entity_id, entity_text(name, entity_type)))
        self._last_full_scan = time.monotonic()

    async def _max_observation_id(self, conn: Conn) -> int:
        return await scalar(conn, "SELECT coalesce(max(id), 0) FROM observations", (), int)

    async def _embed_pending(self, into_matrix: bool) -> None:
        if not self._pending:
            return
        pending = dict(self._pending)
        vectors = await self.embedder.embed([text for _, text in pending.values()])
        if self._matrix is None and into_matrix:
            self._matrix = VectorMatrix(vectors.shape[1])
        for position, (key, (entity_id, _)) in enumerate(pending.items()):
            self._unstored[key] = (entity_id, vectors[position].tobytes())
            self._pending.pop(key, None)
        if into_matrix and self._matrix is not None:
            # A fact may have been superseded before it was embedded: retire it again on the next sync.
            self._retired_since = ""
            for kind in (OBSERVATION, ENTITY):
                rows = [(i, key, owner) for i, (key, (owner, _)) in enumerate(pending.items()) if key[0] == kind]
                self._matrix.add(
                    kind, [key[1] for _, key, _ in rows], vectors[[i for i, _, _ in rows]], [o for _, _, o in rows]
                )

    async def _store(self, batch: dict[tuple[Kind, int], tuple[int, bytes]]) -> None:
        dialect = self.db.dialect
        observations = [
            (key[1], dialect.vector_param(blob), key[1]) for key, (_, blob) in batch.items() if key[0] == OBSERVATION
        ]
        entities = [
            (key[1], dialect.vector_param(blob), key[1]) for key, (_, blob) in batch.items() if key[0] == ENTITY
        ]

        async def change(conn: Conn) -> None:
            # Rows deleted since they were written are skipped (the foreign key would refuse them).
            await conn.executemany(dialect.store_observation_vector, observations)
            await conn.executemany(dialect.store_entity_vector, entities)

        await self.db.run(change)
