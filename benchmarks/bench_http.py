"""convo's cost over the wire: conversations against the raw HTTP clients, same server, same run.

Every case is timed against a *floor*: the raw client doing the same requests by hand
(the growing ``messages`` list built as dicts, ``json=`` body, ``response.json()``,
append). Cases and floors run interleaved, round after round, against one fast local
server (``benchmarks/server.py``, in a subprocess); each round gives a paired ratio
(case time / floor time of that round), and the table shows the median ratio with its
min and max over the rounds. Nothing is asserted: a ratio above its target is
reported, not failed.

    python benchmarks/bench_http.py             # all cases, about a minute and a half
    python benchmarks/bench_http.py --quick     # fewer rounds, a smoke run
    python benchmarks/bench_http.py --profile sync   # pyinstrument over convo's path

With ``CONVO_BENCH_JSON=path`` set (``benchmarks/run.py`` sets it) the rows are also
written there as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import httpx2
from server import ceiling, describe, serve, server_cpu

from convo.conversation import AsyncConversation, Conversation
from convo.transports.openai import OpenAITransport

MODEL = "gpt-4o-mini"  # a known context window: the token budget is on
SYSTEM = "You are a helpful assistant. Answer briefly and plainly."
API_KEY = "sk-bench-not-a-secret"
# Same pool sizes as OpenAITransport's own clients, so the floors are not handicapped.
LIMITS = dict(max_connections=1000, max_keepalive_connections=100)


def question(i: int) -> str:
    return (
        f"Question {i}: could you explain, briefly and in plain words, how item number {i} "
        "works, and what I should watch out for when I use it?"
    )


# -- timing --------------------------------------------------------------------------


@dataclass
class Row:
    """One case: its seconds per round, and its paired ratios against the floor."""

    name: str
    per_round: int  # calls (or streams) per round, for the per-call time
    floor: str | None
    target: float | None
    times: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        per_call = [t / self.per_round * 1e6 for t in self.times]
        out: dict[str, Any] = {
            "name": self.name,
            "unit": "us/call",
            "median": statistics.median(per_call),
            "min": min(per_call),
            "max": max(per_call),
            "rounds": len(self.times),
            "floor": self.floor,
            "target": self.target,
            "note": self.note,
        }
        if self.ratios:
            ratio = statistics.median(self.ratios)
            out["ratio"] = {"median": ratio, "min": min(self.ratios), "max": max(self.ratios)}
            out["met"] = None if self.target is None else ratio <= self.target
        return out


Case = Callable[[], Any]


def measure_sync(rows: list[Row], cases: list[Case], rounds: int, warmup: int = 1) -> None:
    """Run the cases interleaved (rotating the order each round); ratios against rows[0]."""
    for _ in range(warmup):
        for case in cases:
            case()
    for r in range(rounds):
        order = list(range(len(cases)))
        order = order[r % len(order) :] + order[: r % len(order)]
        got: dict[int, float] = {}
        for i in order:
            gc.collect()
            start = time.perf_counter()
            cases[i]()
            got[i] = time.perf_counter() - start
        _record(rows, got)


async def measure_async(
    rows: list[Row], cases: list[Callable[[], Awaitable[Any]]], rounds: int, warmup: int = 1
) -> None:
    """The async twin of :func:`measure_sync`."""
    for _ in range(warmup):
        for case in cases:
            await case()
    for r in range(rounds):
        order = list(range(len(cases)))
        order = order[r % len(order) :] + order[: r % len(order)]
        got: dict[int, float] = {}
        for i in order:
            gc.collect()
            start = time.perf_counter()
            await cases[i]()
            got[i] = time.perf_counter() - start
        _record(rows, got)


def _record(rows: list[Row], got: dict[int, float]) -> None:
    for i, row in enumerate(rows):
        row.times.append(got[i])
        if i:
            row.ratios.append(got[i] / got[0])


# -- the raw floors ------------------------------------------------------------------


def raw_sync(client: httpx.Client | httpx2.Client, url: str, turns: int) -> None:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for i in range(turns):
        messages.append({"role": "user", "content": question(i)})
        response = client.post(url, json={"model": MODEL, "messages": messages})
        messages.append(response.json()["choices"][0]["message"])


async def raw_async(
    client: httpx.AsyncClient | httpx2.AsyncClient, url: str, turns: int, first: int = 0
) -> None:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for i in range(first, first + turns):
        messages.append({"role": "user", "content": question(i)})
        response = await client.post(url, json={"model": MODEL, "messages": messages})
        messages.append(response.json()["choices"][0]["message"])


def raw_stream(client: httpx.Client | httpx2.Client, url: str, turns: int) -> None:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for i in range(turns):
        messages.append({"role": "user", "content": question(i)})
        body = {"model": MODEL, "messages": messages, "stream": True}
        parts: list[str] = []
        with client.stream("POST", url, json=body) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                for choice in json.loads(data)["choices"]:
                    text = choice["delta"].get("content")
                    if text:
                        parts.append(text)
        messages.append({"role": "assistant", "content": "".join(parts)})


def history_dicts(n: int) -> list[dict[str, Any]]:
    """A system prompt and ``n`` turns as dicts: what a stateless caller holds."""
    out: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for i in range(n):
        out.append({"role": "user", "content": question(i)})
        out.append({"role": "assistant", "content": f"Item {i} works as documented."})
    return out


def raw_fresh(
    client: httpx.Client | httpx2.Client, url: str, history: list[Any], calls: int
) -> None:
    for i in range(calls):
        messages = [*history, {"role": "user", "content": question(i)}]
        response = client.post(url, json={"model": MODEL, "messages": messages})
        response.json()["choices"][0]["message"]


async def raw_astream(client: httpx.AsyncClient | httpx2.AsyncClient, url: str, turns: int) -> None:
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
    for i in range(turns):
        messages.append({"role": "user", "content": question(i)})
        body = {"model": MODEL, "messages": messages, "stream": True}
        parts: list[str] = []
        async with client.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                for choice in json.loads(data)["choices"]:
                    text = choice["delta"].get("content")
                    if text:
                        parts.append(text)
        messages.append({"role": "assistant", "content": "".join(parts)})


# -- convo ---------------------------------------------------------------------------


def convo_fresh(transport: OpenAITransport, history: list[Any], calls: int) -> None:
    # What a stateless server or a script does: a new conversation from dicts per call.
    for i in range(calls):
        Conversation(model=MODEL, transport=transport, messages=history).send(question(i))


async def convo_astream(transport: OpenAITransport, turns: int) -> None:
    conv = AsyncConversation(SYSTEM, model=MODEL, transport=transport)
    for i in range(turns):
        async for _ in conv.stream(question(i)):
            pass


def convo_sync(transport: OpenAITransport, turns: int, store: Any = None) -> None:
    conv = Conversation(SYSTEM, model=MODEL, transport=transport, store=store)
    for i in range(turns):
        conv.send(question(i))


async def convo_async(transport: OpenAITransport, turns: int, first: int = 0) -> None:
    conv = AsyncConversation(SYSTEM, model=MODEL, transport=transport)
    for i in range(first, first + turns):
        await conv.send(question(i))


def convo_stream(transport: OpenAITransport, turns: int) -> None:
    conv = Conversation(SYSTEM, model=MODEL, transport=transport)
    for i in range(turns):
        for _ in conv.stream(question(i)):
            pass


def _sync_clients() -> tuple[httpx.Client, httpx2.Client]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return (
        httpx.Client(headers=headers, limits=httpx.Limits(**LIMITS)),
        httpx2.Client(headers=headers, limits=httpx2.Limits(**LIMITS)),
    )


def _async_clients() -> tuple[httpx.AsyncClient, httpx2.AsyncClient]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return (
        httpx.AsyncClient(headers=headers, limits=httpx.Limits(**LIMITS)),
        httpx2.AsyncClient(headers=headers, limits=httpx2.Limits(**LIMITS)),
    )


def _sqlstore(directory: str) -> Any:
    try:
        from convo.store import SQLStore
    except ImportError as exc:  # the store is built separately; say so instead of failing
        print(f"  (no SQLStore: {exc})")
        return None
    return SQLStore(f"sqlite:///{directory}/bench.sqlite")


# -- the scenarios -------------------------------------------------------------------


def bench_sequential(base_url: str, turns: int, rounds: int) -> list[Row]:
    """Sync sends with a growing history: convo, convo + SQLite, vs raw httpx and httpx2."""
    url = f"{base_url}/chat/completions"
    hx, hx2 = _sync_clients()
    transport = OpenAITransport(base_url, api_key=API_KEY)
    rows = [
        Row("sync: raw httpx.Client (floor)", turns, None, None),
        Row("sync: raw httpx2.Client", turns, "raw httpx", None),
        Row("sync: Conversation.send", turns, "raw httpx", 1.1),
    ]
    cases: list[Case] = [
        lambda: raw_sync(hx, url, turns),
        lambda: raw_sync(hx2, url, turns),
        lambda: convo_sync(transport, turns),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = _sqlstore(tmp)
        if store is not None:
            rows.append(Row("sync: Conversation.send + SQLStore", turns, "raw httpx", 2.0))
            cases.append(lambda: convo_sync(transport, turns, store))
        measure_sync(rows, cases, rounds)
        if store is not None:
            store.close()
    # The same convo times against the httpx2 floor, paired by round.
    for row in rows[2:]:
        extra = Row(row.name.replace("sync:", "sync vs httpx2:"), turns, "raw httpx2", None)
        extra.times = row.times
        extra.ratios = [t / f for t, f in zip(row.times, rows[1].times, strict=True)]
        rows.append(extra)
    hx.close()
    hx2.close()
    transport.close()
    return rows


def bench_fresh(base_url: str, calls: int, rounds: int) -> list[Row]:
    """A new ``Conversation`` from dict messages for every call, vs posting the dicts."""
    url = f"{base_url}/chat/completions"
    hx, hx2 = _sync_clients()
    transport = OpenAITransport(base_url, api_key=API_KEY)
    rows: list[Row] = []
    cases: list[Case] = []
    for turns in (1, 10, 25):  # 2 + 1, 20 + 1 and 50 + 1 messages a request
        history = history_dicts(turns)
        n = len(history) + 1
        rows += [
            Row(f"fresh, {n} messages: raw httpx.Client (floor)", calls, None, None),
            Row(f"fresh, {n} messages: raw httpx2.Client", calls, "raw httpx", None),
            Row(f"fresh, {n} messages: Conversation(...).send", calls, "raw httpx", 1.0),
        ]
        cases += [
            lambda h=history: raw_fresh(hx, url, h, calls),
            lambda h=history: raw_fresh(hx2, url, h, calls),
            lambda h=history: convo_fresh(transport, h, calls),
        ]
    # Each size is its own group of three: measured together, ratios within the group.
    out: list[Row] = []
    for g in range(0, len(rows), 3):
        measure_sync(rows[g : g + 3], cases[g : g + 3], rounds)
        out += rows[g : g + 3]
    hx.close()
    hx2.close()
    transport.close()
    return out


def _async_trio(
    base_url: str,
    names: tuple[str, str, str],
    target: float,
    raw: Callable[[Any, str, int], Awaitable[None]],
    ours: Callable[[OpenAITransport, int], Awaitable[None]],
    turns: int,
    rounds: int,
) -> list[Row]:
    """Raw httpx (the floor), raw httpx2 and convo, each doing ``turns`` async turns."""
    url = f"{base_url}/chat/completions"

    async def main() -> list[Row]:
        hx, hx2 = _async_clients()
        transport = OpenAITransport(base_url, api_key=API_KEY)
        rows = [
            Row(names[0], turns, None, None),
            Row(names[1], turns, "raw httpx", None),
            Row(names[2], turns, "raw httpx", target),
        ]
        await measure_async(
            rows,
            [
                lambda: raw(hx, url, turns),
                lambda: raw(hx2, url, turns),
                lambda: ours(transport, turns),
            ],
            rounds,
        )
        await hx.aclose()
        await hx2.aclose()
        await transport.aclose()
        return rows

    return asyncio.run(main())


def bench_async_stream(base_url: str, turns: int, rounds: int) -> list[Row]:
    """Streamed 500-chunk replies through ``AsyncConversation.stream`` vs raw ``aiter_lines``."""
    names = (
        "async stream 500 chunks: raw httpx aiter_lines (floor)",
        "async stream 500 chunks: raw httpx2 aiter_lines",
        "async stream 500 chunks: AsyncConversation.stream",
    )
    return _async_trio(base_url, names, 1.0, raw_astream, convo_astream, turns, rounds)


def bench_async_sequential(base_url: str, turns: int, rounds: int) -> list[Row]:
    """Async sends with a growing history, one after another, vs raw AsyncClients."""
    names = (
        "async: raw httpx.AsyncClient (floor)",
        "async: raw httpx2.AsyncClient",
        "async: AsyncConversation.send",
    )
    return _async_trio(base_url, names, 1.1, raw_async, convo_async, turns, rounds)


def bench_stream(base_url: str, turns: int, rounds: int) -> list[Row]:
    """Streamed 500-chunk replies through ``conv.stream`` vs raw ``iter_lines`` + ``json.loads``."""
    url = f"{base_url}/chat/completions"
    hx, hx2 = _sync_clients()
    transport = OpenAITransport(base_url, api_key=API_KEY)
    rows = [
        Row("stream 500 chunks: raw httpx iter_lines (floor)", turns, None, None),
        Row("stream 500 chunks: raw httpx2 iter_lines", turns, "raw httpx", None),
        Row("stream 500 chunks: Conversation.stream", turns, "raw httpx", 1.1),
    ]
    measure_sync(
        rows,
        [
            lambda: raw_stream(hx, url, turns),
            lambda: raw_stream(hx2, url, turns),
            lambda: convo_stream(transport, turns),
        ],
        rounds,
    )
    hx.close()
    hx2.close()
    transport.close()
    return rows


def bench_concurrent(base_url: str, conversations: int, turns: int, rounds: int) -> list[Row]:
    """Many async conversations at once, one shared client / transport, ``asyncio.gather``."""
    url = f"{base_url}/chat/completions"
    calls = conversations * turns

    async def main() -> list[Row]:
        hx, hx2 = _async_clients()
        transport = OpenAITransport(base_url, api_key=API_KEY)

        def gather(one: Callable[[int], Awaitable[None]]) -> Callable[[], Awaitable[Any]]:
            return lambda: asyncio.gather(*(one(c) for c in range(conversations)))

        label = f"{conversations}x{turns} concurrent"
        rows = [
            Row(f"{label}: raw httpx.AsyncClient (floor)", calls, None, None),
            Row(f"{label}: raw httpx2.AsyncClient", calls, "raw httpx", None),
            Row(f"{label}: AsyncConversation.send", calls, "raw httpx", 1.0),
        ]
        # A light warm-up (one turn each) opens the connections; full rounds cost seconds.
        for client in (hx, hx2):
            await asyncio.gather(*(raw_async(client, url, 1) for _ in range(conversations)))
        await asyncio.gather(*(convo_async(transport, 1) for _ in range(conversations)))
        await measure_async(
            rows,
            [
                gather(lambda c: raw_async(hx, url, turns, c * turns)),
                gather(lambda c: raw_async(hx2, url, turns, c * turns)),
                gather(lambda c: convo_async(transport, turns, c * turns)),
            ],
            rounds,
            warmup=0,
        )
        rows[-1].note = "floor and convo use the same pool limits (1000 / 100 keep-alive)"
        await hx.aclose()
        await hx2.aclose()
        await transport.aclose()
        return rows

    return asyncio.run(main())


# -- memory, each in a fresh subprocess ----------------------------------------------


def _child(kind: str, base_url: str, conversations: int, turns: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--base-url",
            base_url,
            "--conversations",
            str(conversations),
            "--turns",
            str(turns),
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:  # one failed measurement should not hide the others
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def child_concurrent(kind: str, base_url: str, conversations: int, turns: int) -> dict[str, Any]:
    """Peak memory of one concurrent run: RSS growth and the tracemalloc peak."""
    url = f"{base_url}/chat/completions"

    async def main() -> None:
        if kind == "raw":
            client, _ = _async_clients()
            await asyncio.gather(
                *(raw_async(client, url, turns, c * turns) for c in range(conversations))
            )
            await client.aclose()
        else:
            transport = OpenAITransport(base_url, api_key=API_KEY)
            await asyncio.gather(
                *(convo_async(transport, turns, c * turns) for c in range(conversations))
            )
            await transport.aclose()

    # Warm imports and tokenizer first, so only the run itself is measured.
    asyncio.run(_warm(kind, base_url))
    rss_before = _peak_rss_kib()
    tracemalloc.start()
    asyncio.run(main())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = _peak_rss_kib()
    return {
        "maxrss_kib": rss_after,
        "rss_growth_kib": rss_after - rss_before,
        "traced_peak_kib": peak / 1024,
    }


def _peak_rss_kib() -> int:
    """This process's peak RSS. Linux's ``ru_maxrss`` survives ``exec``: a child forked
    from a big parent would report the parent's peak; ``VmHWM`` starts afresh."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _warm(kind: str, base_url: str) -> None:
    # Only the side being measured: max RSS is a high-water mark for the whole process.
    if kind == "raw":
        client, _ = _async_clients()
        await raw_async(client, f"{base_url}/chat/completions", 2)
        await client.aclose()
    else:
        async with OpenAITransport(base_url, api_key=API_KEY) as transport:
            await convo_async(transport, 2)


