"""Time to the first counted request in a new process, against raw tiktoken loading its ranks.

A script, a CLI call or a fresh worker pays this once: import convo, load the encoding,
count a prompt. Each case runs in its own new interpreter (``python -c``), round after
round, interleaved with its floor:

- floor: ``import tiktoken`` and build ``o200k_base`` from a local rank file with
  tiktoken's own loader (``load_tiktoken_bpe`` of a plain file: what
  ``tiktoken.get_encoding`` does from its cache, without the network);
- ``import convo``: the package alone (no encoding is loaded at import);
- first counted request: ``Conversation(...).prepare("Hi")`` on ``gpt-4o-mini``, which
  loads the encoding and counts the prompt;
- ``python -c pass``: the interpreter's own start, for scale;
- ``convo --help`` and ``convo ls`` (20 stored conversations in a SQLite file), the
  console script's work (target: under 0.3 s each).

    python benchmarks/bench_startup.py           # 9 rounds
    python benchmarks/bench_startup.py --quick   # 3 rounds
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

FLOOR = """
import tiktoken
from tiktoken.load import load_tiktoken_bpe
ranks = load_tiktoken_bpe({path!r})
enc = tiktoken.Encoding(
    "o200k_base", pat_str={pat!r}, mergeable_ranks=ranks, special_tokens={special!r}
)
len(enc.encode_ordinary("Hi"))
"""

CASES = {
    "python -c pass": "pass",
    "import convo": "import convo",
    "first counted request": (
        "from convo import Conversation, FunctionTransport\n"
        "conv = Conversation('Be brief.', model='gpt-4o-mini',"
        " transport=FunctionTransport(lambda r: 'ok'))\n"
        "assert conv.prepare('Hi').prompt_tokens > 0"
    ),
    # What the console script runs (convo = "convo.cli:main").
    "convo --help": "import sys\nfrom convo.cli import main\nsys.argv[1:] = ['--help']\nmain()",
    "convo ls": "import sys\nfrom convo.cli import main\nsys.argv[1:] = ['ls']\nmain()",
}
_SECONDS = {"convo --help": 0.3, "convo ls": 0.3}


def _store(directory: str) -> str:
    """A SQLite store with 20 conversations, for ``convo ls``."""
    sys.path.insert(0, str(ROOT))
    from convo import FunctionTransport
    from convo.conversation import Conversation
    from convo.store import SQLStore

    url = f"sqlite:///{Path(directory) / 'convo.db'}"
    with SQLStore(url) as store:
        for i in range(20):
            conv = Conversation(
                "Be brief.", model="m", store=store, transport=FunctionTransport(lambda r: "ok")
            )
            conv.send(f"question {i}")
    return url


def _floor_code(directory: str) -> str:
    """The floor's program, with the rank file written out uncompressed to ``directory``."""
    sys.path.insert(0, str(ROOT))
    from convo.tokens import encodings

    path = Path(directory) / "o200k_base.tiktoken"
    path.write_bytes(gzip.decompress(encodings._rank_file("o200k_base").read_bytes()))
    constructor = encodings._constructor("o200k_base")
    return FLOOR.format(
        path=str(path), pat=constructor["pat_str"], special=constructor["special_tokens"]
    )


def _run(code: str, db: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), CONVO_DB=db)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds: a smoke run")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1"
    rounds = 3 if quick else 9
    with tempfile.TemporaryDirectory() as tmp:
        programs = {"raw tiktoken, o200k_base from a local file (floor)": _floor_code(tmp)}
        programs.update(CASES)
        db = _store(tmp)
        names = list(programs)
        for name in names:  # warm the file cache and the bytecode caches
            _run(programs[name], db)
        times: dict[str, list[float]] = {n: [] for n in names}
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(_run(programs[name], db))
    floor = names[0]
    rows: list[dict[str, Any]] = []
    for name in names:
        ms = [t * 1e3 for t in times[name]]
        row: dict[str, Any] = {
            "name": f"start-up: {name}",
            "unit": "ms",
            "median": statistics.median(ms),
            "min": min(ms),
            "max": max(ms),
            "rounds": rounds,
            "floor": None if name == floor else "raw tiktoken",
            "target": 1.0 if name == "first counted request" else None,
            "note": "",
        }
        if name in _SECONDS:  # a user's wait, not a ratio: the target is absolute
            row["target_ms"] = _SECONDS[name] * 1e3
            row["met_ms"] = row["median"] <= row["target_ms"]
        if name != floor:
            ratios = [a / b for a, b in zip(times[name], times[floor], strict=True)]
            q = statistics.median(ratios)
            row["ratio"] = {"median": q, "min": min(ratios), "max": max(ratios)}
            row["met"] = None if row["target"] is None else q <= row["target"]
        rows.append(row)
    for row in rows:
        ratio = f", {row['ratio']['median']:.2f}x the floor" if "ratio" in row else ""
        if "target_ms" in row:
            ratio += f", target {row['target_ms']:.0f} ms: {'met' if row['met_ms'] else 'NOT met'}"
        print(f"{row['name']}: {row['median']:.0f} ms [{row['min']:.0f}-{row['max']:.0f}]{ratio}")
    if path := os.environ.get("CONVO_BENCH_JSON"):
        Path(path).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
