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

import bench_http  # noqa: E402  (after the path: the floors and runs it defines)

# -- the cases, each run in a child process ---------------------------------------------
# The floors and the convo runs are bench_http.py's own, so that both benchmarks
# measure the same work; here each gets its own client in a fresh interpreter.


def _client() -> Any:
    import httpx2

    return httpx2.Client(headers={"Authorization": f"Bearer {bench_http.API_KEY}"})


def _transport(base_url: str) -> Any:
    from convo.transports.openai import OpenAITransport

    return OpenAITransport(base_url, api_key=bench_http.API_KEY)


def raw(base_url: str, turns: int) -> None:
    with _client() as client:
        bench_http.raw_sync(client, base_url + "/chat/completions", turns)


def raw_stream(base_url: str, turns: int) -> None:
    with _client() as client:
        bench_http.raw_stream(client, base_url + "/chat/completions", turns)


def raw_async(base_url: str, turns: int) -> None:
    import asyncio

    import httpx2

    async def main() -> None:
        headers = {"Authorization": f"Bearer {bench_http.API_KEY}"}
        async with httpx2.AsyncClient(headers=headers) as client:
            await bench_http.raw_async(client, base_url + "/chat/completions", turns)

    asyncio.run(main())


def asend(base_url: str, turns: int) -> None:
    import asyncio

    async def main() -> None:
        async with _transport(base_url) as transport:
            await bench_http.convo_async(transport, turns)

    asyncio.run(main())


def send(base_url: str, turns: int) -> None:
    with _transport(base_url) as transport:
        bench_http.convo_sync(transport, turns)


def send_sqlite(base_url: str, turns: int) -> None:
    from convo.store import SQLStore

    with tempfile.TemporaryDirectory() as directory:
        store = SQLStore(f"sqlite:///{directory}/bench.sqlite")
        try:
            with _transport(base_url) as transport:
                bench_http.convo_sync(transport, turns, store)
        finally:
            store.close()


def stream(base_url: str, turns: int) -> None:
    with _transport(base_url) as transport:
        bench_http.convo_stream(transport, turns)


def in_memory(base_url: str, turns: int) -> None:
    """convo alone: a transport that answers at once, so nothing but convo's turn runs."""
    from convo import Conversation, Reply, Request, Transport
    from convo.transports.base import reply_from_text

    class Fixed(Transport):
        # Not FunctionTransport: it keeps every request, which a long run would measure.
        def complete(self, request: Request) -> Reply:
            return reply_from_text("Fine.")

    conv = Conversation(bench_http.SYSTEM, model=bench_http.MODEL, transport=Fixed())
    for i in range(turns):
        conv.send(bench_http.question(i))


def raw_fresh(base_url: str, calls: int) -> None:
    """A stateless caller: the same 21-message history as dicts, one more question."""
    with _client() as client:
        bench_http.raw_fresh(
            client, base_url + "/chat/completions", bench_http.history_dicts(10), calls
        )


def fresh(base_url: str, calls: int) -> None:
    """The same with a new ``Conversation`` built from the dicts for every call."""
    with _transport(base_url) as transport:
        bench_http.convo_fresh(transport, bench_http.history_dicts(10), calls)


CASES: dict[str, tuple[Callable[[str, int], None], str | None]] = {
    "raw": (raw, None),
    "send": (send, "raw"),
    "send_sqlite": (send_sqlite, "raw"),
    "raw_stream": (raw_stream, None),
    "stream": (stream, "raw_stream"),
    "raw_fresh": (raw_fresh, None),
    "fresh": (fresh, "raw_fresh"),
    "raw_async": (raw_async, None),
    "asend": (asend, "raw_async"),
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
