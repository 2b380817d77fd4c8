"""Answering the model's tool calls: validate each one, run it, reply with a ``tool`` message.

:func:`prepare` checks a call without running anything; :func:`run`, :func:`run_all`
and :func:`arun_all` run prepared calls. Every call is answered exactly once, with a
``tool`` message bearing its ``tool_call_id``. Whatever goes wrong (an unknown name,
bad arguments, a tool that raises or times out, a refusal by the ``approve`` hook)
becomes that message, written for the model, under ``on_error="return"``; under
``on_error="raise"`` the matching :class:`~convo.errors.ToolError` is raised instead.

>>> from convo.messages import FunctionCall, ToolCall
>>> from convo.tools.registry import ToolRegistry
>>> def double(n: int) -> int:
...     "Double a number."
...     return 2 * n
>>> registry = ToolRegistry([double])
>>> call = ToolCall(id="c1", function=FunctionCall(name="double", arguments='{"n": 21}'))
>>> run(prepare(registry, call)).content
'42'
>>> prepare(registry, call.model_copy(update={"function": FunctionCall(name="x")})).content
"Error: there is no tool named 'x'; the tools are: double"
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future, wait as wait_futures
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic_core import PydanticSerializationError, to_json

from convo.errors import (
    ToolArgumentsError,
    ToolError,
    ToolExecutionError,
    ToolNotFoundError,
    ToolRefusedError,
    ToolTimeoutError,
)
from convo.messages import Message, ToolCall
from convo.tools.registry import Tool, ToolRegistry

__all__ = [
    "OnError",
    "PreparedCall",
    "arun_all",
    "bound_result",
    "prepare",
    "run",
    "run_all",
    "to_text",
]

OnError = Literal["return", "raise"]
Approve = Callable[["PreparedCall"], bool | Awaitable[bool]]
OnResult = Callable[["PreparedCall", Message], object]
CountTokens = Callable[[str], int]
T = TypeVar("T")

_SHOWN_NAME = 100  # characters of an unknown tool name quoted back to the model


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """A call that names a registered tool and carries validated keyword arguments;
    ``approved`` once the ``approve`` hook returned ``True`` for it."""

    call: ToolCall
    tool: Tool[Any, Any]
    arguments: dict[str, Any]
    approved: bool = False


def prepare(
    registry: ToolRegistry, call: ToolCall, *, on_error: OnError = "return"
) -> PreparedCall | Message:
    """Look the tool up by its exact name and validate the arguments; no tool runs.

    An unknown name or bad arguments give the ``tool`` message answering the call
    (or raise :class:`~convo.errors.ToolNotFoundError` / ``ToolArgumentsError``).
    """
    tool = registry.get(call.function.name)
    try:
        if tool is None:
            name = call.function.name
            shown = name if len(name) <= _SHOWN_NAME else name[:_SHOWN_NAME] + "..."
            tools = ", ".join(registry.names()) or "none"
            raise ToolNotFoundError(
                f"there is no tool named {shown!r}; the tools are: {tools}",
                tool=name,
                tool_call_id=call.id,
            )
        try:
            arguments = tool.validate(call.function.arguments)
        except ToolArgumentsError as exc:
            raise ToolArgumentsError(str(exc), tool=tool.name, tool_call_id=call.id) from None
    except ToolError as exc:
        return _answer_error(call, exc, on_error)
    return PreparedCall(call, tool, arguments)


def to_text(value: Any) -> str:
    """Tool output as message text: a string as is, anything else as JSON.

    Pydantic models, dataclasses, dates, enums, sets and UUIDs are serialized the way
    pydantic does; other objects by ``str()``. ``None`` becomes ``"null"``.

    >>> import datetime
    >>> to_text({"at": datetime.date(2025, 1, 2), "n": None})
    '{"at":"2025-01-02","n":null}'
    """
    if isinstance(value, str):
        return value
    return to_json(value, fallback=str).decode()


# -- the sync path -------------------------------------------------------------------


def run(
    prepared: PreparedCall,
    *,
    approve: Approve | None = None,
    on_result: OnResult | None = None,
    on_error: OnError = "return",
    default_timeout: float | None = None,
    count_tokens: CountTokens | None = None,
) -> Message:
    """Run one prepared call and answer it (blocking).

    ``approve`` is asked first (only ``True`` runs the call); ``on_result`` sees the
    answer. A sync tool with a timeout runs in a daemon worker thread (on timeout the
    thread is abandoned, not killed: Python cannot stop a thread); an async tool runs in
    a fresh event loop, in a worker thread if this thread already runs one. Hooks may be
    sync or async. ``count_tokens`` counts a result against the tool's
    ``max_result_tokens`` (about four characters a token without it).
    """
    refused = _check(prepared, _resolve(approve(prepared)) if approve else True, on_error)
    answer = refused or _execute(prepared, default_timeout, on_error, count_tokens)
    if on_result is not None:
        _resolve(on_result(prepared, answer))
    return answer


def run_all(
    prepared: Sequence[PreparedCall],
    *,
    approve: Approve | None = None,
    on_result: OnResult | None = None,
    on_error: OnError = "return",
    default_timeout: float | None = None,
    count_tokens: CountTokens | None = None,
) -> list[Message]:
    """Answer the calls one after another, in call order, after asking ``approve`` for each.

    Sequential on purpose: the sync API makes no promise of concurrency, and tools
    written for it need not be thread-safe. :func:`arun_all` runs calls concurrently.
    """
    verdicts = [_resolve(approve(p)) if approve else True for p in prepared]
    answers: list[Message] = []
    for call, verdict in zip(prepared, verdicts, strict=True):
        answer = _check(call, verdict, on_error) or _execute(
            call, default_timeout, on_error, count_tokens
        )
        if on_result is not None:
            _resolve(on_result(call, answer))
        answers.append(answer)
    return answers


def _execute(
    prepared: PreparedCall,
    default_timeout: float | None,
    on_error: OnError,
    count_tokens: CountTokens | None,
) -> Message:
    tool = prepared.tool
    timeout = tool.timeout if tool.timeout is not None else default_timeout
    try:
        if tool.is_async:
            value = _run_coroutine(lambda: _guarded_async(prepared, timeout))
        elif timeout is None:
            value = _call(prepared)
        else:
            future = _start_thread(lambda: _call(prepared))
            wait_futures([future], timeout)
            if not future.done():
                raise _timeout(prepared, timeout)
            value = future.result()
        return _answer_value(prepared, value, count_tokens)
    except ToolError as exc:
        return _answer_error(prepared.call, exc, on_error)


def _resolve(value: T | Awaitable[T]) -> T:
    """A hook's result; an awaitable one is run to completion (the sync API has no loop)."""
    if not inspect.isawaitable(value):
        return value

    async def wait() -> T:
        return await value

    return _run_coroutine(wait)


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end from sync code, in a fresh event loop.

    If this thread already runs a loop (sync API called from async code), the new loop
    runs in a worker thread: a loop cannot be nested.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    return _start_thread(lambda: asyncio.run(make())).result()


