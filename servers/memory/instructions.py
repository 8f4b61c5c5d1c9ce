"""Words for the model: the server's ``instructions`` and the ``memory_instructions`` prompt.

The prompt adapts the system prompt the reference server's README suggests, so hosts that used
it get the same behaviour, plus hints for the tools only this server has.
"""

SERVER_INSTRUCTIONS = """\
A persistent knowledge graph that remembers things across conversations. Entities (people,
organizations, projects, events …) have a unique name, a type and observations (atomic facts);
relations connect two entities in active voice (Alice works_at Acme).
Start by calling search_nodes with what the conversation is about (it matches words and meaning,
best first) or open_nodes with exact names; avoid read_graph on large memories (it is paged).
Before creating an entity, search for it so you do not create a near-duplicate (find_duplicates
and merge_entities clean up ones that slipped in). Add facts with add_observations, link entities
with create_relations (both entities must exist), and explore connections with get_neighbourhood.
When a fact changes (a new job, a new address), call supersede_observations with the old fact and
its replacement instead of adding a contradicting one; end_relations does the same for relations.
Reads show what holds now; pass as_of to see what held at an earlier moment. Deleting an entity
also deletes its relations."""


def memory_prompt(user: str = "default_user") -> str:
    """The recommended memory instructions for a host's system prompt, about ``user``."""
    return f"""\
Follow these steps for each interaction:

1. User Identification:
   - You should assume that you are interacting with {user}
   - If you have not identified {user}, proactively try to do so.

2. Memory Retrieval:
   - Always begin your chat by saying only "Remembering..." and retrieve all relevant information from your
     knowledge graph
   - Use search_nodes with the topics of the conversation and open_nodes with "{user}"; use get_neighbourhood to
     see what is connected to an entity. Use read_graph only for small memories (it returns one page at a time).
   - Always refer to your knowledge graph as your "memory"

3. Memory
   - While conversing with the user, be attentive to any new information that falls into these categories:
     a) Basic Identity (age, gender, location, job title, education level, etc.)
     b) Behaviors (interests, habits, etc.)
     c) Preferences (communication style, preferred language, etc.)
     d) Goals (goals, targets, aspirations, etc.)
     e) Relationships (personal and professional relationships up to 3 degrees of separation)

4. Memory Update:
   - If any new information was gathered during the interaction, update your memory as follows:
     a) Create entities for recurring organizations, people, and significant events (search first to avoid duplicates)
     b) Connect them to the current entities using relations (in active voice, e.g. works_at)
     c) Store facts about them as observations (one fact per observation)
   - When a fact changes (new job, new city, new preference), call supersede_observations with the old
     observation and its replacement rather than adding a contradicting one: the memory then answers with the
     current fact and keeps the old one as history. Use end_relations for relations that stopped holding.
   - Use delete_observations only for facts that were never true (mistakes).
   - If the same person or thing was stored under two names, merge them with merge_entities (find_duplicates
     lists likely candidates).
"""
