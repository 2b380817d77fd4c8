"""Fixtures for the wire-format tests: the local test server, llama.cpp's llama-server,
and each format's transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from convo.transports.formats import FormatTransport
from convo.transports.responses import ResponsesTransport
from tests.support import ChatServer, require

# One llama.cpp llama-server for the whole run (built once and cached), for the
# formats' tests against a real peer.
from tests.support.llama_cpp_server import llama_cpp_server  # noqa: F401

KEY = "sk-ant-test-9d3e1f7a2c5b"


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make(kind: str, server_url: str, **kw: object) -> FormatTransport:
    """The transport of ``kind`` (``anthropic`` or ``responses``) on the test server."""
    if kind == "anthropic":
        anthropic = require("convo_anthropic.transport", "needs convo-anthropic")
        # The Messages API's base URL has no /v1: the path carries it.
        return anthropic.AnthropicTransport(server_url.removesuffix("/v1"), api_key=KEY, **kw)  # type: ignore[no-any-return]
    return ResponsesTransport(server_url, api_key=KEY, **kw)  # type: ignore[arg-type]


@pytest.fixture(params=["anthropic", "responses"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def transport(
    kind: str, chat_server: ChatServer, sleeps: list[float]
) -> AsyncIterator[FormatTransport]:
    t = make(kind, chat_server.url)

    async def asleep(delay: float) -> None:
        sleeps.append(delay)

    t._sleep = sleeps.append
    t._asleep = asleep
    yield t
    await t.aclose()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
