"""The three wire formats against llama.cpp's own ``llama-server`` and the real model.

One scenario set, run through Chat Completions (``OpenAITransport``), Responses
(``ResponsesTransport``) and Anthropic Messages (``AnthropicTransport``): multi-turn,
streaming, tools, errors, and one history that moves between all three.
The model is a 0.5B one: the assertions are about structure (roles, usage, finish
reasons, parseable arguments), never its wording. The server's quirks are in
``tests/support/llama_cpp_server.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from convo import AsyncConversation, Conversation, tool
from convo.errors import BadRequestError
from convo.messages import Message
from convo.reply import Reply
from convo.transports.base import Transport
from convo.transports.openai import OpenAITransport
from convo.transports.responses import ResponsesTransport
from convo.transports.sse import SSEDecoder
from convo.transports.testing import ScriptedTransport, tool_calls
from tests.support import require

PARAMS: dict[str, Any] = {"temperature": 0, "seed": 1, "max_tokens": 24}
KINDS = ["chat", "anthropic", "responses"]


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def make(kind: str, base: str) -> Transport:
    """A transport of ``kind`` on the server; no retries, so a failure shows at once."""
    if kind == "chat":
        return OpenAITransport(base, max_retries=0)
    if kind == "responses":
        return ResponsesTransport(base, max_retries=0)
    anthropic = require("convo_anthropic.transport", "needs convo-anthropic")
    # The Messages API's base URL is the server's root: the path carries /v1.
    t: Transport = anthropic.AnthropicTransport(
        base.removesuffix("/v1"), api_key="sk-ant-unused", max_retries=0
    )
    return t


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def transport(kind: str, llama_cpp_server: str) -> Iterator[Transport]:
    t = make(kind, llama_cpp_server)
    yield t
    t.close()


def structured(reply: Reply, *finish: str) -> None:
    """What every reply from the real server must have, whichever format carried it."""
    assert reply.finish_reason in finish
    assert reply.message.role == "assistant"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_multi_turn_sends_the_whole_history(transport: Transport) -> None:
    conv = Conversation("You are terse.", model="local", transport=transport, **PARAMS)
    first = conv.send("My name is Ada. Say hi.")
    structured(first, "stop", "length")
    assert first.text.strip()
    second = conv.send("What is my name?")
    structured(second, "stop", "length")
    assert second.text.strip()
    # The second prompt holds the first exchange: the server saw the history.
    assert first.usage is not None and second.usage is not None
    assert second.usage.prompt_tokens > first.usage.total_tokens
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[2].text == first.text


def test_a_cut_reply_says_so(kind: str, transport: Transport) -> None:
    conv = Conversation(model="local", transport=transport, temperature=0, max_tokens=3)
    reply = conv.send("Count from one to twenty in words.")
    # Responses: llama-server reports every response "completed", even when cut by
    # max_output_tokens, so the format cannot tell (a quirk, see the fixture).
    structured(reply, "stop" if kind == "responses" else "length")
    assert reply.usage is not None and reply.usage.completion_tokens == 3


async def test_async_multi_turn(kind: str, llama_cpp_server: str) -> None:
    t = make(kind, llama_cpp_server)
    try:
        conv = AsyncConversation(model="local", transport=t, **PARAMS)
        structured(await conv.send("Say OK."), "stop", "length")
        async with conv.stream("Again.") as stream:
            deltas = [d async for d in stream]
        assert stream.reply is not None and "".join(deltas) == stream.reply.text
        assert [m.role for m in conv.messages] == ["user", "assistant"] * 2
    finally:
        await t.aclose()


def test_streaming_joins_to_the_committed_reply(transport: Transport) -> None:
    conv = Conversation(model="local", transport=transport, **PARAMS)
    stream = conv.stream("Count from one to five in words.")
    deltas = list(stream)
    assert len(deltas) > 1  # it really streamed
    assert stream.reply is not None
    assert "".join(deltas) == stream.reply.text == conv.messages[-1].text
    structured(stream.reply, "stop", "length")


# The named events each format's translator reads, as the server must send them.
EVENTS = {
    "anthropic": (
        "/v1/messages",
        {
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        },
    ),
    "responses": (
        "/v1/responses",
        {"response.created", "response.output_text.delta", "response.completed"},
    ),
}


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_the_server_sends_the_named_events_the_formats_read(
    kind: str, llama_cpp_server: str
) -> None:
    # The same request the transport encodes, read raw: which event names came.
    path, expected = EVENTS[kind]
    t = make(kind, llama_cpp_server)
    conv = Conversation(model="local", transport=t, **PARAMS)
    body = t.format.encode(conv.prepare("Say hi."), stream=True)  # type: ignore[attr-defined]
    t.close()
    root = llama_cpp_server.removesuffix("/v1")
    decoder = SSEDecoder()
    names: list[str] = []
    with httpx2.Client(timeout=120) as client, client.stream("POST", root + path, json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for data in r.iter_bytes():
            names += [e.event for e in decoder.feed(data)]
    assert expected <= set(names), names
    assert names[0] == ("message_start" if kind == "anthropic" else "response.created")


def test_the_tools_reach_the_prompt(transport: Transport) -> None:
    # The server renders the tool schemas into the model's chat template: the same
    # question costs far more prompt tokens with them, whichever format sent them.
    bare = Conversation(model="local", transport=transport, **PARAMS).send("What is 2 + 3?")
    conv = Conversation(model="local", transport=transport, tools=[add], **PARAMS)
    armed = conv.send("What is 2 + 3?", tool_choice="required")
    structured(armed, "stop", "length", "tool_calls")
    assert bare.usage is not None and armed.usage is not None
    assert armed.usage.prompt_tokens > bare.usage.prompt_tokens + 50


def scripted_tool_round() -> list[Message]:
    """A finished tool round (call, result, answer), taken by convo's own loop."""
    script = ScriptedTransport(tool_calls(("add", {"a": 2, "b": 3})), "It is 5.")
    conv = Conversation("Use the tool.", model="local", transport=script, tools=[add])
    conv.send("What is 2 + 3?")
    return conv.messages


