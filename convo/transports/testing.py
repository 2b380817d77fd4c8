"""Test doubles that ship with convo, so applications can test their bots offline.

:class:`ScriptedTransport` answers from a queue and records every request;
:class:`FunctionTransport` answers with a function of the request.

>>> from convo import Conversation
>>> fake = ScriptedTransport("Hello!", "Bye.")
>>> conv = Conversation("Be brief.", model="test", transport=fake)
>>> conv.send("Hi").text
'Hello!'
>>> fake.requests[0].body["messages"][-1]
{'role': 'user', 'content': 'Hi'}
"""

from __future__ import annotations

import inspect
import itertools
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, TypeAlias

from convo.messages import FunctionCall, Message, ToolCall
from convo.reply import Choice, Reply, Usage
from convo.request import Request
from convo.streaming import StreamAssembler, chunks_from_reply
from convo.transports.base import Chunk, Transport, reply_from_text
from convo.wire import parse_completion

__all__ = ["FunctionTransport", "ScriptedTransport", "tool_calls"]

Answer: TypeAlias = "str | Reply | Message | Mapping[str, Any] | list[Chunk] | BaseException"
_ids = itertools.count(1)


def tool_calls(*calls: tuple[str, Any], content: str | None = None) -> Reply:
    """A reply asking for tool calls: ``tool_calls(("add", {"a": 1, "b": 2}))``.

    Arguments given as a string are sent as they are (to script malformed ones).
    """
    made = tuple(
        ToolCall(
            id=f"call_{next(_ids)}",
            function=FunctionCall(
                name=name, arguments=args if isinstance(args, str) else json.dumps(args)
            ),
        )
        for name, args in calls
    )
    message = Message.assistant(content, tool_calls=made)
    return Reply(choices=(Choice(message=message, finish_reason="tool_calls"),))


def _to_reply(answer: Any) -> Reply:
    if isinstance(answer, Reply):
        return answer
    if isinstance(answer, str):
        return reply_from_text(answer)
    if isinstance(answer, Message):
        reason = "tool_calls" if answer.tool_calls else "stop"
        return Reply(choices=(Choice(message=answer, finish_reason=reason),))
    if isinstance(answer, Mapping):
        return parse_completion(answer)
    if isinstance(answer, list):
        asm = StreamAssembler()
        for chunk in answer:
            asm.feed(chunk)
        return asm.finish()
    raise TypeError(f"cannot turn {type(answer).__name__} into a reply")


def _to_chunks(answer: Any) -> Iterable[Chunk]:
    if isinstance(answer, list):
        return answer
    return chunks_from_reply(_to_reply(answer))


def _with_usage(reply: Reply, request: Request) -> Reply:
    # Bill like a server would, from convo's own count, so usage is never empty in tests.
    if reply.usage is not None:
        return reply
    prompt = request.prompt_tokens or 0
    completion = max(1, len(reply.text) // 4)
    usage = Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    return reply.model_copy(update={"usage": usage})


class ScriptedTransport(Transport):
    """Answers each request with the next scripted item, and records the requests.

    An item is a text, a :class:`Reply`, an assistant :class:`Message`, a completion
    dict, a list of chunk dicts (streamed as they are; an exception among them is raised
    where it stands, as a transport does when a stream is cut), or an exception to raise.
    """

    def __init__(self, *script: Any) -> None:
        self._script: deque[Any] = deque(script)
        self._lock = threading.Lock()
        self.requests: list[Request] = []

    def add(self, *items: Any) -> None:
        """Queue more answers."""
        self._script.extend(items)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def _next(self, request: Request) -> Any:
        with self._lock:
            self.requests.append(request)
            if not self._script:
                raise LookupError(
                    f"ScriptedTransport has no answer left for request {len(self.requests)}"
                )
            answer = self._script.popleft()
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def complete(self, request: Request) -> Reply:
        return _with_usage(_to_reply(self._next(request)), request)

    def stream(self, request: Request) -> Iterator[Chunk]:
        answer = self._next(request)
        if isinstance(answer, list):
            for chunk in answer:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield chunk
        else:
            yield from chunks_from_reply(_with_usage(_to_reply(answer), request))


class FunctionTransport(Transport):
    """Answers with ``fn(request)``; ``fn`` returns what a scripted item may be.

    An ``async def`` function serves the async API without a thread.

    >>> echo = FunctionTransport(lambda req: req.messages[-1].text.upper())
    >>> echo.complete(Request("m", (Message.user("hi"),), {})).text
    'HI'
    """

    def __init__(self, fn: Callable[[Request], Any] | Callable[[Request], Awaitable[Any]]) -> None:
        self.fn = fn
        self.requests: list[Request] = []

    def _call(self, request: Request) -> Any:
        self.requests.append(request)
        answer = self.fn(request)
        if inspect.isawaitable(answer):
            raise TypeError("an async function serves only the async API")
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def complete(self, request: Request) -> Reply:
        return _with_usage(_to_reply(self._call(request)), request)

    def stream(self, request: Request) -> Iterator[Chunk]:
        answer = self._call(request)
        if isinstance(answer, list):
            yield from answer
        else:
            yield from chunks_from_reply(_with_usage(_to_reply(answer), request))

    async def _acall(self, request: Request) -> Any:
        self.requests.append(request)
        answer = self.fn(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def acomplete(self, request: Request) -> Reply:
        return _with_usage(_to_reply(await self._acall(request)), request)

    async def astream(self, request: Request) -> AsyncIterator[Chunk]:
        answer = await self._acall(request)
        for chunk in _to_chunks(
            answer if isinstance(answer, list) else _with_usage(_to_reply(answer), request)
        ):
            yield chunk
