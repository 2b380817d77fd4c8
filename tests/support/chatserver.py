"""A real Chat Completions server on 127.0.0.1, for tests and benchmarks.

Hand-written HTTP/1.1 over asyncio, with keep-alive, in a background thread (or
its own process: ``python -m tests.support.chatserver --port 8000``). By default
it answers every ``POST .../chat/completions`` (and, in their own formats,
``.../messages`` and ``.../responses``: see :mod:`tests.support.formats`)
deterministically: ``"echo: "`` plus the last user message, ``n`` choices (choice
``i > 0`` gets a ``" #i"`` suffix), ``max_tokens`` counted in words (then
``finish_reason: "length"``), usage counted in words, JSON or an event stream as
asked, usage in the stream when ``stream_options.include_usage`` is set. A queue of
scripted items overrides the default one request at a time, to inject faults::

    with ChatServer() as server:
        server.script(error(429, "slow down", headers={"retry-after": "1"}), Answer("hi"))
        OpenAITransport(server.url).complete(request).text   # 'hi', after one retry
        server.requests[-1].json["model"]

Items: :class:`Answer` (a reply rendered for the request: text and/or tool calls),
:class:`Respond` (a literal response), :class:`Events` (a literal event stream, with
delays, a disconnect, a reset or a stall after some events, with or without
``[DONE]``), :class:`Drop` (close or reset before any response), :class:`Raw`
(bytes, then close); :func:`error` and :func:`html_page` build common responses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeAlias

from tests.support import formats

__all__ = [
    "REFUSALS",
    "Answer",
    "ChatServer",
    "Drop",
    "Events",
    "Raw",
    "Recorded",
    "Respond",
    "error",
    "html_page",
    "refusal",
]


# -- what can be scripted ----------------------------------------------------------------


@dataclass
class Answer:
    """A reply rendered for the request it answers: JSON or a stream, ``n`` choices.

    ``tool_calls`` holds ``(name, arguments)`` pairs (arguments a dict or a raw string).
    ``reasoning`` is sent only by the Responses route, as a ``reasoning`` item (with
    its encrypted content when the request's ``include`` asks for it).
    """

    content: str | None = None
    tool_calls: Sequence[tuple[str, Any]] = ()
    reasoning: str | None = None
    finish_reason: str | None = None
    delay: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Respond:
    """A literal HTTP response; a dict or list body is sent as JSON."""

    status: int = 200
    body: bytes | str | Mapping[str, Any] | list[Any] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0


@dataclass
class Events:
    """A literal event stream.

    Each event is a dict (sent as ``data: <json>``), a str (raw event-stream text,
    sent as is) or bytes. ``delay`` waits before each event; after
    ``disconnect_after`` events the connection is dropped (``reset``: with a TCP RST);
    after ``stall_after`` events the server goes silent until the client hangs up; after
    ``hold_after`` events it waits until the test sets ``hold`` (a ``threading.Event``),
    so a test can look at a half-streamed reply without racing a timer.
    """

    events: Sequence[Mapping[str, Any] | str | bytes]
    done: bool = True
    delay: float = 0.0
    disconnect_after: int | None = None
    reset: bool = False
    stall_after: int | None = None
    hold_after: int | None = None
    hold: threading.Event | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"


@dataclass
class Drop:
    """Close the connection without answering (``reset``: with a TCP RST)."""

    reset: bool = False


@dataclass
class Raw:
    """Write these bytes as the whole answer, then close the connection."""

    data: bytes


Item: TypeAlias = Answer | Respond | Events | Drop | Raw


def error(
    status: int,
    message: str,
    *,
    type: str | None = None,
    code: str | int | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Respond:
    """An OpenAI-style error response."""
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return Respond(status, body, headers=dict(headers or {}))


def html_page(status: int = 502) -> Respond:
    """The HTML error page a proxy sends."""
    phrase = HTTPStatus(status).phrase
    page = (
        f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return Respond(status, page, content_type="text/html")


# How real servers refuse a body field they do not know, as seen in their issue trackers.
REFUSALS = ("azure", "openai", "vllm", "mistral")


def refusal(field: str, server: str = "azure") -> Respond:
    """The answer ``server`` (one of :data:`REFUSALS`) gives to a body with ``field``."""
    if server == "azure":  # Azure OpenAI, older api-versions
        says = f"Unrecognized request argument supplied: {field}"
        return error(400, says, type="invalid_request_error")
    if server == "openai":  # OpenAI's own wording, relayed by proxies to older upstreams
        says = f"Unknown parameter: '{field}'."
        return error(400, says, type="invalid_request_error", param=field, code="unknown_parameter")
    forbidden = {
        "type": "extra_forbidden",
        "loc": ("body", field),
        "msg": "Extra inputs are not permitted",
    }
    if server == "vllm":  # 2024 releases: extra="forbid", pydantic's errors as text
        text = str([forbidden])
        body = {"object": "error", "message": text, "type": "BadRequestError", "code": 400}
        return Respond(400, body)
    if server == "mistral":  # FastAPI's 422, the pydantic errors under "message"
        detail = [{**forbidden, "loc": ["body", field]}]
        return Respond(422, {"object": "error", "message": {"detail": detail}, "code": None})
    raise ValueError(f"no refusal known for {server!r}")


@dataclass
class Recorded:
    """A request as it reached the server."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    header_lines: list[tuple[str, str]] = field(default_factory=list)  # as sent, repeats kept

    @property
    def json(self) -> Any:
        return json.loads(self.body)


# -- the default answer ------------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return ""


def _echo(body: Mapping[str, Any]) -> Answer:
    users = [m for m in body.get("messages") or () if m.get("role") == "user"]
    return Answer(f"echo: {_text_of(users[-1].get('content')) if users else ''}")


class _Renderer:
    """Renders an :class:`Answer` for one request, as a JSON body or a list of chunks."""

    def __init__(self, answer: Answer, body: Mapping[str, Any], number: int):
        self.body = body
        self.id = f"chatcmpl-{number}"
        self.model = body.get("model", "chatserver")
        self.reasoning = answer.reasoning
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        self.choices: list[tuple[str | None, list[dict[str, Any]], str]] = []
        for i in range(int(body.get("n") or 1)):
            text = answer.content
            if text is not None and i:
                text = f"{text} #{i}"
            reason = answer.finish_reason or ("tool_calls" if answer.tool_calls else "stop")
            if text is not None and isinstance(limit, int) and _words(text) > limit:
                text, reason = " ".join(text.split(" ")[:limit]), "length"
            calls = [
                {
                    "id": f"call_{number}_{i}_{k}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for k, (name, args) in enumerate(answer.tool_calls)
            ]
            self.choices.append((text, calls, reason))
        prompt = sum(_words(_text_of(m.get("content"))) for m in body.get("messages") or ())
        completion = sum(_words(text or "") for text, _, _ in self.choices)
        self.usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def completion(self) -> dict[str, Any]:
        choices = []
        for i, (text, calls, reason) in enumerate(self.choices):
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                message["tool_calls"] = calls
            choices.append(
                {"index": i, "message": message, "finish_reason": reason, "logprobs": None}
            )
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": 1700000000,
            "model": self.model,
            "choices": choices,
            "usage": self.usage,
            "system_fingerprint": "chatserver",
        }

    def chunks(self) -> list[dict[str, Any]]:
        head = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": self.model,
        }

        def chunk(i: int, delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            return {**head, "choices": [{"index": i, "delta": delta, "finish_reason": reason}]}

        out = []
        for i, (text, calls, reason) in enumerate(self.choices):
            out.append(chunk(i, {"role": "assistant", "content": ""}))
            if text:
                words = text.split(" ")
                out.extend(chunk(i, {"content": w + " "}) for w in words[:-1])
                out.append(chunk(i, {"content": words[-1]}))
            for k, call in enumerate(calls):
                args = call["function"]["arguments"]
                half = len(args) // 2
                first = {
                    "index": k,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                out.append(chunk(i, {"tool_calls": [first]}))
                for piece in (args[:half], args[half:]):
                    out.append(
                        chunk(i, {"tool_calls": [{"index": k, "function": {"arguments": piece}}]})
                    )
            out.append(chunk(i, {}, reason))
        options = self.body.get("stream_options") or {}
        if options.get("include_usage"):
            out.append({**head, "choices": [], "usage": self.usage})
        return out


# -- the server --------------------------------------------------------------------------


class ChatServer:
    """The server; ``start()`` (or ``with``) runs it in a daemon thread on an ephemeral port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        cors: bool = False,
        refuse: Mapping[str, Respond] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        # refuse: a body field this server does not know, and how it says so (see
        # refusal()); a request carrying it gets that answer, and the script waits.
        self.refuse = dict(refuse or {})
        # cors: answer preflights and allow any origin, as a browser page on another
        # origin (the playground) needs; GET .../models then lists one model.
        self.cors = cors
        self.requests: list[Recorded] = []
        self.open_connections = 0
        self.total_connections = 0
        self._script: deque[Item] = deque()
        self._numbers = itertools.count(1)
        self._idle = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *items: Item) -> None:
        """Queue answers for the next requests, one item per request."""
        self._script.extend(items)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def reset(self) -> None:
        """Forget scripted items and recorded requests."""
        self._script.clear()
        self.requests.clear()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no connection is open; False if some still are after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self.open_connections == 0, timeout)

    # -- lifecycle --

    def start(self) -> ChatServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._connection, self.host, self.port, backlog=2048)
                )
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="chatserver", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP --

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        with self._idle:
            self.open_connections += 1
            self.total_connections += 1
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # the server is stopping; ending quietly keeps asyncio from logging it
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            with self._idle:
                self.open_connections -= 1
                self._idle.notify_all()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether the connection stays open."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        header_lines = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
                header_lines.append((name.strip().lower(), value.strip()))
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        recorded = Recorded(method, path, headers, body, header_lines)
        self.requests.append(recorded)
        if self.cors and method == "OPTIONS":
            await _respond(writer, Respond(204, headers=_CORS), 0)
            return True
        if self.cors and method == "GET" and path.rstrip("/").endswith("/models"):
            models = {"object": "list", "data": [{"id": "chatserver", "object": "model"}]}
            await _respond(writer, Respond(200, models, headers=_CORS), 0)
            return True
        refused = self._refusal(recorded)
        if refused is not None:
            await _respond(writer, refused, next(self._numbers))
            return headers.get("connection", "").lower() != "close"
        item = self._script.popleft() if self._script else None
        if self.cors and isinstance(item, Respond | Events | Answer):
            item = dataclasses.replace(item, headers={**_CORS, **item.headers})
        keep = await self._answer(item, recorded, reader, writer)
        return keep and headers.get("connection", "").lower() != "close"

    def _refusal(self, req: Recorded) -> Respond | None:
        if not self.refuse or req.method != "POST":
            return None
        try:
            body = req.json
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        return next((r for name, r in self.refuse.items() if name in body), None)

    async def _answer(
        self,
        item: Item | None,
        req: Recorded,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        number = next(self._numbers)
        if isinstance(item, Drop):
            await _drop(writer, item.reset)
            return False
        if isinstance(item, Raw):
            writer.write(item.data)
            await writer.drain()
            return False
        if isinstance(item, Respond):
            await asyncio.sleep(item.delay)
            await _respond(writer, item, number)
            return True
        if isinstance(item, Events):
            return await _events(reader, writer, item, number)
        kind = formats.kind_of(req.path)
        if req.method != "POST" or kind is None:
            await _respond(writer, error(404, f"no route {req.method} {req.path}"), number)
            return True
        try:
            raw = req.json
        except ValueError:
            await _respond(
                writer, error(400, "the body is not JSON", type="invalid_request_error"), number
            )
            return True
        body = formats.chat_view(kind, raw)
        answer = item if isinstance(item, Answer) else _echo(body)
        if self.cors and item is None:
            answer.headers = dict(_CORS)
        await asyncio.sleep(answer.delay)
        rendered = _Renderer(answer, body, number)
        if kind != "chat":
            # Anthropic Messages or OpenAI Responses: the same answer, in that format.
            refused = formats.refusal(kind, raw)
            if refused is not None:
                await _respond(writer, refused, number)
                return True
            data, named = formats.render(kind, rendered, raw)
            if named:
                stream = Events(named, done=False, headers=answer.headers)
                return await _events(reader, writer, stream, number)
            await _respond(writer, Respond(200, data, headers=answer.headers), number)
            return True
        if body.get("stream") is True:
            events = Events(rendered.chunks(), headers=answer.headers)
            return await _events(reader, writer, events, number)
        await _respond(writer, Respond(200, rendered.completion(), headers=answer.headers), number)
        return True


_CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "GET, POST, OPTIONS",
    "access-control-allow-headers": "authorization, content-type",
    "access-control-expose-headers": "retry-after, x-request-id",
    "access-control-max-age": "600",
}


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        data = await reader.readexactly(size + 2)
        if not size:
            return b"".join(parts)
        parts.append(data[:-2])


def _head(status: int, headers: Mapping[str, str], number: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}"]
    merged = {"x-request-id": f"req_{number}", **headers}
    lines.extend(f"{k}: {v}" for k, v in merged.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _respond(writer: asyncio.StreamWriter, item: Respond, number: int) -> None:
    body = item.body
    kind = item.content_type
    if isinstance(body, Mapping | list):
        body, kind = json.dumps(body).encode(), kind or "application/json"
    elif isinstance(body, str):
        body = body.encode()
    headers = {
        "content-type": kind or "text/plain",
        **item.headers,
        "content-length": str(len(body)),
    }
    writer.write(_head(item.status, headers, number) + body)
    await writer.drain()


async def _events(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, item: Events, number: int
) -> bool:
    headers = {
        "content-type": item.content_type,
        "cache-control": "no-cache",
        **item.headers,
        "transfer-encoding": "chunked",
    }
    writer.write(_head(item.status, headers, number))
    events = [_frame(e) for e in item.events]
    if item.done:
        events.append(b"data: [DONE]\n\n")
    for sent, data in enumerate(events):
        if sent == item.disconnect_after:
            await _drop(writer, item.reset)
            return False
        if sent == item.stall_after:
            await writer.drain()
            await reader.read()  # silent until the client hangs up (or the server stops)
            return False
        if sent == item.hold_after and item.hold is not None:
            await writer.drain()
            await asyncio.to_thread(item.hold.wait, 60)
        if item.delay:
            await asyncio.sleep(item.delay)
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        if item.delay:
            await writer.drain()
    if item.disconnect_after is not None and item.disconnect_after >= len(events):
        await _drop(writer, item.reset)
        return False
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


def _frame(event: Mapping[str, Any] | str | bytes) -> bytes:
    if isinstance(event, bytes):
        return event
    if isinstance(event, str):
        return event.encode()
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


async def _drop(writer: asyncio.StreamWriter, reset: bool) -> None:
    """Close the connection after what was written; ``reset`` sends a TCP RST, not a FIN."""
    await writer.drain()
    if reset:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the test Chat Completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    server = ChatServer(args.host, args.port).start()
    print(server.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    server.stop()


if __name__ == "__main__":
    main()
