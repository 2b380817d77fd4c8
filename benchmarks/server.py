"""A fast local Chat Completions server for the benchmarks, so the client is what is measured.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` request bodies) on an
``asyncio.Protocol`` and answers every ``POST .../chat/completions`` with a reply built
once at start-up: a JSON ``chat.completion`` with ``usage``, or, when the body asks for
``"stream": true``, a 500-chunk event stream (one HTTP chunk per event, as real servers
send them, then a usage chunk and ``[DONE]``). It never parses the JSON it is sent: the
request costs a header scan and a byte search, so the server is not the bottleneck.

Run it on its own (``python benchmarks/server.py --port 8000``) or start it from a
benchmark with :func:`serve`, which runs it in a subprocess (its own core, its own GIL)
and yields the base URL::

    with serve() as base_url:
        httpx.post(f"{base_url}/chat/completions", json={"messages": []}).json()

``python benchmarks/server.py --ceiling`` measures the server's own ceiling with a raw
socket client (sequential, and many connections at once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import cast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wire_formats

STREAM_CHUNKS = 500
REPLY_TEXT = "Sure. Here is a short, plain answer to what you asked, in one sentence."
USAGE = {"prompt_tokens": 120, "completion_tokens": 16, "total_tokens": 136}
_STREAM_FLAG = b'"stream":true'


def _completion() -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY_TEXT},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": USAGE,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _event(delta: dict[str, object], finish: str | None, usage: object = None) -> bytes:
    chunk: dict[str, object] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        if delta or finish
        else [],
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"


def stream_events(chunks: int = STREAM_CHUNKS) -> list[bytes]:
    """The SSE events of the streamed reply: ``chunks`` content deltas, then finish, usage, DONE."""
    events = [_event({"role": "assistant", "content": ""}, None)]
    events += [_event({"content": f"tok{i} "}, None) for i in range(chunks - 1)]
    events.append(_event({}, "stop"))
    events.append(_event({}, None, USAGE))
    events.append(b"data: [DONE]\n\n")
    return events


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _responses() -> tuple[bytes, bytes, bytes]:
    body = _completion()
    plain = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"x-request-id: req-bench\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )
    stream = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"x-request-id: req-bench\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"".join(_http_chunk(e) for e in stream_events())
        + b"0\r\n\r\n"
    )
    missing = (
        b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
    )
    return plain, stream, missing


PLAIN, STREAM, NOT_FOUND = _responses()


def _wrapped(body: bytes, events: list[bytes]) -> tuple[bytes, bytes]:
    plain = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"x-request-id: req-bench\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )
    stream = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        b"x-request-id: req-bench\r\ntransfer-encoding: chunked\r\n\r\n"
        + b"".join(_http_chunk(e) for e in events)
        + b"0\r\n\r\n"
    )
    return plain, stream


# The other wire formats (benchmarks/bench_formats.py): path -> (plain, stream).
FORMATS = {
    b"/messages ": _wrapped(*wire_formats.anthropic(REPLY_TEXT, STREAM_CHUNKS)),
    b"/responses ": _wrapped(*wire_formats.responses(REPLY_TEXT, STREAM_CHUNKS)),
}


def _cpu_response() -> bytes:
    # The server's own CPU seconds, so a client can tell what the server cost it.
    body = b"%.6f" % time.process_time()
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


class _ChatProtocol(asyncio.Protocol):
    """One keep-alive connection: buffer bytes, answer each whole request in order."""

    __slots__ = ("_buf", "_transport")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but write the same way.
        self._transport = cast(asyncio.Transport, transport)
        self._buf = b""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            length = 0
            # Header names are matched case-insensitively; httpx sends lower-case ones.
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = lower.find(b"\r\n", at + 2)
                length = int(lower[at + 17 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(buf) < total:
                break
            body = buf[end + 4 : total]
            buf = buf[total:]
            if head.startswith(b"GET /cpu "):
                out.append(_cpu_response())
            elif not head.startswith(b"POST "):
                out.append(NOT_FOUND)
            elif b"/chat/completions " not in head[:200]:
                line = head[:200]
                kind = next((v for k, v in FORMATS.items() if k in line), None)
                if kind is None:
                    out.append(NOT_FOUND)
                else:
                    out.append(kind[1] if _STREAM_FLAG in body else kind[0])
            elif _STREAM_FLAG in body or b'"stream": true' in body:
                out.append(STREAM)
            else:
                out.append(PLAIN)
        self._buf = buf
        if out:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))


async def _serve(host: str, port: int, ready: bool) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_ChatProtocol, host, port, backlog=4096, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    if ready:
        print(f"READY {bound}", flush=True)
    async with server:
        await server.serve_forever()


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        # Optional: with uvloop the server spends about a third of the CPU per request.
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run(host: str = "127.0.0.1", port: int = 0, ready: bool = True) -> None:
    """Serve until killed; prints ``READY <port>`` once listening."""
    loop = _new_loop()
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_until_complete(_serve(host, port, ready))


@contextlib.contextmanager
def serve(host: str = "127.0.0.1") -> Iterator[str]:
    """Start the server in a subprocess; yield its ``/v1`` base URL; stop it on exit."""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--host", host, "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"the benchmark server did not start (said {line!r})")
        yield f"http://{host}:{int(line.split()[1])}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- the server's own ceiling ---------------------------------------------------------

_REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
)


def _request(stream: bool) -> bytes:
    body = json.dumps(
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": stream},
        separators=(",", ":"),
    ).encode()
    return _REQUEST % (len(body), body)


def _read_reply(sock: socket.socket, expected: int) -> None:
    got = 0
    while got < expected:
        data = sock.recv(1 << 20)
        if not data:
            raise RuntimeError("the server closed the connection")
        got += len(data)


def ceiling_sequential(port: int, n: int, stream: bool = False) -> float:
    """Requests per second, one connection, one request at a time, raw socket client."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req, size = _request(stream), len(STREAM if stream else PLAIN)
    for _ in range(min(n, 200)):
        sock.sendall(req)
        _read_reply(sock, size)
    start = time.perf_counter()
    for _ in range(n):
        sock.sendall(req)
        _read_reply(sock, size)
    elapsed = time.perf_counter() - start
    sock.close()
    return n / elapsed