def child_idle(kind: str, count: int) -> dict[str, Any]:
    """Bytes per idle conversation holding a system prompt and four messages."""
    transport = OpenAITransport("http://127.0.0.1:9/v1", api_key=API_KEY)
    Conversation(SYSTEM, model=MODEL, transport=transport)  # imports done before tracing
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    keep: list[Any] = []
    for c in range(count):
        history = [
            {"role": "user", "content": question(c)},
            {"role": "assistant", "content": f"Answer {c}: it works as documented."},
            {"role": "user", "content": question(c + 1)},
            {"role": "assistant", "content": f"Answer {c + 1}: mind the edge cases."},
        ]
        if kind == "raw":
            keep.append([{"role": "system", "content": SYSTEM}, *history])
        else:
            keep.append(Conversation(SYSTEM, model=MODEL, transport=transport, messages=history))
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"bytes_per_conversation": (after - before) / count, "count": len(keep)}


def bench_memory(base_url: str, conversations: int, turns: int, idle: int) -> dict[str, Any]:
    return {
        "concurrent_raw": _child("concurrent-raw", base_url, conversations, turns),
        "concurrent_convo": _child("concurrent-convo", base_url, conversations, turns),
        "idle_raw": _child("idle-raw", base_url, idle, 0),
        "idle_convo": _child("idle-convo", base_url, idle, 0),
    }


