"""Anthropic Messages and OpenAI Responses against the local fault-injecting server,
blocking and async, whole replies and streams, with tools and with faults."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convo import AsyncConversation, Conversation, tool
from convo.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InternalServerError,
    StreamError,
)
from convo.messages import Message
from convo.reply import Reply
from convo.request import Request
from convo.transports.base import Chunk
from convo.transports.formats import FormatTransport
from convo.wire import build_body
from tests.formats.conftest import KEY
from tests.support import Answer, ChatServer, Drop, Events, error
from tests.support.formats import anthropic_error


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def request(content: str = "hello there", *, stream: bool = False, **params: Any) -> Request:
    messages = (Message.system("Be brief."), Message.user(content))
    body = build_body("claude-test", messages, params, stream=stream)
    return Request("claude-test", messages, body, stream=stream)


async def complete(t: FormatTransport, r: Request, mode: str) -> Reply:
    return t.complete(r) if mode == "sync" else await t.acomplete(r)


async def collect(t: FormatTransport, r: Request, mode: str) -> list[Chunk]:
    if mode == "sync":
        return list(t.stream(r))
    return [c async for c in t.astream(r)]


async def send(conv: Any, text: str, mode: str, *, stream: bool = False) -> str:
    if mode == "sync":
        if stream:
            with conv.stream(text) as s:
                return "".join(s)
        return str(conv.send(text).text)
    if stream:
        async with conv.stream(text) as s:
            return "".join([d async for d in s])
    return str((await conv.send(text)).text)


def conversation(t: FormatTransport, mode: str, **kw: Any) -> Any:
    cls = Conversation if mode == "sync" else AsyncConversation
    return cls("Be brief.", model="claude-test", transport=t, **kw)


@pytest.mark.parametrize("stream", [False, True])
async def test_multi_turn(
    kind: str, transport: FormatTransport, chat_server: ChatServer, mode: str, stream: bool
) -> None:
    conv = conversation(transport, mode)
    assert await send(conv, "first question", mode, stream=stream) == "echo: first question"
    assert await send(conv, "second one", mode, stream=stream) == "echo: second one"
    body = chat_server.requests[-1].json
    headers = chat_server.requests[-1].headers
    if kind == "anthropic":
        assert chat_server.requests[-1].path == "/v1/messages"
        assert body["system"] == "Be brief."
        assert body["max_tokens"] == 4096  # always sent
        assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
        assert headers["x-api-key"] == KEY and "authorization" not in headers
        assert headers["anthropic-version"] == "2023-06-01"
    else:
        assert chat_server.requests[-1].path == "/v1/responses"
        assert body["store"] is False
        assert [i["role"] for i in body["input"]] == ["system", "user", "assistant", "user"]
        assert headers["authorization"] == f"Bearer {KEY}"
    assert body.get("stream", False) is stream
    assert "messages" not in body or kind == "anthropic"


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_round(
    kind: str, transport: FormatTransport, chat_server: ChatServer, mode: str, stream: bool
) -> None:
    chat_server.script(Answer(tool_calls=[("add", {"a": 2, "b": 3})]), Answer("It is 5."))
    conv = conversation(transport, mode, tools=[add])
    assert await send(conv, "2+3?", mode, stream=stream) == "It is 5."
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "tool", "assistant"]
    call = conv.messages[2].tool_calls[0]
    assert (call.name, json.loads(call.arguments)) == ("add", {"a": 2, "b": 3})
    assert conv.messages[3].text == "5"
    first, second = (r.json for r in chat_server.requests)
    if kind == "anthropic":
        assert first["tools"][0]["name"] == "add" and "input_schema" in first["tools"][0]
        use = second["messages"][1]["content"][-1]
        assert use == {"type": "tool_use", "id": call.id, "name": "add", "input": {"a": 2, "b": 3}}
        result = second["messages"][2]["content"][0]
        assert result == {"type": "tool_result", "tool_use_id": call.id, "content": "5"}
    else:
        assert first["tools"][0] == {
            "type": "function",
            "name": "add",
            "description": "Add two numbers.",
            "parameters": first["tools"][0]["parameters"],
        }
        kinds = [i.get("type") for i in second["input"]]
        assert kinds == ["message", "message", "function_call", "function_call_output"]
        assert second["input"][3] == {
            "type": "function_call_output",
            "call_id": call.id,
            "output": "5",
        }


async def test_usage_and_finish_reasons(
    transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Answer("one two three four"))
    reply = await complete(transport, request(max_tokens=2), mode)
    assert reply.text == "one two" and reply.finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 2


@pytest.mark.parametrize("status", [429, 503, 529])
async def test_retried_statuses(
    transport: FormatTransport, chat_server: ChatServer, mode: str, sleeps: list[float], status: int
) -> None:
    chat_server.script(anthropic_error(status, "overloaded_error", "Overloaded"), Answer("ok"))
    assert (await complete(transport, request(), mode)).text == "ok"
    assert len(sleeps) == 1 and len(chat_server.requests) == 2


async def test_overloaded_when_retries_run_out(
    transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(*[anthropic_error(529, "overloaded_error", "Overloaded")] * 3)
    with pytest.raises(InternalServerError) as info:
        await complete(transport, request(), mode)
    assert info.value.status_code == 529 and info.value.type == "overloaded_error"
    assert len(chat_server.requests) == 3


async def test_400_is_not_retried(
    transport: FormatTransport, chat_server: ChatServer, mode: str, sleeps: list[float]
) -> None:
    chat_server.script(anthropic_error(400, "invalid_request_error", "max_tokens: too large"))
    with pytest.raises(BadRequestError, match="max_tokens: too large"):
        await complete(transport, request(), mode)
    assert sleeps == [] and len(chat_server.requests) == 1


async def test_the_key_never_leaks_from_a_401(
    transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(error(401, f"invalid x-api-key {KEY}"))
    with pytest.raises(AuthenticationError) as info:
        await complete(transport, request(), mode)
    assert KEY not in str(info.value) and KEY not in repr(info.value.body)
    assert KEY not in repr(transport)


async def test_a_reset_before_the_answer_is_retried(
    transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Drop(reset=True), Answer("after the reset"))
    chunks = await collect(transport, request(stream=True), mode)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "after the reset"


async def _events_for(kind: str, chat_server: ChatServer, transport: FormatTransport) -> list[str]:
    """The named events the server sends for a streamed "one two three"."""
    chat_server.script(Answer("one two three"))
    transport.max_retries = 0
    raw = list(transport.stream(request(stream=True)))
    assert raw
    # Rebuild the events by asking the server's renderer directly.
    from tests.support.chatserver import _Renderer
    from tests.support.formats import chat_view, render

    body = chat_view(kind, {"model": "m", "messages": [], "input": []})
    return render(kind, _Renderer(Answer("one two three"), body, 1), {"stream": True})[1]


async def test_a_reset_after_the_first_chunk_is_not_replayed(
    kind: str, transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    events = await _events_for(kind, chat_server, transport)
    transport.max_retries = 2
    chat_server.script(Events(events, done=False, disconnect_after=3, reset=True), Answer("again"))
    got: list[Chunk] = []
    with pytest.raises(APIConnectionError):
        await _read_into(got, transport, mode)
    assert got and chat_server.remaining == 1  # the second answer was never asked for


async def _read_into(got: list[Chunk], t: Any, mode: str) -> None:
    if mode == "sync":
        for chunk in t.stream(request(stream=True)):
            got.append(chunk)
    else:
        async for c in t.astream(request(stream=True)):
            got.append(c)  # kept as they come: the stream then fails


async def test_a_stream_without_its_terminal_event_is_incomplete(
    kind: str, transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    events = await _events_for(kind, chat_server, transport)
    chat_server.script(Events(events[:-1], done=False))
    with pytest.raises(IncompleteStreamError):
        await collect(transport, request(stream=True), mode)


async def test_an_error_event_mid_stream(
    kind: str, transport: FormatTransport, chat_server: ChatServer, mode: str
) -> None:
    events = await _events_for(kind, chat_server, transport)
    failure = (
        "event: error\ndata: "
        '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    chat_server.script(Events([*events[:3], failure], done=False))
    with pytest.raises(StreamError, match="Overloaded") as info:
        await collect(transport, request(stream=True), mode)
    assert info.value.type == "overloaded_error"


async def test_structured_output_over_anthropic_is_a_forced_tool(
    chat_server: ChatServer, mode: str
) -> None:
    from pydantic import BaseModel

    from tests.formats.conftest import make

    class City(BaseModel):
        name: str

    chat_server.script(Answer(tool_calls=[("City", {"name": "Oslo"})]))
    async with make("anthropic", chat_server.url) as t:
        conv = conversation(t, mode)
        reply = conv.send("Where?", response_format=City)
        reply = reply if mode == "sync" else await reply
    assert reply.parsed == City(name="Oslo")
    body = chat_server.requests[0].json
    assert body["tool_choice"] == {"type": "tool", "name": "City"}
    assert "response_format" not in body


def test_claude_models_budget_with_the_documented_window(chat_server: ChatServer) -> None:
    from tests.formats.conftest import make

    with make("anthropic", chat_server.url) as t:
        budget = Conversation(model="claude-sonnet-4-5", transport=t).prepare("hi").budget
        assert budget is not None and 150_000 < budget <= 200_000
        # Not a Claude name: the transport declares nothing, the usual default applies.
        other = Conversation(model="other", transport=t).prepare("hi").budget
        assert other is not None and other < 150_000
