"""FTS5 as the lexical index's tokenizer and posting source, on either engine.

The in-memory BM25 index (lexical.py) takes its terms from FTS5 itself so that tokenizing never drifts
from the SQL index. Posting codes are ``rowid << 2 | column`` per token instance, joined with commas on
the SQL side (one row per term, not per instance; numpy parses the string). A SQLite index reads them
from its own ``chunks_fts`` (:func:`lexical_source`); a PostgreSQL index streams its chunk rows into a
private in-memory FTS5 table with the same tokenizer (:func:`rows_source`), so both engines rank alike.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mcp_suite.servers.retrieval.storage.base import LexicalRow, LexicalSource

# The tokenizer chunks_fts is created with (see sqlite_schema), and the one PostgreSQL indexes use.
DEFAULT_TOKENIZE = "porter unicode61 remove_diacritics 2"

FTS_COLUMNS = ("text", "heading", "title")  # chunks_fts column order; BM25_WEIGHTS follows it
_CODE = "(doc << 2) | CASE col WHEN 'text' THEN 0 WHEN 'heading' THEN 1 ELSE 2 END"


def fts_tokenizer_option(create_sql: str) -> str:
    """The ``tokenize`` argument of a ``CREATE VIRTUAL TABLE … USING fts5(…)`` statement."""
    found = re.search(r"tokenize\s*=\s*'((?:[^']|'')*)'", create_sql)
    return found.group(1).replace("''", "'") if found else "unicode61"


@contextmanager
def lexical_source(path: Path) -> Iterator[LexicalSource]:
    """(tokenizer option, (chunk id, document id) by id, (term, posting codes) by term): one snapshot of the index.

    Runs on its own read-only plain sqlite3 connection, meant for a worker thread: reading every
    posting takes seconds at 100k chunks, and the shared aiosqlite connection stays free meanwhile
    (WAL lets both read at once). The postings iterator is valid inside the ``with`` block only.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {30_000}")
        conn.execute("BEGIN")
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_fts'").fetchone()
        tokenize = fts_tokenizer_option(row[0] if row else "")
        chunks = [(r[0], r[1]) for r in conn.execute("SELECT id, document_id FROM chunks ORDER BY id")]
        conn.execute("CREATE VIRTUAL TABLE temp.lexical_vocab USING fts5vocab(main, chunks_fts, instance)")
        # fts5vocab yields rows in term order, so GROUP BY term streams without a sort.
        cursor = conn.execute(f"SELECT term, group_concat({_CODE}) FROM temp.lexical_vocab GROUP BY term")
        yield tokenize, chunks, ((r[0], r[1]) for r in cursor)
    finally:
        conn.close()


class FtsTokenizer:
    """A private in-memory FTS5 table with the index's tokenizer: text in, the index's terms out.

    Thread-safe (one lock); used for chunks added after the lexical index was built and for query words.
    """

    def __init__(self, tokenize: str) -> None:
        self.tokenize = tokenize
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        quoted = "'" + tokenize.replace("'", "''") + "'"
        self._conn.execute(f"CREATE VIRTUAL TABLE scratch USING fts5(text, heading, title, tokenize = {quoted})")
        self._conn.execute("CREATE VIRTUAL TABLE scratch_vocab USING fts5vocab(scratch, instance)")

    def postings(self, rows: Sequence[tuple[int, str, str, str]]) -> list[tuple[str, str]]:
        """(term, posting codes) by term for ``(rowid, text, heading, title)`` rows."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany("INSERT INTO scratch (rowid, text, heading, title) VALUES (?, ?, ?, ?)", rows)
                sql = f"SELECT term, group_concat({_CODE}) FROM scratch_vocab GROUP BY term"
                result = [(r[0], r[1]) for r in self._conn.execute(sql)]
            finally:
                self._conn.execute("ROLLBACK")
        return result

    def terms(self, text: str) -> list[str]:
        """The terms FTS5 makes of ``text``, in order."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute("INSERT INTO scratch (rowid, text) VALUES (1, ?)", (text,))
                sql = "SELECT term FROM scratch_vocab ORDER BY offset"
                result = [r[0] for r in self._conn.execute(sql)]
            finally:
                self._conn.execute("ROLLBACK")
        return result

    def close(self) -> None:
        self._conn.close()


@contextmanager
def rows_source(tokenize: str, rows: Iterable[LexicalRow]) -> Iterator[LexicalSource]:
    """:func:`lexical_source` for chunk rows read elsewhere: FTS5 in memory tokenizes them, then goes away."""
    conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    try:
        quoted = "'" + tokenize.replace("'", "''") + "'"
        conn.execute(f"CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, title, tokenize = {quoted})")
        chunks: list[tuple[int, int]] = []
        conn.execute("BEGIN")

        def texts() -> Iterator[tuple[int, str, str, str]]:
            for chunk_id, document_id, text, heading, title in rows:
                chunks.append((chunk_id, document_id))
                yield chunk_id, text, heading, title

        conn.executemany("INSERT INTO chunks_fts (rowid, text, heading, title) VALUES (?, ?, ?, ?)", texts())
        conn.execute("COMMIT")
        chunks.sort()
        conn.execute("CREATE VIRTUAL TABLE temp.lexical_vocab USING fts5vocab(main, chunks_fts, instance)")
        cursor = conn.execute(f"SELECT term, group_concat({_CODE}) FROM temp.lexical_vocab GROUP BY term")
        yield tokenize, chunks, ((r[0], r[1]) for r in cursor)
    finally:
        conn.close()
