"""Fallback routing over real HTTP: two local servers, the first one failing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convo import AsyncConversation, Conversation
from convo.errors import APIConnectionError, BadRequestError, InternalServerError, RateLimitError
from convo.store.sql import SQLStore
from convo.transports.base import Chunk
from convo.transports.fallback import FallbackTransport, Route
from convo.transports.openai import OpenAITransport
from tests.formats.conftest import make
from tests.formats.test_against_test_server import _read_into, collect, complete, request
from tests.support import Answer, ChatServer, Drop, Events, error


@pytest.fixture
def spare() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def routes(primary: ChatServer, spare: ChatServer, **kw: Any) -> FallbackTransport:
    return FallbackTransport(
        Route(OpenAITransport(primary.url, max_retries=0), name="primary"),
        Route(make("anthropic", spare.url, max_retries=0), model="claude-spare"),
        **kw,
    )


@pytest.mark.parametrize(
    "fault",
    [error(429, "slow down"), error(503, "busy"), Drop(reset=True)],
    ids=["429", "503", "reset"],
)
async def test_falls_back_on(
    chat_server: ChatServer, spare: ChatServer, mode: str, fault: Any
) -> None:
    chat_server.script(fault)
    spare.script(Answer("from the spare"))
    async with routes(chat_server, spare) as t:
        reply = await complete(t, request(), mode)
    assert reply.text == "from the spare" and reply.model == "claude-spare"
    assert spare.requests[0].json["model"] == "claude-spare"  # the route's model is sent
    assert spare.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("status", [400, 401])
async def test_never_on_a_client_error(
    chat_server: ChatServer, spare: ChatServer, mode: str, status: int
) -> None:
    chat_server.script(error(status, "no"))
    async with routes(chat_server, spare) as t:
        with pytest.raises(BadRequestError if status == 400 else Exception) as info:
            await complete(t, request(), mode)
    assert getattr(info.value, "status_code", None) == status
    assert spare.requests == []


async def test_stream_falls_back_before_the_first_chunk(
    chat_server: ChatServer, spare: ChatServer, mode: str
) -> None:
    chat_server.script(error(503, "busy"))
    spare.script(Answer("streamed by the spare"))
    async with routes(chat_server, spare) as t:
        chunks = await collect(t, request(stream=True), mode)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "streamed by the spare"
    assert {c["model"] for c in chunks} == {"claude-spare"}


async def test_stream_never_falls_back_after_the_first_chunk(
    chat_server: ChatServer, spare: ChatServer, mode: str
) -> None:
    first = {"choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": None}]}
    chat_server.script(Events([first, first], done=False, disconnect_after=1, reset=True))
    spare.script(Answer("never"))
    got: list[Chunk] = []
    async with routes(chat_server, spare) as t:
        with pytest.raises(APIConnectionError):
            await _read_into(got, t, mode)
    assert len(got) == 1 and got[0]["model"] == "primary"
    assert spare.requests == []


async def test_every_route_failing_raises_the_last_failure(
    chat_server: ChatServer, spare: ChatServer, mode: str
) -> None:
    chat_server.script(error(429, "slow down"))
    spare.script(error(503, "busy"))
    async with routes(chat_server, spare) as t:
        with pytest.raises(InternalServerError) as info:
            await complete(t, request(), mode)
    assert any("RateLimitError" in note for note in info.value.__notes__)


async def test_the_breaker_skips_a_failing_route_for_a_while(
    chat_server: ChatServer, spare: ChatServer, mode: str
) -> None:
    clock = Clock()
    chat_server.script(error(503, "busy"), error(503, "busy"))
    async with routes(chat_server, spare, trip_after=2, cooldown=30.0, clock=clock) as t:
        for _ in range(4):
            assert (await complete(t, request(), mode)).model == "claude-spare"
        assert len(chat_server.requests) == 2  # tripped after two failures, then skipped
        clock.now = 31.0
        assert (await complete(t, request(), mode)).model == "primary"  # tried again
    assert len(spare.requests) == 4


async def test_only_the_listed_failures_move_on(
    chat_server: ChatServer, spare: ChatServer, mode: str
) -> None:
    chat_server.script(error(503, "busy"))
    async with routes(chat_server, spare, on=(RateLimitError,)) as t:
        with pytest.raises(InternalServerError):
            await complete(t, request(), mode)
    assert spare.requests == []


def test_the_stored_turn_records_who_answered(
    chat_server: ChatServer, spare: ChatServer, tmp_path: Path
) -> None:
    chat_server.script(error(429, "slow down"))
    with SQLStore(f"sqlite:///{tmp_path / 'c.db'}") as store, routes(chat_server, spare) as t:
        conv = Conversation("Be brief.", model="gpt-4o", transport=t, store=store)
        conv.send("hi")
        conv.send("again")
        assert [m.model for m in store.turns(conv.id)] == ["claude-spare", "primary"]


async def test_async_conversation_streams_through_a_fallback(
    chat_server: ChatServer, spare: ChatServer
) -> None:
    chat_server.script(Drop(reset=True))
    async with routes(chat_server, spare) as t:
        conv = AsyncConversation("Be brief.", model="gpt-4o", transport=t)
        async with conv.stream("hello") as s:
            assert "".join([d async for d in s]) == "echo: hello"
