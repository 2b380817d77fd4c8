"""The llama_cpp.server fixture serves the offline model over the Chat Completions wire."""

from __future__ import annotations

import json

import pytest

from convo import Message, Request
from convo.transports.openai import OpenAITransport
from convo.wire import build_body

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def request(
    text: str, params: dict[str, object], tools: tuple[dict[str, object], ...] = ()
) -> Request:
    messages = (Message.user(text),)
    return Request("local", messages, build_body("local", messages, params, tools), tools=tools)


@pytest.fixture
def http(llama_server: str) -> OpenAITransport:
    return OpenAITransport(llama_server, max_retries=0)


def test_a_reply_over_http(http: OpenAITransport) -> None:
    with http:
        reply = http.complete(request("Say hi.", {"temperature": 0, "max_tokens": 16}))
    assert reply.text.strip()
    assert reply.usage is not None
    assert reply.usage.completion_tokens > 0


def test_a_forced_tool_call_over_http(http: OpenAITransport) -> None:
    forced = {"type": "function", "function": {"name": "get_weather"}}
    with http:
        reply = http.complete(
            request("Weather in Paris?", {"temperature": 0, "tool_choice": forced}, (WEATHER,))
        )
    [call] = reply.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