def _start_thread(fn: Callable[[], T]) -> Future[T]:
    # A daemon thread, not an executor: a tool that never returns must not keep the
    # process (or asyncio.run's executor shutdown) waiting for it.
    future: Future[T] = Future()
    context = contextvars.copy_context()

    def work() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(fn))
        except BaseException as exc:  # handed to the waiting thread, which re-raises
            future.set_exception(exc)

    threading.Thread(target=work, name="convo-tool", daemon=True).start()
    return future


# -- the async path ------------------------------------------------------------------


async def arun_all(
    prepared: Sequence[PreparedCall],
    *,
    approve: Approve | None = None,
    on_result: OnResult | None = None,
    on_error: OnError = "return",
    default_timeout: float | None = None,
    count_tokens: CountTokens | None = None,
) -> list[Message]:
    """Answer the calls concurrently; the answers come back in call order.

    ``approve`` is asked for every call first, in order (a person answering prompts
    sees them one at a time), then the approved calls run together: async tools as
    tasks, sync tools in daemon worker threads, each bounded by its timeout.
    ``on_result`` sees each answer as it comes. Under ``on_error="raise"`` the first
    error cancels the calls still running and is raised.
    """
    verdicts = [await _aresolve(approve(p)) if approve else True for p in prepared]

    async def answer(call: PreparedCall, verdict: bool) -> Message:
        reply = _check(call, verdict, on_error) or await _aexecute(
            call, default_timeout, on_error, count_tokens
        )
        if on_result is not None:
            await _aresolve(on_result(call, reply))
        return reply

    tasks = [asyncio.ensure_future(answer(p, v)) for p, v in zip(prepared, verdicts, strict=True)]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _aexecute(
    prepared: PreparedCall,
    default_timeout: float | None,
    on_error: OnError,
    count_tokens: CountTokens | None,
) -> Message:
    tool = prepared.tool
    timeout = tool.timeout if tool.timeout is not None else default_timeout
    try:
        if tool.is_async:
            value = await _guarded_async(prepared, timeout)
        else:
            value = await _bounded(
                asyncio.wrap_future(_start_thread(lambda: _call(prepared))), timeout, prepared
            )
        return _answer_value(prepared, value, count_tokens)
    except ToolError as exc:
        return _answer_error(prepared.call, exc, on_error)


