"""Function tools the client sends are external: the calls go back to the client."""

from __future__ import annotations

import json

import pytest

from tests.serve.conftest import Served
from tests.support.chatserver import Answer

openai = pytest.importorskip("openai")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_round_trip_with_memory(served: Served, stream: bool) -> None:
    served.upstream.script(Answer(tool_calls=[("get_weather", {"city": "Oslo"})]), Answer("18C."))
    client = served.client(default_headers={"X-Convo-Conversation": f"tools-{stream}"})
    ask = [{"role": "user", "content": "Weather in Oslo?"}]
    if stream:
        chunks = list(
            client.chat.completions.create(model="m", messages=ask, tools=[WEATHER], stream=True)
        )
        calls = [c for ch in chunks if ch.choices for c in ch.choices[0].delta.tool_calls or ()]
        assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "tool_calls"
        call_id, name, args = calls[0].id, calls[0].function.name, calls[0].function.arguments
    else:
        first = client.chat.completions.create(model="m", messages=ask, tools=[WEATHER])
        assert first.choices[0].finish_reason == "tool_calls"
        (call,) = first.choices[0].message.tool_calls
        call_id, name, args = call.id, call.function.name, call.function.arguments
    assert name == "get_weather" and json.loads(args) == {"city": "Oslo"}
    done = client.chat.completions.create(
        model="m",
        messages=[{"role": "tool", "tool_call_id": call_id, "content": '{"temp": 18}'}],
        tools=[WEATHER],
    )
    assert done.choices[0].message.content == "18C."
    sent = served.upstream.requests[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == call_id


def test_tool_calls_round_trip_stateless(served: Served) -> None:
    served.upstream.script(Answer(tool_calls=[("get_weather", {"city": "Oslo"})]), Answer("18C."))
    client = served.client()
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Oslo?"}]
    first = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
    message = first.choices[0].message
    messages.append(message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "18"})
    done = client.chat.completions.create(model="m", messages=messages, tools=[WEATHER])
    assert done.choices[0].message.content == "18C."


def test_a_new_message_while_calls_wait_is_refused(served: Served) -> None:
    served.upstream.script(Answer(tool_calls=[("get_weather", {"city": "Oslo"})]))
    client = served.client(default_headers={"X-Convo-Conversation": "waiting"})
    client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER]
    )
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "never mind"}], tools=[WEATHER]
        )
    assert info.value.code == "pending_tool_calls"
