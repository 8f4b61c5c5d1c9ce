"""Recall of ``search_nodes`` on a generated memory: lexical, semantic and hybrid, next to the reference.

A seeded generator writes a memory of people and organisations (thousands of entities, 6–7 facts
each, ``--people``) and, by a fixed rule, questions whose answer entity is known and unique:

* ``name``: the person's name as stored (what every search should get right);
* ``code``: a made-up project code name copied from one fact (word matching's home ground);
* ``paraphrase``: two facts reworded with synonyms, keeping the organisation's proper name
  ("Who is the physician at Quorvex?" for "works as a doctor" + "is employed at Quorvex"; asked
  only where one person holds that job there);
* ``related``: four facts described only in other words ("Which physician is a fiddle player with a
  puppy and likes ramen?" for "works as a doctor", "plays the violin", "has a dog", "favourite food
  is noodle soup"); only combinations held by exactly one person are asked.

``name`` and ``code`` are guard rails (meaning must not push exact matches out); the targets are
about the paraphrased questions (``paraphrase`` and ``related``), where the answer shares no
content word with the question apart from an organisation's name.

Each question is sent to our server through the SDK ``Client`` (in memory) as ``search_nodes``
with ``limit=5`` in each ``mode``, and to the reference's matching rule, reimplemented here
faithfully from ``@modelcontextprotocol/server-memory`` (``searchNodes``: entities whose name, type
or any observation contains the query as a case-insensitive substring, in stored order, unranked).
A second control ranks every entity matching any word of the question by plain BM25 (SQLite FTS5
over the same index). Recall@5: the share of questions whose answer is among the first five
entities returned.

The fusion constants were tuned on seed 1; the default seed (2) generates other names,
organisations, cities, codes and combinations. Usage: ``python bench/memory_quality_bench.py
[--people 5000] [--questions 60] [--seed 2]``. Prints a Markdown table; JSON to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

BENCH = Path(__file__).resolve().parent
MODES = ("lexical", "semantic", "hybrid")
PARAPHRASED = ("paraphrase", "related")
K = 5

# (stored wording, question wording): the question never reuses the stored content words.
ROLES = [
    ("doctor", "physician"),
    ("lawyer", "attorney"),
    ("teacher", "educator"),
    ("chef", "cook"),
    ("pilot", "aviator"),
    ("journalist", "reporter"),
    ("carpenter", "woodworker"),
    ("software developer", "programmer"),
    ("accountant", "bookkeeper"),
    ("nurse", "caregiver"),
    ("police officer", "cop"),
    ("firefighter", "fireman"),
    ("dentist", "orthodontist"),
    ("plumber", "pipefitter"),
    ("architect", "building designer"),
    ("farmer", "rancher"),
    ("pharmacist", "chemist"),
    ("librarian", "archivist"),
    ("mechanic", "auto repairman"),
    ("salesperson", "sales rep"),
]
HOBBIES = [
    ("plays the violin", "fiddle player"),
    ("enjoys hiking in the mountains", "trekker"),
    ("collects stamps", "philatelist"),
    ("grows tomatoes in the garden", "vegetable gardener"),
    ("paints watercolors", "painter"),
    ("runs marathons", "long-distance runner"),
    ("bakes sourdough bread", "home baker"),
    ("plays chess", "chess player"),
    ("goes fishing on weekends", "angler"),
    ("knits scarves", "knitter"),
    ("rides a motorcycle", "biker"),
    ("sings in a choir", "choral singer"),
]
PETS = [
    ("has a dog", "with a puppy"),
    ("has a cat", "with a kitten"),
    ("owns a parrot", "with a pet bird"),
    ("owns a horse", "with a pony"),
    ("has a rabbit", "with a bunny"),
    ("keeps goldfish in an aquarium", "with pet fish"),
]
FOODS = [
    ("favourite food is sushi", "likes raw fish"),
    ("favourite food is pizza", "likes Italian flatbread"),
    ("favourite food is noodle soup", "likes ramen"),
    ("favourite food is tacos", "likes Mexican food"),
    ("favourite food is curry", "likes spicy Indian dishes"),
    ("favourite food is steak", "likes beef"),
    ("favourite food is salad", "likes greens"),
    ("favourite food is pancakes", "likes crepes"),
]
FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena",
         "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Ximena",
         "Yusuf", "Zoe"]  # fmt: skip
SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "shi", "dun", "pel", "ar", "quo", "zim", "bex", "nor", "ule", "tor"]


def _word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts))


@dataclass
class Question:
    kind: str
    text: str
    answer: str


@dataclass
class Memory:
    entities: list[dict[str, Any]]
    questions: list[Question]


def generate(people: int, per_kind: int, seed: int) -> Memory:
    """The memory and its questions, all from ``seed`` (the same seed gives the same bytes)."""
    rng = random.Random(seed)
    orgs = sorted({_word(rng, 3).capitalize() for _ in range(max(20, people // 25))})
    cities = sorted({_word(rng, 2).capitalize() + rng.choice(["burg", "ton", "ville", "port"]) for _ in range(60)})
    entities: list[dict[str, Any]] = []
    for org in orgs:
        entities.append(
            {
                "name": org,
                "entityType": "organization",
                "observations": [f"company based in {rng.choice(cities)}", f"founded in {rng.randint(1950, 2020)}"],
            }
        )
    persons: list[dict[str, Any]] = []
    names: set[str] = set()
    codes: set[str] = set()
    while len(persons) < people:
        name = f"{rng.choice(FIRST)} {_word(rng, 3).capitalize()}"
        role, org = rng.randrange(len(ROLES)), rng.choice(orgs)
        code = _word(rng, 4).capitalize()
        if name in names or code in codes:
            continue
        names.add(name)
        codes.add(code)
        facts = {
            "role": role,
            "org": org,
            "hobby": rng.randrange(len(HOBBIES)),
            "pet": rng.randrange(len(PETS)),
            "food": rng.randrange(len(FOODS)),
            "code": code,
        }
        observations = [
            f"works as a {ROLES[facts['role']][0]}",
            f"is employed at {org}",
            f"lives in {rng.choice(cities)}",
            HOBBIES[facts["hobby"]][0],
            PETS[facts["pet"]][0],
            FOODS[facts["food"]][0],
            f"leads the {code} project",
        ]
        rng.shuffle(observations)
        persons.append({"name": name, "entityType": "person", "observations": observations, "facts": facts})
    entities += [{k: v for k, v in p.items() if k != "facts"} for p in persons]

    combos: dict[tuple[int, int, int, int], list[str]] = {}
    jobs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for p in persons:
        f = p["facts"]
        combos.setdefault((f["role"], f["hobby"], f["pet"], f["food"]), []).append(p["name"])
        jobs.setdefault((f["role"], f["org"]), []).append(p)
    # Only questions with exactly one right answer are asked.
    unique = [(key, found[0]) for key, found in sorted(combos.items()) if len(found) == 1]
    sole = [found[0] for _, found in sorted(jobs.items()) if len(found) == 1]

    questions: list[Question] = []
    for p in rng.sample(persons, per_kind):
        questions.append(Question("name", p["name"], p["name"]))
    for p in rng.sample(persons, per_kind):
        questions.append(Question("code", p["facts"]["code"], p["name"]))
    for p in rng.sample(sole, min(per_kind, len(sole))):
        role = ROLES[p["facts"]["role"]][1]
        template = rng.choice(["Who is the {r} at {o}?", "Which {r} does {o} employ?", "the {r} working for {o}"])
        questions.append(Question("paraphrase", template.format(r=role, o=p["facts"]["org"]), p["name"]))
    for (role, hobby, pet, food), answer in rng.sample(unique, min(per_kind, len(unique))):
        text = f"Which {ROLES[role][1]} is a {HOBBIES[hobby][1]} {PETS[pet][1]} and {FOODS[food][1]}?"
        questions.append(Question("related", text, answer))
    return Memory(entities, questions)


def reference_search(entities: list[dict[str, Any]], query: str) -> list[str]:
    """``searchNodes`` of @modelcontextprotocol/server-memory: a case-insensitive substring of the
    name, the type or any observation; entities in stored order; no ranking."""
    q = query.lower()
    return [
        e["name"]
        for e in entities
        if q in e["name"].lower() or q in e["entityType"].lower() or any(q in o.lower() for o in e["observations"])
    ]


def bm25_any_word(database: Path, query: str) -> list[str]:
    """A second lexical control: plain BM25 over any word of the query, every match ranked (our
    lexical mode ranks in tiers and, past 2,000 matches, ranks name matches only)."""
    from mcp_suite.servers.memory import search

    match = search.any_word(query) or search.all_words(query)
    if not match:
        return []
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT e.name FROM entity_fts JOIN entities e ON e.id = entity_fts.rowid "
            "WHERE entity_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, K),
        ).fetchall()
    return [name for (name,) in rows]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from mcp_suite.servers.memory.server import build_server
    from mcp_suite.servers.memory.settings import MemorySettings

    memory = generate(args.people, args.questions, args.seed)
    hits: dict[str, dict[str, list[int]]] = {m: {} for m in (*MODES, "reference", "bm25")}
    latency: dict[str, list[float]] = {m: [] for m in MODES}
    returned: dict[str, list[int]] = {"hybrid": [], "reference": []}
    with tempfile.TemporaryDirectory(prefix="memory-quality-") as tmp:
        settings = MemorySettings(data_dir=Path(tmp))
        async with Client(build_server(settings)) as client:
            began = time.perf_counter()
            for i in range(0, len(memory.entities), 500):
                result = await client.call_tool("create_entities", {"entities": memory.entities[i : i + 500]})
                assert not result.is_error, result.content
            load_s = time.perf_counter() - began
            began = time.perf_counter()
            warm = await client.call_tool("search_nodes", {"query": "warm up", "mode": "semantic"})
            assert not warm.is_error, warm.content
            index_s = time.perf_counter() - began
            for q in memory.questions:
                for mode in MODES:
                    start = time.perf_counter()
                    result = await client.call_tool("search_nodes", {"query": q.text, "mode": mode, "limit": K})
                    latency[mode].append(time.perf_counter() - start)
                    assert not result.is_error and result.structured_content is not None, result.content
                    names = [e["name"] for e in result.structured_content["entities"]]
                    hits[mode].setdefault(q.kind, []).append(int(q.answer in names[:K]))
                ref = reference_search(memory.entities, q.text)
                hits["reference"].setdefault(q.kind, []).append(int(q.answer in ref[:K]))
                bm25 = bm25_any_word(settings.database_path, q.text)
                hits["bm25"].setdefault(q.kind, []).append(int(q.answer in bm25[:K]))
                if q.kind == "name":  # precision: what else a lookup by name brings, at the default limit
                    result = await client.call_tool("search_nodes", {"query": q.text})
                    assert result.structured_content is not None, result.content
                    returned["hybrid"].append(len(result.structured_content["entities"]))
                    returned["reference"].append(len(ref))
    kinds = list(dict.fromkeys(q.kind for q in memory.questions))
    reworded = [kind for kind in kinds if kind in PARAPHRASED]
    recall = {
        who: {kind: statistics.fmean(by_kind[kind]) for kind in kinds}
        | {"paraphrased": statistics.fmean([h for kind in reworded for h in by_kind[kind]])}
        | {"all": statistics.fmean([h for kind in kinds for h in by_kind[kind]])}
        for who, by_kind in hits.items()
    }
    return {
        "seed": args.seed,
        "entities": len(memory.entities),
        "questions": {kind: sum(1 for q in memory.questions if q.kind == kind) for kind in kinds},
        "examples": {kind: next(q.text for q in memory.questions if q.kind == kind) for kind in kinds},
        "load_s": round(load_s, 2),
        "first_semantic_search_s": round(index_s, 2),
        "recall_at_5": recall,
        "search_p50_ms": {m: round(statistics.median(v) * 1000, 2) for m, v in latency.items()},
        "name_lookup_entities_mean": {who: round(statistics.fmean(v), 2) for who, v in returned.items() if v},
    }


def render(results: dict[str, Any]) -> str:
    kinds = list(results["questions"])
    rows = [
        f"Recall@{K} of search_nodes — {results['entities']:,} entities, seed {results['seed']}, "
        f"questions per kind: {results['questions']}",
        "",
        "| search | " + " | ".join(kinds) + " | paraphrased | all | p50 ms |",
        "|---|" + "---:|" * (len(kinds) + 3),
    ]
    labels = {
        "reference": "reference substring rule",
        "bm25": "plain BM25, any word (control)",
        "lexical": "ours, lexical",
        "semantic": "ours, semantic",
        "hybrid": "ours, hybrid (default)",
    }
    for who in ("reference", "bm25", *MODES):
        r = results["recall_at_5"][who]
        p50 = results["search_p50_ms"].get(who)
        rows.append(
            f"| {labels[who]} | "
            + " | ".join(f"{r[k]:.2f}" for k in kinds)
            + f" | **{r['paraphrased']:.2f}** | {r['all']:.2f} | {'—' if p50 is None else p50} |"
        )
    rec = {who: r["paraphrased"] for who, r in results["recall_at_5"].items()}

    def ratio(who: str) -> str:
        return f"{rec['hybrid'] / rec[who]:.1f}×" if rec[who] else f"∞ ({who} finds none)"

    rows += [
        "",
        f"On paraphrased questions: hybrid / lexical {ratio('lexical')} (target ≥ 2×), "
        f"hybrid / plain BM25 {ratio('bm25')}, hybrid / reference {ratio('reference')} (target ≥ 5×).",
        "Examples: " + "; ".join(f"{k}: {v!r}" for k, v in results["examples"].items()),
    ]
    lookups = results.get("name_lookup_entities_mean")
    if lookups:
        rows.append(
            f"Name questions at the default limit return {lookups['hybrid']} entities on average (hybrid; "
            f"the reference rule: {lookups['reference']}, every entity containing the name)."
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=5_000, help="person entities (plus one organisation per 25)")
    parser.add_argument("--questions", type=int, default=60, help="questions per kind")
    parser.add_argument("--seed", type=int, default=2, help="generator seed (1 was used to tune the fusion)")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/memory-quality-<time>.json)")
    args = parser.parse_args(argv)
    results = anyio.run(run, args)
    out = args.out or BENCH / "results" / f"memory-quality-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nJSON: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
