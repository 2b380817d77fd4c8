"""What tracing costs a turn: OpenTelemetry on (an SDK tracer provider, spans kept in
memory) against off (no provider configured), in-process, with no network.

The transport answers from memory, so the ratio shows tracing against convo's own work
per turn - the most it can weigh; over a real network it is a much smaller share. The
cases: a ``send``, a stream of 100 chunks, and a turn with one tool round. "off" also
reports ``telemetry.start`` alone (what a turn pays when no provider is configured) as a
share of the turn. Each round measures every case interleaved, on and off, and gives
paired ratios; the table shows their median and spread.

Run: ``python benchmarks/bench_tracing.py [--rounds N] [--turns N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import convo
from convo import telemetry
from convo.transports.testing import tool_calls

CHUNKS = [{"choices": [{"index": 0, "delta": {"content": f"w{i} "}}]} for i in range(100)]
CHUNKS.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})


@convo.tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _answer(request: convo.Request) -> Any:
    if request.stream:
        return CHUNKS
    last = request.messages[-1]
    if last.role == "user" and last.text.startswith("add"):
        return tool_calls(("add", {"a": 1, "b": 2}))
    return "ok"


def _cases(turns: int) -> dict[str, Callable[[], None]]:
    def send() -> None:
        conv = convo.Conversation(model="gpt-4o-mini", transport=convo.FunctionTransport(_answer))
        for _ in range(turns):
            conv.send("hello there")

    def stream() -> None:
        conv = convo.Conversation(model="gpt-4o-mini", transport=convo.FunctionTransport(_answer))
        for _ in range(turns // 10 or 1):
            for _ in conv.stream("stream please"):
                pass

    def tools() -> None:
        conv = convo.Conversation(
            model="gpt-4o-mini", transport=convo.FunctionTransport(_answer), tools=[add]
        )
        for _ in range(turns // 2 or 1):
            conv.send("add 1 and 2")

    return {"send": send, "stream 100 chunks": stream, "tool round": tools}


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    if os.environ.get("CONVO_BENCH_QUICK") == "1":
        args.rounds, args.turns = 2, 40
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    off_provider = trace.get_tracer_provider()  # the API's default: nothing configured
    cases = _cases(args.turns)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.rounds + 1):  # the first round warms up
        for name, fn in cases.items():
            # Switching the provider the way a configured application has it: the
            # API's global getter answers with it.
            trace.get_tracer_provider = lambda: provider  # type: ignore[assignment]
            on = _timed(fn)
            exporter.clear()
            trace.get_tracer_provider = lambda: off_provider  # type: ignore[assignment]
            off = _timed(fn)
            results[name].append((on, off))
    ctx = convo.Conversation(model="m", transport=convo.ScriptedTransport())._context(
        {}, stream=False
    )
    start_cost = (
        min(
            _timed(lambda: [telemetry.start(ctx, "id", None) for _ in range(10_000)])
            for _ in range(5)
        )
        / 10_000
    )
    rows = []
    print(f"median of {args.rounds} paired rounds, {args.turns} turns per send case")
    print(f"{'case':<22}{'off ms':>10}{'on ms':>10}{'on/off':>8}")
    for name, pairs in results.items():
        pairs = pairs[1:]
        on_ms = [p[0] * 1e3 for p in pairs]
        ratios = [p[0] / p[1] for p in pairs]
        spread = {
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
        }
        off_ms = statistics.median(p[1] * 1e3 for p in pairs)
        print(f"{name:<22}{off_ms:>10.2f}{statistics.median(on_ms):>10.2f}{spread['median']:>8.2f}")
        rows.append(
            {
                "name": f"tracing on, {name} vs tracing off",
                "unit": "ms",
                "median": statistics.median(on_ms),
                "min": min(on_ms),
                "max": max(on_ms),
                "ratio": spread,
                "floor": "tracing off",
            }
        )
    send_off = statistics.median(p[1] for p in results["send"][1:]) / args.turns
    share = start_cost / send_off
    print(
        f"tracing off: telemetry.start costs {start_cost * 1e9:.0f} ns per turn, "
        f"{share:.2%} of an in-memory send"
    )
    path = os.environ.get("CONVO_BENCH_JSON")
    if path:
        Path(path).write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