async def _ceiling_concurrent(port: int, connections: int, per_connection: int) -> float:
    req, size = _request(False), len(PLAIN)

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(per_connection):
            writer.write(req)
            got = 0
            while got < size:
                got += len(await reader.read(1 << 16))
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(connections)))
    return connections * per_connection / (time.perf_counter() - start)


def ceiling_concurrent(port: int, connections: int = 200, per_connection: int = 50) -> float:
    """Requests per second with ``connections`` keep-alive connections at once (asyncio client)."""
    loop = _new_loop()
    try:
        return loop.run_until_complete(_ceiling_concurrent(port, connections, per_connection))
    finally:
        loop.close()


def server_cpu(port: int) -> float:
    """The server process's CPU seconds so far (``GET /cpu``)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /cpu HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 8:
            data += sock.recv(4096)
    return float(data.partition(b"\r\n\r\n")[2])


def ceiling(base_url: str) -> dict[str, float]:
    """The server's ceiling, measured against a running server.

    ``*_rps`` are what a raw socket client got: on loopback a ping-pong of two processes
    is bound by wake-up latency more than by either side's work, so they vary with the
    machine's load. ``*_cpu_us`` are the server's own CPU time per request, the cost
    that matters: its real ceiling on one core is 1e6 / that.
    """
    port = int(base_url.rsplit(":", 1)[1].split("/")[0])
    out: dict[str, float] = {}
    kinds: list[tuple[str, int, Callable[[int], float]]] = [
        ("sequential", 6000, lambda n: ceiling_sequential(port, n)),
        ("sequential_stream", 600, lambda n: ceiling_sequential(port, n, stream=True)),
        ("concurrent_200", 200 * 30, lambda n: ceiling_concurrent(port, 200, n // 200)),
    ]
    for name, n, work in kinds:
        work(n // 10)  # warm: connections, caches
        before = server_cpu(port)
        out[f"{name}_rps"] = work(n)
        out[f"{name}_cpu_us"] = (server_cpu(port) - before) / n * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ceiling", action="store_true", help="measure the server's ceiling")
    args = parser.parse_args()
    if not args.ceiling:
        run(args.host, args.port)
        return
    with serve(args.host) as base_url:
        print(describe(ceiling(base_url)))


def describe(c: dict[str, float]) -> str:
    """One line per kind of request: the server's CPU per request, and the client's rate."""
    lines = []
    for name in ("sequential", "sequential_stream", "concurrent_200"):
        cpu, rps = c[f"{name}_cpu_us"], c[f"{name}_rps"]
        lines.append(
            f"{name:>18}: server CPU {cpu:6.1f} us/request "
            f"(ceiling {1e6 / cpu:8.0f}/s on one core); raw socket client got {rps:7.0f}/s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
