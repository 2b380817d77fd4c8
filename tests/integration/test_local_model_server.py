"""Conversation over real HTTP to llama-cpp-python's OpenAI-compatible server.

The peer is the offline model served by ``python -m llama_cpp.server``: multi-turn,
streaming, tool calls and persistence, end to end. Assertions are about protocol and
behaviour, never the model's wording.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from convo import AsyncConversation, Conversation, OpenAITransport, SQLStore, tool

PARAMS = {"temperature": 0, "max_tokens": 48, "seed": 1}


@pytest.fixture
def transport(llama_server: str) -> Iterator[OpenAITransport]:
    with OpenAITransport(llama_server) as t:
        yield t


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLStore]:
    with SQLStore(f"sqlite:///{tmp_path / 'chat.db'}") as s:
        yield s


def test_multi_turn_saved_and_resumed(transport: OpenAITransport, store: SQLStore) -> None:
    conv = Conversation("You are terse.", model="local", transport=transport, store=store, **PARAMS)
    first = conv.send("My name is Ada. Say hi.")
    assert first.text.strip() and first.finish_reason in ("stop", "length")
    assert first.usage is not None and first.usage.prompt_tokens > 0
    # The local count is an estimate for a non-OpenAI tokenizer, but it is in range.
    assert first.prompt_tokens_local is not None
    assert abs(first.usage.prompt_tokens - first.prompt_tokens_local) < 20
    conv.send("What is my name?")
    again = Conversation.load(conv.id, store=store, transport=transport)
    assert again.messages == conv.messages
    third = again.send("Thanks.")
    assert third.text.strip()
    assert [m.role for m in Conversation.load(conv.id, store=store).messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    totals = store.totals(conv.id)
    assert totals.total_tokens >= first.usage.total_tokens


def test_streaming_appends_the_assembled_reply(transport: OpenAITransport) -> None:
    conv = Conversation(model="local", transport=transport, **PARAMS)
    stream = conv.stream("Count from one to five in words.")
    deltas = list(stream)
    assert len(deltas) > 1
    assert stream.reply is not None and "".join(deltas) == stream.reply.text
    assert conv.messages[-1].text == stream.reply.text


def test_tool_call_round_trip(transport: OpenAITransport, store: SQLStore) -> None:
    seen: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: The city name.
        """
        seen.append(city)
        return f"31C and sunny in {city}"

    conv = Conversation(
        "You are a weather assistant.",
        model="local",
        transport=transport,
        store=store,
        tools=[get_weather],
        **PARAMS,
    )
    # llama.cpp's server only calls tools reliably when forced; later rounds go back to auto.
    forced = {"type": "function", "function": {"name": "get_weather"}}
    reply = conv.send("What is the weather in Paris?", tool_choice=forced)
    assert seen and "paris" in seen[0].lower()
    roles = [m.role for m in conv.messages]
    assert roles[:5] == ["system", "user", "assistant", "tool", "assistant"]
    call = conv.messages[2].tool_calls
    assert call is not None and conv.messages[3].tool_call_id == call[0].id
    assert conv.messages[3].text == f"31C and sunny in {seen[0]}"
    assert reply.message == conv.messages[-1]
    # The assistant tool-call message went back over the wire (content "", not null).
    assert Conversation.load(conv.id, store=store).messages == conv.messages


async def test_async_conversation(llama_server: str) -> None:
    async with OpenAITransport(llama_server) as transport:
        conv = AsyncConversation(model="local", transport=transport, **PARAMS)
        reply = await conv.send("Say OK.")
        assert reply.text.strip()
        async with conv.stream("Again.") as stream:
            deltas = [d async for d in stream]
        assert stream.reply is not None and "".join(deltas) == stream.reply.text
        assert len(conv.messages) == 4
