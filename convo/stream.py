"""Streams: what ``conv.stream()`` returns.

Iterating a :class:`Stream` gives the text of the reply as it arrives (or, with
``response_format``, partial objects of the requested type); :meth:`Stream.events`
gives every event of the turn (:mod:`convo.events`): model calls and why, text, tool
calls and results, partial outputs, and ``Finished`` with the reply. After the turn
is committed, ``.reply`` holds the whole :class:`~convo.Reply`.

Leaving early - ``break``, ``close()``, the ``with`` block, an exception - closes the
HTTP response at once and the turn can never commit: nothing is added to the history.
A turn that committed meanwhile on the same conversation makes this one's commit a
:class:`~convo.errors.VersionConflictError`.

Tool rounds and structured-output retries make several model calls in one turn;
iterating joins the text of all of them (``"".join(stream)``); ``events()`` shows a
:class:`~convo.events.ModelCall` before each.

>>> from convo import Conversation, ScriptedTransport
>>> conv = Conversation(model="m", transport=ScriptedTransport("Hello there"))
>>> with conv.stream("Hi") as s:
...     "".join(s)
'Hello there'
>>> s.reply.text
'Hello there'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Generic, Self, TypeVar

from convo.events import (
    Event,
    Finished,
    ModelCall,
    PartialOutput,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
)
from convo.reply import Reply

__all__ = [
    "AsyncStream",
    "Event",
    "Finished",
    "ModelCall",
    "PartialOutput",
    "Stream",
    "TextDelta",
    "ToolCallEvent",
    "ToolResultEvent",
]

T = TypeVar("T")


class Stream(Generic[T]):
    """A running streamed turn (sync). Iterate it, or call :meth:`events`."""

    def __init__(self, events: Iterator[Event], *, structured: bool = False) -> None:
        self._events = events
        self._structured = structured
        self.reply: Reply | None = None

    def events(self) -> Iterator[Event]:
        """Every event of the turn, ``Finished`` last."""
        try:
            for event in self._events:
                if type(event) is Finished:
                    self.reply = event.reply
                yield event
        finally:
            self.close()

    def __iter__(self) -> Iterator[T]:
        # Leaving the loop drops this generator, whose ``finally`` closes the turn (and
        # with it the HTTP response) at once, even while the stream itself is kept.
        structured = self._structured
        try:
            for event in self._events:
                kind = type(event)
                if kind is TextDelta and not structured:
                    yield event.text  # type: ignore[misc,union-attr]
                elif kind is PartialOutput and structured:
                    yield event.value  # type: ignore[union-attr]
                elif kind is Finished:
                    self.reply = event.reply  # type: ignore[union-attr]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the turn: the response is closed and nothing is added to the history."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()

    @property
    def text(self) -> str:
        return self.reply.text if self.reply else ""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """A running streamed turn (async). ``async for`` it; ``async with`` (or
    :meth:`aclose`) closes it at once when you stop early."""

    def __init__(self, events: AsyncIterator[Event], *, structured: bool = False) -> None:
        self._events = events
        self._structured = structured
        self.reply: Reply | None = None

    async def events(self) -> AsyncIterator[Event]:
        """Every event of the turn, ``Finished`` last."""
        try:
            async for event in self._events:
                if type(event) is Finished:
                    self.reply = event.reply
                yield event
        finally:
            await self.aclose()

    async def __aiter__(self) -> AsyncIterator[T]:
        structured = self._structured
        try:
            async for event in self._events:
                kind = type(event)
                if kind is TextDelta and not structured:
                    yield event.text  # type: ignore[misc,union-attr]
                elif kind is PartialOutput and structured:
                    yield event.value  # type: ignore[union-attr]
                elif kind is Finished:
                    self.reply = event.reply  # type: ignore[union-attr]
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the turn: the response is closed and nothing is added to the history."""
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    @property
    def text(self) -> str:
        return self.reply.text if self.reply else ""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
