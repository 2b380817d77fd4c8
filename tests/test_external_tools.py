"""Tools that run elsewhere: calls returned to the caller, resumed with their results;
deferred approvals; every refusal (issue 16). Over real HTTP to the local test server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from convo import (
    DEFER,
    AsyncConversation,
    BudgetError,
    Conversation,
    Message,
    PendingToolCallsError,
    ScriptedTransport,
    ToolArgumentsError,
    ToolResult,
)
from convo.transports.openai import OpenAITransport
from convo.transports.testing import tool_calls
from tests.support import ChatServer
from tests.support.chatserver import Answer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city (runs in the browser).",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def local_time(city: str) -> str:
    """The local time in a city."""
    return f"{city}: 10:00"


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as s:
        yield s


def _sent(server: ChatServer, n: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = server.requests[n].json["messages"]
    return messages


def test_an_external_call_is_returned_and_the_results_resume_the_turn(server: ChatServer) -> None:
    server.script(Answer(tool_calls=[("get_weather", {"city": "Oslo"})]), Answer("Sunny, 18C."))
    with OpenAITransport(server.url, api_key="sk-test") as transport:
        conv = Conversation(model="gpt-4o-mini", transport=transport, tools=[WEATHER])
        reply = conv.send("Weather in Oslo?")
        assert reply.finish_reason == "tool_calls"
        (call,) = reply.tool_calls
        assert call.function.name == "get_weather" and conv.pending_tool_calls == (call,)
        assert [m.role for m in conv.history] == ["user", "assistant"]
        assert server.requests[0].json["tools"][0]["function"]["name"] == "get_weather"
        reply = conv.send(ToolResult(call.id, {"temp": 18, "sky": "sunny"}))
        assert reply.text == "Sunny, 18C." and conv.pending_tool_calls == ()
    roles = [m.role for m in conv.history]
    assert roles == ["user", "assistant", "tool", "assistant"]
    sent = _sent(server, 1)
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert json.loads(sent[2]["content"]) == {"temp": 18, "sky": "sunny"}
    assert sent[2]["tool_call_id"] == call.id


async def test_external_calls_async_and_streaming(server: ChatServer) -> None:
    server.script(Answer(tool_calls=[("get_weather", {"city": "Oslo"})]), Answer("Sunny in Oslo"))
    async with OpenAITransport(server.url, api_key="sk-test") as transport:
        conv = AsyncConversation(model="gpt-4o-mini", transport=transport, tools=[WEATHER])
        async with conv.stream("Weather?") as s:
            assert [p async for p in s] == []  # the round streams no text
        assert s.reply is not None and s.reply.finish_reason == "tool_calls"
        (call,) = s.reply.tool_calls
        async with conv.stream({"role": "tool", "tool_call_id": call.id, "content": "18C"}) as s2:
            text = "".join([p async for p in s2])
        assert text == "Sunny in Oslo"
    assert [m.role for m in conv.history] == ["user", "assistant", "tool", "assistant"]


def test_a_mixed_round_runs_the_registered_call_and_returns_the_external_one(
    server: ChatServer,
) -> None:
    server.script(
        Answer(tool_calls=[("get_weather", {"city": "Oslo"}), ("local_time", {"city": "Oslo"})]),
        Answer("Sunny at 10:00."),
    )
    with OpenAITransport(server.url, api_key="sk-test") as transport:
        conv = Conversation(model="m", transport=transport, tools=[WEATHER, local_time])
        reply = conv.send("Weather and time?")
        assert [c.function.name for c in reply.tool_calls] == ["get_weather"]
        assert len(reply.message.tool_calls or ()) == 2  # the round itself has both
        conv.send(ToolResult(reply.tool_calls[0].id, "sunny"))
    sent = _sent(server, 1)
    # every call answered exactly once, in call order, whoever ran it
    calls = sent[1]["tool_calls"]
    answers = [m for m in sent if m["role"] == "tool"]
    assert [a["tool_call_id"] for a in answers] == [c["id"] for c in calls]
    assert [a["content"] for a in answers] == ["sunny", "Oslo: 10:00"]


def test_results_are_refused_naming_the_id_and_nothing_is_appended() -> None:
    fake = ScriptedTransport(
        tool_calls(("get_weather", {"city": "A"}), ("get_weather", {"city": "B"})), "done"
    )
    conv = Conversation(model="m", transport=fake, tools=[WEATHER])
    first, second = conv.send("w?").tool_calls
    before = conv.history
    cases = [
        [ToolResult("nope", "x")],
        [ToolResult(first.id, "x"), ToolResult(first.id, "y")],
    ]
    for results in cases:
        with pytest.raises(ToolArgumentsError) as info:
            conv.send(results)
        assert info.value.tool_call_id in ("nope", first.id)
        assert conv.history == before and len(fake.requests) == 1
    conv.send(ToolResult(first.id, "sunny A"))  # a part of the round: no request yet
    assert len(fake.requests) == 1 and conv.pending_tool_calls == (second,)
    with pytest.raises(ToolArgumentsError, match="already answered"):
        conv.send(ToolResult(first.id, "again"))
    reply = conv.send(ToolResult(second.id, "sunny B"))
    assert reply.text == "done"
    answers = [m.text for m in conv.history if m.role == "tool"]
    assert answers == ["sunny A", "sunny B"]


def test_a_new_message_while_calls_wait_is_refused_unless_they_are_cancelled() -> None:
    fake = ScriptedTransport(tool_calls(("get_weather", {"city": "A"})), "ok, never mind")
    conv = Conversation(model="m", transport=fake, tools=[WEATHER])
    (call,) = conv.send("w?").tool_calls
    with pytest.raises(PendingToolCallsError) as info:
        conv.send("something else")
    assert info.value.tool_call_ids == [call.id] and len(fake.requests) == 1
    reply = conv.send("something else", cancel_pending=True)
    assert reply.text == "ok, never mind"
    tools = [m for m in conv.history if m.role == "tool"]
    assert len(tools) == 1 and "Cancelled by the user" in tools[0].text
    sent = fake.requests[1].messages
    assert [m.role for m in sent] == ["user", "assistant", "tool", "user"]


def test_results_without_a_pending_call_are_refused() -> None:
    conv = Conversation(model="m", transport=ScriptedTransport("hi"))
    with pytest.raises(ToolArgumentsError):
        conv.send(ToolResult("call_1", "x"))
    assert conv.history == ()


def test_a_suspended_turn_is_sent_whole_with_its_answers_whatever_the_budget() -> None:
    fake = ScriptedTransport(tool_calls(("get_weather", {"city": "A"})), "done")
    conv = Conversation(model="gpt-4o", transport=fake, tools=[WEATHER])
    (call,) = conv.send("w? " + "pad " * 50).tool_calls
    conv.context_window = 60  # too small for the suspended turn and its answer
    with pytest.raises(BudgetError):
        conv.send(ToolResult(call.id, "sunny"))
    assert len(fake.requests) == 1  # never a request with an unanswered call
    assert conv.pending_tool_calls == (call,)


# -- deferred approvals ----------------------------------------------------------------


def pay(amount: int) -> str:
    """Pay an amount."""
    return f"paid {amount}"


@pytest.mark.parametrize("approved", [True, False])
def test_a_deferred_approval_suspends_and_resolve_resumes(approved: bool) -> None:
    fake = ScriptedTransport(tool_calls(("pay", {"amount": 5})), "all done")
    conv = Conversation(model="m", transport=fake, tools=[pay], approve=lambda call: DEFER)
    reply = conv.send("pay 5")
    (call,) = reply.tool_calls
    assert reply.finish_reason == "tool_calls" and conv.pending_tool_calls == (call,)
    with pytest.raises(ToolArgumentsError, match="approval"):
        conv.send(ToolResult(call.id, "I pretend it ran"))
    reply = conv.resolve(call.id, approved=approved)
    assert reply.text == "all done"
    answer = conv.history[2].text
    assert answer == "paid 5" if approved else "refused" in answer


async def test_a_deferred_approval_async() -> None:
    fake = ScriptedTransport(tool_calls(("pay", {"amount": 7})), "all done")

    async def later(call: Any) -> Any:
        return DEFER

    conv = AsyncConversation(model="m", transport=fake, tools=[pay], approve=later)
    (call,) = (await conv.send("pay 7")).tool_calls
    reply = await conv.resolve(call.id, approved=True)
    assert reply.text == "all done" and conv.history[2].text == "paid 7"


def test_only_an_explicit_true_runs_a_call() -> None:
    ran: list[int] = []

    def act(n: int) -> str:
        """Act."""
        ran.append(n)
        return "done"

    for verdict in ("no", 1, "yes", None, [True]):
        fake = ScriptedTransport(tool_calls(("act", {"n": 1})), "ok")
        conv = Conversation(model="m", transport=fake, tools=[act], approve=lambda c, v=verdict: v)
        conv.send("go")
        assert ran == [], verdict
        assert "refused" in conv.history[2].text


def test_resolve_refuses_an_unknown_id() -> None:
    fake = ScriptedTransport(tool_calls(("pay", {"amount": 5})))
    conv = Conversation(model="m", transport=fake, tools=[pay], approve=lambda c: DEFER)
    conv.send("pay")
    with pytest.raises(ToolArgumentsError, match="no tool call 'nope'"):
        conv.resolve("nope", approved=True)
    assert [m.role for m in conv.history] == ["user", "assistant"]


def test_message_values_work_as_results() -> None:
    fake = ScriptedTransport(tool_calls(("get_weather", {"city": "A"})), "done")
    conv = Conversation(model="m", transport=fake, tools=[WEATHER])
    (call,) = conv.send("w?").tool_calls
    assert conv.send(Message.tool("sunny", tool_call_id=call.id)).text == "done"
