"""The conversation drivers over the shipped test doubles (the HTTP path has its own tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from convo import (
    APIConnectionError,
    AsyncConversation,
    Conversation,
    FunctionTransport,
    IncompleteStreamError,
    Message,
    MessageError,
    ParameterError,
    Request,
    ScriptedTransport,
    Transport,
)
from convo.transports.testing import tool_calls


def test_multi_turn_carries_context() -> None:
    fake = ScriptedTransport("Paris.", "About 2.1 million.")
    conv = Conversation("Be terse.", model="gpt-4o-mini", transport=fake)
    assert conv.send("Capital of France?").text == "Paris."
    reply = conv.send("Population?")
    assert reply.text == "About 2.1 million."
    sent = fake.requests[1].body["messages"]
    assert sent == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "Population?"},
    ]
    assert [m.role for m in conv.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert conv.messages[-1] == reply.message


def test_params_defaults_and_per_call_reach_the_body() -> None:
    fake = ScriptedTransport("a", "b")
    conv = Conversation(model="gpt-4o", transport=fake, temperature=0.2, max_tokens=50)
    conv.send("x", temperature=1.5, stop=["\n"], seed=3, user="u")
    body = fake.requests[0].body
    assert body["model"] == "gpt-4o"
    assert (body["temperature"], body["max_tokens"], body["stop"], body["seed"], body["user"]) == (
        1.5,
        50,
        ["\n"],
        3,
        "u",
    )
    conv.send("y")
    assert fake.requests[1].body["temperature"] == 0.2 and "seed" not in fake.requests[1].body


def test_bad_params_and_messages_fail_before_any_request() -> None:
    fake = ScriptedTransport("never")
    with pytest.raises(ParameterError):
        Conversation(model="m", transport=fake, temperature=3)
    conv = Conversation(model="m", transport=fake)
    with pytest.raises(ParameterError):
        conv.send("x", top_p=2)
    with pytest.raises(MessageError) as info:
        conv.send([{"role": "user", "content": "ok"}, {"role": "bot", "content": "x"}])
    assert info.value.index == 1
    with pytest.raises(MessageError) as info:
        Conversation(model="m", messages=[{"role": "tool", "content": "x"}])
    assert info.value.index == 0 and info.value.field == "tool_call_id"
    assert fake.requests == [] and conv.messages == []


def test_failed_send_leaves_history_unchanged() -> None:
    fake = ScriptedTransport("first", APIConnectionError("down"))
    conv = Conversation("sys", model="m", transport=fake)
    conv.send("one")
    before = conv.messages
    with pytest.raises(APIConnectionError):
        conv.send("two")
    assert conv.messages == before


def test_initial_messages_with_system() -> None:
    conv = Conversation(
        model="m",
        messages=[
            {"role": "system", "content": "S"},
            {"role": "user", "content": "u"},
            Message.assistant("a"),
        ],
        transport=ScriptedTransport("b"),
    )
    assert conv.system == "S"
    conv.send("next")
    assert [m.text for m in conv.messages] == ["S", "u", "a", "next", "b"]


def test_prepare_is_exactly_what_send_sends() -> None:
    fake = ScriptedTransport("ok")
    conv = Conversation("sys", model="gpt-4o", transport=fake, temperature=0)
    prepared = conv.prepare("hello", top_p=0.5)
    conv.send("hello", top_p=0.5)
    assert prepared.body == fake.requests[0].body
    assert prepared.messages == fake.requests[0].messages
    assert prepared.prompt_tokens is not None and prepared.prompt_tokens > 0
    assert conv.prepare().body["messages"][-1]["role"] == "assistant"


def test_n_choices_first_appended_or_chosen() -> None:
    reply = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"},
            {"index": 1, "message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"},
        ]
    }
    conv = Conversation(model="m", transport=ScriptedTransport(reply, reply))
    r = conv.send("x", n=2)
    assert [c.message.text for c in r.choices] == ["A", "B"] and r.text == "A"
    assert conv.messages[-1].text == "A"
    r = conv.send("y", n=2, choose=lambda reply: 1)
    assert r.text == "B" and conv.messages[-1].text == "B"


def test_stream_yields_deltas_then_reply() -> None:
    conv = Conversation(model="m", transport=ScriptedTransport("Hello there, friend"))
    stream = conv.stream("Hi")
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == "Hello there, friend"
    assert stream.reply is not None and stream.reply.text == "Hello there, friend"
    assert conv.messages[-1].text == "Hello there, friend"


class Tracking(Transport):
    """Streams forever-ish and records whether its stream was closed."""

    def __init__(self) -> None:
        self.closed = False

    def stream(self, request: Request) -> Iterator[dict]:
        try:
            for i in range(1000):
                yield {"choices": [{"index": 0, "delta": {"content": f"w{i} "}}]}
        finally:
            self.closed = True


def test_breaking_out_of_a_stream_closes_it_and_appends_nothing() -> None:
    transport = Tracking()
    conv = Conversation(model="m", transport=transport)
    for i, _ in enumerate(conv.stream("Hi")):
        if i == 3:
            break
    assert transport.closed
    assert conv.messages == []


def test_a_cut_stream_is_an_error_and_saves_nothing() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        IncompleteStreamError("cut"),
    ]
    conv = Conversation(model="m", transport=ScriptedTransport(chunks))
    with pytest.raises(IncompleteStreamError):
        list(conv.stream("Hi"))
    assert conv.messages == []


def test_a_stream_the_transport_ended_well_needs_no_finish_reason() -> None:
    # Whether a stream ended well is the transport's to say (for HTTP: [DONE]).
    chunks = [{"choices": [{"index": 0, "delta": {"content": "Hel"}}]}]
    conv = Conversation(model="m", transport=ScriptedTransport(chunks))
    stream = conv.stream("Hi")
    assert "".join(stream) == "Hel"
    assert stream.reply.finish_reason is None
    assert conv.messages[-1].text == "Hel"


def test_function_transport_sees_requests() -> None:
    conv = Conversation(model="m", transport=FunctionTransport(lambda r: f"{len(r.messages)} msgs"))
    assert conv.send("a").text == "1 msgs"
    assert conv.send("b").text == "3 msgs"


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: the first
        b: the second
    """
    return a + b


