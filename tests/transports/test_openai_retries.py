"""Retries against a real server: which failures, how long the waits, when to give up."""

from __future__ import annotations

import email.utils
import socket

import pytest

from convo.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)
from convo.transports.openai import OpenAITransport
from tests.support import Answer, ChatServer, Drop, Events, error
from tests.transports.helpers import collect, complete, make_request, record_waits

NOW = 1_800_000_000.0


def rate_limited(**headers: str) -> object:
    return error(
        429, "Rate limit reached", type="requests", code="rate_limit_exceeded", headers=headers
    )


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": email.utils.formatdate(NOW + 3, usegmt=True)}, 3.0),
    ],
)
async def test_retry_after_is_waited_exactly(
    transport: OpenAITransport,
    chat_server: ChatServer,
    sleeps: list[float],
    mode: str,
    headers: dict[str, str],
    wait: float,
) -> None:
    transport._clock = lambda: NOW
    chat_server.script(rate_limited(**headers))
    assert (await complete(transport, make_request("hi"), mode)).text == "echo: hi"
    assert sleeps == [wait]
    assert len(chat_server.requests) == 2
    assert chat_server.requests[0].body == chat_server.requests[1].body


@pytest.mark.parametrize("value", ["0", "-5", "abc", "inf", "1e308", ""])
async def test_unusable_retry_after_falls_back_to_backoff(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str, value: str
) -> None:
    chat_server.script(
        rate_limited(**{"retry-after": value}), rate_limited(**{"retry-after-ms": value})
    )
    assert (await complete(transport, make_request(), mode)).text == "echo: hello there"
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5
    assert 0.75 <= sleeps[1] <= 1.0


async def test_retry_after_over_the_cap_gives_up_at_once(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(rate_limited(**{"retry-after": "3600"}))
    with pytest.raises(RateLimitError) as info:
        await complete(transport, make_request(), mode)
    assert info.value.retry_after == 3600.0
    assert (info.value.code, info.value.request_id) == ("rate_limit_exceeded", "req_1")
    assert (len(chat_server.requests), sleeps) == (1, [])


async def test_rate_limit_after_the_last_retry_carries_retry_after(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(*[rate_limited(**{"retry-after": "1"})] * 3)
    with pytest.raises(RateLimitError) as info:
        await complete(transport, make_request(), mode)
    assert info.value.retry_after == 1.0
    assert sleeps == [1.0, 1.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
async def test_server_errors_are_retried_with_backoff(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str, status: int
) -> None:
    transport._random = lambda: 0.0
    chat_server.script(error(status, "try later"), error(status, "try later"))
    assert (await complete(transport, make_request(), mode)).text == "echo: hello there"
    assert sleeps == [0.5, 1.0]


async def test_the_typed_error_after_the_last_retry(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    # A compatible server that answers a template error with a 500, every time.
    message = "Failed to apply chat template: unknown role"
    chat_server.script(*[error(500, message, type="server_error")] * 5)
    with pytest.raises(InternalServerError) as info:
        await complete(transport, make_request(), mode)
    assert info.value.message == message
    assert len(chat_server.requests) == 3
    assert len(sleeps) == 2
    assert chat_server.remaining == 2


async def test_max_retries_is_configurable(
    chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(*[error(503, "down")] * 6)
    async with OpenAITransport(chat_server.url, max_retries=4) as t:
        record_waits(t, sleeps)
        t._random = lambda: 0.0
        with pytest.raises(InternalServerError):
            await complete(t, make_request(), mode)
    assert sleeps == [0.5, 1.0, 2.0, 4.0]
    async with OpenAITransport(chat_server.url, max_retries=0) as t:
        record_waits(t, sleeps)
        with pytest.raises(InternalServerError):
            await complete(t, make_request(), mode)
    assert len(chat_server.requests) == 6


async def test_x_should_retry_is_obeyed(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(error(503, "do not", headers={"x-should-retry": "false"}))
    with pytest.raises(InternalServerError):
        await complete(transport, make_request(), mode)
    assert (len(chat_server.requests), sleeps) == (1, [])
    chat_server.script(error(400, "do", headers={"x-should-retry": "true"}))
    assert (await complete(transport, make_request(), mode)).text == "echo: hello there"
    assert len(sleeps) == 1


@pytest.mark.parametrize("reset", [False, True])
async def test_a_connection_dropped_before_headers_is_retried(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str, reset: bool
) -> None:
    chat_server.script(Drop(reset=reset), Drop(reset=reset))
    assert (await complete(transport, make_request(), mode)).text == "echo: hello there"
    assert len(sleeps) == 2


async def test_connection_refused_is_retried_then_typed(sleeps: list[float], mode: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with OpenAITransport(f"http://127.0.0.1:{port}/v1") as t:
        record_waits(t, sleeps)
        with pytest.raises(APIConnectionError, match="ConnectError") as info:
            await complete(t, make_request(), mode)
    assert type(info.value) is APIConnectionError
    assert len(sleeps) == 2


async def test_a_read_timeout_is_retried_then_typed(
    chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(*[Answer("late", delay=2.0)] * 2)
    async with OpenAITransport(chat_server.url, timeout=0.1, max_retries=1) as t:
        record_waits(t, sleeps)
        with pytest.raises(APITimeoutError, match="ReadTimeout"):
            await complete(t, make_request(), mode)
    assert len(chat_server.requests) == 2
    assert len(sleeps) == 1


async def test_a_stream_is_retried_before_its_first_chunk(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    transport.max_retries = 3
    chat_server.script(error(503, "warming up"), Drop(), Events([], disconnect_after=0))
    chunks = await collect(transport, make_request("hi", stream=True), mode)
    assert (
        "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        == "echo: hi"
    )
    assert len(chat_server.requests) == 4
    assert len(sleeps) == 3


async def test_a_bad_request_in_a_stream_is_not_retried(
    transport: OpenAITransport, chat_server: ChatServer, sleeps: list[float], mode: str
) -> None:
    chat_server.script(error(400, "bad"))
    with pytest.raises(BadRequestError):
        await collect(transport, make_request(stream=True), mode)
    assert sleeps == []
