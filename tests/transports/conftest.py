"""Fixtures for the transport tests: a real Chat Completions server on 127.0.0.1,
an HTTP transport pointed at it that records its waits instead of sleeping, and
``mode`` to run each test through the blocking and the async API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from convo.transports.openai import OpenAITransport
from tests.support import ChatServer
from tests.transports.helpers import KEY, record_waits


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A fresh server per test (it starts in about a millisecond)."""
    with ChatServer() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def transport(chat_server: ChatServer, sleeps: list[float]) -> AsyncIterator[OpenAITransport]:
    t = OpenAITransport(chat_server.url, api_key=KEY)
    record_waits(t, sleeps)
    yield t
    await t.aclose()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
