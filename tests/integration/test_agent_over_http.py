"""Tools and structured output through Conversation over real HTTP to the local test server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from convo import (
    AsyncConversation,
    Conversation,
    OpenAITransport,
    ParseError,
    RefusalError,
    TruncatedError,
    tool,
)
from tests.support import Answer, ChatServer, Respond

calls: list[tuple[str, str]] = []


@tool
async def weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city.
    """
    calls.append(("weather", city))
    await asyncio.sleep(0.01)
    return f"{city}: 20C"


@tool
def population(city: str) -> int:
    """How many people live in a city."""
    calls.append(("population", city))
    return {"Oslo": 709_000, "Bergen": 291_000}[city]


@pytest.fixture
def server() -> Iterator[ChatServer]:
    calls.clear()
    with ChatServer() as s:
        yield s


def _script_agent(server: ChatServer) -> None:
    server.script(
        Answer(tool_calls=[("weather", {"city": "Oslo"}), ("population", {"city": "Oslo"})]),
        Answer(tool_calls=[("population", {"city": "Bergen"}), ("nonexistent", {})]),
        Answer("Oslo is 20C with 709000 people; Bergen has 291000."),
    )


def _check_agent(conv: Conversation | AsyncConversation, server: ChatServer) -> None:
    roles = [m.role for m in conv.messages]
    assert roles == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert sorted(calls) == [("population", "Bergen"), ("population", "Oslo"), ("weather", "Oslo")]
    # every call answered exactly once, with its own id, in call order
    for i in (2, 5):
        ids = [c.id for c in conv.messages[i].tool_calls or ()]
        assert [m.tool_call_id for m in conv.messages[i + 1 : i + 3]] == ids
    assert "nonexistent" in conv.messages[7].text  # told, not run
    bodies = [r.json for r in server.requests]
    assert len(bodies) == 3
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["weather", "population"]
    assert bodies[0]["tool_choice"] == "auto"
    wire = bodies[2]["messages"]
    assert wire[2]["content"] == "" and len(wire[2]["tool_calls"]) == 2  # never null
    assert wire[3] == {
        "role": "tool",
        "content": "Oslo: 20C",
        "tool_call_id": wire[2]["tool_calls"][0]["id"],
    }


def test_multi_round_parallel_calls_sync(server: ChatServer) -> None:
    _script_agent(server)
    with OpenAITransport(server.url) as transport:
        conv = Conversation(
            "Use tools.", model="gpt-4o-mini", transport=transport, tools=[weather, population]
        )
        reply = conv.send("Weather and population of Oslo, and Bergen's?")
    assert reply.text.startswith("Oslo is 20C")
    _check_agent(conv, server)


async def test_multi_round_parallel_calls_async_and_streamed(server: ChatServer) -> None:
    _script_agent(server)
    async with OpenAITransport(server.url) as transport:
        conv = AsyncConversation(
            "Use tools.", model="gpt-4o-mini", transport=transport, tools=[weather, population]
        )
        async with conv.stream("Weather and population of Oslo, and Bergen's?") as stream:
            text = "".join([d async for d in stream])
    assert text.startswith("Oslo is 20C")
    _check_agent(conv, server)


class Kind(BaseModel):
    name: str
    tags: list[str]


class Order(BaseModel):
    customer: str
    items: list[Kind]
    priority: int | None = None


GOOD = '{"customer": "Ada", "items": [{"name": "tea", "tags": ["green"]}], "priority": null}'


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "tools"])
def test_structured_output_each_mode_with_a_retry(server: ChatServer, mode: str) -> None:
    bad = '{"customer": "Ada"}'
    if mode == "tools":
        server.script(Answer(tool_calls=[("Order", bad)]), Answer(tool_calls=[("Order", GOOD)]))
    else:
        server.script(Answer(bad), Answer(GOOD))
    with OpenAITransport(server.url) as transport:
        conv = Conversation(model="gpt-4o", transport=transport, output_mode=mode)  # type: ignore[arg-type]
        reply = conv.send("Extract: Ada orders green tea.", response_format=Order)
    assert reply.parsed == Order(customer="Ada", items=[Kind(name="tea", tags=["green"])])
    first, second = (r.json for r in server.requests)
    if mode == "json_schema":
        schema = first["response_format"]["json_schema"]["schema"]
        assert first["response_format"]["json_schema"]["strict"] is True
        assert schema["additionalProperties"] is False and set(schema["required"]) == {
            "customer",
            "items",
            "priority",
        }
    elif mode == "json_object":
        assert first["response_format"] == {"type": "json_object"}
        assert "customer" in first["messages"][0]["content"]  # the schema is in the prompt
    else:
        assert first["tool_choice"]["function"]["name"] == "Order"
    assert "items" in second["messages"][-1]["content"]  # the validation error went back
    assert conv.messages[-1].text == GOOD


async def test_structured_async_retries_exhausted(server: ChatServer) -> None:
    server.script(Answer("not json"), Answer("[1]"), Answer('{"customer": 5}'))
    async with OpenAITransport(server.url) as transport:
        conv = AsyncConversation(model="gpt-4o", transport=transport, output_retries=2)
        with pytest.raises(ParseError) as info:
            await conv.send("Extract", response_format=Order)
    assert info.value.raw == '{"customer": 5}' and conv.messages == []


def test_refusal_and_truncation(server: ChatServer) -> None:
    refusal = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": "I can't help with that.",
                },
            }
        ]
    }
    server.script(Respond(body=refusal), Answer('{"customer": "A', finish_reason="length"))
    with OpenAITransport(server.url) as transport:
        conv = Conversation(model="gpt-4o", transport=transport)
        with pytest.raises(RefusalError, match="can't help"):
            conv.send("Extract", response_format=Order)
        with pytest.raises(TruncatedError):
            conv.send("Extract", response_format=Order)
    assert conv.messages == []


def test_streamed_partials_over_http(server: ChatServer) -> None:
    server.script(Answer(GOOD))
    with OpenAITransport(server.url) as transport:
        conv = Conversation(model="gpt-4o", transport=transport)
        values = list(conv.stream("Extract", response_format=Order))
    # Partials are instances of the model (fields not yet streamed hold their defaults);
    # the last value is the validated whole.
    assert all(isinstance(v, Order) for v in values)
    assert len(values) > 1 and values[-1] == Order.model_validate_json(GOOD)
