"""convo's cost per turn in CPU instructions (callgrind), against raw httpx2 doing the same.

On a shared 2-core machine wall-clock ratios of two versions can swing by more than the
change between them; ``valgrind --tool=callgrind`` counts instructions, which are the same
whatever else the machine runs. Each case runs in a fresh interpreter under callgrind
twice, for ``N`` and ``N + K`` turns of a growing history, and the difference divided by
``K`` is the cost of one turn beyond the ``N``-th: start-up, imports and warm-up cancel
out. Only the client process is counted (the benchmark server runs outside valgrind).

    python benchmarks/bench_instructions.py            # every case, several minutes
    python benchmarks/bench_instructions.py --quick    # fewer turns
    python benchmarks/bench_instructions.py send raw   # some cases only

Without valgrind on the machine it says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

MODEL = "gpt-4o-mini"
SYSTEM = "You are a helpful assistant. Answer briefly and plainly."
API_KEY = "sk-bench-not-a-secret"


def question(i: int) -> str:
    return f"Question number {i}: what is {i} times {i + 1}, and why does it matter?"


# -- the cases, each run in a child process ---------------------------------------------


def raw(base_url: str, turns: int) -> None:
    import httpx2

    url = base_url + "/chat/completions"
    with httpx2.Client(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        for i in range(turns):
            messages.append({"role": "user", "content": question(i)})
            response = client.post(url, json={"model": MODEL, "messages": messages})
            messages.append(response.json()["choices"][0]["message"])


def raw_stream(base_url: str, turns: int) -> None:
    import httpx2

    url = base_url + "/chat/completions"
    with httpx2.Client(headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        for i in range(turns):
            messages.append({"role": "user", "content": question(i)})
            body = {"model": MODEL, "messages": messages, "stream": True}
            parts: list[str] = []
            with client.stream("POST", url, json=body) as response:
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    if line[6:] == "[DONE]":
                        break
                    for choice in json.loads(line[6:])["choices"]:
                        if text := choice["delta"].get("content"):
                            parts.append(text)
            messages.append({"role": "assistant", "content": "".join(parts)})


def send(base_url: str, turns: int, store: Any = None) -> None:
    from convo import Conversation
    from convo.transports.openai import OpenAITransport

    with OpenAITransport(base_url, api_key=API_KEY) as transport:
        conv = Conversation(SYSTEM, model=MODEL, transport=transport, store=store)
        for i in range(turns):
            conv.send(question(i))


def send_sqlite(base_url: str, turns: int) -> None:
    from convo.store import SQLStore

    with tempfile.TemporaryDirectory() as directory:
        store = SQLStore(f"sqlite:///{directory}/bench.sqlite")
        try:
            send(base_url, turns, store)
        finally:
            store.close()


def stream(base_url: str, turns: int) -> None:
    from convo import Conversation
    from convo.transports.openai import OpenAITransport

    with OpenAITransport(base_url, api_key=API_KEY) as transport:
        conv = Conversation(SYSTEM, model=MODEL, transport=transport)
        for i in range(turns):
            for _ in conv.stream(question(i)):
                pass


def in_memory(base_url: str, turns: int) -> None:
    """convo alone: a transport that answers at once, so nothing but convo's turn runs."""
    from convo import Conversation, FunctionTransport

    conv = Conversation(SYSTEM, model=MODEL, transport=FunctionTransport(lambda _: "Fine."))
    for i in range(turns):
        conv.send(question(i))


CASES: dict[str, tuple[Callable[[str, int], None], str | None]] = {
    "raw": (raw, None),
    "send": (send, "raw"),
    "send_sqlite": (send_sqlite, "raw"),
    "raw_stream": (raw_stream, None),
    "stream": (stream, "raw_stream"),
    "in_memory": (in_memory, None),
}


# -- the parent ---------------------------------------------------------------------------

_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(case: str, base_url: str, turns: int) -> int:
    """Instructions one child run of ``case`` executed, start-up included."""
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts in every run
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        case,
        "--base-url",
        base_url,
        "--turns",
        str(turns),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    found = _COLLECTED.search(done.stderr)
    if done.returncode or not found:
        raise RuntimeError(f"{case} under callgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_turn(case: str, base_url: str, first: int, extra: int) -> float:
    return (instructions(case, base_url, first + extra) - instructions(case, base_url, first)) / (
        extra
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("cases", nargs="*", help=f"some of {', '.join(CASES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer turns: a smoke run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--turns", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        CASES[args.child][0](args.base_url, args.turns)
        return
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: no instruction counts (apt-get install valgrind)")
        return

    from server import serve

    quick = args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1"
    # The history grows by two messages a turn: from turn 50 to 60 it holds 100-120.
    first, extra = (10, 5) if quick else (50, 10)
    wanted = args.cases or list(CASES)
    if unknown := [name for name in wanted if name not in CASES]:
        parser.error(f"unknown cases {unknown}: choose from {', '.join(CASES)}")
    for name in list(wanted):  # a case needs its floor measured in the same run
        floor = CASES[name][1]
        if floor and floor not in wanted:
            wanted.insert(0, floor)
    got: dict[str, float] = {}
    with serve() as base_url:
        for name in wanted:
            got[name] = per_turn(name, base_url, first, extra)
            print(f"  {name}: {got[name] / 1e6:.2f} M instructions a turn", flush=True)
    rows = []
    for name in wanted:
        floor = CASES[name][1]
        row: dict[str, Any] = {"case": name, "instructions_per_turn": got[name]}
        if floor:
            row["floor"] = floor
            row["ratio"] = got[name] / got[floor]
        rows.append(row)
    span = f"{2 * first}-{2 * (first + extra)}"
    print(f"\nper turn beyond turn {first} (the history {span} messages)")
    print("| case | M instructions a turn | vs floor |")
    print("|---|---|---|")
    for row in rows:
        ratio = f"{row['ratio']:.2f}x {row['floor']}" if "ratio" in row else "floor"
        print(f"| {row['case']} | {row['instructions_per_turn'] / 1e6:.2f} | {ratio} |")
    if path := os.environ.get("CONVO_BENCH_JSON"):
        Path(path).write_text(json.dumps({"instructions": rows}, indent=2))


if __name__ == "__main__":
    main()