# -- profile -------------------------------------------------------------------------


def profile(kind: str, base_url: str) -> None:
    """pyinstrument over convo's path only (the case, not the floors), after a warm-up."""
    from pyinstrument import Profiler

    transport = OpenAITransport(base_url, api_key=API_KEY)
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    if kind in ("sync", "stream"):
        for i in range(6):
            if i == 1:
                profiler.start()
            if kind == "sync":
                convo_sync(transport, 200)
            else:
                convo_stream(transport, 20)
        profiler.stop()
        transport.close()
    else:

        async def main() -> None:
            # One loop throughout: the transport's pooled connections belong to it.
            for i in range(6):
                if i == 1:
                    profiler.start()
                if kind == "async":
                    await convo_async(transport, 200)
                else:
                    await asyncio.gather(*(convo_async(transport, 5, c * 5) for c in range(200)))
            profiler.stop()
            await transport.aclose()

        asyncio.run(main())
    print(profiler.output_text(unicode=False, color=False, show_all=False))


# -- output --------------------------------------------------------------------------


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | us/call median [min-max] | ratio vs floor median [min-max] | target |",
        "|---|---|---|---|",
    ]
    for r in rows:
        timing = f"{r['median']:.0f} [{r['min']:.0f}-{r['max']:.0f}]"
        ratio = "floor"
        if "ratio" in r:
            q = r["ratio"]
            ratio = f"{q['median']:.2f}x [{q['min']:.2f}-{q['max']:.2f}] vs {r['floor']}"
        target = (
            ""
            if r["target"] is None
            else f"<= {r['target']}x " + ("met" if r["met"] else "NOT met")
        )
        lines.append(f"| {r['name']} | {timing} | {ratio} | {target} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--profile", choices=["sync", "async", "stream", "concurrent"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--conversations", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--turns", type=int, default=5, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, _, who = args.child.partition("-")
        if kind == "concurrent":
            result = child_concurrent(who, args.base_url, args.conversations, args.turns)
        else:
            result = child_idle(who, args.conversations)
        print(json.dumps(result))
        return

    quick = args.quick or os.environ.get("CONVO_BENCH_QUICK") == "1"
    rounds = args.rounds or (3 if quick else 7)
    turns = 50 if quick else 200
    with serve() as base_url:
        if args.profile:
            profile(args.profile, base_url)
            return
        started = time.perf_counter()
        server = ceiling(base_url)
        print("server ceiling:\n" + describe(server), flush=True)
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        rows: list[Row] = []
        scenarios: list[tuple[str, Callable[[], list[Row]]]] = [
            ("sync sequential", lambda: bench_sequential(base_url, turns, rounds)),
            ("async sequential", lambda: bench_async_sequential(base_url, turns, rounds)),
            ("fresh", lambda: bench_fresh(base_url, 50 if quick else 200, rounds)),
            ("stream", lambda: bench_stream(base_url, 10 if quick else 20, rounds)),
            ("async stream", lambda: bench_async_stream(base_url, 10 if quick else 20, rounds)),
            ("concurrent", lambda: bench_concurrent(base_url, 200, 5, 2 if quick else 3)),
        ]
        for title, run in scenarios:
            t0, cpu0 = time.perf_counter(), server_cpu(port)
            got = run()
            rows += got
            wall, cpu = time.perf_counter() - t0, server_cpu(port) - cpu0
            server[f"busy_{title.replace(' ', '_')}"] = cpu / wall
            print(f"  {title}: {wall:.1f} s, the server busy {cpu / wall:.0%} of it", flush=True)
        memory = bench_memory(base_url, 200, 5, 2_000 if quick else 10_000)
    data = [r.as_dict() for r in rows]
    path = os.environ.get("CONVO_BENCH_JSON")
    if not path:  # under run.py the rows become the table in latest.md
        print()
        print(table(data))
    print()
    print(memory_text(memory))
    print(f"\nwall time {time.perf_counter() - started:.0f} s")
    if path:
        Path(path).write_text(
            json.dumps({"rows": data, "server": server, "memory": memory}, indent=2)
        )


def memory_text(memory: dict[str, Any]) -> str:
    failed = [f"- {k}: failed ({v['error']})" for k, v in memory.items() if "error" in v]
    if failed:
        return "\n".join(["memory:", *failed])
    raw, conv = memory["concurrent_raw"], memory["concurrent_convo"]
    idle_raw, idle_conv = memory["idle_raw"], memory["idle_convo"]
    return "\n".join(
        [
            "memory (fresh subprocess each):",
            f"- 200x5 concurrent, peak traced: raw httpx {raw['traced_peak_kib'] / 1024:.1f} MiB, "
            f"convo {conv['traced_peak_kib'] / 1024:.1f} MiB; max RSS raw "
            f"{raw['maxrss_kib'] / 1024:.0f} MiB (+{raw['rss_growth_kib'] / 1024:.0f} in the run), "
            f"convo {conv['maxrss_kib'] / 1024:.0f} MiB (+{conv['rss_growth_kib'] / 1024:.0f})",
            f"- idle conversation (system + 4 messages), {idle_conv['count']:,} of them: "
            f"convo {idle_conv['bytes_per_conversation'] / 1024:.1f} KiB each, "
            f"the same messages as plain dicts {idle_raw['bytes_per_conversation'] / 1024:.1f} KiB",
        ]
    )


if __name__ == "__main__":
    main()
