"""The HTTP transport: any server that speaks OpenAI's Chat Completions API.

OpenAI itself, proxies, vLLM, llama.cpp's server, Ollama: ``POST
{base_url}/chat/completions``, JSON or server-sent events back. Retries, SSE and
error mapping live in the I/O-free core (:mod:`convo.transports._http`,
:mod:`convo.transports.retry`, :mod:`convo.transports.sse`); the methods below only
drive an ``httpx2`` client, blocking or async.

>>> t = OpenAITransport("http://127.0.0.1:8000/v1", api_key="sk-never-shown")
>>> t
OpenAITransport(base_url='http://127.0.0.1:8000/v1')
>>> t.close()
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import httpx2
from pydantic import SecretStr

from convo.errors import ParameterError
from convo.reply import Reply
from convo.request import Request
from convo.transports._http import STREAM_ACCEPT, Call, Capabilities, Endpoint, is_success
from convo.transports.base import Chunk, Transport
from convo.transports.pool import LoopClients

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "OpenAITransport"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = httpx2.Timeout(600.0, connect=5.0)
"""As the OpenAI SDK: ten minutes for a long generation, five seconds to connect."""

# Many conversations share one transport; httpx's default pool (100) would queue them.
_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)

logger = logging.getLogger("convo.transports.openai")


class OpenAITransport(Transport):
    """Talks to ``{base_url}/chat/completions`` with pooled connections, sync and async.

    With no ``base_url`` it reads ``OPENAI_BASE_URL``, then uses OpenAI's; with no
    ``api_key`` it reads ``OPENAI_API_KEY``, else sends none (local servers need none);
    ``api_key=""`` sends none whatever the environment says. ``context_window`` is the
    window of the model it serves, when the caller knows it: the budget then uses it.
    ``client`` / ``async_client`` inject your own ``httpx2`` clients (proxies,
    certificates, transports); the transport closes only the clients it created.
    ``headers`` replace the defaults whatever their case (an ``authorization`` of yours
    is the only one sent); ``default_query`` is added to every request's URL, after
    any query in ``base_url`` (Azure's ``?api-version=``). Streams ask for usage
    (``stream_options``) until the server refuses the field: that request is sent
    again without it, and this transport stops asking (:attr:`stream_usage`);
    ``stream_usage=False`` never asks.

    Example::

        with OpenAITransport("http://localhost:8080/v1") as transport:
            conv = Conversation("Be brief.", model="llama", transport=transport)
            print(conv.send("Hi").text)
    """

    structured_output = "json_schema"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx2.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        stream_usage: bool = True,
        client: httpx2.Client | None = None,
        async_client: httpx2.AsyncClient | None = None,
        context_window: int | None = None,
    ) -> None:
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise ParameterError(
                f"base_url must start with http:// or https://, got {base_url!r}", param="base_url"
            )
        if api_key is None:
            api_key = os.environ.get("OPENAI_API_KEY") or None
        if api_key is not None and not (api_key.isascii() and api_key.isprintable()):
            # Said without the key: an HTTP header can only carry printable ASCII.
            raise ParameterError(
                "api_key has characters an HTTP header cannot carry", param="api_key"
            )
        if context_window is not None and (
            isinstance(context_window, bool)
            or not isinstance(context_window, int)
            or context_window < 1
        ):
            raise ParameterError(
                f"context_window must be an int >= 1, got {context_window!r}",
                param="context_window",
            )
        self._context_window = context_window
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ParameterError(
                f"max_retries must be an int >= 0, got {max_retries!r}", param="max_retries"
            )
        self._endpoint = Endpoint(
            base_url,
            SecretStr(api_key) if api_key else None,
            dict(headers or {}),
            default_query,
        )
        self._capabilities = Capabilities(stream_usage=stream_usage)
        self.timeout = timeout if isinstance(timeout, httpx2.Timeout) else httpx2.Timeout(timeout)
        self.max_retries = max_retries
        self._client = client
        self._async_client = async_client
        self._owns_client = client is None
        self._owns_async_client = async_client is None
        # Clients this transport makes: one per event loop (see convo.transports.pool).
        self._async_clients = LoopClients(
            lambda: httpx2.AsyncClient(
                timeout=self.timeout, limits=_LIMITS, headers=self._endpoint.client_headers
            )
        )
        # A client given by the user keeps its own timeout unless one was asked for here.
        self._timeout_given = timeout is not DEFAULT_TIMEOUT
        self._lock = threading.Lock()
        # Injectable so tests can record waits instead of sleeping, and pin time and jitter.
        self._sleep: Callable[[float], object] = time.sleep
        self._asleep: Callable[[float], Awaitable[object]] = asyncio.sleep
        self._clock: Callable[[], float] = time.time
        self._random: Callable[[], float] = random.random

    @property
    def base_url(self) -> str:
        """The base URL, a password in it shown as ``***``."""
        return self._endpoint.shown

    @property
    def stream_usage(self) -> bool:
        """Whether streamed requests ask for usage (``stream_options.include_usage``):
        True until the server refuses it (or ``stream_usage=False`` was given)."""
        return self._capabilities.stream_usage

    @stream_usage.setter
    def stream_usage(self, value: bool) -> None:
        self._capabilities.stream_usage = bool(value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def context_window(self, model: str) -> int | None:
        """The ``context_window`` given, for every model; ``None``: the budget's table."""
        return self._context_window

    # -- clients -------------------------------------------------------------------

    def _sync_client(self) -> httpx2.Client:
        client = self._client
        if client is None:
            with self._lock:
                client = self._client
                if client is None:
                    client = self._client = httpx2.Client(
                        timeout=self.timeout, limits=_LIMITS, headers=self._endpoint.client_headers
                    )
        return client

    async def _async_client_get(self) -> httpx2.AsyncClient:
        client = self._async_client
        return await self._async_clients.get() if client is None else client

    def _per_request(
        self, client: httpx2.Client | httpx2.AsyncClient, owned: bool, call: Call, stream: bool
    ) -> tuple[Any, Any]:
        """Headers and timeout to pass with each request.

        A client this transport made carries the headers and timeout already: passing
        them again makes httpx merge them on every request (20-100 us a call). A user's
        client gets them per request, and keeps its own timeout unless one was asked for.
        A request's own timeout and extra headers (its options) win over both.
        """
        timeout = call.timeout
        if owned:
            headers = STREAM_ACCEPT if stream else None
            if call.extra_headers:
                headers = {**(headers or {}), **call.extra_headers}
            return headers, (httpx2.USE_CLIENT_DEFAULT if timeout is None else timeout)
        if timeout is None:
            timeout = self.timeout if self._timeout_given else client.timeout
        return call.headers, timeout

    def close(self) -> None:
        """Close the blocking client if this transport created it."""
        client, self._client = self._client, None
        if client is not None:
            if self._owns_client:
                client.close()
            else:
                self._client = client

    async def aclose(self) -> None:
        """Close the blocking client and this event loop's client, if this transport
        created them (another loop's client can only be closed on that loop)."""
        self.close()
        await self._async_clients.aclose()

    # -- blocking ------------------------------------------------------------------

    def _start(self, request: Request, stream: bool) -> Call:
        return Call(
            self._endpoint,
            request,
            stream=stream,
            max_retries=self.max_retries,
            capabilities=self._capabilities,
        )

    def _wait(self, call: Call, error: Exception, headers: Mapping[str, str]) -> float:
        delay = call.retry_delay(error, headers, now=self._clock(), jitter=self._random())
        if delay is None:
            logger.debug(
                "POST %s: giving up after %d retries (%s)",
                call.shown,
                call.retries,
                type(error).__name__,
            )
            raise error
        logger.debug(
            "POST %s: %s, retry %d in %.3f s", call.shown, type(error).__name__, call.retries, delay
        )
        return delay

    def complete(self, request: Request) -> Reply:
        """Send ``request`` and return the whole reply, retrying what may be retried."""
        call = self._start(request, stream=False)
        client = self._sync_client()
        send_headers, timeout = self._per_request(client, self._owns_client, call, False)
        while True:
            headers: Mapping[str, str] = {}
            logger.debug("POST %s (attempt %d)", call.shown, call.retries + 1)
            try:
                response = client.post(
                    call.url, content=call.content, headers=send_headers, timeout=timeout
                )
            except httpx2.HTTPError as exc:
                error: Exception = call.connection_failure(exc)
            else:
                headers = response.headers
                logger.debug("POST %s -> %d", call.shown, response.status_code)
                if is_success(response.status_code):
                    return call.reply(headers, response.content)
                error = call.status_failure(
                    response.status_code, headers, response.content, now=self._clock()
                )
            self._sleep(self._wait(call, error, headers))

    def stream(self, request: Request) -> Iterator[Chunk]:
        """Send ``request`` with ``stream: true``; yield each ``chat.completion.chunk``.

        Failures are retried only until the first chunk is yielded. Closing the
        iterator closes the response.
        """
        call = self._start(request, stream=True)
        client = self._sync_client()
        send_headers, timeout = self._per_request(client, self._owns_client, call, True)
        while True:
            headers: Mapping[str, str] = {}
            logger.debug("POST %s stream (attempt %d)", call.shown, call.retries + 1)
            try:
                with client.stream(
                    "POST", call.url, content=call.content, headers=send_headers, timeout=timeout
                ) as response:
                    headers = response.headers
                    logger.debug("POST %s -> %d", call.shown, response.status_code)
                    if is_success(response.status_code):
                        decoder = call.decoder(headers)
                        for data in response.iter_bytes():
                            for chunk in decoder.feed(data):
                                call.delivered = True
                                yield chunk
                        yield from decoder.finish()
                        return
                    error: Exception = call.status_failure(
                        response.status_code, headers, response.read(), now=self._clock()
                    )
            except httpx2.HTTPError as exc:
                error = call.connection_failure(exc)
            self._sleep(self._wait(call, error, headers))

    # -- async ---------------------------------------------------------------------

    async def acomplete(self, request: Request) -> Reply:
        """The async twin of :meth:`complete`."""
        call = self._start(request, stream=False)
        client = await self._async_client_get()
        send_headers, timeout = self._per_request(client, self._owns_async_client, call, False)
        while True:
            headers: Mapping[str, str] = {}
            logger.debug("POST %s (attempt %d)", call.shown, call.retries + 1)
            try:
                response = await client.post(
                    call.url, content=call.content, headers=send_headers, timeout=timeout
                )
            except httpx2.HTTPError as exc:
                error: Exception = call.connection_failure(exc)
            else:
                headers = response.headers
                logger.debug("POST %s -> %d", call.shown, response.status_code)
                if is_success(response.status_code):
                    return call.reply(headers, response.content)
                error = call.status_failure(
                    response.status_code, headers, response.content, now=self._clock()
                )
            await self._asleep(self._wait(call, error, headers))

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        """The async twin of :meth:`stream`; ``aclose()`` it (or use
        ``contextlib.aclosing``) to release the connection when stopping early."""
        call = self._start(request, stream=True)
        client = await self._async_client_get()
        send_headers, timeout = self._per_request(client, self._owns_async_client, call, True)
        while True:
            headers: Mapping[str, str] = {}
            logger.debug("POST %s stream (attempt %d)", call.shown, call.retries + 1)
            try:
                async with client.stream(
                    "POST", call.url, content=call.content, headers=send_headers, timeout=timeout
                ) as response:
                    headers = response.headers
                    logger.debug("POST %s -> %d", call.shown, response.status_code)
                    if is_success(response.status_code):
                        decoder = call.decoder(headers)
                        async for data in response.aiter_bytes():
                            for chunk in decoder.feed(data):
                                call.delivered = True
                                yield chunk
                        for chunk in decoder.finish():
                            yield chunk
                        return
                    error: Exception = call.status_failure(
                        response.status_code, headers, await response.aread(), now=self._clock()
                    )
            except httpx2.HTTPError as exc:
                error = call.connection_failure(exc)
            await self._asleep(self._wait(call, error, headers))
