"""The transport protocol: how a conversation talks to a model.

A transport is small. It turns a :class:`~convo.Request` into a :class:`~convo.Reply`
(:meth:`Transport.complete`) or into the API's ``chat.completion.chunk`` objects as
they arrive (:meth:`Transport.stream`), with async twins. Only ``complete`` is
required: the others fall back on it (``stream`` replays the whole reply as chunks;
the async methods run the sync ones in a worker thread). Retries, SSE framing and
error mapping belong to the transport, never to the conversation.

Closing the iterator that ``stream`` returns (breaking out of a ``for`` loop does,
in CPython, once it is dropped) must release the connection.

Whether a stream ended well is the transport's to say, by its protocol's rule: its
iterator returns when the stream is whole and raises
:class:`~convo.errors.IncompleteStreamError` when it was cut (the conversation then
commits nothing). A transport may put what the response said about itself (request
id, headers) on its first chunk under :data:`convo.streaming.RESPONSE_KEY`.

>>> from convo import Reply, Request
>>> class Echo(Transport):
...     def complete(self, request: Request) -> Reply:
...         return reply_from_text(request.messages[-1].text)
>>> from convo.messages import Message
>>> Echo().complete(Request("m", (Message.user("hi"),), {})).text
'hi'
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Self

from convo.messages import Message
from convo.reply import Choice, Reply
from convo.request import Request
from convo.streaming import chunks_from_reply

__all__ = ["Chunk", "Transport", "reply_from_text"]

Chunk = dict[str, Any]
"""A ``chat.completion.chunk`` object, as the API defines it."""

_END = object()


class Transport:
    """Base class of every transport; subclasses implement at least :meth:`complete`."""

    #: How the transport can ask for structured output: "json_schema", "json_object" or "tools".
    structured_output: str = "json_schema"

    #: Whether streamed bodies ask for usage in the last chunk
    #: (``stream_options.include_usage``); the HTTP transport turns it off for a server
    #: that refuses the field.
    stream_usage: bool = True

    #: True for a transport the process owns (one per endpoint and key, see
    #: :mod:`convo.transports.pool`): conversations that use it never close it.
    shared: bool = False

    def complete(self, request: Request) -> Reply:
        raise NotImplementedError(f"{type(self).__name__} does not implement complete()")

    def stream(self, request: Request) -> Iterator[Chunk]:
        yield from chunks_from_reply(self.complete(request))

    async def acomplete(self, request: Request) -> Reply:
        return await asyncio.to_thread(self.complete, request)

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        # Drive the sync stream in a worker thread, one chunk at a time. If the consumer
        # stops early or is cancelled while a read is under way in the thread, the sync
        # stream is closed by that thread as soon as the read returns: closing it from
        # elsewhere meanwhile would fail ("generator already executing"), and waiting
        # for the read here would delay the cancellation.
        it = self.stream(request)
        lock = threading.Lock()
        state = {"reading": False, "closing": False}

        def close() -> None:
            shut = getattr(it, "close", None)
            if shut is not None:
                shut()

        def read() -> Any:
            try:
                return next(it, _END)
            finally:
                with lock:
                    state["reading"] = False
                    closing = state["closing"]
                if closing:
                    close()

        try:
            while True:
                with lock:
                    state["reading"] = True
                chunk = await asyncio.to_thread(read)
                if chunk is _END:
                    return
                yield chunk
        finally:
            with lock:
                state["closing"] = True
                reading = state["reading"]
            if not reading:
                await asyncio.to_thread(close)

    def close(self) -> None:
        """Release connections; the transport may not be used afterwards."""

    async def aclose(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def reply_from_text(text: str, *, finish_reason: str = "stop", model: str | None = None) -> Reply:
    """A one-choice reply holding ``text``."""
    return Reply(
        choices=(Choice(message=Message.assistant(text), finish_reason=finish_reason),),
        model=model,
    )
