"""The I/O-free core of the HTTP transport, shared by its sync and async drivers.

Everything that decides something lives here, once: the HTTP request a
:class:`~convo.Request` becomes, what a response means (a reply, or which error),
how event-stream bytes become chunks, and whether and how long to wait before the
next attempt. The drivers in ``openai.py`` only move bytes and sleep.

Where real servers differ from OpenAI's documentation, the rule is here and tested
(the body-level rules are in :mod:`convo.wire`):

* a server that ignores ``"stream": true`` and answers one JSON completion is
  replayed as chunks; a server that streams to a non-stream request is assembled;
* error bodies come as ``{"error": {...}}`` (OpenAI, llama.cpp, with ``code`` a
  number there), ``{"error": "text"}``, ``{"detail": ...}`` or ``{"message": ...}``;
* a 5xx page that is not JSON (a proxy's HTML 502) is a :class:`GatewayError`,
  both a server error (retried) and a protocol error (with a snippet);
* named events other than ``error`` (``event: ping``) and empty ``data:`` lines are
  keep-alives;
* servers that do not know ``stream_options`` (older Azure API versions and vLLM
  releases, Mistral, proxies in front of older upstreams) refuse the whole request
  with a 400 or 422 naming it: the request is sent again at once without it, and
  the transport's :class:`Capabilities` remember not to ask again.

Where requests go and how bodies are encoded is in :mod:`convo.transports._endpoint`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import httpx2
import orjson

from convo.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConvoError,
    GatewayError,
    IncompleteStreamError,
    ProtocolError,
    StreamError,
    status_error,
)
from convo.reply import Reply
from convo.request import Request
from convo.streaming import RESPONSE_KEY, StreamAssembler, chunks_from_reply
from convo.transports._endpoint import (
    STREAM_ACCEPT,
    Endpoint,
    content_type,
    encode_json,
    merge_headers,
    response_info,
)
from convo.transports.base import Chunk
from convo.transports.retry import next_delay, retry_after, should_retry
from convo.transports.sse import ServerSentEvent, SSEDecoder
from convo.wire import parse_completion, snippet

__all__ = [
    "RESPONSE_KEY",
    "STREAM_ACCEPT",
    "Call",
    "Capabilities",
    "ChunkDecoder",
    "Endpoint",
    "content_type",
    "encode_json",
    "is_success",
    "merge_headers",
    "response_info",
]

logger = logging.getLogger("convo.transports.openai")  # the drivers' logger
# What convo.wire.build_body adds to a streamed body; a different value is the user's.
_USAGE = "stream_options"
_USAGE_ASKED = {"include_usage": True}


class Capabilities:
    """What the server behind one transport accepts, learned from its answers.

    ``stream_usage``: whether streamed bodies carry ``stream_options.include_usage``.
    On by default; turned off, for this transport only, the first time the server
    refuses the field (see :meth:`Call.retry_delay`). It only ever goes from True to
    False, a single attribute store: threads that race on it agree, so no lock.

    >>> Capabilities().stream_usage
    True
    """

    __slots__ = ("stream_usage",)

    def __init__(self, *, stream_usage: bool = True) -> None:
        self.stream_usage = stream_usage


class Call:
    """One request across its attempts: encoded once, then told how each attempt went.

    The request's :class:`~convo.request.RequestOptions` are applied here: its extra
    headers and query, and its ``max_retries`` over the transport's. So is the
    transport's :class:`Capabilities`: the ``stream_options`` convo added to a body is
    left out where the server refuses it.
    """

    __slots__ = (
        "_body",
        "_capabilities",
        "_usage",
        "content",
        "delivered",
        "endpoint",
        "extra_headers",
        "headers",
        "max_retries",
        "retries",
        "shown",
        "timeout",
        "url",
    )

    def __init__(
        self,
        endpoint: Endpoint,
        request: Request,
        *,
        stream: bool,
        max_retries: int,
        capabilities: Capabilities | None = None,
    ):
        body = request.payload  # read only: encoded, never edited
        if stream and body.get("stream") is not True:
            body = {**body, "stream": True}
        # Whether the body carries the usage option convo adds (not one of the user's).
        self._usage = stream and capabilities is not None and body.get(_USAGE) == _USAGE_ASKED
        if self._usage and capabilities is not None and not capabilities.stream_usage:
            # Built before the server refused it, or by someone who did not ask.
            body = {k: v for k, v in body.items() if k != _USAGE}
            self._usage = False
        self._body = body
        self._capabilities = capabilities
        options = request.options
        self.endpoint = endpoint
        self.url = endpoint.url_for(options.extra_query)
        self.shown = endpoint.scrub(self.url)  # for logs and errors: no password
        self.headers = endpoint.headers(stream)
        self.extra_headers: dict[str, str] | None = None
        if options.extra_headers:
            self.extra_headers = merge_headers({}, options.extra_headers)
            self.headers = {**self.headers, **self.extra_headers}
        self.content = encode_json(body)
        timeout = options.timeout
        if timeout is not None and not isinstance(timeout, httpx2.Timeout):
            timeout = httpx2.Timeout(timeout)
        self.timeout: httpx2.Timeout | None = timeout
        self.max_retries = max_retries if options.max_retries is None else options.max_retries
        self.retries = 0
        self.delivered = False  # a chunk reached the caller: the call can no longer be replayed

    def reply(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """The reply in a successful response (a JSON completion, or a whole event stream)."""
        info = response_info(headers)
        kind = content_type(headers)
        try:
            if kind == "text/event-stream":
                decoder = ChunkDecoder(kind, self.endpoint)
                assembler = StreamAssembler(request_id=info["request_id"])
                for chunk in (*decoder.feed(body), *decoder.finish()):
                    assembler.feed(chunk)
                reply = assembler.finish().model_copy(update={"headers": info["headers"]})
            else:
                data = _json_body(kind, body, self.endpoint)
                # The headers go in as the reply is made: a copy to add them cost
                # 21,000 instructions a call (callgrind).
                reply = parse_completion(
                    data, request_id=info["request_id"], headers=info["headers"]
                )
        except ConvoError as exc:
            raise self.endpoint.scrub_error(exc) from None
        return reply

    def status_failure(
        self, status: int, headers: Mapping[str, str], body: bytes, *, now: float
    ) -> APIStatusError:
        """The typed error for a response with an error status, its text scrubbed.

        A body that is not the API's JSON (a proxy's HTML page, a plain-text 429) is
        quoted, short and scrubbed, in the message itself, so a log line shows what
        answered; the wait the server asked for is kept on every status.
        """
        request_id = headers.get("x-request-id")
        wait = retry_after(headers, now=now)
        text = self.endpoint.scrub(body.decode("utf-8", "replace"))
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            kind = content_type(headers) or "no content type"
            quoted = snippet(text)
            what = f"{_reason(status)}; the body is {kind}, not the API's JSON"
            message = f"{what}: {quoted!r}" if quoted else what
            if status >= 500:
                return GatewayError(
                    message,
                    status_code=status,
                    request_id=request_id,
                    snippet=quoted,
                    body=quoted,
                    retry_after=wait,
                )
            return status_error(
                status, message, request_id=request_id, body=quoted, retry_after=wait
            )
        data = self.endpoint.scrub_all(data)
        error = data.get("error")
        fields = error if isinstance(error, Mapping) else data
        message = fields.get("message") or fields.get("detail") or error
        return status_error(
            status,
            str(message) if message else _reason(status),
            type=_text(fields.get("type")),
            code=_text(fields.get("code")),
            param=_text(fields.get("param")),
            request_id=request_id,
            body=data,
            retry_after=wait,
        )

    def connection_failure(self, exc: httpx2.HTTPError) -> APIConnectionError:
        """The typed error for an httpx failure.

        The httpx exception is described, not chained: it holds the request, and the
        request holds the Authorization header.
        """
        detail = self.endpoint.scrub(str(exc)) or "no detail"
        if isinstance(exc, httpx2.TimeoutException):
            return APITimeoutError(f"POST {self.shown} timed out ({type(exc).__name__}: {detail})")
        return APIConnectionError(f"POST {self.shown} failed ({type(exc).__name__}: {detail})")

    def retry_delay(
        self, error: Exception, headers: Mapping[str, str], *, now: float, jitter: float
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``error``.

        A refusal of the usage option convo added is answered once, at once, and not
        counted as a retry: the body is encoded again without it, and the transport's
        capabilities say so from now on.
        """
        if self._refuses_usage(error):
            self._body = {k: v for k, v in self._body.items() if k != _USAGE}
            self.content = encode_json(self._body)
            self._usage = False
            if self._capabilities is not None:
                self._capabilities.stream_usage = False
            logger.info(
                "POST %s: the server refuses stream_options; sent again without it, "
                "and streams from this transport no longer ask for usage",
                self.shown,
            )
            return 0.0
        if isinstance(error, APIStatusError):
            if not should_retry(error.status_code, headers):
                return None
        elif self.delivered:
            return None  # never replay a stream the caller has started reading
        delay = next_delay(
            self.retries, max_retries=self.max_retries, headers=headers, now=now, jitter=jitter
        )
        if delay is not None:
            self.retries += 1
        return delay

    def _refuses_usage(self, error: Exception) -> bool:
        # A 400 or 422 that names the field: Azure's "Unrecognized request argument
        # supplied: stream_options", OpenAI's "Unknown parameter: 'stream_options'.",
        # pydantic's extra_forbidden at ('body', 'stream_options') (vLLM, Mistral).
        if not self._usage or not isinstance(error, APIStatusError):
            return False
        if error.status_code not in (400, 422):
            return False
        said = (error.message, error.param, error.body)
        return any(_USAGE in (x if isinstance(x, str) else repr(x)) for x in said if x)

    def decoder(self, headers: Mapping[str, str]) -> ChunkDecoder:
        return ChunkDecoder(content_type(headers), self.endpoint, response_info(headers))


