"""The registry's schema on each engine, as ordered, named migrations (``prompts/NNNN_what``).

Both lists create the same tables with the same columns; types differ where the engines do
(identity columns, booleans). Timestamps stay ISO 8601 text on both, so comparisons and the hour
buckets of served counts read alike. Each engine numbers its own steps (PostgreSQL starts at today's
shape, so its ``0001`` holds more than SQLite's). ``LEGACY_NAMES`` maps the names SQLite registries recorded
before migrations were namespaced per server.
"""

from __future__ import annotations

from mcp_suite.shared.db import Migration as SqliteMigration
from mcp_suite.shared.engine import Migration

LEGACY_NAMES = {
    "0001_prompt_registry": "prompts/0001_registry",
    "0002_summaries_and_library_files": "prompts/0002_summaries_and_library_files",
    "0003_prompt_drafts": "prompts/0003_drafts",
    "0101_prompt_runs": "prompts/0004_runs",
    "0102_prompt_serves_and_optional_cost": "prompts/0005_serves_and_optional_cost",
    "0103_prompt_golden_runs": "prompts/0006_golden_runs",
}

SQLITE_MIGRATIONS = [
    SqliteMigration(
        "prompts/0001_registry",
        """
        CREATE TABLE prompt_versions (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            source_text TEXT NOT NULL,
            source_file TEXT,
            description TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL,
            published_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE labels (
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            version TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (name, label),
            FOREIGN KEY (name, version) REFERENCES prompt_versions (name, version)
        );
        CREATE TABLE label_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            version TEXT NOT NULL,
            previous_version TEXT,
            action TEXT NOT NULL CHECK (action IN ('set', 'rollback')),
            reverted INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL,
            author TEXT NOT NULL
        );
        CREATE INDEX label_history_by_label ON label_history (name, label, seq);
        CREATE TABLE rollouts (
            name TEXT NOT NULL,
            label TEXT NOT NULL,
            splits TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            PRIMARY KEY (name, label)
        );
        """,
    ),
    SqliteMigration(
        "prompts/0002_summaries_and_library_files",
        """
        ALTER TABLE prompt_versions ADD COLUMN summary TEXT;
        CREATE TABLE library_files (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL
        );
        """,
    ),
    SqliteMigration(
        "prompts/0003_drafts",
        """
        CREATE TABLE prompt_drafts (
            name TEXT PRIMARY KEY,
            version TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            source_text TEXT NOT NULL,
            source_file TEXT,
            description TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL,
            published_at TEXT NOT NULL,
            summary TEXT
        );
        """,
    ),
    SqliteMigration(
        "prompts/0004_runs",
        """
        CREATE TABLE prompt_runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost REAL NOT NULL,
            quality_score REAL,
            feedback TEXT CHECK (feedback IN ('positive', 'negative')),
            error TEXT,
            subject TEXT
        );
        CREATE INDEX prompt_runs_by_name ON prompt_runs (name, recorded_at);
        """,
    ),
    SqliteMigration(
        "prompts/0005_serves_and_optional_cost",
        """
        CREATE TABLE prompt_serves (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            label TEXT NOT NULL,
            via TEXT NOT NULL,
            hour TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (name, version, label, via, hour)
        );
        CREATE TABLE prompt_runs_new (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            latency_ms REAL NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost REAL,
            quality_score REAL,
            feedback TEXT CHECK (feedback IN ('positive', 'negative')),
            error TEXT,
            subject TEXT,
            model TEXT
        );
        INSERT INTO prompt_runs_new (id, name, version, recorded_at, latency_ms, input_tokens, output_tokens, cost,
            quality_score, feedback, error, subject)
            SELECT id, name, version, recorded_at, latency_ms, input_tokens, output_tokens, cost, quality_score,
            feedback, error, subject FROM prompt_runs;
        DROP TABLE prompt_runs;
        ALTER TABLE prompt_runs_new RENAME TO prompt_runs;
        CREATE INDEX prompt_runs_by_name ON prompt_runs (name, recorded_at);
        """,
    ),
    # Each golden-case run of a version: its cases counted per status.
    SqliteMigration(
        "prompts/0006_golden_runs",
        """
        CREATE TABLE golden_runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            run_at TEXT NOT NULL,
            mode TEXT NOT NULL,
            passed INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            error INTEGER NOT NULL,
            rendered INTEGER NOT NULL,
            not_run INTEGER NOT NULL
        );
        CREATE INDEX golden_runs_by_name ON golden_runs (name, version, id);
        """,
    ),
]

