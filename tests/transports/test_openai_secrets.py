"""The API key never shows: not in logs at DEBUG, reprs, error messages or their causes."""

from __future__ import annotations

import logging

import pytest

from convo.errors import APITimeoutError, AuthenticationError, ConvoError, StreamError
from convo.transports.openai import OpenAITransport
from tests.support import ChatServer, Drop, Events, Respond, error
from tests.transports.helpers import KEY, collect, complete, make_request, record_waits


def chain(err: BaseException | None) -> str:
    """str and repr of an error and everything it was raised from or during."""
    seen = []
    while err is not None and err not in seen:
        seen.append(err)
        err = err.__cause__ or err.__context__
    return " ".join(f"{e!s} {e!r} {vars(e)!r}" for e in seen)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger: convo, httpx2, httpcore2, asyncio
    for name in ("httpx2", "httpcore2", "httpcore", "httpx", "convo"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def all_logged(caplog: pytest.LogCaptureFixture) -> str:
    return " ".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records)


async def test_a_401_echoing_the_key_never_repeats_it(
    transport: OpenAITransport,
    chat_server: ChatServer,
    debug_logs: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    echo = f"Incorrect API key provided: {KEY}. You can find your API key at https://x."
    chat_server.script(error(401, echo, type="invalid_request_error", code="invalid_api_key"))
    with pytest.raises(AuthenticationError) as info:
        await complete(transport, make_request(), mode)
    err = info.value
    assert err.message == "Incorrect API key provided: ***. You can find your API key at https://x."
    assert err.code == "invalid_api_key"
    assert KEY not in chain(err)
    assert KEY not in repr(err.body)
    assert KEY not in all_logged(debug_logs)


async def test_a_non_json_401_echoing_the_key(
    transport: OpenAITransport, chat_server: ChatServer, mode: str
) -> None:
    chat_server.script(Respond(401, f"bad key {KEY}", content_type="text/plain"))
    with pytest.raises(AuthenticationError, match=r"bad key \*\*\*") as info:
        await complete(transport, make_request(), mode)
    assert KEY not in chain(info.value)


async def test_a_stream_error_echoing_the_key(
    transport: OpenAITransport,
    chat_server: ChatServer,
    debug_logs: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    chat_server.script(Events([{"error": {"message": f"key {KEY} revoked", "type": "auth"}}]))
    with pytest.raises(StreamError, match=r"key \*\*\* revoked") as info:
        await collect(transport, make_request(stream=True), mode)
    assert KEY not in chain(info.value)
    assert KEY not in all_logged(debug_logs)


async def test_a_timeout_never_shows_the_key(
    chat_server: ChatServer, debug_logs: pytest.LogCaptureFixture, sleeps: list[float], mode: str
) -> None:
    chat_server.script(*[Events([{"choices": []}], stall_after=0)] * 2)
    async with OpenAITransport(chat_server.url, api_key=KEY, timeout=0.1, max_retries=1) as t:
        record_waits(t, sleeps)
        with pytest.raises(APITimeoutError) as info:
            await collect(t, make_request(stream=True), mode)
    assert KEY not in chain(info.value)
    assert KEY not in all_logged(debug_logs)


async def test_logs_say_what_happened_without_the_key(
    transport: OpenAITransport,
    chat_server: ChatServer,
    debug_logs: pytest.LogCaptureFixture,
    mode: str,
) -> None:
    chat_server.script(error(503, "busy"))
    await complete(transport, make_request(), mode)
    await collect(transport, make_request(stream=True), mode)
    ours = [r.getMessage() for r in debug_logs.records if r.name == "convo.transports.openai"]
    assert any("-> 503" in m for m in ours)
    assert any("InternalServerError, retry 1" in m for m in ours)
    assert any("-> 200" in m for m in ours)
    assert KEY not in all_logged(debug_logs)
    assert "authorization" not in all_logged(debug_logs).lower()


def test_the_transport_never_shows_the_key() -> None:
    t = OpenAITransport("http://127.0.0.1:1/v1", api_key=KEY)
    for text in (repr(t), str(t), repr(vars(t)), repr(t._endpoint.__slots__)):
        assert KEY not in text
    assert repr(t) == "OpenAITransport(base_url='http://127.0.0.1:1/v1')"


async def test_every_error_from_a_failing_server_is_clean(
    chat_server: ChatServer, mode: str
) -> None:
    # Dropped, reset: the messages name the URL, never the key.
    chat_server.script(Drop(), Drop(reset=True))
    async with OpenAITransport(chat_server.url, api_key=KEY, max_retries=1) as t:
        record_waits(t, [])
        with pytest.raises(ConvoError) as info:
            await complete(t, make_request(), mode)
    assert KEY not in chain(info.value)
