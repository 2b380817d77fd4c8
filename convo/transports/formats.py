"""Wire formats other than Chat Completions, behind one small HTTP driver.

A :class:`WireFormat` is I/O-free: it turns a :class:`~convo.Request` (whose ``body``
is always in Chat Completions form, as the core builds it) into another API's JSON,
and that API's answers back into a :class:`~convo.Reply` or into
``chat.completion.chunk`` dicts. :class:`FormatTransport` only moves bytes: it uses
the public retry policy (:mod:`convo.transports.retry`), the public SSE decoder
(:mod:`convo.transports.sse`) and the error tree, and never the Chat Completions
transport's internals. So a new wire format is a translation, and the core does not
learn that it exists.

>>> class Echo(WireFormat):
...     path = "/echo"
>>> t = FormatTransport(Echo(), "http://127.0.0.1:9/v1", api_key="sk-hidden")
>>> t, t.url
(FormatTransport(url='http://127.0.0.1:9/v1/echo'), 'http://127.0.0.1:9/v1/echo')
>>> t.close()
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
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
    ParameterError,
    ProtocolError,
    StreamError,
    status_error,
)
from convo.redact import scrub_error
from convo.reply import Reply
from convo.request import Request
from convo.transports.base import Chunk, Transport
from convo.transports.pool import LoopClients
from convo.transports.retry import next_delay, retry_after, should_retry
from convo.transports.sse import ServerSentEvent, SSEDecoder
from convo.wire import snippet

__all__ = ["EventTranslator", "FormatTransport", "WireFormat", "scrub"]

DEFAULT_TIMEOUT = httpx2.Timeout(600.0, connect=5.0)
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)


def scrub(text: str, secret: str | None) -> str:
    """``text`` without the secret (servers echo keys in 401 bodies).

    >>> scrub("bad key sk-1", "sk-1")
    'bad key ***'
    """
    return text.replace(secret, "***") if secret else text


class EventTranslator:
    """One stream's named events in, Chat Completions chunks out (state per stream)."""

    def feed(self, event: ServerSentEvent) -> list[Chunk]:
        raise NotImplementedError

    def finish(self) -> list[Chunk]:
        """The stream's body ended; raise :class:`~convo.errors.IncompleteStreamError`
        if the format's terminal event never came."""
        return []


