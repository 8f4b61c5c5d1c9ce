"""Bounds on what one request may ask of the memory server.

They keep a single confused or hostile call from flooding the database or a client's context:
every tool input is validated against them at the edge (see :mod:`mcp_suite.servers.memory.models`) and
the import command applies the same ones. Generous enough that no real memory hits them.
"""

MAX_NAME_CHARS = 500
"""Entity names and relation endpoints."""

MAX_TYPE_CHARS = 200
"""Entity and relation types."""

MAX_OBSERVATION_CHARS = 10_000
"""One observation: a fact, not a document."""

MAX_ITEMS_PER_CALL = 1_000
"""Entities, relations, names or observation groups in one call."""

MAX_CONTENTS_PER_ITEM = 1_000
"""Observations added to or deleted from one entity in one call."""

MAX_CALL_CHARS = 5_000_000
"""Total characters of text one write call may carry."""

MAX_QUERY_CHARS = 1_000

DEFAULT_SEARCH_LIMIT = 20
"""Ranked, so the best matches come first; the result carries a hint when more exist."""
MAX_SEARCH_LIMIT = 500

DEFAULT_READ_LIMIT = 200
MAX_READ_LIMIT = 2_000
READ_BUDGET_CHARS = 100_000
"""``read_graph`` stops adding entities once its page would exceed about this many characters."""

MAX_DEPTH = 3
DEFAULT_NEIGHBOURHOOD_LIMIT = 50
MAX_NEIGHBOURHOOD_LIMIT = 500

RECENT_ENTITIES = 10
"""How many recently updated entities the ``memory://graph`` summary lists."""
