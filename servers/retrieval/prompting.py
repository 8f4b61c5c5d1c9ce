"""The grounded prompt: retrieved chunks, numbered with their sources, and rules for using them.

The instruction is explicit about the failure modes that matter in RAG: answer only from the
context, cite the numbered chunks, and say plainly when the context does not contain the answer
rather than falling back on what the model happens to believe.
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp_suite.servers.retrieval.search import SearchHit

INSTRUCTIONS = """Answer the question using ONLY the numbered context passages below.
- Cite the passages you use by number in square brackets, e.g. [1] or [2][3], right after the claim they support.
- If the passages do not contain the answer, say so plainly ("The indexed documents do not say ...") instead of \
guessing or using outside knowledge; you may say what related information they do contain.
- If passages disagree, point out the disagreement and cite both.
- Do not cite a passage for something it does not say."""


def grounded_prompt(question: str, hits: Sequence[SearchHit]) -> str:
    if not hits:
        context = "(no passages were found in the knowledge base for this question)"
    else:
        context = "\n\n".join(f"[{i}] {hit.citation}\n{hit.text.strip()}" for i, hit in enumerate(hits, start=1))
    return f"{INSTRUCTIONS}\n\n## Context\n\n{context}\n\n## Question\n\n{question.strip()}\n"