# PostgreSQL starts from today's shape in one step: there is no older PostgreSQL registry to migrate.
POSTGRES_MIGRATIONS = [
    Migration(
        "prompts/0001_registry",
        """
        CREATE TABLE prompt_versions (
            name text NOT NULL,
            version text NOT NULL,
            content_hash text NOT NULL,
            source_text text NOT NULL,
            source_file text,
            description text NOT NULL DEFAULT '',
            author text NOT NULL,
            published_at text NOT NULL,
            summary text,
            PRIMARY KEY (name, version)
        );
        CREATE TABLE labels (
            name text NOT NULL,
            label text NOT NULL,
            version text NOT NULL,
            updated_at text NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (name, label),
            FOREIGN KEY (name, version) REFERENCES prompt_versions (name, version)
        );
        CREATE TABLE label_history (
            seq bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            label text NOT NULL,
            version text NOT NULL,
            previous_version text,
            action text NOT NULL CHECK (action IN ('set', 'rollback')),
            reverted boolean NOT NULL DEFAULT false,
            at text NOT NULL,
            author text NOT NULL
        );
        CREATE INDEX label_history_by_label ON label_history (name, label, seq);
        CREATE TABLE rollouts (
            name text NOT NULL,
            label text NOT NULL,
            splits text NOT NULL,
            updated_at text NOT NULL,
            updated_by text NOT NULL,
            PRIMARY KEY (name, label)
        );
        CREATE TABLE library_files (
            path text PRIMARY KEY,
            size bigint NOT NULL,
            mtime_ns bigint NOT NULL,
            name text NOT NULL,
            version text NOT NULL,
            content_hash text NOT NULL
        );
        CREATE TABLE prompt_drafts (
            name text PRIMARY KEY,
            version text NOT NULL,
            content_hash text NOT NULL,
            source_text text NOT NULL,
            source_file text,
            description text NOT NULL DEFAULT '',
            author text NOT NULL,
            published_at text NOT NULL,
            summary text
        );
        """,
    ),
    Migration(
        "prompts/0002_telemetry",
        """
        CREATE TABLE prompt_runs (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            version text NOT NULL,
            recorded_at text NOT NULL,
            latency_ms double precision NOT NULL,
            input_tokens bigint NOT NULL,
            output_tokens bigint NOT NULL,
            cost double precision,
            quality_score double precision,
            feedback text CHECK (feedback IN ('positive', 'negative')),
            error text,
            subject text,
            model text
        );
        CREATE INDEX prompt_runs_by_name ON prompt_runs (name, recorded_at);
        CREATE TABLE prompt_serves (
            name text NOT NULL,
            version text NOT NULL,
            label text NOT NULL,
            via text NOT NULL,
            hour text NOT NULL,
            count bigint NOT NULL,
            PRIMARY KEY (name, version, label, via, hour)
        );
        CREATE TABLE golden_runs (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            version text NOT NULL,
            run_at text NOT NULL,
            mode text NOT NULL,
            passed integer NOT NULL,
            failed integer NOT NULL,
            error integer NOT NULL,
            rendered integer NOT NULL,
            not_run integer NOT NULL
        );
        CREATE INDEX golden_runs_by_name ON golden_runs (name, version, id);
        """,
    ),
]
