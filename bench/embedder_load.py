"""Cold-start cost of the wordllama embedder: a fresh process loads the model and embeds one query.

Three ways, each in its own interpreter, ``--runs`` times, reporting the median wall and CPU seconds:

* ``wordllama`` — the naive control: the package's public API, ``WordLlama.load(...).embed(q, norm=True)``;
* ``suite, no cache`` — :class:`WordLlamaEmbedder` reading the wheel's files (tokenizer parsed once,
  float16 weights converted to float32);
* ``suite, cached`` — the same with the float32 matrix memory-mapped from the data folder's cache, as
  every process after the first one does.

    python bench/embedder_load.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

QUERY = "how do I enable write-ahead logging"

CONTROL = """
import importlib.util
from pathlib import Path
from wordllama import WordLlama
folder = Path(importlib.util.find_spec("wordllama").origin).parent
model = WordLlama.load("l2_supercat", cache_dir=folder, dim=256, disable_download=True)
model.embed([QUERY], norm=True)
"""

SUITE = """
from pathlib import Path
from mcp_suite.shared.embeddings import WordLlamaEmbedder
WordLlamaEmbedder(CACHE).embed_sync([QUERY])
"""

TIMED = """
import resource, time, json
started = time.perf_counter()
{body}
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps([time.perf_counter() - started, usage.ru_utime + usage.ru_stime]))
"""


def _run(body: str, cache: Path | None) -> tuple[float, float]:
    where = f"Path({str(cache)!r})" if cache else "None"
    code = TIMED.format(body=body.replace("QUERY", repr(QUERY)).replace("CACHE", where))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, cpu = json.loads(done.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "cache"
        _run(SUITE, cache)  # writes the cache, as a data folder's first process does
        variants = {
            "wordllama (control)": (CONTROL, None),
            "suite, no cache": (SUITE, None),
            "suite, cached": (SUITE, cache),
        }
        print("| load + embed one query | wall p50 (s) | CPU p50 (s) |")
        print("|---|---|---|")
        results = {name: [_run(body, where) for _ in range(args.runs)] for name, (body, where) in variants.items()}
        for name, runs in results.items():
            wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
            print(f"| {name} | {wall:.3f} | {cpu:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
