"""Streams: what ``conv.stream()`` returns, and the events a turn emits while it runs.

Iterating a :class:`Stream` gives text deltas (or, with ``response_format``, partial
objects); :meth:`Stream.events` gives every event, tool calls and results included.
After the stream is exhausted, ``.reply`` holds the whole :class:`~convo.Reply`.
Leaving early (``break``, ``close()``, the ``with`` block) closes the HTTP response
and adds nothing to the history.

>>> from convo import Conversation, ScriptedTransport
>>> conv = Conversation(model="m", transport=ScriptedTransport("Hello there"))
>>> with conv.stream("Hi") as s:
...     "".join(s)
'Hello there'
>>> s.reply.text
'Hello there'
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from convo.messages import Message, ToolCall
from convo.reply import Reply

__all__ = [
    "AsyncStream",
    "Event",
    "PartialOutput",
    "Stream",
    "TextDelta",
    "ToolCallEvent",
    "ToolResultEvent",
]


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Text of the reply, as it arrives."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """The model asked for this call; it is about to run."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """A tool call was answered with this ``tool`` message."""

    message: Message


@dataclass(frozen=True, slots=True)
class PartialOutput:
    """Structured output, parsed from the JSON received so far (``final`` at the end)."""

    value: Any
    final: bool = False


Event = TextDelta | ToolCallEvent | ToolResultEvent | PartialOutput
T = TypeVar("T")


class Stream(Generic[T]):
    """A running streamed turn (sync). Iterate it, or call :meth:`events`."""

    def __init__(self, events: Generator[Event, None, Reply], *, structured: bool = False) -> None:
        self._events = events
        self._structured = structured
        self.reply: Reply | None = None

    def events(self) -> Iterator[Event]:
        """Every event: text deltas, tool calls, tool results, partial outputs."""
        try:
            while True:
                yield next(self._events)
        except StopIteration as stop:
            self.reply = stop.value

    def __iter__(self) -> Iterator[T]:
        # The loop of events(), inlined: one generator less per delta on the hot path.
        events, structured = self._events, self._structured
        try:
            while True:
                event = next(events)
                if structured:
                    if isinstance(event, PartialOutput):
                        yield event.value
                elif type(event) is TextDelta:
                    yield event.text  # type: ignore[misc]
        except StopIteration as stop:
            self.reply = stop.value

    def close(self) -> None:
        """Stop the turn: the response is closed and nothing is added to the history."""
        self._events.close()

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
    """A running streamed turn (async). ``async for`` it; ``async with`` closes it surely."""

    def __init__(
        self,
        events: Callable[[AsyncStream[T]], AsyncGenerator[Event, None]],
        *,
        structured: bool = False,
    ) -> None:
        # The event source is made with the stream, so it can hand the reply back to it.
        self._events = events(self)
        self._structured = structured
        self.reply: Reply | None = None

    def _finish(self, reply: Reply) -> None:
        self.reply = reply

    async def events(self) -> AsyncIterator[Event]:
        async for event in self._events:
            yield event

    async def __aiter__(self) -> AsyncIterator[T]:
        # As Stream.__iter__: text deltas, or partial objects with response_format.
        structured = self._structured
        async for event in self._events:
            if structured:
                if isinstance(event, PartialOutput):
                    yield event.value
            elif type(event) is TextDelta:
                yield event.text  # type: ignore[misc]

    async def aclose(self) -> None:
        await self._events.aclose()

    @property
    def text(self) -> str:
        return self.reply.text if self.reply else ""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
