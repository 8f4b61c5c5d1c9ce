"""The memory server's SQLite schema, as ordered migrations (``memory/NNNN_what``).

Every row belongs to a namespace (one isolated memory per name inside one file). UNIQUE
constraints make "skip duplicates" a property of the store, so concurrent writers from several
processes cannot create two copies of a name, fact or relation. Two FTS5 indexes hold one
document per entity (name, type, observations): ``entity_fts`` (unicode61 words, BM25 ranked,
prefix queries) and ``entity_trigram`` (substring matches, as the reference server's search
does). They are maintained by :mod:`mcp_suite.servers.memory.storage.sqlite_search`, which rewrites an
entity's document whenever its observations change.

Databases written before issue 13 recorded the migrations under older names; :data:`RENAMED` maps them,
so such a database is neither migrated twice nor refused as newer.
"""

from mcp_suite.shared.db import Migration

NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

_INITIAL = f"""
CREATE TABLE entities (
    id          INTEGER PRIMARY KEY,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT ({NOW}),
    updated_at  TEXT NOT NULL DEFAULT ({NOW}),
    UNIQUE (namespace, name)
);
CREATE INDEX entities_recent ON entities (namespace, updated_at);
CREATE INDEX entities_namespace ON entities (namespace);  -- (namespace, id) order, for paging

CREATE TABLE observations (
    id         INTEGER PRIMARY KEY,
    entity_id  INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT ({NOW}),
    UNIQUE (entity_id, content)
);

CREATE TABLE relations (
    id            INTEGER PRIMARY KEY,
    namespace     TEXT NOT NULL,
    from_id       INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    to_id         INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    relation_type TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT ({NOW}),
    UNIQUE (from_id, to_id, relation_type)
);
CREATE INDEX relations_to ON relations (to_id);
CREATE INDEX relations_namespace ON relations (namespace, id);

CREATE VIRTUAL TABLE entity_fts USING fts5 (
    name, entity_type, observations, tokenize = 'unicode61 remove_diacritics 2'
);
-- A name hit outranks a type hit, which outranks an observation hit.
INSERT INTO entity_fts (entity_fts, rank) VALUES ('rank', 'bm25(10.0, 4.0, 1.0)');

CREATE VIRTUAL TABLE entity_trigram USING fts5 (name, entity_type, observations, tokenize = 'trigram');
"""

MIGRATIONS = [Migration("memory/0001_initial", _INITIAL)]

# Facts over time, vectors, aliases. Observations and relations are rebuilt (SQLite cannot drop a
# UNIQUE constraint in place): a fact that stopped being true may become true again later, so
# "no duplicates" now holds among current rows only (partial unique indexes). AUTOINCREMENT keeps
# observation ids from ever being reused, so a vector stored for an id always belongs to that text.
_TIME = f"""
CREATE TABLE observations_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_id     INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    content       TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT ({NOW}),
    valid_from    TEXT NOT NULL DEFAULT ({NOW}),
    valid_to      TEXT,             -- NULL while the fact holds
    superseded_by INTEGER           -- the observation that replaced it, if any
);
INSERT INTO observations_v2 (id, entity_id, content, created_at, valid_from)
    SELECT id, entity_id, content, created_at, created_at FROM observations ORDER BY id;
DROP TABLE observations;
ALTER TABLE observations_v2 RENAME TO observations;
CREATE UNIQUE INDEX observations_current ON observations (entity_id, content) WHERE valid_to IS NULL;
CREATE INDEX observations_entity ON observations (entity_id, id);
CREATE INDEX observations_ended ON observations (valid_to) WHERE valid_to IS NOT NULL;

CREATE TABLE relations_v2 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace     TEXT NOT NULL,
    from_id       INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    to_id         INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    relation_type TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT ({NOW}),
    valid_from    TEXT NOT NULL DEFAULT ({NOW}),
    valid_to      TEXT
);
INSERT INTO relations_v2 (id, namespace, from_id, to_id, relation_type, created_at, valid_from)
    SELECT id, namespace, from_id, to_id, relation_type, created_at, created_at FROM relations ORDER BY id;
DROP TABLE relations;
ALTER TABLE relations_v2 RENAME TO relations;
CREATE UNIQUE INDEX relations_current ON relations (from_id, to_id, relation_type) WHERE valid_to IS NULL;
CREATE INDEX relations_from ON relations (from_id);
CREATE INDEX relations_to ON relations (to_id);
CREATE INDEX relations_namespace ON relations (namespace, id);

-- Vectors of observation texts and of entity "name (type)" lines; a missing row means "not embedded
-- yet" (written before this version, or the background embedder has not caught up).
CREATE TABLE observation_vectors (
    observation_id INTEGER PRIMARY KEY REFERENCES observations (id) ON DELETE CASCADE,
    vector         BLOB NOT NULL
);
CREATE TABLE entity_vectors (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- lets other processes pick up new rows incrementally
    entity_id INTEGER NOT NULL UNIQUE REFERENCES entities (id) ON DELETE CASCADE,
    vector    BLOB NOT NULL
);
-- Which embedder made the vectors above; a different one invalidates them all.
CREATE TABLE memory_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Names of entities merged into another one; open_nodes and search resolve them to the survivor.
CREATE TABLE aliases (
    namespace  TEXT NOT NULL,
    alias      TEXT NOT NULL,
    entity_id  INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT ({NOW}),
    PRIMARY KEY (namespace, alias)
);
CREATE INDEX aliases_entity ON aliases (entity_id);
"""

MIGRATIONS.append(Migration("memory/0002_time_vectors_aliases", _TIME))

RENAMED = {
    "memory-0001-initial": "memory/0001_initial",
    "memory-0002-time-vectors-aliases": "memory/0002_time_vectors_aliases",
}
