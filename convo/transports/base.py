"""The transport protocol: how a conversation talks to a model.

A transport is small. It turns a :class:`~convo.Request` into a :class:`~convo.Reply`
(:meth:`Transport.complete`) or into the API's ``chat.completion.chunk`` objects as
they arrive (:meth:`Transport.stream`), with async twins. Only ``complete`` is
required: the others fall back on it (``stream`` replays the whole reply as chunks;
the async methods run the sync ones in a worker thread). Retries, SSE framing and
error mapping belong to the transport, never to the conversation.

Closing the iterator that ``stream`` returns (breaking out of a ``for`` loop does,
in CPython, once it is dropped) must release the connection.

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

    def complete(self, request: Request) -> Reply:
        raise NotImplementedError(f"{type(self).__name__} does not implement complete()")

    def stream(self, request: Request) -> Iterator[Chunk]:
        yield from chunks_from_reply(self.complete(request))

    async def acomplete(self, request: Request) -> Reply:
        return await asyncio.to_thread(self.complete, request)

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        # Drive the sync stream in a worker thread, one chunk at a time, and close it
        # there too if the consumer stops early.
        it = self.stream(request)
        try:
            while True:
                chunk = await asyncio.to_thread(next, it, _END)
                if chunk is _END:
                    return
                yield chunk  # type: ignore[misc]
        finally:
            close = getattr(it, "close", None)
            if close is not None:
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