def test_a_tool_round_in_the_history_is_sent_and_read(kind: str, llama_cpp_server: str) -> None:
    history = scripted_tool_round()
    assert [m.role for m in history] == ["system", "user", "assistant", "tool", "assistant"]
    t = make(kind, llama_cpp_server)
    try:
        with_round = Conversation(messages=history, model="local", transport=t, tools=[add])
        reply = with_round.send("And 3 + 4?", **PARAMS)
        # Without the round: the same question after the system prompt alone.
        plain = Conversation(messages=history[:1], model="local", transport=t, tools=[add])
        baseline = plain.send("And 3 + 4?", **PARAMS)
    finally:
        t.close()
    structured(reply, "stop", "length", "tool_calls")
    # The call, its result and the answer reached the template (a format that lost
    # or garbled them would be refused with a 400, or send far fewer tokens).
    assert reply.usage is not None and baseline.usage is not None
    assert reply.usage.prompt_tokens >= baseline.usage.prompt_tokens + 20
    assert [m.role for m in with_round.messages][-2:] == ["user", "assistant"]


def test_an_oversized_prompt_is_a_bad_request(transport: Transport) -> None:
    # 4096 tokens of context on the server: this prompt is about 6000.
    conv = Conversation(model="local", transport=transport, **PARAMS)
    with pytest.raises(BadRequestError) as caught:
        conv.send("apple " * 6000)
    assert caught.value.status_code == 400
    assert "context" in caught.value.message.lower()
    assert conv.messages == []  # a failed turn is not kept


def test_an_oversized_streamed_prompt_fails_before_the_first_chunk(transport: Transport) -> None:
    conv = Conversation(model="local", transport=transport, **PARAMS)
    with pytest.raises(BadRequestError), conv.stream("apple " * 6000) as s:
        list(s)
    assert conv.messages == []


def test_a_history_moves_between_the_three_formats(llama_cpp_server: str) -> None:
    # Chat Completions -> Anthropic -> Responses -> Chat Completions on one history
    # that starts with a tool round; each format sends all that came before.
    transports = {kind: make(kind, llama_cpp_server) for kind in KINDS}
    conv = Conversation(messages=scripted_tool_round(), model="local", tools=[add])
    prompts: list[int] = []
    try:
        for kind in ("chat", "anthropic", "responses", "chat"):
            conv = Conversation(
                messages=conv.messages, model="local", transport=transports[kind], tools=[add]
            )
            reply = conv.send(f"Say {kind}.", **PARAMS)
            structured(reply, "stop", "length", "tool_calls")
            assert reply.usage is not None
            prompts.append(reply.usage.prompt_tokens)
    finally:
        for t in transports.values():
            t.close()
    assert prompts == sorted(prompts) and len(set(prompts)) == 4  # the history grew each time
    roles = [m.role for m in conv.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"] + ["user", "assistant"] * 4
    assert conv.messages[2].tool_calls is not None
    assert conv.messages[3].tool_call_id == conv.messages[2].tool_calls[0].id
