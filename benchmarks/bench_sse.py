"""convo's SSE decoder against httpx-sse's and httpx2's, over the same bytes.

A realistic chat stream (chunk events of ~200 bytes, keep-alive comments, [DONE])
is cut into network-sized pieces and decoded by each; the floor is the least work
any decoder must do (split on blank lines, decode UTF-8). Ratios are time / floor,
median of rounds; nothing is asserted.

    python benchmarks/bench_sse.py
"""

from __future__ import annotations

import codecs
import json
import statistics
import time
from collections.abc import Callable

import httpx2._sse as httpx2_sse
from httpx_sse._decoders import (
    SSEDecoder as HttpxSSEEventDecoder,
    SSELineDecoder as HttpxSSELineDecoder,
)

from convo.transports.sse import SSEDecoder


def make_stream(events: int = 5000, piece: int = 1400) -> list[bytes]:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "wörd "}, "finish_reason": None}],
    }
    body = (
        b"".join(
            (b": ping\n\n" if i % 100 == 0 else b"")
            + b"data: "
            + json.dumps(chunk, ensure_ascii=False).encode()
            + b"\n\n"
            for i in range(events)
        )
        + b"data: [DONE]\n\n"
    )
    return [body[i : i + piece] for i in range(0, len(body), piece)]


def floor(pieces: list[bytes]) -> int:
    buffer, count = b"", 0
    for p in pieces:
        buffer += p
        *events, buffer = buffer.split(b"\n\n")
        count += sum(1 for e in events if e.decode().startswith("data:"))
    return count


def convo(pieces: list[bytes]) -> int:
    d = SSEDecoder()
    return sum(len(d.feed(p)) for p in pieces) + len(d.flush())


def httpx_sse(pieces: list[bytes]) -> int:
    text = codecs.getincrementaldecoder("utf-8")()
    lines, events, count = HttpxSSELineDecoder(), HttpxSSEEventDecoder(), 0
    for p in pieces:
        for line in lines.decode(text.decode(p)):
            count += events.decode(line) is not None
    return count


def httpx2_parser(pieces: list[bytes]) -> int:
    text = codecs.getincrementaldecoder("utf-8")()
    parser = httpx2_sse._SSEParser(httpx2_sse.DEFAULT_MAX_EVENT_SIZE_BYTES)
    return sum(1 for p in pieces for _ in parser.decode(text.decode(p)))


def bench(fn: Callable[[list[bytes]], int], pieces: list[bytes]) -> float:
    start = time.perf_counter()
    fn(pieces)
    return time.perf_counter() - start


def main(rounds: int = 15) -> None:
    pieces = make_stream()
    cases = {"convo SSEDecoder": convo, "httpx-sse": httpx_sse, "httpx2 _SSEParser": httpx2_parser}
    assert len({fn(pieces) for fn in cases.values()}) == 1, "the decoders disagree"
    ratios: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        base = bench(floor, pieces)
        for name, fn in cases.items():
            ratios[name].append(bench(fn, pieces) / base)
    print(f"{'decoder':<20} {'median x floor':>15} {'min':>6} {'max':>6}")
    for name, r in ratios.items():
        print(f"{name:<20} {statistics.median(r):>15.2f} {min(r):>6.2f} {max(r):>6.2f}")


if __name__ == "__main__":
    main()