def test_tool_loop_answers_each_call_then_finishes() -> None:
    fake = ScriptedTransport(tool_calls(("add", {"a": 2, "b": 3}), ("nope", {})), "5")
    conv = Conversation(model="m", transport=fake, tools=[add])
    reply = conv.send("2+3?")
    assert reply.text == "5"
    roles = [m.role for m in conv.messages]
    assert roles == ["user", "assistant", "tool", "tool", "assistant"]
    calls = conv.messages[1].tool_calls
    assert calls is not None
    answers = {m.tool_call_id: m.text for m in conv.messages[2:4]}
    assert answers[calls[0].id] == "5"
    assert "nope" in answers[calls[1].id] and "add" in answers[calls[1].id]
    assert fake.requests[0].body["tools"][0]["function"]["name"] == "add"
    assert fake.requests[0].body["tool_choice"] == "auto"


def test_tool_loop_failure_leaves_history() -> None:
    fake = ScriptedTransport(tool_calls(("add", {"a": 1, "b": 1})), APIConnectionError("down"))
    conv = Conversation(model="m", transport=fake, tools=[add])
    with pytest.raises(APIConnectionError):
        conv.send("1+1?")
    assert conv.messages == []


async def test_async_send_and_stream() -> None:
    fake = ScriptedTransport("one", "two three")
    conv = AsyncConversation("sys", model="m", transport=fake)
    assert (await conv.send("a")).text == "one"
    async with conv.stream("b") as stream:
        deltas = [d async for d in stream]
    assert "".join(deltas) == "two three"
    assert stream.reply is not None and stream.reply.text == "two three"
    assert [m.text for m in conv.messages] == ["sys", "a", "one", "b", "two three"]


async def test_async_tool_loop() -> None:
    fake = ScriptedTransport(tool_calls(("add", {"a": 2, "b": 2})), "4")
    conv = AsyncConversation(model="m", transport=fake, tools=[add])
    assert (await conv.send("2+2")).text == "4"
    assert conv.messages[2].text == "4"


def test_fork_without_store() -> None:
    conv = Conversation("s", model="m", transport=ScriptedTransport("a", "b", "c"))
    conv.send("1")
    conv.send("2")
    other = conv.fork(at=2)
    assert [m.text for m in other.messages] == ["s", "1", "a"]
    other.send("2 again")
    assert conv.messages[-1].text == "b" and other.messages[-1].text == "c"