async def _guarded_async(prepared: PreparedCall, limit: float | None) -> Any:
    async def call() -> Any:
        try:
            return await prepared.tool.fn(**prepared.arguments)
        except Exception as exc:
            raise _raised(prepared, exc) from exc

    return await _bounded(asyncio.ensure_future(call()), limit, prepared)


async def _bounded(future: asyncio.Future[T], limit: float | None, prepared: PreparedCall) -> T:
    # asyncio.wait, not wait_for: a TimeoutError raised by the tool itself must stay
    # the tool's error, not pass for the timeout.
    try:
        done, _ = await asyncio.wait({future}, timeout=limit)
    except asyncio.CancelledError:  # the caller gave up (another call failed): so does the tool
        await _stop(future)
        raise
    if not done:
        await _stop(future)
        raise _timeout(prepared, limit)
    return future.result()


async def _stop(future: asyncio.Future[Any]) -> None:
    future.cancel()
    await asyncio.wait({future})  # let the tool's own cleanup run before answering


async def _aresolve(value: T | Awaitable[T]) -> T:
    return await value if inspect.isawaitable(value) else value


# -- shared --------------------------------------------------------------------------


def _call(prepared: PreparedCall) -> Any:
    try:
        return prepared.tool.fn(**prepared.arguments)
    except Exception as exc:
        raise _raised(prepared, exc) from exc


def _raised(prepared: PreparedCall, exc: Exception) -> ToolExecutionError:
    return ToolExecutionError(
        f"the tool {prepared.tool.name} raised {type(exc).__name__}: {exc}",
        tool=prepared.tool.name,
        tool_call_id=prepared.call.id,
    )


def _timeout(prepared: PreparedCall, timeout: float | None) -> ToolTimeoutError:
    # A sync tool's thread cannot be stopped: say so, or the model takes "timed out"
    # for "did not happen" and repeats a side effect that is still under way.
    fate = (
        "it was cancelled"
        if prepared.tool.is_async
        else "it keeps running in the background and may still complete"
    )
    return ToolTimeoutError(
        f"the tool {prepared.tool.name} did not finish within {timeout:g} seconds; {fate}",
        tool=prepared.tool.name,
        tool_call_id=prepared.call.id,
    )


def _check(prepared: PreparedCall, verdict: object, on_error: OnError) -> Message | None:
    if verdict is True:  # only an explicit True runs a call: "no" is truthy
        return None
    error = ToolRefusedError(
        f"the user refused this call to {prepared.tool.name}; it was not run",
        tool=prepared.tool.name,
        tool_call_id=prepared.call.id,
    )
    return _answer_error(prepared.call, error, on_error)


def _answer_value(prepared: PreparedCall, value: Any, count: CountTokens | None) -> Message:
    try:
        text = to_text(value)
    except (PydanticSerializationError, ValueError, TypeError) as exc:
        raise ToolExecutionError(
            f"the tool {prepared.tool.name} returned a value that cannot be written as "
            f"JSON ({type(value).__name__}: {exc})",
            tool=prepared.tool.name,
            tool_call_id=prepared.call.id,
        ) from exc
    text = bound_result(text, prepared.tool.max_result_tokens, count or _estimate)
    return Message.tool(text, tool_call_id=prepared.call.id)


def bound_result(text: str, limit: int, count: CountTokens) -> str:
    """``text`` if it has at most ``limit`` tokens; else its longest start that fits with a
    note saying it was cut (the note counted in).

    >>> bound_result("word " * 100, 12, lambda t: len(t.split()))
    'word \\n[truncated: the result has 100 tokens, over the limit of 12]'
    """
    total = count(text)
    if total <= limit:
        return text
    note = f"\n[truncated: the result has {total:,} tokens, over the limit of {limit:,}]"
    room = limit - count(note)
    if room < 1:
        return note.lstrip()
    # Search the longest prefix that fits. No token is near 64 characters long in
    # practice, so the search starts there and stays proportional to the limit, not to
    # a huge result.
    lo, hi = 0, min(len(text), room * 64)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:mid]) <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + note


def _estimate(text: str) -> int:
    return (len(text) + 3) // 4


def _answer_error(call: ToolCall, error: ToolError, on_error: OnError) -> Message:
    if on_error == "raise":
        raise error
    return Message.tool(f"Error: {error}", tool_call_id=call.id)