class WireFormat:
    """How one API's JSON maps to convo's; subclasses override what they speak."""

    #: Appended to the base URL.
    path: str = ""
    #: What the API calls the key header; ``None`` sends ``Authorization: Bearer``.
    key_header: str | None = None
    #: Set when the key lives in an environment variable, else the key is optional.
    structured_output = "json_schema"

    def headers(self) -> dict[str, str]:
        """Extra headers every request carries (a version header, say)."""
        return {}

    def encode(self, request: Request, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def reply(self, data: Any, *, request_id: str | None) -> Reply:
        raise NotImplementedError

    def events(self) -> EventTranslator:
        raise NotImplementedError

    def error_fields(self, data: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
        """``(message, type, code)`` of an error body; both OpenAI's and Anthropic's
        put them under ``"error"``."""
        error = data.get("error")
        fields = error if isinstance(error, Mapping) else data
        message = fields.get("message") or fields.get("detail") or error
        return (
            None if message is None else str(message),
            _text(fields.get("type")),
            _text(fields.get("code")),
        )


class _Send:
    """How one call goes out, decided once before any I/O: the request's options
    (:class:`~convo.request.RequestOptions`) over the transport's settings."""

    __slots__ = ("content", "headers", "max_retries", "timeout", "url")

    def __init__(self, t: FormatTransport, request: Request, stream: bool) -> None:
        options = request.options
        self.content = orjson.dumps(t.format.encode(request, stream=stream))
        self.url = t._url
        if options.extra_query:
            self.url = str(httpx2.URL(t._url).copy_merge_params(dict(options.extra_query)))
        # Lower-cased so a user's "accept" replaces the stream's; httpx merges these
        # with the client's headers without case too.
        base = t._stream_headers if stream else {}
        headers = {k.lower(): v for k, v in (*base.items(), *options.extra_headers.items())}
        self.headers = headers or None
        timeout = options.timeout
        if timeout is not None and not isinstance(timeout, httpx2.Timeout):
            timeout = httpx2.Timeout(timeout)
        self.timeout: Any = httpx2.USE_CLIENT_DEFAULT if timeout is None else timeout
        self.max_retries = t.max_retries if options.max_retries is None else options.max_retries


class FormatTransport(Transport):
    """Speaks a :class:`WireFormat` over pooled ``httpx2`` clients, sync and async.

    Retries are the Chat Completions transport's policy (:mod:`convo.transports.retry`):
    408/409/429/5xx and connection failures, with backoff or the server's wait, and
    never once a streamed chunk reached the caller. A request's options (timeout, extra
    headers and query, max_retries) win over the transport's.
    """

    def __init__(
        self,
        format: WireFormat,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ParameterError(
                f"base_url must start with http:// or https://, got {base_url!r}", param="base_url"
            )
        if api_key is not None and not (api_key.isascii() and api_key.isprintable()):
            raise ParameterError(
                "api_key has characters an HTTP header cannot carry", param="api_key"
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ParameterError(
                f"max_retries must be an int >= 0, got {max_retries!r}", param="max_retries"
            )
        self.format = format
        self.structured_output = format.structured_output
        self._url = base_url.rstrip("/") + format.path  # a password in it is basic auth
        # A password in the URL is a secret like the key: *** wherever it would show.
        parsed = httpx2.URL(self._url)
        user, _, raw = parsed.userinfo.decode("ascii", "replace").partition(":")
        self._secrets = tuple(x for x in dict.fromkeys((api_key, raw, parsed.password)) if x)
        self.base_url, self.url = base_url.rstrip("/"), self._url
        if raw:
            self.base_url, self.url = (
                u.replace(f"{user}:{raw}@", f"{user}:***@", 1) for u in (self.base_url, self.url)
            )
        self.max_retries = max_retries
        self.timeout = timeout if isinstance(timeout, httpx2.Timeout) else httpx2.Timeout(timeout)
        # Names lower-cased, so a user's header replaces a default whatever its case.
        common = {"content-type": "application/json", "user-agent": "convo"}
        if api_key is not None:
            key = format.key_header
            common[(key or "authorization").lower()] = api_key if key else f"Bearer {api_key}"
        for name, value in (*format.headers().items(), *(headers or {}).items()):
            common[name.lower()] = value
        self._headers = {"accept": "application/json", **common}
        self._stream_headers = {"accept": "text/event-stream"}
        self._client: httpx2.Client | None = None
        # One async client per event loop (see convo.transports.pool).
        self._async_clients = LoopClients(
            lambda: httpx2.AsyncClient(timeout=self.timeout, limits=_LIMITS, headers=self._headers)
        )
        self._lock = threading.Lock()
        # Injectable so tests record waits instead of sleeping.
        self._sleep: Callable[[float], object] = time.sleep
        self._asleep: Callable[[float], Awaitable[object]] = asyncio.sleep
        self._clock: Callable[[], float] = time.time
        self._random: Callable[[], float] = random.random

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    # -- clients --

    def _sync_client(self) -> httpx2.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx2.Client(
                    timeout=self.timeout, limits=_LIMITS, headers=self._headers
                )
            return self._client

    async def _async_client(self) -> httpx2.AsyncClient:
        return await self._async_clients.get()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        self.close()
        await self._async_clients.aclose()  # another loop's client closes on that loop

    # -- decisions (no I/O) --

    def _reply(self, headers: Mapping[str, str], body: bytes) -> Reply:
        try:
            data = orjson.loads(body)
        except ValueError:
            raise ProtocolError(
                "the response is not valid JSON", snippet=snippet(self._scrub(_head(body)))
            ) from None
        try:
            return self.format.reply(data, request_id=headers.get("x-request-id"))
        except ConvoError as exc:
            raise self._scrub_error(exc) from None

    # A stream's events go through these two, sync and async, so every error their
    # content raises (a format's translator quotes events, a decode error keeps the
    # document) leaves scrubbed, the same as a non-streamed reply's (issue #13).

    def _translate(self, events: EventTranslator, event: ServerSentEvent) -> list[Chunk]:
        try:
            return events.feed(_checked(event, self._scrub))
        except ConvoError as exc:
            raise self._scrub_error(exc)  # noqa: B904 - the same exception, cleaned

    def _end(self, events: EventTranslator) -> list[Chunk]:
        try:
            return events.finish()
        except ConvoError as exc:
            raise self._scrub_error(exc)  # noqa: B904 - the same exception, cleaned

    def _scrub_error(self, error: ConvoError) -> ConvoError:
        return scrub_error(error, self._scrub) if self._secrets else error

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = scrub(text, secret)
        return text

    def _status_failure(self, status: int, headers: Mapping[str, str], body: bytes) -> Exception:
        request_id = headers.get("x-request-id") or headers.get("request-id")
        wait = retry_after(headers, now=self._clock())
        text = self._scrub(body.decode("utf-8", "replace"))
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        if not isinstance(data, Mapping):
            # Quoted in the message, so a log line shows what answered (a proxy's page).
            quoted = snippet(text)
            ctype = headers.get("content-type", "").partition(";")[0].strip() or "no content type"
            what = f"{_reason(status)}; the body is {ctype}, not the API's JSON"
            said = f"{what}: {quoted!r}" if quoted else what
            if status >= 500:
                return GatewayError(
                    said,
                    status_code=status,
                    request_id=request_id,
                    snippet=quoted,
                    body=quoted,
                    retry_after=wait,
                )
            return status_error(status, said, request_id=request_id, body=quoted, retry_after=wait)
        message, kind, code = self.format.error_fields(data)
        return status_error(
            status,
            message or _reason(status),
            type=kind,
            code=code,
            request_id=request_id,
            body=data,
            retry_after=wait,
        )

    def _connection_failure(self, exc: httpx2.HTTPError) -> APIConnectionError:
        # Described, not chained: the httpx exception holds the request and its key.
        detail = self._scrub(str(exc)) or "no detail"
        if isinstance(exc, httpx2.TimeoutException):
            return APITimeoutError(f"POST {self.url} timed out ({type(exc).__name__}: {detail})")
        return APIConnectionError(f"POST {self.url} failed ({type(exc).__name__}: {detail})")

    def _delay(
        self, send: _Send, retries: int, error: Exception, headers: Mapping[str, str], done: bool
    ) -> float:
        if isinstance(error, APIStatusError):
            if not should_retry(error.status_code, headers):
                raise error
        elif done or not isinstance(error, APIConnectionError):
            raise error  # a stream that delivered a chunk is never replayed; others are final
        now, jitter = self._clock(), self._random()
        delay = next_delay(
            retries, max_retries=send.max_retries, headers=headers, now=now, jitter=jitter
        )
        if delay is None:
            raise error
        return delay

    def _stream_check(self, headers: Mapping[str, str], first: bytes) -> None:
        kind = headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind and kind != "text/event-stream":
            raise ProtocolError(
                f"expected an event stream, got {kind}", snippet=snippet(self._scrub(_head(first)))
            )

    # -- blocking --

    def complete(self, request: Request) -> Reply:
        send = _Send(self, request, False)
        client = self._sync_client()
        retries = 0
        while True:
            headers: Mapping[str, str] = {}
            try:
                response = client.post(
                    send.url, content=send.content, headers=send.headers, timeout=send.timeout
                )
            except httpx2.HTTPError as exc:
                error: Exception = self._connection_failure(exc)
            else:
                headers = response.headers
                if 200 <= response.status_code < 300:
                    return self._reply(headers, response.content)
                error = self._status_failure(response.status_code, headers, response.content)
            self._sleep(self._delay(send, retries, error, headers, False))
            retries += 1

    def stream(self, request: Request) -> Iterator[Chunk]:
        send = _Send(self, request, True)
        client = self._sync_client()
        retries = 0
        delivered = False
        while True:
            headers: Mapping[str, str] = {}
            try:
                with client.stream(
                    "POST",
                    send.url,
                    content=send.content,
                    headers=send.headers,
                    timeout=send.timeout,
                ) as response:
                    headers = response.headers
                    if 200 <= response.status_code < 300:
                        sse, events = SSEDecoder(), self.format.events()
                        for data in response.iter_bytes():
                            if not delivered:
                                self._stream_check(headers, data)
                            for event in sse.feed(data):
                                for chunk in self._translate(events, event):
                                    delivered = True
                                    yield chunk
                        for event in sse.flush():
                            yield from self._translate(events, event)
                        yield from self._end(events)
                        return
                    error: Exception = self._status_failure(
                        response.status_code, headers, response.read()
                    )
            except httpx2.HTTPError as exc:
                error = self._connection_failure(exc)
            self._sleep(self._delay(send, retries, error, headers, delivered))
            retries += 1

    # -- async --

    async def acomplete(self, request: Request) -> Reply:
        send = _Send(self, request, False)
        client = await self._async_client()
        retries = 0
        while True:
            headers: Mapping[str, str] = {}
            try:
                response = await client.post(
                    send.url, content=send.content, headers=send.headers, timeout=send.timeout
                )
            except httpx2.HTTPError as exc:
                error: Exception = self._connection_failure(exc)
            else:
                headers = response.headers
                if 200 <= response.status_code < 300:
                    return self._reply(headers, response.content)
                error = self._status_failure(response.status_code, headers, response.content)
            await self._asleep(self._delay(send, retries, error, headers, False))
            retries += 1

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        send = _Send(self, request, True)
        client = await self._async_client()
        retries = 0
        delivered = False
        while True:
            headers: Mapping[str, str] = {}
            try:
                async with client.stream(
                    "POST",
                    send.url,
                    content=send.content,
                    headers=send.headers,
                    timeout=send.timeout,
                ) as response:
                    headers = response.headers
                    if 200 <= response.status_code < 300:
                        sse, events = SSEDecoder(), self.format.events()
                        async for data in response.aiter_bytes():
                            if not delivered:
                                self._stream_check(headers, data)
                            for event in sse.feed(data):
                                for chunk in self._translate(events, event):
                                    delivered = True
                                    yield chunk
                        for event in sse.flush():
                            for chunk in self._translate(events, event):
                                yield chunk
                        for chunk in self._end(events):
                            yield chunk
                        return
                    error: Exception = self._status_failure(
                        response.status_code, headers, await response.aread()
                    )
            except httpx2.HTTPError as exc:
                error = self._connection_failure(exc)
            await self._asleep(self._delay(send, retries, error, headers, delivered))
            retries += 1


def _checked(event: ServerSentEvent, clean: Callable[[str], str]) -> ServerSentEvent:
    """The event, or the StreamError it announces (``event: error``, both formats)."""
    if event.event != "error":
        return event
    text = clean(event.data)
    try:
        obj: Any = json.loads(text)
    except ValueError:
        raise StreamError(f"the server reported an error mid-stream: {snippet(text)}") from None
    error = obj.get("error", obj) if isinstance(obj, Mapping) else obj
    if isinstance(error, Mapping):
        raise StreamError(
            f"the server reported an error mid-stream: {error.get('message') or snippet(error)}",
            type=_text(error.get("type")),
            code=_text(error.get("code")),
        )
    raise StreamError(f"the server reported an error mid-stream: {snippet(error)}")


def event_json(event: ServerSentEvent, clean: Callable[[str], str] = str) -> dict[str, Any]:
    """An event's data as a JSON object, or a :class:`ProtocolError`."""
    try:
        data = orjson.loads(event.data)
    except ValueError:
        raise ProtocolError(
            "malformed JSON in the event stream", snippet=snippet(clean(event.data))
        ) from None
    if not isinstance(data, dict):
        raise ProtocolError("an event is not a JSON object", snippet=snippet(clean(event.data)))
    return data


def _head(body: bytes) -> str:
    return body[:2000].decode("utf-8", "replace")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
