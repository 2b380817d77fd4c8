"""``Conversation`` and ``AsyncConversation``: thin drivers around the I/O-free turn.

Both share :class:`~convo.state.BaseConversation` for state and request building;
each only runs the effects of :func:`convo.turn.run_turn` (model calls, tool calls)
with blocking calls or awaits, then commits the turn: to the store first, then to
memory. A turn that fails at any step, or is interrupted, changes neither.

>>> from convo import Conversation, ScriptedTransport
>>> conv = Conversation("You are terse.", model="gpt-4o-mini",
...                     transport=ScriptedTransport("Paris.", "About 2.1 million."))
>>> conv.send("Capital of France?").text
'Paris.'
>>> conv.send("Population?").text
'About 2.1 million.'
>>> [m.role for m in conv.messages]
['system', 'user', 'assistant', 'user', 'assistant']
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, Generator
from typing import Any, Self

from convo.messages import Message
from convo.reply import Reply
from convo.state import (
    BaseConversation,
    Content,
    load_kwargs,
    summary_from,
    summary_metadata,
)
from convo.stream import (
    AsyncStream,
    Event,
    PartialOutput,
    Stream,
    TextDelta,
    ToolCallEvent,
    ToolResultEvent,
)
from convo.streaming import StreamAssembler
from convo.tools import arun_all, run_all
from convo.transports.base import Transport
from convo.turn import CallModel, RunTools, TurnContext, TurnResult, run_turn

__all__ = ["AsyncConversation", "Conversation"]


class Conversation(BaseConversation):
    """A conversation driven with blocking calls. See the module docstring for an example."""

    def send(self, content: Content, **params: Any) -> Reply:
        """Send ``content`` (text, a message, or messages) and return the reply.

        Tool calls are run and answered, structured output validated (and retried),
        then the whole turn is appended - or, if anything fails, nothing is.
        """
        started = time.perf_counter()
        ctx = self._context(params, stream=False)
        flow = run_turn(ctx, self._new_messages(content))
        result = self._drive(flow)
        self._commit(result, ctx, started)
        return result.reply

    def stream(self, content: Content, **params: Any) -> Stream[Any]:
        """Stream the reply: iterate text deltas (partial objects with ``response_format``)."""
        started = time.perf_counter()
        ctx = self._context(params, stream=True)
        events = self._stream_events(ctx, self._new_messages(content), started)
        return Stream(events, structured=ctx.output is not None)

    def _drive(self, flow: Generator[Any, Any, TurnResult]) -> TurnResult:
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, CallModel):
                    answer: Any = self.transport.complete(effect.request)
                else:
                    answer = self._run_tools(effect)
                effect = flow.send(answer)
        except StopIteration as stop:
            result: TurnResult = stop.value
            return result
        finally:
            flow.close()

    def _run_tools(self, effect: RunTools) -> list[Message]:
        return run_all(
            effect.calls,
            approve=self.approve,
            on_result=self.on_tool_result,
            on_error=self.tool_errors,
            default_timeout=self.tool_timeout,
        )

    def _stream_events(
        self, ctx: TurnContext, new: list[Message], started: float
    ) -> Generator[Event, None, Reply]:
        flow = run_turn(ctx, new)
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, CallModel) and effect.request.stream:
                    asm = StreamAssembler()
                    chunks = self.transport.stream(effect.request)
                    try:
                        for chunk in chunks:
                            delta = asm.feed(chunk)
                            if delta:
                                yield TextDelta(delta)
                                if ctx.output is not None:
                                    partial = ctx.output.partial(asm.text)
                                    if partial is not None:
                                        yield PartialOutput(partial)
                    finally:
                        close = getattr(chunks, "close", None)
                        if close is not None:
                            close()
                    answer: Any = asm.finish()
                elif isinstance(effect, CallModel):
                    answer = self.transport.complete(effect.request)
                else:
                    for call in effect.requested:
                        yield ToolCallEvent(call)
                    answer = self._run_tools(effect)
                    for message in in_call_order(effect, answer):
                        yield ToolResultEvent(message)
                effect = flow.send(answer)
        except StopIteration as stop:
            result: TurnResult = stop.value
        finally:
            flow.close()
        self._commit(result, ctx, started)
        if ctx.output is not None:
            yield PartialOutput(result.reply.parsed, final=True)
        return result.reply

    def _commit(self, result: TurnResult, ctx: TurnContext, started: float) -> None:
        version = self._version + 1
        if self.store is not None:
            version = self.store.append_turn(
                self.id,
                self._version,
                [*self._unsaved, *result.messages],
                self._meta(result, ctx, started),
                create=self._header() if self._version == 0 else None,
            )
            if result.summary is not None:
                metadata = summary_metadata(self.metadata, result.summary)
                self.store.update_header(self.id, metadata=metadata)
        self._apply(result, version)

    def fork(self, at: int | None = None) -> Conversation:
        """A new conversation sharing the history up to message ``at`` (all by default).

        Editing a past user message and regenerating is a fork at that message.
        """
        if self.store is not None and self._version > 0:
            new_id = self.store.fork(self.id, at=len(self._history) if at is None else at)
            return type(self).load(
                new_id, store=self.store, transport=self._transport, tools=self.tools
            )
        return type(self)(**self._fork_local(at))

    @classmethod
    def load(
        cls, id: str, *, store: Any, transport: Transport | None = None, **overrides: Any
    ) -> Self:
        """Restore a stored conversation (system, template, parameters, history)."""
        stored = store.load(id)
        conv = cls(**load_kwargs(stored, {"transport": transport, "store": store, **overrides}))
        conv._unsaved.clear()
        conv._version = stored.version
        conv._summary = summary_from(stored.header.metadata)
        return conv

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncConversation(BaseConversation):
    """The same conversation, driven with ``await``: ``await conv.send("Hi")``."""

    async def send(self, content: Content, **params: Any) -> Reply:
        """Send ``content`` and return the reply (see :meth:`Conversation.send`)."""
        started = time.perf_counter()
        ctx = self._context(params, stream=False)
        flow = run_turn(ctx, self._new_messages(content))
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, CallModel):
                    answer: Any = await self.transport.acomplete(effect.request)
                else:
                    answer = await self._run_tools(effect)
                effect = flow.send(answer)
        except StopIteration as stop:
            result: TurnResult = stop.value
        finally:
            flow.close()
        await self._commit(result, ctx, started)
        return result.reply

    def stream(self, content: Content, **params: Any) -> AsyncStream[Any]:
        """Stream the reply: ``async for`` text deltas; ``async with`` closes it surely."""
        started = time.perf_counter()
        ctx = self._context(params, stream=True)
        new = self._new_messages(content)
        return AsyncStream(
            lambda s: self._stream_events(ctx, new, started, s), structured=ctx.output is not None
        )

    async def _run_tools(self, effect: RunTools) -> list[Message]:
        return await arun_all(
            effect.calls,
            approve=self.approve,
            on_result=self.on_tool_result,
            on_error=self.tool_errors,
            default_timeout=self.tool_timeout,
        )

    async def _stream_events(
        self, ctx: TurnContext, new: list[Message], started: float, stream: AsyncStream[Any]
    ) -> AsyncGenerator[Event, None]:
        flow = run_turn(ctx, new)
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, CallModel) and effect.request.stream:
                    asm = StreamAssembler()
                    chunks = self.transport.astream(effect.request)
                    try:
                        async for chunk in chunks:
                            delta = asm.feed(chunk)
                            if delta:
                                yield TextDelta(delta)
                                if ctx.output is not None:
                                    partial = ctx.output.partial(asm.text)
                                    if partial is not None:
                                        yield PartialOutput(partial)
                    finally:
                        aclose = getattr(chunks, "aclose", None)
                        if aclose is not None:
                            await aclose()
                    answer: Any = asm.finish()
                elif isinstance(effect, CallModel):
                    answer = await self.transport.acomplete(effect.request)
                else:
                    for call in effect.requested:
                        yield ToolCallEvent(call)
                    answer = await self._run_tools(effect)
                    for message in in_call_order(effect, answer):
                        yield ToolResultEvent(message)
                effect = flow.send(answer)
        except StopIteration as stop:
            result: TurnResult = stop.value
        finally:
            flow.close()
        await self._commit(result, ctx, started)
        stream._finish(result.reply)
        if ctx.output is not None:
            yield PartialOutput(result.reply.parsed, final=True)

    async def _commit(self, result: TurnResult, ctx: TurnContext, started: float) -> None:
        version = self._version + 1
        if self.store is not None:
            messages = [*self._unsaved, *result.messages]
            meta = self._meta(result, ctx, started)
            create = self._header() if self._version == 0 else None
            append = self.store.append_turn
            if inspect.iscoroutinefunction(append):
                version = await append(self.id, self._version, messages, meta, create=create)
            else:  # a sync store serves too, off the event loop
                version = await asyncio.to_thread(
                    append, self.id, self._version, messages, meta, create=create
                )
            if result.summary is not None:
                metadata = summary_metadata(self.metadata, result.summary)
                update = self.store.update_header
                if inspect.iscoroutinefunction(update):
                    await update(self.id, metadata=metadata)
                else:
                    await asyncio.to_thread(update, self.id, metadata=metadata)
        self._apply(result, version)

    async def fork(self, at: int | None = None) -> AsyncConversation:
        """A new conversation sharing the history up to message ``at``."""
        if self.store is not None and self._version > 0:
            cut = len(self._history) if at is None else at
            new_id = await _maybe_await(self.store.fork(self.id, at=cut))
            return await type(self).load(
                new_id, store=self.store, transport=self._transport, tools=self.tools
            )
        return type(self)(**self._fork_local(at))

    @classmethod
    async def load(
        cls, id: str, *, store: Any, transport: Transport | None = None, **overrides: Any
    ) -> Self:
        """Restore a stored conversation (see :meth:`Conversation.load`)."""
        stored = await _maybe_await(store.load(id))
        conv = cls(**load_kwargs(stored, {"transport": transport, "store": store, **overrides}))
        conv._unsaved.clear()
        conv._version = stored.version
        conv._summary = summary_from(stored.header.metadata)
        return conv

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def in_call_order(effect: RunTools, ran: list[Message]) -> list[Message]:
    """Every answer of a tool round, those convo wrote itself included, in call order."""
    by_id = {m.tool_call_id: m for m in (*effect.answered, *ran)}
    return [by_id[c.id] for c in effect.requested if c.id in by_id]


async def _maybe_await(value: Any) -> Any:
    # AsyncConversation accepts a sync store too; its calls have already run.
    return await value if inspect.isawaitable(value) else value
