"""The knowledge graph: every read and write the memory server performs, on either storage engine.

One :class:`GraphStore` serves one namespace of one database (a SQLite file or a PostgreSQL schema,
see :mod:`mcp_suite.servers.memory.storage`). Each public method is one logical change or one
consistent read: writes run through ``MemoryDatabase.run()`` (one transaction; writers in other
processes queue rather than interleave, and PostgreSQL conflicts are retried), reads inside
``MemoryDatabase.snapshot()`` (a search in ``reads()``: its ranking and rows need not see one state).
Checks that can fail (missing entities, oversized calls) run before the first write, and any exception
rolls the whole call back, so a rejected call leaves the database as it was.

Semantics follow ``@modelcontextprotocol/server-memory``: existing names, facts and relations are
skipped, deleting an entity deletes its observations and relations, deleting something absent is
not an error. Stricter than the reference: observations and relations can only attach to
entities that exist.

Facts over time: observations and relations carry a validity interval (``valid_from`` …
``valid_to``, open while the fact holds). Reads return what holds now, or what held ``as_of`` a
past moment; ``supersede`` and ``end_relations`` close an interval instead of deleting. The
reference's delete tools still delete. Entities merged into another leave their names behind as
aliases, which reads (and writes that add to an entity) resolve.

Semantic recall is delegated to :class:`~mcp_suite.servers.memory.recall.Recall`, which is told
about every committed write and embeds it in the background.
"""

from mcp_suite.servers.memory.graph_merge import GraphMerge
from mcp_suite.servers.memory.graph_reads import GraphReads
from mcp_suite.servers.memory.graph_search import GraphSearch
from mcp_suite.servers.memory.graph_time import GraphTime
from mcp_suite.servers.memory.graph_writes import GraphWrites


class GraphStore(GraphWrites, GraphTime, GraphMerge, GraphReads, GraphSearch):
    """The knowledge graph of one namespace in one database: one object with every read and write,
    each responsibility in its own module (see :mod:`mcp_suite.servers.memory.graph_core`)."""