class ChunkDecoder:
    """Turns a streamed body into chunk dicts, raising typed errors for what is wrong.

    An event stream is decoded as it arrives; a JSON completion (a server that
    ignored ``stream``) is replayed as chunks at the end; any other content type is a
    :class:`ProtocolError`. ``info`` (the response's request id and headers) rides on
    the first chunk, under :data:`~convo.streaming.RESPONSE_KEY`.

    The end of the stream has one rule, here: ``data: [DONE]`` ends it well, whatever
    the chunks said (as the OpenAI SDK reads it); a body that ends without ``[DONE]``
    is whole only if every choice had a ``finish_reason``; otherwise it is an
    :class:`IncompleteStreamError`.

    >>> d = ChunkDecoder("text/event-stream", Endpoint("http://x", None, {}))
    >>> d.feed(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\\n\\n')
    [{'choices': [{'index': 0, 'delta': {}, 'finish_reason': 'stop'}]}]
    >>> d.feed(b"data: [DONE]\\n\\n"), d.done
    ([], True)
    """

    __slots__ = ("_body", "_endpoint", "_finished", "_info", "_kind", "_sse", "done")

    def __init__(self, kind: str, endpoint: Endpoint, info: dict[str, Any] | None = None):
        # No content type at all: read it as an event stream, the stream's own format.
        self._kind = kind or "text/event-stream"
        self._endpoint = endpoint
        self._info = info
        self._sse = SSEDecoder()
        self._body: list[bytes] = []
        self._finished: dict[Any, bool] = {}  # choice index -> a finish_reason arrived
        self.done = False

    def feed(self, data: bytes) -> list[Chunk]:
        # Every error a stream's content raises leaves through scrub_error, the same
        # as a non-streamed reply's (issue #13): snippets, chained decode errors, and
        # the body parse_completion quotes may all hold a key the server echoed.
        try:
            return self._feed(data)
        except ConvoError as exc:
            raise self._endpoint.scrub_error(exc)  # noqa: B904 - the same exception, cleaned

    def finish(self) -> list[Chunk]:
        """The body ended: the chunks still held, or why the stream is incomplete."""
        try:
            return self._finish()
        except ConvoError as exc:
            raise self._endpoint.scrub_error(exc)  # noqa: B904 - the same exception, cleaned

    def _feed(self, data: bytes) -> list[Chunk]:
        if self._kind != "text/event-stream":
            self._body.append(data)
            if "json" not in self._kind:
                raise _unexpected(self._kind, data, self._endpoint)
            return []
        return self._chunks(self._sse.feed(data))

    def _finish(self) -> list[Chunk]:
        if self._kind != "text/event-stream":
            body = b"".join(self._body)
            data = _json_body(self._kind, body, self._endpoint)
            reply = parse_completion(data, request_id=(self._info or {}).get("request_id"))
            return self._chunks_out(chunks_from_reply(reply, pieces=1))
        chunks = self._chunks(self._sse.flush())
        if not self.done and (not self._finished or not all(self._finished.values())):
            raise IncompleteStreamError(
                "the stream ended without [DONE] before every choice had a finish_reason"
            )
        return chunks

    def _chunks(self, events: list[ServerSentEvent]) -> list[Chunk]:
        out: list[Chunk] = []
        for event in events:
            if self.done:
                continue  # whatever follows [DONE] is read, so the connection can be reused
            chunk = self._chunk(event)
            if chunk is not None:
                out.append(chunk)
        return self._chunks_out(out) if self._info is not None and out else out

    def _chunks_out(self, out: list[Chunk]) -> list[Chunk]:
        if self._info is not None and out:
            out[0][RESPONSE_KEY] = self._info
            self._info = None
        return out

    def _chunk(self, event: ServerSentEvent) -> Chunk | None:
        data = event.data
        if data[:1].isspace() or data[-1:].isspace():  # rare: copy only when needed
            data = data.strip()
        if event.event == "error":
            raise self._stream_error(data)
        if event.event != "message" or not data:
            return None
        if data == "[DONE]":
            self.done = True
            return None
        try:
            chunk = orjson.loads(data)
        except ValueError:
            raise ProtocolError(
                "malformed JSON in the event stream", snippet=snippet(self._endpoint.scrub(data))
            ) from None
        if not isinstance(chunk, dict):
            raise ProtocolError(
                "an event is not a JSON object", snippet=snippet(self._endpoint.scrub(data))
            )
        if chunk.get("error") is not None:
            raise self._stream_error(data)
        for choice in chunk.get("choices") or ():
            if type(choice) is not dict:  # JSON objects are dicts; an ABC check costs more
                continue
            index = choice.get("index", 0)
            if choice.get("finish_reason"):
                self._finished[index] = True
            else:
                self._finished.setdefault(index, False)
        return chunk

    def _stream_error(self, data: str) -> StreamError:
        text = self._endpoint.scrub(data)
        try:
            obj: Any = json.loads(text)
        except ValueError:
            obj = text
        error = obj.get("error", obj) if isinstance(obj, Mapping) else obj
        if isinstance(error, Mapping):
            message = error.get("message") or snippet(error)
            return StreamError(
                f"the server reported an error mid-stream: {message}",
                type=_text(error.get("type")),
                code=_text(error.get("code")),
            )
        return StreamError(f"the server reported an error mid-stream: {snippet(error)}")


def _json_body(kind: str, body: bytes, endpoint: Endpoint) -> Any:
    if kind and "json" not in kind:
        raise _unexpected(kind, body, endpoint)
    try:
        return orjson.loads(body)
    except ValueError:
        raise ProtocolError(
            "the response is not valid JSON", snippet=snippet(endpoint.scrub(_text_of(body)))
        ) from None


def _unexpected(kind: str, body: bytes, endpoint: Endpoint) -> ProtocolError:
    return ProtocolError(
        f"expected JSON or an event stream, got {kind}",
        snippet=snippet(endpoint.scrub(_text_of(body))),
    )


def _text_of(body: bytes) -> str:
    return body[:2000].decode("utf-8", "replace")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def is_success(status: int) -> bool:
    return 200 <= status < 300
