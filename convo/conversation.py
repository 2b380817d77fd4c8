"""``Conversation`` and ``AsyncConversation``: the two drivers of the I/O-free turn.

Every decision is made by :func:`convo.turn.run_turn` and by the shared state in
:mod:`convo.state`; a driver only carries out the effects the turn yields - with
blocking calls here, with awaits there - and hands the turn's events to the caller.
The turn's last event carries the reply, for both drivers alike.

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
import collections
import contextlib
import inspect
from collections.abc import AsyncGenerator, Generator, Iterator
from typing import Any, Self

from convo import telemetry
from convo.effects import (
    CLOSE_STREAM,
    NEXT_CHUNK,
    Approve,
    CallModel,
    Commit,
    Emit,
    OpenStream,
    RunTools,
)
from convo.events import Event, TextDelta
from convo.reply import Reply
from convo.state import BaseConversation, Content, StoreCall
from convo.stream import AsyncStream, Stream
from convo.tools import arun_all, run_all
from convo.transports.base import Transport
from convo.turn import run_turn

__all__ = ["AsyncConversation", "Conversation"]

Flow = Generator[Any, Any, Reply]


def _reply(events: Iterator[Event]) -> Reply:
    # The last event of every turn is Finished(reply).
    finished: Any = collections.deque(events, maxlen=1)[0]
    reply: Reply = finished.reply
    return reply


class Conversation(BaseConversation):
    """A conversation driven with blocking calls. See the module docstring for an example."""

    def send(self, content: Content, **params: Any) -> Reply:
        """Send ``content`` (text, a message, messages, or tool results) and return the
        reply. Tool calls are run and answered, structured output validated (and
        retried), then the whole turn is committed - or, if anything fails, nothing is.
        """
        ctx = self._context(params, stream=False)
        return _reply(self._events(ctx, self._new_messages(content)))

    def stream(self, content: Content, **params: Any) -> Stream[Any]:
        """Stream the reply: iterate text deltas (partial objects with ``response_format``)."""
        ctx = self._context(params, stream=True)
        return Stream(
            self._events(ctx, self._new_messages(content)), structured=ctx.output is not None
        )

    def resolve(self, tool_call_id: str, approved: bool, **params: Any) -> Reply:
        """Decide a deferred approval; once nothing else awaits, the turn goes on."""
        ctx = self._context(params, stream=False)
        return _reply(self._events(ctx, (), [(tool_call_id, approved)]))

    def _events(self, ctx: Any, new: Any, resolutions: Any = ()) -> Iterator[Event]:
        flow = run_turn(ctx, new, resolutions)
        traced = telemetry.start(ctx, self.id, self.transport)
        if traced is None:
            return self._drive(flow)
        return traced.events(self._drive(traced.flow(flow)))

    def _drive(self, flow: Flow) -> Iterator[Event]:
        transport = self.transport
        stream: Any = None
        try:
            effect = next(flow)
            while True:
                if type(effect) is TextDelta:
                    yield effect
                    answer: Any = next(stream, None)
                elif effect is NEXT_CHUNK:
                    answer = next(stream, None)
                elif type(effect) is Emit:
                    yield effect.event
                    answer = None
                elif type(effect) is CallModel:
                    answer = transport.complete(effect.request)
                elif type(effect) is OpenStream:
                    stream = iter(transport.stream(effect.request))
                    answer = None
                elif effect is CLOSE_STREAM:
                    _close(stream)
                    stream = answer = None
                elif type(effect) is Approve:
                    answer = [_resolve(effect.hook(call)) for call in effect.calls]
                elif type(effect) is RunTools:
                    answer = run_all(
                        effect.calls,
                        on_result=effect.on_result,
                        on_error=effect.on_error,
                        default_timeout=effect.timeout,
                        count_tokens=effect.count_tokens,
                    )
                else:
                    answer = self._commit(effect)
                effect = flow.send(answer)
        except StopIteration:
            return
        finally:
            if stream is not None:
                _close(stream)
            flow.close()

    def _commit(self, effect: Commit) -> int:
        plan = effect.plan
        if self.store is None:
            return self._commit_local(plan)
        self._check_base(plan)  # before the write: a stale turn writes nothing
        method, args, kwargs = self._store_call(plan)
        return self._apply(plan, method(*args, **kwargs))

    def fork(self, at: int | None = None) -> Conversation:
        """A new conversation with the history up to message ``at`` (all by default) and
        every setting of this one. Editing a past user message and regenerating is a
        fork at that message. Stored conversations fork in the store (sharing rows).
        """
        cut = self._fork_point(at)
        if self.store is None or self._version == 0:
            return self._forked(cut, None)
        child = self._forked(cut, self.store.fork(self.id, at=self._offset + cut))
        if (fix := self._fork_header_fix(child)) is not None:
            method, args, kwargs = fix
            method(*args, **kwargs)
        return child

    @classmethod
    def load(
        cls,
        id: str,
        *,
        store: Any,
        transport: Transport | None = None,
        tail: int | None = None,
        **overrides: Any,
    ) -> Self:
        """Restore a stored conversation (system, template, parameters, history, and
        what a suspended turn awaits). Settings that are code (tools, hooks) are given
        again as keyword arguments. ``tail=N`` loads only the last N messages (about
        what the budget can use), so a long conversation reloads fast; new turns are
        appended to the whole stored history all the same."""
        stored = store.load(id) if tail is None else store.load(id, tail=tail)
        conv = cls._restored(stored, {"transport": transport, "store": store, **overrides})
        if conv.limits is not None and hasattr(store, "totals"):
            conv._set_spent(store.totals(id))  # per-conversation limits count earlier turns
        return conv

    def close(self) -> None:
        """Close the transport if this conversation created it (a given one is yours)."""
        if self._owns_transport and self._transport is not None:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncConversation(BaseConversation):
    """The same conversation, driven with ``await``: ``await conv.send("Hi")``."""

    _async_driver = True

    async def send(self, content: Content, **params: Any) -> Reply:
        """Send ``content`` and return the reply (see :meth:`Conversation.send`)."""
        ctx = self._context(params, stream=False)
        return await _areply(self._events(ctx, self._new_messages(content)))

    def stream(self, content: Content, **params: Any) -> AsyncStream[Any]:
        """Stream the reply: ``async for`` text deltas; ``async with`` closes it surely."""
        ctx = self._context(params, stream=True)
        events = self._events(ctx, self._new_messages(content))
        return AsyncStream(events, structured=ctx.output is not None)

    async def resolve(self, tool_call_id: str, approved: bool, **params: Any) -> Reply:
        """Decide a deferred approval (see :meth:`Conversation.resolve`)."""
        ctx = self._context(params, stream=False)
        return await _areply(self._events(ctx, (), [(tool_call_id, approved)]))

    def _events(self, ctx: Any, new: Any, resolutions: Any = ()) -> AsyncGenerator[Event, None]:
        flow = run_turn(ctx, new, resolutions)
        traced = telemetry.start(ctx, self.id, self.transport)
        if traced is None:
            return self._drive(flow)
        return traced.aevents(self._drive(traced.flow(flow)))

    async def _drive(self, flow: Flow) -> AsyncGenerator[Event, None]:
        transport = self.transport
        stream: Any = None
        try:
            effect = next(flow)
            while True:
                if type(effect) is TextDelta:
                    yield effect
                    answer: Any = await anext(stream, None)
                elif effect is NEXT_CHUNK:
                    answer = await anext(stream, None)
                elif type(effect) is Emit:
                    yield effect.event
                    answer = None
                elif type(effect) is CallModel:
                    answer = await transport.acomplete(effect.request)
                elif type(effect) is OpenStream:
                    stream = aiter(transport.astream(effect.request))
                    answer = None
                elif effect is CLOSE_STREAM:
                    await _aclose(stream)
                    stream = answer = None
                elif type(effect) is Approve:
                    answer = [await _aresolve(effect.hook(call)) for call in effect.calls]
                elif type(effect) is RunTools:
                    answer = await arun_all(
                        effect.calls,
                        on_result=effect.on_result,
                        on_error=effect.on_error,
                        default_timeout=effect.timeout,
                        count_tokens=effect.count_tokens,
                    )
                else:
                    answer = await self._commit(effect)
                effect = flow.send(answer)
        except StopIteration:
            return
        finally:
            if stream is not None:
                await _aclose(stream)
            flow.close()

    async def _commit(self, effect: Commit) -> int:
        plan = effect.plan
        if self.store is None:
            return self._commit_local(plan)
        self._check_base(plan)  # before the write: a stale turn writes nothing
        write = asyncio.ensure_future(self._store_run(self._store_call(plan)))
        try:
            written = await asyncio.shield(write)
        except asyncio.CancelledError:
            # A write under way cannot be cut in half (a worker thread cannot be stopped
            # mid-transaction): see it through and apply what it committed, so that
            # store and memory never diverge; then the cancellation goes on.
            self._apply(plan, await _outlast(write))
            raise
        return self._apply(plan, written)

    async def _store_run(self, call: StoreCall) -> Any:
        method, args, kwargs = call
        if self._store_async:
            return await method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def fork(self, at: int | None = None) -> AsyncConversation:
        """A new conversation with the history up to message ``at`` (see
        :meth:`Conversation.fork`)."""
        cut = self._fork_point(at)
        if self.store is None or self._version == 0:
            return self._forked(cut, None)
        fork = (self.store.fork, (self.id,), {"at": self._offset + cut})
        child = self._forked(cut, await self._store_run(fork))
        if (fix := self._fork_header_fix(child)) is not None:
            await self._store_run(fix)
        return child

    @classmethod
    async def load(
        cls,
        id: str,
        *,
        store: Any,
        transport: Transport | None = None,
        tail: int | None = None,
        **overrides: Any,
    ) -> Self:
        """Restore a stored conversation (see :meth:`Conversation.load`)."""
        method = store.load
        kwargs = {} if tail is None else {"tail": tail}
        if inspect.iscoroutinefunction(inspect.unwrap(method)):
            stored = await method(id, **kwargs)
        else:
            stored = await asyncio.to_thread(method, id, **kwargs)
        conv = cls._restored(stored, {"transport": transport, "store": store, **overrides})
        if conv.limits is not None and hasattr(store, "totals"):
            totals = store.totals
            if inspect.iscoroutinefunction(inspect.unwrap(totals)):
                conv._set_spent(await totals(id))
            else:
                conv._set_spent(await asyncio.to_thread(totals, id))
        return conv

    async def aclose(self) -> None:
        """Close the transport if this conversation created it (a given one is yours)."""
        if self._owns_transport and self._transport is not None:
            await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _areply(events: AsyncGenerator[Event, None]) -> Reply:
    last: Any = None
    try:
        async for event in events:
            last = event
    finally:
        await events.aclose()  # closed at once, however the loop ends
    reply: Reply = last.reply
    return reply


async def _outlast(write: asyncio.Future[Any]) -> Any:
    """The result of ``write`` once it is done, whatever cancellations arrive meanwhile;
    if it failed, the cancellation is raised instead (nothing was committed)."""
    while not write.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(write)
    if write.cancelled() or write.exception() is not None:
        raise asyncio.CancelledError
    return write.result()


def _resolve(value: Any) -> Any:
    from convo.tools.execute import _resolve as resolve

    return resolve(value)


async def _aresolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        close()


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
