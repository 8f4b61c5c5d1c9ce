"""The memory server's SQLite schema, as ordered migrations.

Every row belongs to a namespace (one isolated memory per name inside one file). UNIQUE
constraints make "skip duplicates" a property of the store, so concurrent writers from several
processes cannot create two copies of a name, fact or relation. Two FTS5 indexes hold one
document per entity (name, type, observations): ``entity_fts`` (unicode61 words, BM25 ranked,
prefix queries) and ``entity_trigram`` (substring matches, as the reference server's search
does). They are maintained by :mod:`mcp_suite.servers.memory.graph`, which rewrites an entity's document
whenever its observations change.
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

MIGRATIONS = [Migration("memory-0001-initial", _INITIAL)]
